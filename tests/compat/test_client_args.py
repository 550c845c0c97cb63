"""A client needs a user and a market, as in 0.2.9; the environment counts as giving them."""

from __future__ import annotations

import httpx
import pytest

from flxtrd import (
    AsyncFlexAPIClient,
    Broker,
    FlexAPIClient,
    FlexMarket,
    FlexUser,
    FlexValidationError,
    Market,
    User,
)

pytestmark = pytest.mark.usefixtures("clean_env")


def _no_network(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"no request expected, got {request.method} {request.url}")


NO_NETWORK = httpx.MockTransport(_no_network)


@pytest.mark.parametrize("client_class", [FlexAPIClient, AsyncFlexAPIClient])
def test_no_user_is_a_value_error_naming_user(client_class: type) -> None:
    """FlexAPIClient(user=None, market=...) without token or environment raises ValueError."""
    with pytest.raises(ValueError, match="user is required") as caught:
        client_class(user=None, market=FlexMarket(market_url="localhost"))
    assert isinstance(caught.value, FlexValidationError)
    assert caught.value.field == "user"


@pytest.mark.parametrize("client_class", [FlexAPIClient, AsyncFlexAPIClient])
def test_no_market_is_a_value_error_naming_market(client_class: type) -> None:
    """FlexAPIClient(user=..., market=None) without a URL or FLXTRD_MARKET_URL raises."""
    with pytest.raises(ValueError, match="market is required") as caught:
        client_class(user=FlexUser(), market=None)
    assert isinstance(caught.value, FlexValidationError)
    assert caught.value.field == "market"


@pytest.mark.parametrize(
    ("env", "kwargs"),
    [
        ({"FLXTRD_ACCESS_TOKEN": "dev-1"}, {}),
        ({"FLXTRD_USERNAME": "me@example.com", "FLXTRD_PASSWORD": "pw"}, {}),
        ({}, {"access_token": "dev-1"}),
    ],
)
def test_user_from_access_token_or_environment_is_enough(
    env: dict[str, str], kwargs: dict[str, str]
) -> None:
    """access_token=, FLXTRD_ACCESS_TOKEN or FLXTRD_USERNAME stand in for user=."""
    with FlexAPIClient(base_url="localhost", env=env, transport=NO_NETWORK, **kwargs) as client:
        assert client.user.access_token or client.user.name


@pytest.mark.parametrize(
    ("env", "kwargs", "base_url"),
    [
        ({"FLXTRD_MARKET_URL": "http://127.0.0.1:9000"}, {}, "http://127.0.0.1:9000"),
        ({}, {"market_url": "m.test"}, "https://m.test"),
        ({}, {"base_url": "b.test"}, "https://b.test"),
        ({"FLXTRD_MARKET_URL": "sandbox://"}, {}, "http://sandbox.flxtrd.invalid"),
    ],
)
def test_market_from_url_or_environment_is_enough(
    env: dict[str, str], kwargs: dict[str, str], base_url: str
) -> None:
    """market_url=, base_url= or FLXTRD_MARKET_URL stand in for market=."""
    with FlexAPIClient(user=User(), env=env, transport=NO_NETWORK, **kwargs) as client:
        assert client.base_url == base_url


def test_market_without_url_is_accepted_and_uses_the_environment() -> None:
    """FlexMarket(market_url=None) (0.2.9's tests pass it) takes FLXTRD_MARKET_URL."""
    market = FlexMarket(market_url=None, market_port=80)
    env = {"FLXTRD_MARKET_URL": "http://127.0.0.1:9000"}
    with FlexAPIClient(user=FlexUser(), market=market, env=env, transport=NO_NETWORK) as client:
        assert client.base_url == "http://127.0.0.1:9000"
        assert client.broker_url == "amqps://127.0.0.1:5671//"
    with FlexAPIClient(user=FlexUser(), market=market, env={}, transport=NO_NETWORK) as client:
        assert client.base_url == "https://test.glocalflexmarket.com"  # the default market


def test_user_without_credentials_is_accepted() -> None:
    """An explicit FlexUser() with no credentials is a user (0.2.9's tests build one)."""
    with FlexAPIClient(user=FlexUser(), market=FlexMarket("localhost")) as client:
        assert client.user.name is None


def test_seed_readme_construction_still_works() -> None:
    """The seed README's FlexAPIClient(base_url=, user=, market=) is unaffected."""
    user = User(name="<your_email>", password="<your_password>", accessToken="<token>")
    market = Market(ip="localhost", broker=Broker(ip="localhost"))
    with FlexAPIClient(base_url="localhost", user=user, market=market) as client:
        assert (client.base_url, client.broker_url) == (
            "https://localhost",
            "amqps://localhost:5671//",
        )
