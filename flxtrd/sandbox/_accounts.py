"""Accounts and tokens of the sandbox market: who may log in, and the tokens they are given.

Permissive mode (the default)
-----------------------------
ANY e-mail and password log in: the account is made on first use, so example code with
placeholder credentials runs. Everything about it is derived from the e-mail (trimmed,
lower-cased): the identifiers with a key made from the sandbox seed, so they are the same across
restarts with the same seed and differ between seeds; the device token, a secret, with the token
key (below), so nobody derives it from the public seed. With ``ids_from_token_key`` (what the
served sandbox uses) the identifiers are keyed with the seed *and* the token key, so two
sandboxes with the same seed but different token keys never hand out the same ids (RabbitMQ users
are global: the same ``userId`` with two device tokens would lock one device out), and the ids
are the same across restarts only with the same seed and the same token key:

- ``userId``: 24 hex digits (the shape of the market's ids),
- one location: ``_id`` (the application key, also the AMQP reply queue) 24 hex digits, and
  ``token`` (the device access token, the AMQP password) a UUID-shaped string.

ANY device access token logs in too (``GET /users/mptoken/{token}``, what flxtrd 0.2.9 code
that passes only ``access_token=`` calls): an unknown token is made a device on first use, the
one location of an account of its own (:meth:`Accounts.device`), whose ids are derived from the
token as above and whose device token is the token given. So the vendor's examples run with
their placeholder token.

Strict mode
-----------
Only the accounts of an accounts file log in, with their passwords, and only their devices'
tokens are known; anything else is refused (401 for generation 1, 404 for an unknown device
token, ``invalid_grant`` for OAuth2). The file is JSON or TOML (by suffix:
``.toml`` is TOML, anything else JSON) holding a list ``accounts``; each entry has ``email`` and
``password``, and may fix ``user_id`` and ``locations`` (each ``{"_id" | "id", "token", "name"}``,
all optional; missing ids and tokens are derived as above)::

    # accounts.toml
    [[accounts]]
    email = "alice@example.com"
    password = "wonderland"

    [[accounts]]
    email = "bob@example.com"
    password = "builder"
    user_id = "b0b000000000000000000001"
    locations = [{ _id = "bob-battery", token = "bob-device-token", name = "Battery" }]

The same as JSON: ``{"accounts": [{"email": "alice@example.com", "password": "wonderland"}]}``.

Tokens
------
Every token is an HS256 JWT signed with the token key, carrying the account's e-mail and user
id, its kind (``login`` for the generation-1 bearer JWT of ``/users/login``, ``access`` and
``refresh`` for OAuth2) and its expiry in ms on the market clock. The token key is random per
`Accounts` unless one is given (``token_key``; `read_token_key` reads a key file, ``python -m
flxtrd sandbox --token-key-file``): it never derives from the seed, which is public, so a token
cannot be forged offline. Tokens are stateless: a token stays valid until it expires, across
restarts with the same token key. A token of the wrong kind, badly signed, malformed or expired
(``now >= expiry``) is refused; the signature is checked before anything in the token is parsed.
Lifetimes are configurable (``access_lifetime_s`` short by default, so client refresh paths get
exercised).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import os
import secrets
import threading
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._clock import Clock, SystemClock

__all__ = [
    "DEFAULT_ACCESS_LIFETIME_S",
    "DEFAULT_LOGIN_LIFETIME_S",
    "DEFAULT_REFRESH_LIFETIME_S",
    "OAUTH_CLIENT_ID",
    "Account",
    "Accounts",
    "AuthError",
    "IssuedToken",
    "Location",
    "is_text",
    "new_token_key",
    "normalize_email",
    "parse_accounts",
    "read_token_key",
]

OAUTH_CLIENT_ID = "glocalflexmarket_public_api"
"""The one OAuth2 client id the market knows."""

DEFAULT_ACCESS_LIFETIME_S = 300
"""Lifetime of an OAuth2 access token, s (short, so clients refresh)."""

DEFAULT_REFRESH_LIFETIME_S = 3600
"""Lifetime of an OAuth2 refresh token, s."""

DEFAULT_LOGIN_LIFETIME_S = 24 * 3600
"""Lifetime of the generation-1 bearer JWT returned by ``/users/login``, s."""

_KINDS = ("login", "access", "refresh")
MIN_TOKEN_KEY_BYTES = 32
"""The shortest token key accepted, bytes (HS256's key should be at least its 32-byte output)."""


class AuthError(Exception):
    """Credentials or a token were refused; ``error`` is the OAuth2 error code."""

    def __init__(self, description: str, error: str = "invalid_grant") -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass(frozen=True, slots=True)
class Location:
    """A location (device, metering point): application key, device access token, name."""

    id: str
    """The application key (``_id``); also the AMQP reply queue."""
    token: str
    """The device access token; the AMQP password."""
    name: str = ""
    """Display name."""


@dataclass(frozen=True, slots=True)
class Account:
    """A market account: e-mail, user id (the AMQP user) and locations."""

    email: str
    user_id: str
    locations: tuple[Location, ...]
    password: str | None = field(default=None, repr=False)
    """The password strict mode checks; None in permissive mode (any password)."""

    @property
    def application_keys(self) -> frozenset[str]:
        """The application keys (location ids) of this account."""
        return frozenset(loc.id for loc in self.locations)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """An OAuth2 token pair as ``/auth/oauth/v2/token`` returns it."""

    access_token: str
    refresh_token: str
    expires_in: int
    """Lifetime of the access token, s."""
    refresh_expires_in: int
    """Lifetime of the refresh token, s."""
    token_type: str = "Bearer"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def normalize_email(email: str) -> str:
    """The account key of an e-mail: trimmed and lower-cased."""
    return email.strip().lower()


class Accounts:
    """The sandbox's accounts and token issuer (thread-safe); see the module docstring.

    ``seed`` keys every derived id (with the token key too if ``ids_from_token_key``);
    ``token_key`` (random when None, at least 32 bytes) signs the tokens and keys the derived
    device tokens; ``strict`` refuses unknown accounts;
    ``accounts`` are the known accounts (required for strict mode, optional otherwise); the
    lifetimes are in seconds (integers >= 1) on ``clock``.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        clock: Clock | None = None,
        strict: bool = False,
        accounts: Iterable[Account] = (),
        access_lifetime_s: int = DEFAULT_ACCESS_LIFETIME_S,
        refresh_lifetime_s: int = DEFAULT_REFRESH_LIFETIME_S,
        login_lifetime_s: int = DEFAULT_LOGIN_LIFETIME_S,
        token_key: bytes | None = None,
        ids_from_token_key: bool = False,
    ) -> None:
        for name, value in (
            ("access_lifetime_s", access_lifetime_s),
            ("refresh_lifetime_s", refresh_lifetime_s),
            ("login_lifetime_s", login_lifetime_s),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        self.seed = seed
        self.strict = strict
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.access_lifetime_s = access_lifetime_s
        self.refresh_lifetime_s = refresh_lifetime_s
        self.login_lifetime_s = login_lifetime_s
        self._token_key = _checked_token_key(token_key)
        self.ids_from_token_key = ids_from_token_key
        self._key = _id_key(seed, self._token_key if ids_from_token_key else None)
        self._lock = threading.Lock()
        self._jti = itertools.count(1)
        self._by_email: dict[str, Account] = {}
        self._by_user: dict[str, Account] = {}
        self._by_device: dict[str, tuple[Account, Location]] = {}
        for account in accounts:
            self._add(account)

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], **kwargs: Any) -> Accounts:
        """Strict accounts from a JSON or TOML accounts file (format: module docstring)."""
        path = Path(path)
        text = path.read_text(encoding="utf-8")
        if path.suffix.lower() == ".toml":
            data: Any = _load_toml(text)
        else:
            data = json.loads(text)
        seed = kwargs.get("seed", 0)
        kwargs.setdefault("strict", True)
        if kwargs.get("token_key") is None:  # the derived device tokens need the same key
            kwargs["token_key"] = new_token_key()
        accounts = parse_accounts(
            data,
            seed=seed,
            token_key=kwargs["token_key"],
            ids_from_token_key=kwargs.get("ids_from_token_key", False),
        )
        return cls(accounts=accounts, **kwargs)

    def derive(self, email: str, password: str | None = None) -> Account:
        """The permissive account of ``email``: ids and token derived from it and the seed."""
        key = normalize_email(email)
        location = Location(
            id=self._digest("location", key)[:24],
            token=_uuid_shape(self._secret_digest("device", key)),
            name="Sandbox device",
        )
        return Account(key, self._digest("user", key)[:24], (location,), password)

    def _digest(self, purpose: str, text: str) -> str:
        return hmac.new(self._key, f"{purpose}:{text}".encode(), hashlib.sha256).hexdigest()

    def _secret_digest(self, purpose: str, text: str) -> str:
        """Like `_digest` but keyed with the token key: for secrets (device tokens)."""
        return hmac.new(self._token_key, f"{purpose}:{text}".encode(), hashlib.sha256).hexdigest()

    def _add(self, account: Account) -> Account:
        email = normalize_email(account.email)
        if email in self._by_email:
            raise ValueError(f"duplicate account {email!r}")
        if account.user_id in self._by_user:
            raise ValueError(f"duplicate user_id {account.user_id!r}")
        for loc in account.locations:
            if loc.token in self._by_device:
                raise ValueError(f"duplicate device token of {email!r}")
        self._by_email[email] = account
        self._by_user[account.user_id] = account
        for loc in account.locations:
            self._by_device[loc.token] = (account, loc)
        return account

    # -- lookups ----------------------------------------------------------------------------

    def login(self, email: str, password: str) -> Account:
        """The account for these credentials (made on first use unless strict), or AuthError."""
        if not email or not email.strip() or not password:
            raise AuthError("Invalid user credentials")
        key = normalize_email(email)
        with self._lock:
            account = self._by_email.get(key)
            if account is None:
                if self.strict:
                    raise AuthError("Invalid user credentials")
                return self._add(self.derive(key))
        if account.password is not None and not hmac.compare_digest(
            account.password.encode(), password.encode()
        ):
            raise AuthError("Invalid user credentials")
        return account

    def by_email(self, email: str) -> Account | None:
        """The known account of ``email``, or None."""
        with self._lock:
            return self._by_email.get(normalize_email(email))

    def by_user_id(self, user_id: str) -> Account | None:
        """The known account with this user id, or None."""
        with self._lock:
            return self._by_user.get(user_id)

    def by_device_token(self, token: str) -> tuple[Account, Location] | None:
        """The account and location of a device access token, or None if it is unknown."""
        with self._lock:
            return self._by_device.get(token)

    def device(self, token: str) -> tuple[Account, Location] | None:
        """The account and location of a device access token; in permissive mode an unknown
        token becomes a device on first use (an account of its own, ids derived from the token,
        its device token ``token``); strict mode knows only the accounts file's (None)."""
        with self._lock:
            found = self._by_device.get(token)
            if found is not None or self.strict or not token:
                return found
            email = f"device-{self._digest('device-token', token)[:20]}@devices.sandbox.invalid"
            derived = self.derive(email)
            location = Location(derived.locations[0].id, token, "Sandbox device")
            self._add(Account(derived.email, derived.user_id, (location,)))
            return self._by_device[token]

    def owns_application_key(self, user_id: str, application_key: str) -> bool:
        """Whether ``application_key`` is a location of the account ``user_id``."""
        account = self.by_user_id(user_id)
        return account is not None and application_key in account.application_keys

    def count(self) -> int:
        """How many accounts are known (a cheap change check: accounts are only ever added)."""
        with self._lock:
            return len(self._by_email)

    def all(self) -> list[Account]:
        """Every known account, in the order they were made."""
        with self._lock:
            return list(self._by_email.values())

    # -- tokens -----------------------------------------------------------------------------

    def issue_login_token(self, account: Account) -> str:
        """The generation-1 bearer JWT returned with ``/users/login`` (for ``/deals/``)."""
        return self._sign(account, "login", self.login_lifetime_s)

    def issue_token(self, username: str, password: str) -> IssuedToken:
        """OAuth2 password grant: a token pair for these credentials, or AuthError."""
        return self._pair(self.login(username, password))

    def refresh(self, refresh_token: str) -> IssuedToken:
        """OAuth2 refresh grant: a new token pair for a valid refresh token, or AuthError."""
        return self._pair(self.verify(refresh_token, "refresh"))

    def verify(self, token: str, *kinds: str) -> Account:
        """The account of a valid, unexpired token of one of ``kinds``, or AuthError."""
        claims = self._claims(token)
        if claims.get("typ") not in kinds:
            raise AuthError("Invalid token", "invalid_token")
        if self.clock.now_ms() >= claims["exp_ms"]:
            raise AuthError("Token expired", "invalid_token")
        email, user_id = claims["email"], claims["sub"]
        with self._lock:
            account = self._by_email.get(email)
            if account is None and not self.strict:
                account = self._add(self.derive(email))
        if account is None or account.user_id != user_id:
            raise AuthError("Invalid token", "invalid_token")
        return account

    def _pair(self, account: Account) -> IssuedToken:
        return IssuedToken(
            access_token=self._sign(account, "access", self.access_lifetime_s),
            refresh_token=self._sign(account, "refresh", self.refresh_lifetime_s),
            expires_in=self.access_lifetime_s,
            refresh_expires_in=self.refresh_lifetime_s,
        )

    def _sign(self, account: Account, kind: str, lifetime_s: int) -> str:
        now = self.clock.now_ms()
        claims = {
            "sub": account.user_id,
            "email": normalize_email(account.email),
            "typ": kind,
            "iat": now // 1000,
            "exp": (now + lifetime_s * 1000) // 1000,
            "exp_ms": now + lifetime_s * 1000,
            "jti": next(self._jti),
        }
        header = _b64(b'{"alg":"HS256","typ":"JWT"}')
        payload = _b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
        signing_input = f"{header}.{payload}"
        return f"{signing_input}.{self._signature(signing_input)}"

    def _signature(self, signing_input: str) -> str:
        """The token key's HS256 signature of ``header.payload``, base64url without padding."""
        return _b64(hmac.new(self._token_key, signing_input.encode(), hashlib.sha256).digest())

    def _claims(self, token: str) -> dict[str, Any]:
        parts = token.split(".") if isinstance(token, str) else []
        if len(parts) != 3:
            raise AuthError("Invalid token", "invalid_token")
        header, payload, signature = parts
        # The signature first: nothing a client made up (a 100,000-deep JSON payload...) is
        # parsed. Compared as text, so only the one canonical encoding of it is accepted.
        try:
            expected = self._signature(f"{header}.{payload}").encode("ascii")
            given = signature.encode("utf-8", "surrogatepass")
        except UnicodeError:
            raise AuthError("Invalid token", "invalid_token") from None
        if not hmac.compare_digest(expected, given):
            raise AuthError("Invalid token", "invalid_token")
        try:
            claims = json.loads(_unb64(payload))
        except (ValueError, RecursionError):
            raise AuthError("Invalid token", "invalid_token") from None
        if not isinstance(claims, dict):
            raise AuthError("Invalid token", "invalid_token")
        if (
            claims.get("typ") not in _KINDS
            or not isinstance(claims.get("exp_ms"), int)
            or not _is_account_key(claims.get("email"))
            or not isinstance(claims.get("sub"), str)
            or not is_text(claims["sub"])
        ):
            raise AuthError("Invalid token", "invalid_token")
        return claims


def is_text(text: str) -> bool:
    """Whether ``text`` is Unicode text (UTF-8 encodable: no lone surrogate escapes)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_account_key(email: object) -> bool:
    """Whether ``email`` is an e-mail as tokens carry it: Unicode, non-empty, normalized.

    Tokens are only ever issued with `normalize_email`'s form; any other (``" A@B.C"``, ``""``,
    a lone surrogate) would be looked up as an account that does not exist, then made, and
    clash with the account of its normalized form or fail to derive its ids.
    """
    return (
        isinstance(email, str)
        and is_text(email)
        and email != ""
        and email == normalize_email(email)
    )


def _id_key(seed: int, token_key: bytes | None) -> bytes:
    """The key of the derived ids: from the seed alone, or (one-way) from the token key too."""
    if token_key is None:
        return hashlib.sha256(f"flxtrd-sandbox:{seed}".encode()).digest()
    return hmac.new(token_key, f"flxtrd-sandbox-ids:{seed}".encode(), hashlib.sha256).digest()


def _uuid_shape(hex_digest: str) -> str:
    h = hex_digest
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def _load_toml(text: str) -> Any:
    return tomllib.loads(text)


def parse_accounts(
    data: Any, *, seed: int = 0, token_key: bytes | None = None, ids_from_token_key: bool = False
) -> list[Account]:
    """Read the ``accounts`` list of an accounts file (see the module docstring).

    Missing ids derive from ``seed`` (and ``token_key`` if ``ids_from_token_key``), missing
    device tokens from ``token_key`` (random if None).
    """
    if not isinstance(data, Mapping) or not isinstance(data.get("accounts"), list):
        raise ValueError("an accounts file holds a list 'accounts'")
    deriver = Accounts(seed=seed, token_key=token_key, ids_from_token_key=ids_from_token_key)
    found: list[Account] = []
    for i, entry in enumerate(data["accounts"]):
        where = f"accounts[{i}]"
        if not isinstance(entry, Mapping):
            raise ValueError(f"{where} must be a table/object")
        email, password = entry.get("email"), entry.get("password")
        if not isinstance(email, str) or not email.strip():
            raise ValueError(f"{where}.email must be a non-empty string")
        if not isinstance(password, str) or not password:
            raise ValueError(f"{where}.password must be a non-empty string")
        derived = deriver.derive(email)
        user_id = entry.get("user_id", derived.user_id)
        if not isinstance(user_id, str) or not user_id:
            raise ValueError(f"{where}.user_id must be a non-empty string")
        raw_locations = entry.get("locations")
        if raw_locations is None:
            locations = derived.locations
        else:
            if not isinstance(raw_locations, list) or not raw_locations:
                raise ValueError(f"{where}.locations must be a non-empty list")
            locs: list[Location] = []
            for j, raw in enumerate(raw_locations):
                if not isinstance(raw, Mapping):
                    raise ValueError(f"{where}.locations[{j}] must be a table/object")
                suffix = "" if j == 0 else f":{j}"
                loc_id = raw.get("_id", raw.get("id"))
                if loc_id is None:
                    loc_id = deriver._digest("location", derived.email + suffix)[:24]
                token = raw.get("token")
                if token is None:
                    token = _uuid_shape(deriver._secret_digest("device", derived.email + suffix))
                name = raw.get("name", "")
                if not all(isinstance(v, str) for v in (loc_id, token, name)) or not (
                    loc_id and token
                ):
                    raise ValueError(f"{where}.locations[{j}]: _id, token, name must be strings")
                locs.append(Location(loc_id, token, name))
            locations = tuple(locs)
        found.append(Account(derived.email, user_id, locations, password))
    return found


# -- token keys ---------------------------------------------------------------------------------


def new_token_key() -> bytes:
    """A fresh random token key (32 bytes from the OS's CSPRNG)."""
    return secrets.token_bytes(MIN_TOKEN_KEY_BYTES)


def _checked_token_key(key: bytes | None) -> bytes:
    if key is None:
        return new_token_key()
    if not isinstance(key, bytes) or len(key) < MIN_TOKEN_KEY_BYTES:
        raise ValueError(f"token_key must be at least {MIN_TOKEN_KEY_BYTES} bytes")
    return key


def read_token_key(path: str | os.PathLike[str]) -> bytes:
    """The token key in a key file: its bytes without surrounding whitespace, at least 32.

    Make one with ``python -c "import secrets; print(secrets.token_hex(32))" > sandbox.key``
    (64 hex digits: the key is the text itself). ValueError, naming the file, if it is too short.
    """
    key = Path(path).read_bytes().strip()
    if len(key) < MIN_TOKEN_KEY_BYTES:
        raise ValueError(
            f"the token key file {os.fspath(path)!r} must hold at least {MIN_TOKEN_KEY_BYTES}"
            f" bytes (it holds {len(key)})"
        )
    return key
