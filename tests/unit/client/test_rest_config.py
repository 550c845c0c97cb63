"""Base URL rules, environment variables, broker URL resolution and TLS settings."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import httpx
import pytest
from client_fakes import DEVICE_TOKEN, EMAIL, PASSWORD, resolve

from flxtrd._config import (
    make_verify,
    normalize_market_url,
    resolve_broker_url,
    resolve_market,
    resolve_user,
)
from flxtrd._errors import FlexValidationError
from flxtrd._types import Broker, Market, User


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("localhost", "https://localhost"),
        ("glocalflexmarket.com", "https://glocalflexmarket.com"),
        ("10.0.0.5:8443", "https://10.0.0.5:8443"),
        ("[::1]:8443", "https://[::1]:8443"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("https://test.glocalflexmarket.com/", "https://test.glocalflexmarket.com"),
        ("https://market.test/prefix/", "https://market.test/prefix"),
        ("HTTP://127.0.0.1:8000", "HTTP://127.0.0.1:8000"),
    ],
)
def test_base_url_rules(given: str, expected: str) -> None:
    """A bare host means https on 443 (or its port); full URLs are kept as written."""
    assert normalize_market_url(given).base_url == expected


def test_bare_host_takes_the_market_port() -> None:
    """A bare host with Market(market_port=...) other than 443 gets that port."""
    endpoint = resolve_market(market=Market(market_url="localhost", market_port=8443))
    assert endpoint.base_url == "https://localhost:8443"
    assert resolve_market(market=Market(market_url="localhost")).base_url == "https://localhost"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "   ",
        "ftp://host",
        "https://",
        "https://user:pw@host",
        "https://h/?q=1",
        "http://h:99999",
    ],
)
def test_bad_market_urls_are_refused(bad: str) -> None:
    """Unsupported schemes, credentials, queries and bad ports are validation errors."""
    with pytest.raises(FlexValidationError) as raised:
        normalize_market_url(bad)
    assert raised.value.field == "market_url"


def test_sandbox_url() -> None:
    """sandbox:// selects the embedded sandbox and the memory:// broker."""
    endpoint = normalize_market_url("sandbox://")
    assert endpoint.sandbox
    assert (
        resolve_broker_url(endpoint=endpoint, env={"FLXTRD_BROKER_URL": "amqp://x//"})
        == "memory://"
    )


def test_market_precedence() -> None:
    """base_url beats market, market beats FLXTRD_MARKET_URL, which beats the default."""
    env = {"FLXTRD_MARKET_URL": "http://127.0.0.1:9000"}
    market = Market(ip="m.test")
    assert resolve_market(base_url="b.test", market=market, env=env).base_url == "https://b.test"
    assert resolve_market(market=market, env=env).base_url == "https://m.test"
    assert resolve_market(env=env).base_url == "http://127.0.0.1:9000"
    assert resolve_market(env={}).base_url == "https://test.glocalflexmarket.com"


def test_broker_url_resolution() -> None:
    """Argument, else FLXTRD_BROKER_URL, else amqps://<broker>:<port>//, else the market host."""
    market = Market(ip="m.test", broker=Broker(ip="b.test"))
    endpoint = resolve_market(market=market)
    env = {"FLXTRD_BROKER_URL": "amqp://127.0.0.1:5672//"}
    assert resolve_broker_url(
        broker_url="amqp://x//", market=market, endpoint=endpoint, env=env
    ) == ("amqp://x//")
    assert (
        resolve_broker_url(market=market, endpoint=endpoint, env=env) == "amqp://127.0.0.1:5672//"
    )
    assert resolve_broker_url(market=market, endpoint=endpoint, env={}) == "amqps://b.test:5671//"
    flex = Market(market_url="m.test", broker_port=5999)
    assert resolve_broker_url(market=flex, endpoint=endpoint, env={}) == "amqps://m.test:5999//"
    bare = normalize_market_url("http://127.0.0.1:8000")
    assert resolve_broker_url(endpoint=bare, env={}) == "amqps://127.0.0.1:5671//"
    from_url = Market(market_url="http://127.0.0.1:8000")
    assert resolve_broker_url(market=from_url, endpoint=bare, env={}) == "amqps://127.0.0.1:5671//"
    vhost = Market(ip="m.test", broker=Broker(ip="b.test", vhost="trading"))
    assert (
        resolve_broker_url(market=vhost, endpoint=endpoint, env={}) == "amqps://b.test:5671/trading"
    )


def test_user_from_environment() -> None:
    """FLXTRD_USERNAME/PASSWORD/ACCESS_TOKEN fill what the arguments leave unset."""
    env = {
        "FLXTRD_USERNAME": EMAIL,
        "FLXTRD_PASSWORD": PASSWORD,
        "FLXTRD_ACCESS_TOKEN": DEVICE_TOKEN,
    }
    user = resolve_user(env=env)
    assert (user.name, user.password, user.access_token) == (EMAIL, PASSWORD, DEVICE_TOKEN)
    given = User(name="other@example.com")
    assert resolve_user(given, env=env) is given
    assert given.name == "other@example.com"
    assert given.password == PASSWORD
    assert resolve_user(access_token="tok", env=env).access_token == "tok"


async def test_client_reads_the_environment(make_client: Any) -> None:
    """The client takes market, broker and credentials from the environment when not given."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    env = {
        "FLXTRD_MARKET_URL": "http://127.0.0.1:8123",
        "FLXTRD_BROKER_URL": "amqp://127.0.0.1:5672//",
        "FLXTRD_USERNAME": EMAIL,
        "FLXTRD_PASSWORD": PASSWORD,
    }
    client = make_client(handler, base_url=None, user=None, env=env)
    assert client.base_url == "http://127.0.0.1:8123"
    assert client.broker_url == "amqp://127.0.0.1:5672//"
    assert client.user.name == EMAIL
    await resolve(client.make_request("GET", "/x"))
    assert str(seen[0].url) == "http://127.0.0.1:8123/x"


async def test_ssl_false_uses_plain_http(make_client: Any) -> None:
    """flxtrd 0.2.9's make_request(ssl=False) sends a bare-host call over http."""
    seen: list[httpx.Request] = []
    client = make_client(lambda r: seen.append(r) or httpx.Response(200), base_url="localhost")
    await resolve(client.make_request("GET", "/x", ssl=False))
    await resolve(client.make_request("GET", "/y"))
    assert [str(r.url) for r in seen] == ["http://localhost/x", "https://localhost/y"]


def test_tls_verification_defaults(tmp_path: Path) -> None:
    """Verification is on by default, off only with verify_ssl=False, a CA file gives a context."""
    assert make_verify(True, None) is True
    assert make_verify(False, "/nonexistent") is False
    import certifi

    bundle = tmp_path / "ca.pem"
    bundle.write_text(Path(certifi.where()).read_text())
    context = make_verify(True, bundle)
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED


def test_verify_ssl_false_reaches_the_transport() -> None:
    """FlexAPIClient(verify_ssl=False) builds its HTTPS transport without verification."""
    from flxtrd._client._client import FlexAPIClient

    with FlexAPIClient(base_url="localhost", user=User(), env={}) as client:
        assert client.request_protocol._verify is True
    with FlexAPIClient(base_url="localhost", user=User(), env={}, verify_ssl=False) as client:
        assert client.request_protocol._verify is False
        transport = client.request_protocol.http_client._transport
        inner = transport.transport  # type: ignore[attr-defined]
        pool = inner._pool
        assert pool._ssl_context.verify_mode == ssl.CERT_NONE


def test_conflicting_arguments_are_refused() -> None:
    """base_url and a different market_url, or max_retries with retry_policy, are refused."""
    from flxtrd._client._client import FlexAPIClient
    from flxtrd._retry import RetryPolicy

    with pytest.raises(FlexValidationError):
        FlexAPIClient(base_url="a.test", market_url="b.test", user=User(), env={})
    with pytest.raises(FlexValidationError):
        FlexAPIClient(
            base_url="a.test", max_retries=1, retry_policy=RetryPolicy(), user=User(), env={}
        )
    with pytest.raises(FlexValidationError):
        FlexAPIClient(base_url="a.test", timeout=-1, user=User(), env={})
