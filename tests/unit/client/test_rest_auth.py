"""AuthPlugin: generation-1 identity, generation-2 tokens, refresh, re-login, single flight."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
import pytest
from client_fakes import (
    APP_KEY,
    APP_KEY_2,
    DEVICE_TOKEN,
    EMAIL,
    JWT,
    OTHER_DEVICE_TOKEN,
    PASSWORD,
    USER_ID,
    FakeClock,
    FakeMarket,
    make_user,
    resolve,
)

from flxtrd._client._async_client import AsyncFlexAPIClient
from flxtrd._client._client import FlexAPIClient
from flxtrd._errors import (
    AuthenticationError,
    ConfigurationError,
    FlexValidationError,
    NotFoundError,
)
from flxtrd._rest._auth import AuthPlugin
from flxtrd._types import Market, User

# --- generation 1 ----------------------------------------------------------------------------


async def test_device_token_identity_runs_once(make_client: Any, market: FakeMarket) -> None:
    """With only a device token, the mptoken lookup fills user id and application key, once."""
    client = make_client(user=User(accessToken=DEVICE_TOKEN))
    identity = await resolve(client.authenticate())
    assert (identity.user_id, identity.application_key) == (USER_ID, APP_KEY)
    assert (client.user.user_id, client.user.app_key) == (USER_ID, APP_KEY)
    await resolve(client.authenticate())
    await resolve(client.make_request("GET", "/users/mptoken/" + DEVICE_TOKEN))
    assert market.operations == ["get_user_by_mptoken", "get_user_by_mptoken"]


async def test_unknown_device_token_falls_back_to_login(
    make_client: Any, market: FakeMarket
) -> None:
    """A placeholder token beside e-mail and password (the seed README) logs in instead."""
    client = make_client(user=make_user(accessToken="<your_device_access_token>"))
    identity = await resolve(client.authenticate())
    assert (identity.user_id, identity.application_key) == (USER_ID, APP_KEY)
    assert identity.access_token == DEVICE_TOKEN
    assert market.operations == ["get_user_by_mptoken", "login_user"]


async def test_unknown_device_token_alone_is_not_found(make_client: Any) -> None:
    """Without e-mail and password there is nothing to fall back to: the 404 surfaces."""
    client = make_client(user=User(accessToken="unknown-token"))
    with pytest.raises(NotFoundError):
        await resolve(client.authenticate())


async def test_login_chooses_the_named_location(make_client: Any, market: FakeMarket) -> None:
    """location_id picks the location: its _id is the application key, its token the password."""
    client = make_client(user=User(name=EMAIL, password=PASSWORD), location_id=APP_KEY_2)
    identity = await resolve(client.authenticate())
    assert identity.application_key == APP_KEY_2
    assert identity.access_token == OTHER_DEVICE_TOKEN
    assert market.operations == ["login_user"]


async def test_login_chooses_the_location_of_the_users_token(make_client: Any) -> None:
    """Without a named location the one whose token is the user's access token is chosen."""
    client = make_client(user=make_user(accessToken=OTHER_DEVICE_TOKEN))
    await resolve(client.login())
    assert client.user.app_key == APP_KEY_2


async def test_user_app_key_names_the_location(make_client: Any) -> None:
    """A preset user.app_key (0.2.9 field) names the location too."""
    client = make_client(user=User(name=EMAIL, password=PASSWORD, app_key=APP_KEY_2))
    await resolve(client.login())
    assert client.user.access_token == OTHER_DEVICE_TOKEN


async def test_unknown_location_is_a_validation_error(make_client: Any) -> None:
    """A location id the account does not have is refused, naming location_id."""
    client = make_client(user=User(name=EMAIL, password=PASSWORD), location_id="nope")
    with pytest.raises(FlexValidationError) as raised:
        await resolve(client.authenticate())
    assert raised.value.field == "location_id"


async def test_bad_credentials(make_client: Any, market: FakeMarket) -> None:
    """Wrong password: login 401 and token 400 both raise AuthenticationError; unknown token 404."""
    client = make_client(user=User(name=EMAIL, password="wrong"))
    with pytest.raises(AuthenticationError, match="401"):
        await resolve(client.login())
    with pytest.raises(AuthenticationError, match="Invalid user credentials"):
        await resolve(client.orders.list())
    client = make_client(user=User(accessToken="dev-unknown"))
    with pytest.raises(NotFoundError, match="/users/mptoken/\\*\\*\\*"):
        await resolve(client.authenticate())


async def test_missing_credentials(make_client: Any) -> None:
    """No token and no password: a ConfigurationError that names the environment variables."""
    client = make_client(user=User())
    with pytest.raises(ConfigurationError, match="FLXTRD_ACCESS_TOKEN"):
        await resolve(client.authenticate())
    with pytest.raises(ConfigurationError, match="FLXTRD_USERNAME"):
        await resolve(client.orders.list())


async def test_deals_use_the_login_jwt(make_client: Any, market: FakeMarket) -> None:
    """/deals/ carries the generation-1 JWT from the login."""
    client = make_client()
    await resolve(client.deals())
    assert market.requests[-1].headers["authorization"] == f"Bearer {JWT}"


# --- generation 2 ----------------------------------------------------------------------------


async def test_token_is_obtained_once(make_client: Any, market: FakeMarket) -> None:
    """Many calls share one access token; the auth endpoints never get a bearer header."""
    client = make_client()
    for _ in range(5):
        await resolve(client.contracts.list())
    assert market.count("get_token") == 1
    assert "authorization" not in market.requests[0].headers
    assert market.requests[-1].headers["authorization"] == "Bearer at-S3cr3t-1"


async def test_token_is_refreshed_60s_before_expiry(
    make_client: Any, market: FakeMarket, clock: FakeClock
) -> None:
    """A 300 s token is kept for 239 s and refreshed (refresh grant) from 240 s on."""
    client = make_client()
    await resolve(client.contracts.list())
    clock.advance(239)
    await resolve(client.contracts.list())
    assert market.count("get_token") == 1
    clock.advance(1)
    await resolve(client.contracts.list())
    assert market.count("get_token") == 2
    refresh = market.requests[market.operations.index("get_token", 1)]
    assert b"grant_type=refresh_token" in refresh.content
    assert market.requests[-1].headers["authorization"] == "Bearer at-S3cr3t-2"


async def test_short_tokens_refresh_at_half_life(
    make_client: Any, market: FakeMarket, clock: FakeClock
) -> None:
    """A token shorter than twice the margin (30 s) is refreshed at half its lifetime."""
    market.expires_in = 30
    client = make_client()
    await resolve(client.contracts.list())
    clock.advance(14)
    await resolve(client.contracts.list())
    assert market.count("get_token") == 1
    clock.advance(1)
    await resolve(client.contracts.list())
    assert market.count("get_token") == 2


async def test_refused_refresh_falls_back_to_password(
    make_client: Any, market: FakeMarket, clock: FakeClock
) -> None:
    """When the refresh grant is refused (400), the password grant runs."""
    client = make_client()
    await resolve(client.contracts.list())
    market.refresh_tokens.clear()
    clock.advance(250)
    await resolve(client.contracts.list())
    grants = [r.content for r in market.requests if r.url.path == "/auth/oauth/v2/token"]
    assert [b"grant_type=refresh_token" in g for g in grants] == [False, True, False]


async def test_401_triggers_one_relogin(make_client: Any, market: FakeMarket) -> None:
    """A 401 on our token logs in again (password grant) and resends the call once."""
    client = make_client()
    await resolve(client.contracts.list())
    market.revoke_all()
    page = await resolve(client.contracts.list())
    assert page.total == 1
    assert market.operations == [
        "get_token",
        "list_contracts",
        "list_contracts",
        "get_token",
        "list_contracts",
    ]
    assert b"grant_type=password" in market.requests[3].content


async def test_persistent_401_is_raised_after_one_relogin(
    make_client: Any, market: FakeMarket
) -> None:
    """If the resent call is refused again, AuthenticationError is raised (no loop)."""
    client = make_client()
    market.push(
        "list_contracts",
        httpx.Response(401, json={"detail": "Token expired"}),
        httpx.Response(401, json={"detail": "Token expired"}),
    )
    with pytest.raises(AuthenticationError, match="Token expired"):
        await resolve(client.contracts.list())
    assert market.count("get_token") == 2
    assert market.count("list_contracts") == 2
    response, err = await resolve(client.make_request("GET", "/api/v1/contract/"))
    assert err is None
    assert response.request_response.status_code == 200


async def test_401_without_our_token_is_not_retried(make_client: Any) -> None:
    """A 401 on a call that carried no token of ours is returned as is."""
    seen: list[httpx.Request] = []
    client = make_client(lambda r: seen.append(r) or httpx.Response(401, json={"detail": "no"}))
    _, err = await resolve(client.make_request("GET", "/public/thing"))
    assert isinstance(err, AuthenticationError)
    assert len(seen) == 1


class _CountingLock:
    """A lock that counts how many threads tried to take it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.attempts = 0
        self.changed = threading.Condition()

    def __enter__(self) -> None:
        with self.changed:
            self.attempts += 1
            self.changed.notify_all()
        self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


def test_parallel_threads_refresh_once(market: FakeMarket, clock: FakeClock) -> None:
    """Eight threads with no token yet cause one token request (single flight, sync)."""
    threads_n = 8
    lock = _CountingLock()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/oauth/v2/token":
            with lock.changed:  # hold the token answer until every thread waits for the lock
                assert lock.changed.wait_for(lambda: lock.attempts >= threads_n, timeout=10)
        return market.handler(request)

    client = FlexAPIClient(
        base_url="https://market.test",
        user=make_user(),
        transport=httpx.MockTransport(handler),
        clock=clock,
        env={},
    )
    assert client.auth is not None
    client.auth._lock = lock  # type: ignore[assignment]
    errors: list[BaseException] = []

    def work() -> None:
        try:
            client.contracts.list()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    client.close()
    assert errors == []
    assert market.count("get_token") == 1
    assert market.count("list_contracts") == threads_n


async def test_parallel_tasks_refresh_once(market: FakeMarket, clock: FakeClock) -> None:
    """Eight tasks with no token yet, and again after expiry, cause one token request each time."""

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/oauth/v2/token":
            for _ in range(20):  # yield to the other tasks while the token is "in flight"
                await asyncio.sleep(0)
        return market.handler(request)

    client = AsyncFlexAPIClient(
        base_url="https://market.test",
        user=make_user(),
        transport=httpx.MockTransport(handler),
        clock=clock,
        env={},
    )
    await asyncio.gather(*(client.contracts.list() for _ in range(8)))
    assert market.count("get_token") == 1
    clock.advance(290)
    await asyncio.gather(*(client.contracts.list() for _ in range(8)))
    assert market.count("get_token") == 2
    market.revoke_all()
    await asyncio.gather(*(client.contracts.list() for _ in range(8)))
    assert market.count("get_token") == 3
    await client.aclose()


# --- the plugin itself -----------------------------------------------------------------------


async def test_given_auth_plugin_is_used(make_client: Any, market: FakeMarket) -> None:
    """An AuthPlugin given in plugins= (0.2.9 spelling) replaces the default one."""
    auth = AuthPlugin(user=User(accessToken=DEVICE_TOKEN), market=Market(ip="x"), verify_ssl=False)
    client = make_client(plugins=[auth])
    assert client.auth is auth
    assert [type(p) for p in client.plugins] == [AuthPlugin]
    await resolve(client.authenticate())
    assert auth.user is not None
    assert auth.user.app_key == APP_KEY


def test_unattached_plugin_refuses_to_authenticate() -> None:
    """An AuthPlugin that is not added to a client says so instead of failing obscurely."""
    auth = AuthPlugin(User(accessToken=DEVICE_TOKEN))
    with pytest.raises(ConfigurationError, match="not attached"):
        auth.identity()


async def test_removing_auth_disables_typed_login(make_client: Any) -> None:
    """remove_plugin(AuthPlugin) leaves REST calls unauthenticated; login() says why it fails."""
    client = make_client()
    client.remove_plugin(client.auth)
    assert client.auth is None
    with pytest.raises(ConfigurationError, match="AuthPlugin"):
        await resolve(client.login())
