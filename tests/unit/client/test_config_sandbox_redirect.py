"""The sandbox redirect: FLXTRD_MARKET_URL=sandbox://... overrides market URLs given in code."""

from __future__ import annotations

import pytest

from flxtrd import Broker, Market
from flxtrd._config import resolve_broker_url, resolve_market
from flxtrd._errors import FlexValidationError


def test_embedded_sandbox_in_env_overrides_base_url_in_code() -> None:
    """The seed passes base_url="localhost"; sandbox:// in the environment still wins."""
    endpoint = resolve_market(base_url="localhost", env={"FLXTRD_MARKET_URL": "sandbox://"})
    assert endpoint.sandbox
    assert resolve_broker_url(endpoint=endpoint, env={}) == "memory://"


def test_served_sandbox_in_env_overrides_market_in_code() -> None:
    """sandbox://host:port means plain HTTP there and the broker on that host's port 5672."""
    market = Market(ip="localhost", broker=Broker(ip="localhost"))
    env = {"FLXTRD_MARKET_URL": "sandbox://127.0.0.1:8000"}
    endpoint = resolve_market(base_url="localhost", market=market, env=env)
    assert (endpoint.base_url, endpoint.sandbox) == ("http://127.0.0.1:8000", False)
    assert resolve_broker_url(market=market, endpoint=endpoint, env=env) == (
        "amqp://127.0.0.1:5672//"
    )


def test_served_sandbox_broker_follows_flxtrd_broker_url() -> None:
    """FLXTRD_BROKER_URL still names the broker of a served sandbox (e.g. with credentials)."""
    env = {"FLXTRD_MARKET_URL": "sandbox://127.0.0.1:8000", "FLXTRD_BROKER_URL": "amqp://b:5673//"}
    endpoint = resolve_market(env=env)
    assert resolve_broker_url(endpoint=endpoint, env=env) == "amqp://b:5673//"


def test_a_non_sandbox_env_url_does_not_override_code() -> None:
    """Only the sandbox redirects: a real market URL in the environment loses to the argument."""
    endpoint = resolve_market(base_url="localhost", env={"FLXTRD_MARKET_URL": "https://other"})
    assert endpoint.base_url == "https://localhost"


@pytest.mark.parametrize("url", ["sandbox://user@host:1", "sandbox://host:1/path", "sandbox://:x"])
def test_malformed_sandbox_urls_are_refused(url: str) -> None:
    """A sandbox URL is sandbox:// or sandbox://host:port, nothing else."""
    with pytest.raises(FlexValidationError, match="FLXTRD_MARKET_URL"):
        resolve_market(env={"FLXTRD_MARKET_URL": url})
