"""TLS: a self-signed server is refused by default, clearly and at once; accepted only on request.

REST: the sandbox app served over https by uvicorn on 127.0.0.1 with a certificate made for the
test (``openssl``; SAN ``DNS:localhost`` only). AMQP: a TLS proxy with the same kind of
certificate in front of RabbitMQ's plain port. For each:

- by default the connection fails with a :class:`~flxtrd.FlexConnectionError` that says the
  certificate could not be verified and names the two ways out, after one attempt (a
  certificate does not get better by retrying), and nothing reached the server;
- ``verify_ssl=False`` (the explicit opt-out) or ``ca_bundle=<the certificate>`` work;
- with ``ca_bundle`` the host name is still checked (``127.0.0.1`` is not in the certificate).
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from client_fakes import FakeClock
from rel_tls import Certificate, TlsProxy, self_signed, serve_app

from flxtrd import (
    AsyncFlexAPIClient,
    FlexAPIClient,
    Flexibility,
    MarketOrder,
    MarketStream,
    OrderType,
    User,
)
from flxtrd._amqp._api import AmpqAPI
from flxtrd._errors import FlexConnectionError, FlexTimeoutError, OrderUnroutableError
from flxtrd._streams._settings import ReconnectPolicy
from flxtrd.sandbox import SandboxMarket
from flxtrd.sandbox._app import create_app

REMEDY = ("TLS certificate verification failed", "ca_bundle", "verify_ssl=False")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for localhost (and only localhost)."""
    return self_signed(tmp_path_factory.mktemp("tls"), san="DNS:localhost")


@pytest.fixture(scope="module")
def https_sandbox(certificate: Certificate) -> Iterator[tuple[int, SandboxMarket]]:
    """The sandbox REST + WebSocket app over https; yields the port and the market."""
    market = SandboxMarket(seed=77)
    with serve_app(create_app(market), certificate) as port:
        yield port, market


def user() -> User:
    """A sandbox account."""
    return User(name="tls@reliability.test", password="pw")


def assert_clear(error: BaseException | None) -> None:
    """The error is a FlexConnectionError that says what failed and how to opt in."""
    assert isinstance(error, FlexConnectionError), repr(error)
    text = str(error)
    assert all(part in text for part in REMEDY), text


@pytest.mark.parametrize("flavor", ["sync", "async"])
async def test_rest_refuses_a_self_signed_server_by_default(
    flavor: str, https_sandbox: tuple[int, SandboxMarket]
) -> None:
    """login() to a self-signed https server: a clear FlexConnectionError, one attempt, no retry."""
    port, market = https_sandbox
    clock = FakeClock()
    kwargs: dict[str, Any] = dict(base_url=f"https://localhost:{port}", user=user(), env={})
    if flavor == "sync":
        client: Any = FlexAPIClient(sleep=clock.sleep, **kwargs)
        with pytest.raises(FlexConnectionError) as raised:
            client.login()
        client.close()
    else:
        client = AsyncFlexAPIClient(sleep=clock.asleep, **kwargs)
        with pytest.raises(FlexConnectionError) as raised:
            await client.login()
        await client.aclose()
    print(f"\n[{flavor}] {raised.value}")
    assert_clear(raised.value)
    assert not isinstance(raised.value, FlexTimeoutError)
    assert clock.sleeps == []  # not retried
    assert market.accounts.all() == []  # the login never reached the market


@pytest.mark.parametrize("option", ["verify_ssl=False", "ca_bundle"])
def test_rest_accepts_it_only_when_told(
    option: str, https_sandbox: tuple[int, SandboxMarket], certificate: Certificate
) -> None:
    """verify_ssl=False or ca_bundle=<the certificate>: login and a typed call work."""
    port, _ = https_sandbox
    extra: dict[str, Any] = (
        {"verify_ssl": False} if option == "verify_ssl=False" else {"ca_bundle": certificate.cert}
    )
    with FlexAPIClient(
        base_url=f"https://localhost:{port}", user=user(), env={}, **extra
    ) as client:
        login = client.login()
        assert login.user_id and client.orders.list().total == 0


def test_rest_ca_bundle_still_checks_the_host_name(
    https_sandbox: tuple[int, SandboxMarket], certificate: Certificate
) -> None:
    """ca_bundle trusts the certificate, not any host: 127.0.0.1 is not in it, so it fails."""
    port, _ = https_sandbox
    clock = FakeClock()
    client = FlexAPIClient(
        base_url=f"https://127.0.0.1:{port}",
        user=user(),
        env={},
        ca_bundle=certificate.cert,
        sleep=clock.sleep,
    )
    _, err = client.make_request("GET", "/deals/")
    client.close()
    assert_clear(err)
    assert "127.0.0.1" in str(err) and clock.sleeps == []


def test_stream_refuses_a_self_signed_server_at_once(
    https_sandbox: tuple[int, SandboxMarket],
) -> None:
    """MarketStream to a self-signed wss server: a clear error at the first attempt, no backoff."""
    port, _ = https_sandbox
    waits: list[float] = []
    stream = MarketStream(
        f"https://localhost:{port}",
        "token",
        sleep=waits.append,
        reconnect=ReconnectPolicy(max_attempts=3),
    )
    with stream, pytest.raises(FlexConnectionError) as raised:
        next(iter(stream.stream("ticker")))
    assert "CERTIFICATE_VERIFY_FAILED" in str(raised.value)
    assert waits == [], f"retried a certificate failure {len(waits)} times, waiting {waits}"


def test_stream_accepts_it_with_a_client_that_trusts_it(
    https_sandbox: tuple[int, SandboxMarket], certificate: Certificate
) -> None:
    """A stream over an httpx.Client that trusts the certificate connects (the opt-in)."""
    port, _ = https_sandbox
    base = f"https://localhost:{port}"
    with FlexAPIClient(base_url=base, user=user(), env={}, ca_bundle=certificate.cert) as client:
        token = client.auth.bearer_token()  # type: ignore[union-attr]
    with httpx.Client(verify=ssl.create_default_context(cafile=certificate.cert)) as http:
        stream = MarketStream(base, token, client=http, receive_timeout=0.3)
        with stream:
            subscription = stream.stream("ticker")
            with pytest.raises(FlexTimeoutError):  # connected; no trade happens meanwhile
                next(iter(subscription))
            assert subscription.stats.connects == 1


# --- AMQP ------------------------------------------------------------------------------------


@pytest.fixture
def tls_proxy(amqp_url: str, certificate: Certificate) -> Iterator[TlsProxy]:
    """TLS (the self-signed certificate) on a local port, forwarded to RabbitMQ."""
    parts = urlsplit(amqp_url)
    proxy = TlsProxy(certificate, (parts.hostname or "127.0.0.1", parts.port or 5672))
    yield proxy
    proxy.close()


def amqps_api(proxy: TlsProxy, host: str = "localhost", **kwargs: Any) -> AmpqAPI:
    """An AmpqAPI over the proxy (guest login, exchanges of its own)."""
    key = f"tls-{proxy.port}"
    return AmpqAPI(
        f"amqps://guest:guest@{host}:{proxy.port}//",
        None,
        None,
        key,
        exchange=f"{key}-in",
        reply_exchange=f"{key}-out",
        declare_exchanges=True,
        **kwargs,
    )


def test_amqp_refuses_a_self_signed_broker_by_default(tls_proxy: TlsProxy) -> None:
    """amqps:// to a self-signed broker: a clear FlexConnectionError, one attempt, no backoff."""
    api = amqps_api(tls_proxy)
    waits: list[float] = []
    api._sleep = waits.append  # the reconnect backoff (default policy: 6 attempts)
    with pytest.raises(FlexConnectionError) as raised:
        api.connect()
    print(f"\n{raised.value}")
    assert_clear(raised.value)
    assert waits == [] and tls_proxy.accepted == 1 and tls_proxy.handshakes == 0
    assert not api.is_connected()


@pytest.mark.parametrize("option", ["verify_ssl=False", "ca_bundle"])
def test_amqp_accepts_it_only_when_told(
    option: str, tls_proxy: TlsProxy, certificate: Certificate, amqp_url: str
) -> None:
    """verify_ssl=False or ca_bundle: connect, publish, and get the broker's confirm back."""
    extra: dict[str, Any] = (
        {"verify_ssl": False}
        if option == "verify_ssl=False"
        else {"ca_bundle": str(certificate.cert)}
    )
    api = amqps_api(tls_proxy, **extra)
    try:
        with pytest.raises(OrderUnroutableError):  # a full round trip: returned, then acked
            api.send_order(an_order())
        assert api.is_connected() and tls_proxy.handshakes == 1
    finally:
        api.close_connection()
        _delete_exchanges(amqp_url, api)


def test_amqp_ca_bundle_still_checks_the_host_name(
    tls_proxy: TlsProxy, certificate: Certificate
) -> None:
    """ca_bundle trusts the certificate, not any host: amqps://127.0.0.1 fails clearly."""
    api = amqps_api(tls_proxy, host="127.0.0.1", ca_bundle=str(certificate.cert))
    with pytest.raises(FlexConnectionError) as raised:
        api.connect()
    assert_clear(raised.value)


def _delete_exchanges(amqp_url: str, api: AmpqAPI) -> None:
    from kombu import Connection

    with Connection(amqp_url) as conn:
        for name in (api.exchange, api.reply_exchange):
            conn.channel().exchange_delete(name)


def an_order() -> MarketOrder:
    """A valid ask delivering in three hours."""
    start = (int(time.time()) // 900 + 12) * 900_000
    flex = Flexibility(wattage=1000.0, starttime=start, duration=900_000)
    return MarketOrder(type=OrderType.ASK, price=1.0, flexibility=flex)
