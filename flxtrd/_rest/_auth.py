"""Authentication as a plugin: generation-1 login / device token, generation-2 OAuth2.

The :class:`AuthPlugin` is installed first in every client (unless the caller installs their own).
It authenticates once, on first need, and then only adds a header:

- **Generation 1** (broker identity for orders, bearer JWT for ``/deals/``): with a device access
  token, ``GET /users/mptoken/{token}``; with an e-mail and password, ``POST /users/login``. Either
  fills ``user.user_id``, ``user.app_key`` (the chosen location's ``_id``) and
  ``user.access_token`` (its ``token``). The location is the one named by ``location_id=`` or
  ``user.app_key``, else the one whose token is the user's access token, else the first.
- **Generation 2** (everything under ``/api/``): the OAuth2 password grant on
  ``POST /auth/oauth/v2/token`` (client id ``glocalflexmarket_public_api``); the token is refreshed
  with the refresh grant ``TOKEN_REFRESH_MARGIN_S`` (60 s) before it expires (or at half its
  lifetime if that is shorter), falling back to the password grant when the refresh is refused.
  A 401 on a request that carried our token triggers one re-login and the request goes out once
  more with the new token (:meth:`AuthPlugin.recover`, the one place both clients ask).

Refreshes are single-flight: a ``threading.Lock`` for the sync client and an ``asyncio.Lock`` for
the async one, with the freshness re-checked under the lock, so N parallel calls with an expired
token cause one token request, not N. The HTTP exchanges are written once as generator "flows"
(yield a request, receive its response) that a sync and an async driver run, so both clients
share the logic and differ only in I/O.

Passwords and tokens are registered with the logging secrets filter the moment they are known
and never appear in logs, reprs or error messages.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Generator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import httpx
from glocalflex_rest.models import Location, LoginResponse, MptokenResponse, TokenResponse
from glocalflex_rest.types import Unset

from flxtrd._compat._auth import Auth029Mixin
from flxtrd._defaults import (
    LOGIN_PATH,
    MPTOKEN_PATH,
    OAUTH_CLIENT_ID,
    TOKEN_PATH,
    TOKEN_REFRESH_MARGIN_S,
)
from flxtrd._errors import (
    AuthenticationError,
    ConfigurationError,
    FlexStatusError,
    FlexValidationError,
    NotFoundError,
)
from flxtrd._log import forget_secret, get_logger, register_secret
from flxtrd._rest._http import Operation, PreparedRequest, error_for_response, parse_with
from flxtrd._rest._operations import login_op, mptoken_op, token_password_op, token_refresh_op
from flxtrd._rest._plugins import BasePlugin
from flxtrd._types import Market, User
from flxtrd._validation import require_wait

__all__ = ["AuthPlugin", "Identity", "has_authorization"]

_logger = get_logger("auth")
T = TypeVar("T")

#: A flow yields requests and receives their responses; its return value is the result.
Flow = Generator[httpx.Request, httpx.Response, T]

_NONE, _GEN1, _GEN2 = 0, 1, 2
_AUTH_PATHS = (LOGIN_PATH, MPTOKEN_PATH, TOKEN_PATH)


class _AuthHost(Protocol):
    """What the plugin needs of the client it is attached to: who, where, and its transport."""

    user: User
    location_id: str | None
    base_url: str

    @property
    def endpoint(self) -> Any: ...
    def _op_request(self, op: Operation[Any]) -> httpx.Request: ...
    def _auth_send(self, request: httpx.Request) -> httpx.Response: ...
    async def _auth_asend(self, request: httpx.Request) -> httpx.Response: ...


@dataclass(frozen=True)
class Identity:
    """The generation-1 identity of a device: AMQP user, application key, access token."""

    user_id: str
    application_key: str
    access_token: str | None
    location_name: str | None = None

    def __repr__(self) -> str:
        return (
            f"Identity(user_id={self.user_id!r}, application_key={self.application_key!r},"
            f" access_token={'***' if self.access_token else None})"
        )


@dataclass(frozen=True, repr=False)
class _Token:
    """A generation-2 access token and when (on the plugin's clock) it expires."""

    access: str
    refresh: str | None
    expires_at: float
    lifetime: float

    def __repr__(self) -> str:
        return f"_Token(access='***', refresh={'***' if self.refresh else None})"

    def fresh(self, now: float, margin: float) -> bool:
        """True while more than the refresh margin (at most half the lifetime) remains."""
        return now < self.expires_at - min(margin, self.lifetime / 2.0)


def _known(value: str | Unset | None) -> str | None:
    """The value of an optional generated field, ``None`` when unset or empty."""
    return value if isinstance(value, str) and value else None


class AuthPlugin(Auth029Mixin, BasePlugin):
    """Authenticates the client's requests: generation 1 (login, device token) and 2 (OAuth2).

    ``AuthPlugin(user, market, verify_ssl)`` works as in flxtrd 0.2.9; ``market`` and
    ``verify_ssl`` are taken from the client the plugin is added to. ``location_id`` names the
    location (application key) to trade for; ``clock`` (seconds, monotonic by default) times the
    token expiry; ``refresh_margin_s`` is how early tokens are refreshed.
    """

    plugin_name = "AuthPlugin"
    authenticates = True

    def __init__(
        self,
        user: User | None = None,
        market: Market | None = None,
        verify_ssl: bool = True,
        *,
        location_id: str | None = None,
        clock: Callable[[], float] | None = None,
        refresh_margin_s: float = TOKEN_REFRESH_MARGIN_S,
        client_id: str = OAUTH_CLIENT_ID,
    ) -> None:
        self.user = user
        self.market = market
        self.verify_ssl = verify_ssl
        self.location_id = location_id
        self.client_id = client_id
        self.refresh_margin_s = require_wait("refresh_margin_s", refresh_margin_s)
        self._clock: Callable[[], float] = clock if clock is not None else time.monotonic
        self._host: _AuthHost | None = None
        self._base_path = ""
        self._base_url = ""
        self._identity: Identity | None = None
        self._jwt: str | None = None
        self._token: _Token | None = None
        self._lock = threading.Lock()
        self._alock: asyncio.Lock | None = None
        self._alock_loop: asyncio.AbstractEventLoop | None = None
        if user is not None:
            register_secret(user.password, user.access_token)

    # -- wiring -------------------------------------------------------------------------------

    def attach(self, client: Any) -> None:
        """Bind the plugin to the client whose transport it uses (done by ``add_plugin``)."""
        host: _AuthHost = client
        self._host = host
        if self.user is None:
            self.user = host.user
        if self.location_id is None:
            self.location_id = host.location_id
        self._base_path = host.endpoint.base_path
        self._base_url = host.base_url
        register_secret(self.user.password, self.user.access_token)

    def _bound(self) -> _AuthHost:
        if self._host is None:
            raise ConfigurationError(
                "AuthPlugin is not attached to a client; use client.add_plugin()"
            )
        return self._host

    def _user(self) -> User:
        if self.user is None:
            raise ConfigurationError("AuthPlugin has no user; pass user= or add it to a client")
        return self.user

    def _async_lock(self) -> asyncio.Lock:
        """The asyncio lock of the running loop (a new loop gets a new lock)."""
        loop = asyncio.get_running_loop()
        if self._alock is None or self._alock_loop is not loop:
            self._alock = asyncio.Lock()
            self._alock_loop = loop
        return self._alock

    # -- which requests need what -------------------------------------------------------------

    def _realm(self, url: str | None) -> int:
        """Which credentials a request to ``url`` needs: none, generation 1 JWT, generation 2."""
        if not url:
            return _NONE
        if self._base_url and url.startswith(self._base_url):
            path = url[len(self._base_url) :]  # the common case, without parsing the URL
        else:
            path = httpx.URL(url).path if "://" in url else url
            if self._base_path and path.startswith(self._base_path):
                path = path[len(self._base_path) :]
        if path.startswith(_AUTH_PATHS):
            return _NONE
        if path.startswith("/api/"):
            return _GEN2
        if path.startswith("/deals"):
            return _GEN1
        return _NONE

    # -- plugin hooks -------------------------------------------------------------------------

    def before_request(
        self,
        method: str | None = None,
        url: str | None = None,
        headers: MutableMapping[str, str] | None = None,
        params: Any = None,
        data: Any = None,
    ) -> Any:
        """Add ``Authorization`` to REST calls that need it, authenticating first if needed.

        An ``Authorization`` header the caller gave (``make_request(headers=...)`` or the
        client's ``headers=``; any letter case) is honoured: it is sent as given, no token is
        fetched for it, and a 401 to it is the caller's to handle (no new login, no resend).

        Called with no arguments (flxtrd 0.2.9) it validates the device access token and
        returns an ``AuthResponse`` (:meth:`validate_access_token`).
        """
        if method is None and url is None and headers is None and params is None and data is None:
            return self.validate_access_token()
        realm = _NONE if has_authorization(headers) else self._realm(url)
        if realm == _GEN2:
            _authorize(headers, self.bearer_token())
        elif realm == _GEN1:
            jwt = self._jwt if self._jwt is not None else self._run(self._jwt_flow())
            _authorize(headers, jwt or None)  # no login token (device-token user): no header
        return None

    async def abefore_request(
        self,
        method: str | None = None,
        url: str | None = None,
        headers: MutableMapping[str, str] | None = None,
        params: Any = None,
        data: Any = None,
    ) -> Any:
        """Async :meth:`before_request`."""
        realm = _NONE if has_authorization(headers) else self._realm(url)
        if realm == _GEN2:
            _authorize(headers, await self.abearer_token())
        elif realm == _GEN1:
            jwt = self._jwt if self._jwt is not None else await self._arun(self._jwt_flow())
            _authorize(headers, jwt or None)
        return None

    # -- public entry points ------------------------------------------------------------------

    def identity(self) -> Identity:
        """The generation-1 identity, authenticating once (device token lookup or login)."""
        identity = self._identity
        if identity is not None:
            return identity
        with self._lock:
            if self._identity is not None:
                return self._identity
            return self._drive(self._identity_flow(need_jwt=False))

    async def aidentity(self) -> Identity:
        """Async :meth:`identity`."""
        identity = self._identity
        if identity is not None:
            return identity
        async with self._async_lock():
            if self._identity is not None:
                return self._identity
            return await self._adrive(self._identity_flow(need_jwt=False))

    def login(self) -> LoginResponse:
        """Log in with e-mail and password (generation 1) now; return the generated model."""
        with self._lock:
            return self._drive(self._login_flow())

    async def alogin(self) -> LoginResponse:
        """Async :meth:`login`."""
        async with self._async_lock():
            return await self._adrive(self._login_flow())

    def bearer_token(self) -> str:
        """A fresh generation-2 access token (single-flight password grant or refresh)."""
        token = self._token
        if token is not None and token.fresh(self._clock(), self.refresh_margin_s):
            return token.access
        with self._lock:
            token = self._token
            if token is not None and token.fresh(self._clock(), self.refresh_margin_s):
                return token.access
            return self._drive(self._token_flow(force_password=False))

    async def abearer_token(self) -> str:
        """Async :meth:`bearer_token`."""
        token = self._token
        if token is not None and token.fresh(self._clock(), self.refresh_margin_s):
            return token.access
        async with self._async_lock():
            token = self._token
            if token is not None and token.fresh(self._clock(), self.refresh_margin_s):
                return token.access
            return await self._adrive(self._token_flow(force_password=False))

    def reauthenticate(self, rejected_authorization: str | None) -> bool:
        """After a 401: log in again if the rejected header was ours; True if a resend may help."""
        with self._lock:
            flow = self._relogin_flow(rejected_authorization)
            if flow is None:
                return False
            self._drive(flow)
            return True

    async def areauthenticate(self, rejected_authorization: str | None) -> bool:
        """Async :meth:`reauthenticate`."""
        async with self._async_lock():
            flow = self._relogin_flow(rejected_authorization)
            if flow is None:
                return False
            await self._adrive(flow)
            return True

    def recover(
        self, prepared: PreparedRequest, response: httpx.Response, caller_authorized: bool
    ) -> bool:
        """After a response: on a 401 to our token, log in again and put the new token on
        ``prepared``; True when the request should be sent once more.

        A caller's own ``Authorization`` (``caller_authorized``) is theirs: no login, no resend.
        """
        rejected = _rejected(prepared, response, caller_authorized)
        if rejected is None or not self.reauthenticate(rejected):
            return False
        self.before_request(**_hook_arguments(prepared))
        return True

    async def arecover(
        self, prepared: PreparedRequest, response: httpx.Response, caller_authorized: bool
    ) -> bool:
        """Async :meth:`recover`."""
        rejected = _rejected(prepared, response, caller_authorized)
        if rejected is None or not await self.areauthenticate(rejected):
            return False
        await self.abefore_request(**_hook_arguments(prepared))
        return True

    @property
    def is_authenticated(self) -> bool:
        """True once a generation-1 identity or a generation-2 token is held."""
        return self._identity is not None or self._token is not None

    # -- drivers ------------------------------------------------------------------------------

    def _drive(self, flow: Flow[T]) -> T:
        """Run a flow with the sync client's transport (caller holds the lock)."""
        host = self._bound()
        try:
            request = next(flow)
            while True:
                request = flow.send(host._auth_send(request))
        except StopIteration as stop:
            result: T = stop.value
            return result

    async def _adrive(self, flow: Flow[T]) -> T:
        """Run a flow with the async client's transport (caller holds the lock)."""
        host = self._bound()
        try:
            request = next(flow)
            while True:
                request = flow.send(await host._auth_asend(request))
        except StopIteration as stop:
            result: T = stop.value
            return result

    def _run(self, flow: Flow[T]) -> T:
        """:meth:`_drive` under the sync lock."""
        with self._lock:
            return self._drive(flow)

    async def _arun(self, flow: Flow[T]) -> T:
        """:meth:`_adrive` under the async lock."""
        async with self._async_lock():
            return await self._adrive(flow)

    # -- flows --------------------------------------------------------------------------------

    def _exchange(self, op: Operation[T]) -> Flow[T]:
        """Send one auth operation; return its parsed model or raise the mapped error."""
        response = yield self._bound()._op_request(op)
        error = error_for_response(response)
        if error is not None:
            if response.status_code == 400 and op.name == "get_token":
                # RFC 6749: a refused grant (bad credentials, expired refresh token) is a 400.
                raise AuthenticationError(400, response)
            raise error
        return parse_with(op, response)

    def _choose(self, locations: Sequence[Location]) -> Location:
        """The location named by location_id / user.app_key, else by token, else the first."""
        user = self._user()
        if not locations:
            raise ConfigurationError(
                "the account has no location (device); add one on the market before trading"
            )
        wanted = self.location_id or user.app_key
        if wanted:
            for location in locations:
                if location.field_id == wanted:
                    return location
            raise FlexValidationError(
                "location_id",
                "must be the _id of one of the account's locations "
                + ", ".join(repr(loc.field_id) for loc in locations),
                wanted,
            )
        if user.access_token:
            for location in locations:
                if _known(location.token) == user.access_token:
                    return location
        return locations[0]

    def _remember(self, user_id: str, location: Location, access_token: str | None) -> Identity:
        """Store the identity on the plugin and, as 0.2.9 did, on the user."""
        user = self._user()
        identity = Identity(
            user_id=user_id,
            application_key=location.field_id,
            access_token=access_token,
            location_name=_known(location.name),
        )
        user.user_id = identity.user_id
        user.app_key = identity.application_key
        user.access_token = identity.access_token
        self._identity = identity
        if _logger.isEnabledFor(logging.INFO):
            _logger.info(
                "Authenticated user %s for application key %s",
                identity.user_id,
                identity.application_key,
            )
        return identity

    def _login_flow(self) -> Flow[LoginResponse]:
        """``POST /users/login``: identity and bearer JWT."""
        user = self._user()
        if not (user.name and user.password):
            raise ConfigurationError(
                "logging in needs the account e-mail and password: User(name=, password=)"
                " or FLXTRD_USERNAME and FLXTRD_PASSWORD"
            )
        login: LoginResponse = yield from self._exchange(login_op(user.name, user.password))
        register_secret(_known(login.token), *(_known(loc.token) for loc in login.locations))
        location = self._choose(login.locations)
        self._jwt = _known(login.token)
        self._remember(login.user_id, location, _known(location.token) or user.access_token)
        return login

    def _identity_flow(self, need_jwt: bool) -> Flow[Identity]:
        """Device token lookup, or login when there is no token (or a JWT is needed)."""
        user = self._user()
        if user.user_id and user.app_key and user.access_token and not need_jwt:
            identity = Identity(user.user_id, user.app_key, user.access_token)
            self._identity = identity
            return identity
        if user.name and user.password and (need_jwt or not user.access_token):
            yield from self._login_flow()
            assert self._identity is not None
            return self._identity
        if user.access_token:
            try:
                found: MptokenResponse = yield from self._exchange(mptoken_op(user.access_token))
            except (NotFoundError, AuthenticationError):
                if not (user.name and user.password):
                    raise
                # The seed README passes a placeholder token beside real e-mail and password.
                _logger.warning(
                    "the market does not know the device access token; logging in with the"
                    " e-mail and password and using the token of the account's location"
                )
                yield from self._login_flow()
                assert self._identity is not None
                return self._identity
            return self._remember(found.user_id, self._choose(found.locations), user.access_token)
        raise ConfigurationError(
            "no credentials: give User(accessToken=...) (device access token) or"
            " User(name=, password=), or set FLXTRD_ACCESS_TOKEN or FLXTRD_USERNAME/FLXTRD_PASSWORD"
        )

    def _jwt_flow(self) -> Flow[str | None]:
        """The generation-1 bearer JWT (logs in once when there is none yet)."""
        if self._jwt is None:
            user = self._user()
            if user.name and user.password:
                yield from self._login_flow()
        return self._jwt

    def _token_flow(self, force_password: bool) -> Flow[str]:
        """Refresh the generation-2 token, or run the password grant."""
        token = self._token
        if token is not None and token.refresh and not force_password:
            try:
                issued: TokenResponse = yield from self._exchange(
                    token_refresh_op(token.refresh, self.client_id)
                )
            except FlexStatusError as exc:
                if exc.status_code not in (400, 401):
                    raise
                _logger.info("Token refresh refused (%s); logging in again", exc.status_code)
            else:
                return self._accept(issued)
        user = self._user()
        if not (user.name and user.password):
            raise ConfigurationError(
                "generation-2 calls need the account e-mail and password: User(name=, password=)"
                " or FLXTRD_USERNAME and FLXTRD_PASSWORD"
            )
        issued = yield from self._exchange(
            token_password_op(user.name, user.password, self.client_id)
        )
        return self._accept(issued)

    def _accept(self, issued: TokenResponse) -> str:
        """Store a token response; swap the registered secrets."""
        old = self._token
        refresh = _known(issued.refresh_token)
        if refresh is None and old is not None:
            refresh = old.refresh
        register_secret(issued.access_token, refresh)
        lifetime = float(max(issued.expires_in, 0))
        self._token = _Token(issued.access_token, refresh, self._clock() + lifetime, lifetime)
        if old is not None:
            forget_secret(
                *(s for s in (old.access, old.refresh) if s not in (issued.access_token, refresh))
            )
        if _logger.isEnabledFor(logging.INFO):
            _logger.info("Obtained an access token valid for %d s", issued.expires_in)
        return issued.access_token

    def _relogin_flow(self, rejected: str | None) -> Flow[Any] | None:
        """The flow answering a 401 (caller holds the lock), or None if the header was not ours."""
        if not rejected or not rejected.startswith("Bearer "):
            return None
        value = rejected[len("Bearer ") :]
        token = self._token
        if token is not None and token.access == value:
            _logger.info("Access token rejected (401); logging in again")
            self._token = None
            return self._token_flow(force_password=True)
        if self._jwt is not None and self._jwt == value:
            _logger.info("Login token rejected (401); logging in again")
            self._jwt = None
            return self._login_flow()
        if token is not None or self._jwt is not None:
            return _done()  # another caller already re-logged in: resend with the new token
        return None

    def __repr__(self) -> str:
        user = self.user.name if self.user is not None else None
        token = self._token
        gen2 = "none" if token is None else f"expires in {token.expires_at - self._clock():.0f} s"
        return (
            f"<AuthPlugin user={user!r} identity={'yes' if self._identity else 'no'}"
            f" gen2_token={gen2}>"
        )


def _authorize(headers: MutableMapping[str, str] | None, token: str | None) -> None:
    """Put ``Bearer <token>`` on ``headers`` (when there are headers and a token)."""
    if headers is not None and token is not None:
        headers["Authorization"] = f"Bearer {token}"


def has_authorization(headers: Mapping[str, str] | None) -> bool:
    """True if ``headers`` already carry an ``Authorization`` header (any letter case)."""
    if not headers:
        return False
    return any(key.lower() == "authorization" for key in headers)


def _rejected(
    prepared: PreparedRequest, response: httpx.Response, caller_authorized: bool
) -> str | None:
    """After a 401 to a request whose ``Authorization`` the plugin set: that header, taken off
    the request (a new one replaces it); else ``None`` and the request is left as it is."""
    if response.status_code != 401 or caller_authorized:
        return None
    return prepared.headers.pop("Authorization", None) or ""


def _hook_arguments(prepared: PreparedRequest) -> dict[str, Any]:
    """The keyword arguments of ``before_request`` for ``prepared``."""
    return {
        "method": prepared.method,
        "url": prepared.url,
        "headers": prepared.headers,
        "params": prepared.params,
        "data": prepared.data,
    }


def _done() -> Flow[None]:
    """A flow that sends nothing."""
    return
    yield  # pragma: no cover - makes this a generator
