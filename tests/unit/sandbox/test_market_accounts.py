"""Sandbox accounts: permissive and strict logins, derived identities, the accounts file, tokens."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest

from flxtrd.sandbox import ManualClock
from flxtrd.sandbox._accounts import Account, Accounts, AuthError, Location, parse_accounts

T0 = 1_796_112_000_000
KEY = b"a token key of at least 32 bytes"


@pytest.fixture
def clock() -> ManualClock:
    """The accounts' clock."""
    return ManualClock(T0)


def test_permissive_any_credentials_log_in(clock: ManualClock) -> None:
    """Unknown e-mails log in with any password; the account is made once and then reused."""
    accounts = Accounts(seed=1, clock=clock)
    first = accounts.login(" Trader@Example.com ", "one")
    again = accounts.login("trader@example.com", "two")
    assert first is again and first.email == "trader@example.com"
    assert re.fullmatch(r"[0-9a-f]{24}", first.user_id)
    (location,) = first.locations
    assert re.fullmatch(r"[0-9a-f]{24}", location.id)
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}", location.token
    )
    assert accounts.by_device_token(location.token) == (first, location)
    assert accounts.by_user_id(first.user_id) is first
    assert accounts.owns_application_key(first.user_id, location.id)
    assert accounts.all() == [first]


def test_identities_are_stable_per_seed() -> None:
    """The same e-mail gives the same ids for the same seed and token key, others per seed."""
    a = Accounts(seed=5, token_key=KEY).login("x@y", "p")
    b = Accounts(seed=5, token_key=KEY).login("x@y", "q")
    c = Accounts(seed=6, token_key=KEY).login("x@y", "p")
    assert (a.user_id, a.locations) == (b.user_id, b.locations)
    assert a.user_id != c.user_id and a.locations[0].id != c.locations[0].id


def test_device_tokens_follow_the_token_key_not_the_seed() -> None:
    """The device token (a secret) is keyed by the token key: the seed alone does not give it."""
    a = Accounts(seed=5).login("x@y", "p")
    b = Accounts(seed=5).login("x@y", "p")
    assert (a.user_id, a.locations[0].id) == (b.user_id, b.locations[0].id)
    assert a.locations[0].token != b.locations[0].token


@pytest.mark.parametrize(("email", "password"), [("", "p"), ("  ", "p"), ("a@b", "")])
def test_empty_credentials_are_refused(email: str, password: str) -> None:
    """Even permissive mode refuses an empty e-mail or password."""
    with pytest.raises(AuthError):
        Accounts().login(email, password)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_strict_toml_file(tmp_path: Path, clock: ManualClock) -> None:
    """A TOML accounts file: listed users with their passwords only; ids kept or derived."""
    path = _write(
        tmp_path,
        "accounts.toml",
        """
        [[accounts]]
        email = "alice@example.com"
        password = "wonderland"

        [[accounts]]
        email = "bob@example.com"
        password = "builder"
        user_id = "b0b"
        locations = [{ _id = "bob-battery", token = "bob-token", name = "Battery" }, {}]
        """,
    )
    accounts = Accounts.from_file(path, seed=2, clock=clock)
    assert accounts.strict
    alice = accounts.login("alice@example.com", "wonderland")
    assert alice.user_id == Accounts(seed=2).derive("alice@example.com").user_id
    bob = accounts.login("BOB@example.com", "builder")
    assert bob.user_id == "b0b" and bob.locations[0] == Location(
        "bob-battery", "bob-token", "Battery"
    )
    assert len(bob.locations) == 2 and bob.locations[1].id != bob.locations[0].id
    with pytest.raises(AuthError):
        accounts.login("alice@example.com", "wrong")
    with pytest.raises(AuthError):
        accounts.login("eve@example.com", "anything")
    with pytest.raises(AuthError):
        accounts.issue_token("eve@example.com", "anything")


def test_strict_json_file(tmp_path: Path) -> None:
    """A JSON accounts file works the same; ``id`` is accepted for ``_id``."""
    data = {
        "accounts": [{"email": "c@x", "password": "pw", "locations": [{"id": "k", "token": "t"}]}]
    }
    accounts = Accounts.from_file(_write(tmp_path, "accounts.json", json.dumps(data)))
    assert accounts.login("c@x", "pw").locations == (Location("k", "t", ""),)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "holds a list"),
        ({"accounts": ["x"]}, "table/object"),
        ({"accounts": [{"password": "p"}]}, "email"),
        ({"accounts": [{"email": "a@b"}]}, "password"),
        ({"accounts": [{"email": "a@b", "password": "p", "user_id": 3}]}, "user_id"),
        ({"accounts": [{"email": "a@b", "password": "p", "locations": []}]}, "locations"),
        ({"accounts": [{"email": "a@b", "password": "p", "locations": [3]}]}, "locations"),
        ({"accounts": [{"email": "a@b", "password": "p", "locations": [{"_id": 3}]}]}, "strings"),
    ],
)
def test_bad_accounts_files_are_refused(data: object, message: str) -> None:
    """Malformed accounts files raise ValueError saying what is wrong."""
    with pytest.raises(ValueError, match=message):
        parse_accounts(data)


def test_duplicate_accounts_are_refused() -> None:
    """Two accounts with one e-mail, user id or device token cannot coexist."""
    one = Account("a@x", "u1", (Location("k1", "t1"),), "p")
    for other in (
        Account("A@x", "u2", (Location("k2", "t2"),), "p"),
        Account("b@x", "u1", (Location("k2", "t2"),), "p"),
        Account("b@x", "u2", (Location("k2", "t1"),), "p"),
    ):
        with pytest.raises(ValueError, match="duplicate"):
            Accounts(accounts=[one, other])


@pytest.mark.parametrize("value", [0, -1, 1.5, True])
def test_lifetimes_must_be_whole_seconds(value: object) -> None:
    """Token lifetimes are integers >= 1."""
    with pytest.raises(ValueError):
        Accounts(access_lifetime_s=value)  # type: ignore[arg-type]


def test_access_token_expires_on_the_clock(clock: ManualClock) -> None:
    """An access token is valid until its lifetime has passed (then 'Token expired')."""
    accounts = Accounts(clock=clock, access_lifetime_s=30)
    issued = accounts.issue_token("a@x", "p")
    assert issued.expires_in == 30 and issued.token_type == "Bearer"
    clock.advance(29_999)
    assert accounts.verify(issued.access_token, "access").email == "a@x"
    clock.advance(1)
    with pytest.raises(AuthError, match="expired"):
        accounts.verify(issued.access_token, "access")


def test_refresh_grant(clock: ManualClock) -> None:
    """A refresh token gives a new pair until it expires; access tokens cannot refresh."""
    accounts = Accounts(clock=clock, access_lifetime_s=10, refresh_lifetime_s=100)
    issued = accounts.issue_token("a@x", "p")
    clock.advance(50_000)
    renewed = accounts.refresh(issued.refresh_token)
    assert renewed.access_token != issued.access_token
    assert accounts.verify(renewed.access_token, "access").email == "a@x"
    with pytest.raises(AuthError):
        accounts.refresh(issued.access_token)
    clock.advance(50_000)
    with pytest.raises(AuthError, match="expired"):
        accounts.refresh(issued.refresh_token)


def test_tokens_of_the_wrong_kind_or_forged_are_refused(clock: ManualClock) -> None:
    """Login JWTs are not access tokens; tampered, foreign-key and malformed tokens fail."""
    accounts = Accounts(seed=1, clock=clock)
    login = accounts.issue_login_token(accounts.login("a@x", "p"))
    with pytest.raises(AuthError):
        accounts.verify(login, "access")
    assert accounts.verify(login, "login").email == "a@x"
    header, payload, signature = login.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = "someone-else"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    other_seed = Accounts(seed=2, clock=clock)
    same_seed_other_key = Accounts(seed=1, clock=clock)
    for token in (
        f"{header}.{forged}.{signature}",
        other_seed.issue_login_token(other_seed.login("a@x", "p")),
        same_seed_other_key.issue_login_token(same_seed_other_key.login("a@x", "p")),
        f"{header}.{payload}.{signature}=",
        f"{header}.{payload}.{signature}!",
        "not-a-token",
        "a.b.c",
        f"{header}.{payload}.!!!",
    ):
        with pytest.raises(AuthError):
            accounts.verify(token, "login")


def test_tokens_survive_a_restart_with_the_same_token_key(clock: ManualClock) -> None:
    """Tokens are stateless: a new Accounts with the token key accepts them (permissive)."""
    token = Accounts(seed=4, clock=clock, token_key=KEY).issue_token("a@x", "p").access_token
    assert Accounts(seed=4, clock=clock, token_key=KEY).verify(token, "access").email == "a@x"


def test_strict_tokens_need_a_known_account(clock: ManualClock) -> None:
    """A strict market refuses a token whose account it does not have or whose id differs."""
    token = Accounts(seed=4, clock=clock, token_key=KEY).issue_token("a@x", "p").access_token
    strict = Accounts(
        seed=4, clock=clock, strict=True, accounts=[Account("a@x", "other", (), "p")], token_key=KEY
    )
    with pytest.raises(AuthError):
        strict.verify(token, "access")
    with pytest.raises(AuthError):
        Accounts(seed=4, clock=clock, strict=True, token_key=KEY).verify(token, "access")
