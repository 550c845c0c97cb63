"""``FLXTRD_CA_BUNDLE`` alone makes a client trust a self-signed market: REST, WSS and AMQPS.

The same servers as ``test_tls_self_signed.py`` (the sandbox app over https by uvicorn with a
certificate for ``localhost``; a TLS proxy in front of RabbitMQ's plain port), but the client is
given no ``ca_bundle=``: only the variable, in its ``env=``.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from rel_tls import Certificate, TlsProxy, self_signed, serve_app

from flxtrd import FlexAPIClient, Flexibility, FlexTimeoutError, MarketOrder, OrderType, User
from flxtrd._amqp._api import AmpqAPI
from flxtrd._errors import OrderUnroutableError
from flxtrd.sandbox import SandboxMarket
from flxtrd.sandbox._app import create_app


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for localhost."""
    return self_signed(tmp_path_factory.mktemp("tls-env"), san="DNS:localhost")


@pytest.fixture(scope="module")
def https_port(certificate: Certificate) -> Iterator[int]:
    """The sandbox REST + WebSocket app over https on localhost; yields its port."""
    with serve_app(create_app(SandboxMarket(seed=78)), certificate) as port:
        yield port


def test_rest_and_streams_trust_the_ca_bundle_of_the_environment(
    https_port: int, certificate: Certificate
) -> None:
    """FLXTRD_CA_BUNDLE only: login and a typed call over https, and a wss stream connects."""
    env = {"FLXTRD_CA_BUNDLE": str(certificate.cert)}
    user = User(name="env-ca@reliability.test", password="pw")
    with FlexAPIClient(base_url=f"https://localhost:{https_port}", user=user, env=env) as client:
        assert client.login().user_id and client.orders.list().total == 0
        with client.market_stream(receive_timeout=0.3) as market:
            subscription = market.stream("ticker")
            with pytest.raises(FlexTimeoutError):  # connected; no trade happens meanwhile
                next(iter(subscription))
            assert subscription.stats.connects == 1


@pytest.fixture
def tls_proxy(amqp_url: str, certificate: Certificate) -> Iterator[TlsProxy]:
    """TLS (the self-signed certificate) on a local port, forwarded to RabbitMQ."""
    parts = urlsplit(amqp_url)
    proxy = TlsProxy(certificate, (parts.hostname or "127.0.0.1", parts.port or 5672))
    yield proxy
    proxy.close()


def test_the_broker_connection_trusts_the_ca_bundle_of_the_environment(
    https_port: int, tls_proxy: TlsProxy, certificate: Certificate, amqp_url: str
) -> None:
    """FLXTRD_CA_BUNDLE only: amqps:// connects through the TLS handshake, an order round-trips."""
    tag = f"tls-env-{uuid.uuid4().hex[:8]}"
    protocol = functools.partial(
        AmpqAPI, exchange=f"{tag}-in", reply_exchange=f"{tag}-out", declare_exchanges=True
    )
    env = {"FLXTRD_CA_BUNDLE": str(certificate.cert)}
    client = FlexAPIClient(
        base_url=f"https://localhost:{https_port}",
        user=User(name="env-ca-amqp@reliability.test", password="pw"),
        broker_url=f"amqps://guest:guest@localhost:{tls_proxy.port}//",
        trade_protocol=protocol,
        env=env,
    )
    start = (int(time.time()) // 900 + 12) * 900_000
    order = MarketOrder(
        type=OrderType.ASK,
        price=1.0,
        flexibility=Flexibility(wattage=1000.0, starttime=start, duration=900_000),
    )
    try:
        _, err = client.send_order(order=order)  # nothing is bound to the exchange: returned
        assert isinstance(err, OrderUnroutableError), err
        assert tls_proxy.handshakes == 1
    finally:
        client.close()
        from kombu import Connection

        with Connection(amqp_url) as conn:
            for name in (f"{tag}-in", f"{tag}-out"):
                conn.channel().exchange_delete(name)
