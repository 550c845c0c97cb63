"""0.2.9's AuthPlugin: ``before_request()`` validates the token, ``authenticate_user()`` logs in."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from compat_fakes import APP_KEY, DEVICE_TOKEN, EMAIL, PASSWORD, USER_ID, gen1_market

from flxtrd import (
    AuthPlugin,
    AuthResponse,
    FlexAPIClient,
    FlexConnectionError,
    FlexMarket,
    FlexUser,
    FlexValidationError,
    RetryPolicy,
    User,
)

MARKET = FlexMarket(market_url="localhost")


def attached(user: FlexUser, requests: list[httpx.Request]) -> AuthPlugin:
    """An AuthPlugin added to a client whose REST transport is the fake market."""
    plugin = AuthPlugin(user=user, market=MARKET, verify_ssl=False)
    FlexAPIClient(
        base_url="https://market.test",
        user=user,
        plugins=[plugin],
        transport=gen1_market(requests),
        env={},
    )
    return plugin


def test_before_request_without_arguments_validates_the_token() -> None:
    """before_request() looks the device token up and fills user_id and app_key (0.2.9)."""
    requests: list[httpx.Request] = []
    user = FlexUser(name=EMAIL, password=PASSWORD, access_token=DEVICE_TOKEN)
    response = attached(user, requests).before_request()
    assert response == AuthResponse(USER_ID, APP_KEY, DEVICE_TOKEN, is_authenticated=True)
    assert (user.user_id, user.app_key) == (USER_ID, APP_KEY)
    assert [r.url.path for r in requests] == [f"/users/mptoken/{DEVICE_TOKEN}"]


def test_before_request_does_not_look_up_an_already_validated_user() -> None:
    """A user with user_id and app_key is not looked up again, as in 0.2.9."""
    requests: list[httpx.Request] = []
    user = FlexUser(access_token=DEVICE_TOKEN, user_id=USER_ID, app_key=APP_KEY)
    assert attached(user, requests).before_request().is_authenticated is True
    assert requests == []


def test_unknown_token_gives_an_unauthenticated_response() -> None:
    """A token the market does not know (404) gives AuthResponse(is_authenticated=False)."""
    requests: list[httpx.Request] = []
    user = FlexUser(name=EMAIL, password=PASSWORD, access_token="invalid_access_token")
    response = attached(user, requests).before_request()
    assert isinstance(response, AuthResponse)
    assert response.is_authenticated is False
    assert user.app_key is None
    assert [r.url.path for r in requests] == ["/users/mptoken/invalid_access_token"]  # no login


def test_no_access_token_is_a_value_error() -> None:
    """before_request() without an access token raises ValueError naming access_token."""
    user = FlexUser(name=EMAIL, password=PASSWORD)
    with pytest.raises(ValueError, match="access_token") as caught:
        AuthPlugin(user=user, market=MARKET, verify_ssl=False).before_request()
    assert isinstance(caught.value, FlexValidationError)


def test_authenticate_user_logs_in_with_email_and_password() -> None:
    """authenticate_user() posts /users/login and returns an authenticated AuthResponse."""
    requests: list[httpx.Request] = []
    user = FlexUser(name=EMAIL, password=PASSWORD, access_token="placeholder")
    response = attached(user, requests).authenticate_user()
    assert response == AuthResponse(USER_ID, APP_KEY, DEVICE_TOKEN, is_authenticated=True)
    assert [r.url.path for r in requests] == ["/users/login"]


def test_authenticate_user_with_a_wrong_password_is_unauthenticated() -> None:
    """A refused login (401) gives AuthResponse(is_authenticated=False), nothing raised."""
    user = FlexUser(name=EMAIL, password="wrong")
    assert attached(user, []).authenticate_user().is_authenticated is False


def test_authenticate_user_refuses_another_endpoint() -> None:
    """Only the market's login path is accepted, named in the error."""
    with pytest.raises(FlexValidationError, match="endpoint"):
        attached(FlexUser(name=EMAIL, password=PASSWORD), []).authenticate_user("/login")


def test_auth_response_repr_hides_the_token() -> None:
    """The access token never shows in AuthResponse's repr."""
    text = repr(AuthResponse(USER_ID, APP_KEY, DEVICE_TOKEN, is_authenticated=True))
    assert DEVICE_TOKEN not in text and "'***'" in text


def test_rest_hooks_are_unchanged_by_the_0_2_9_call() -> None:
    """before_request with a request's arguments still only adds headers (returns None)."""
    requests: list[httpx.Request] = []
    plugin = attached(FlexUser(access_token=DEVICE_TOKEN), requests)
    headers: dict[str, str] = {}
    assert plugin.before_request("GET", "https://market.test/users/x", headers) is None
    assert headers == {} and requests == []


@pytest.fixture
def sandbox_token(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """FLXTRD_MARKET_URL=sandbox:// and a device token of a sandbox account."""
    from flxtrd.sandbox import reset_embedded_sandbox

    monkeypatch.setenv("FLXTRD_MARKET_URL", "sandbox://")
    with FlexAPIClient(user=User(name="compat@example.com", password="pw")) as client:
        login = client.login()
    token = login.locations[0].token
    assert isinstance(token, str)
    yield token
    reset_embedded_sandbox()


def test_plugin_on_its_own_authenticates_on_its_market(sandbox_token: str) -> None:
    """AuthPlugin(user=, market=) used alone, as 0.2.9's tests do, reaches its market."""
    user = FlexUser(name="x@example.com", password="pw", access_token=sandbox_token)
    plugin = AuthPlugin(user=user, market=MARKET, verify_ssl=False)
    assert plugin.before_request().is_authenticated is True
    assert user.app_key is not None and user.user_id is not None


def test_unreachable_market_is_a_connection_error() -> None:
    """A network failure raises FlexConnectionError instead of 0.2.9's logged-and-None."""

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    user = FlexUser(access_token=DEVICE_TOKEN)
    plugin = AuthPlugin(user=user, market=MARKET)
    FlexAPIClient(
        base_url="https://market.test",
        user=user,
        plugins=[plugin],
        transport=httpx.MockTransport(refuse),
        retry_policy=RetryPolicy(max_retries=0),
        env={},
    )
    with pytest.raises(FlexConnectionError, match="connection refused"):
        plugin.before_request()
