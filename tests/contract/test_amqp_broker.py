"""AmpqAPI against a real RabbitMQ: confirms, returns, nacks, RESOURCE_LOCKED, TLS, replies."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import ssl
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import amqp
import pytest
from kombu import Connection
from market_double import (
    NO_RETRY,
    MarketDouble,
    connection_pids,
    make_order,
    wait_for,
)

from flxtrd._amqp._api import AmpqAPI, OrderInDoubtError
from flxtrd._errors import (
    AlreadyConnectedError,
    BrokerError,
    OrderNotConfirmedError,
    OrderUnroutableError,
)
from flxtrd._types import OrderType

pytestmark = pytest.mark.broker

Names = dict[str, str]
MakeApi = Callable[..., AmpqAPI]


def need_rabbitmqctl() -> None:
    """Skip (fail in CI) when rabbitmqctl cannot be run."""
    if shutil.which("rabbitmqctl") is None:
        if os.environ.get("CI"):
            pytest.fail("rabbitmqctl is needed for this contract test in CI")
        pytest.skip("rabbitmqctl is not on PATH")


@pytest.fixture
def names(amqp_url: str) -> Iterator[Names]:
    """Unique exchanges and application key; the exchanges are deleted afterwards."""
    tag = uuid.uuid4().hex[:10]
    n = {"exchange": f"t-in-{tag}", "reply_exchange": f"t-out-{tag}", "key": f"t-dev-{tag}"}
    yield n
    with Connection(amqp_url) as conn:
        channel = conn.channel()
        for name in (n["exchange"], n["reply_exchange"]):
            channel.exchange_delete(name)


@pytest.fixture
def make_api(amqp_url: str, names: Names) -> Iterator[MakeApi]:
    """Clients on the test's exchanges (credentials from the URL); closed afterwards."""
    made: list[AmpqAPI] = []

    def factory(**kwargs: Any) -> AmpqAPI:
        kwargs.setdefault("exchange", names["exchange"])
        kwargs.setdefault("reply_exchange", names["reply_exchange"])
        kwargs.setdefault("retry_policy", NO_RETRY)
        kwargs.setdefault("confirm_timeout", 10)
        url = kwargs.pop("url", amqp_url)
        api = AmpqAPI(url, "unused-user", "unused-token", kwargs.pop("key", names["key"]), **kwargs)
        made.append(api)
        return api

    yield factory
    for api in made:
        api.close_connection()


@pytest.fixture
def market(amqp_url: str, names: Names) -> Iterator[MarketDouble]:
    """The market test double on the real broker, pumped by the test."""
    with MarketDouble(
        amqp_url, exchange=names["exchange"], reply_exchange=names["reply_exchange"]
    ) as double:
        yield double


def test_confirmed_send_reaches_the_market(make_api: MakeApi, market: MarketDouble) -> None:
    """send_order returns after the broker's confirm; the market has the documented message."""
    api = make_api()
    receipt = api.send_order(make_order(OrderType.ASK))
    market.pump(5, until=lambda: market.orders)
    (seen,) = market.orders
    assert seen.message_id == receipt.message_id and seen.routing_key == "ask"
    assert seen.user_id == "guest"  # the login: RabbitMQ checks user_id against it
    assert seen.reply_to == api.application_key
    assert seen.headers["sendertimestamp_in_ms"] == receipt.sent_at_ms
    assert api.stats.confirmed == 1


def test_unroutable_order_raises_and_the_connection_stays_usable(
    make_api: MakeApi, market: MarketDouble
) -> None:
    """basic.return (then ack) becomes OrderUnroutableError; the next routable order works."""
    api = make_api()
    api.connect()
    market.unbind()
    with pytest.raises(OrderUnroutableError) as info:
        api.send_order(make_order(OrderType.BID))
    assert info.value.reply_code == 312 and info.value.routing_key == "bid"
    market._channel.queue_bind(market.queue, market.exchange, "bid")
    assert api.send_order(make_order(OrderType.BID)).routing_key == "bid"
    assert (api.stats.unroutable, api.stats.confirmed) == (1, 1)


def test_send_orders_marks_exactly_the_returned_orders(
    make_api: MakeApi, market: MarketDouble
) -> None:
    """With only asks routed, pipelined sends fail exactly the bids as unroutable."""
    api = make_api()
    api.connect()
    market._channel.queue_unbind(market.queue, market.exchange, "bid")
    orders = [make_order(OrderType.ASK if i % 3 else OrderType.BID) for i in range(300)]
    outcomes = api.send_orders(orders)
    for order, outcome in zip(orders, outcomes, strict=True):
        if order.order_type is OrderType.ASK:
            assert outcome.ok
        else:
            assert isinstance(outcome.error, OrderUnroutableError)
    market.pump(5, until=lambda: len(market.orders) == 200)
    assert {o.message_id for o in market.orders} == {o.message_id for o in outcomes if o.ok}


def test_nacked_order_raises_order_not_confirmed(
    make_api: MakeApi, names: Names, amqp_url: str
) -> None:
    """A queue that rejects publishes makes the broker nack: OrderNotConfirmedError(nacked)."""
    api = make_api()
    api.connect()
    queue = f"reject-{names['key']}"
    with Connection(amqp_url) as conn:
        channel = conn.channel()
        channel.queue_declare(
            queue, auto_delete=False, arguments={"x-max-length": 0, "x-overflow": "reject-publish"}
        )
        channel.queue_bind(queue, names["exchange"], "ask")
        try:
            with pytest.raises(OrderNotConfirmedError) as info:
                api.send_order(make_order(OrderType.ASK))
            outcomes = api.send_orders([make_order(OrderType.ASK)] * 20)
        finally:
            channel.queue_delete(queue)
    assert info.value.nacked and not isinstance(info.value, OrderInDoubtError)
    assert all(isinstance(o.error, OrderNotConfirmedError) and o.error.nacked for o in outcomes)
    assert api.stats.nacked == 21


def test_channel_closed_by_the_broker_fails_in_doubt_and_recovers(
    make_api: MakeApi, market: MarketDouble, names: Names, amqp_url: str
) -> None:
    """Publishing to a vanished exchange closes the channel (404); flxtrd reopens it."""
    api = make_api()
    api.connect()
    with Connection(amqp_url) as conn:
        conn.channel().exchange_delete(names["exchange"])
    with pytest.raises(OrderInDoubtError, match="NOT_FOUND"):
        api.send_order(make_order())
    market.redeclare()  # the market is back: exchange and bindings
    receipt = api.send_order(make_order())
    market.reply(api.application_key, {"msg_type": "cancel", "reason": "still consuming"})
    reply = next(api.market_messages(timeout=5))
    assert receipt.delivery_tag == 1  # a fresh confirm channel
    assert reply["reason"] == "still consuming"
    assert api.stats.connection_losses == 1 and api.stats.reconnects == 0


def test_second_connection_is_refused_and_leaves_no_connection(make_api: MakeApi) -> None:
    """RESOURCE_LOCKED -> AlreadyConnectedError, and the refused attempt's connection is closed."""
    need_rabbitmqctl()
    first = make_api()
    first.connect()
    name = first.connection_name
    assert len(connection_pids(name)) == 1
    second = make_api()
    with pytest.raises(AlreadyConnectedError) as info:
        second.connect()
    assert info.value.application_key == first.application_key
    assert not second.is_connected()
    wait_for(lambda: len(connection_pids(name)) == 1, 15, "only the first connection")
    first.close_connection()
    second.connect()  # the key is free again
    wait_for(lambda: len(connection_pids(name)) == 1, 15, "only the second connection")


def test_missing_exchange_is_refused_without_leaking_a_connection(make_api: MakeApi) -> None:
    """declare_exchanges=False checks passively; absent exchanges raise BrokerError, conn closed."""
    need_rabbitmqctl()
    api = make_api(declare_exchanges=False)
    with pytest.raises(BrokerError, match="does not exist"):
        api.connect()
    wait_for(lambda: not connection_pids(api.connection_name), 15, "no connection left")


def test_wrong_access_token_is_refused_without_showing_it(amqp_url: str, names: Names) -> None:
    """ACCESS_REFUSED becomes BrokerError; the token is not in the message."""
    parts = urlsplit(amqp_url)
    bare = f"amqp://{parts.hostname}:{parts.port or 5672}/"
    api = AmpqAPI(bare, "guest", "wr0ng-t0ken-555", names["key"], retry_policy=NO_RETRY)
    with pytest.raises(BrokerError, match="refused the login") as info:
        api.connect()
    assert "wr0ng-t0ken-555" not in str(info.value)


def test_replies_arrive_typed_with_latency(make_api: MakeApi, market: MarketDouble) -> None:
    """A matching ask and bid come back as tick + closed orders, each with latency_ms."""
    api = make_api()
    api.send_order(make_order(OrderType.ASK, price=5))
    api.send_order(make_order(OrderType.BID, price=6))
    market.pump(5, until=lambda: len(market.replies) == 3)
    replies = []
    for message in api.market_messages(timeout=5):
        replies.append(message)
        if len(replies) == 3:
            break
    assert [r.msg_type for r in replies] == ["tick", "ask_closed_order", "bid_closed_order"]
    assert all(r.latency_ms is not None and 0 <= r.latency_ms < 10_000 for r in replies)


# --- amqps:// with certificate verification, through a TLS proxy to the broker ----------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for localhost (needs openssl)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    try:
        subprocess.run(
            [
                "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                "-keyout", str(key), "-out", str(cert),
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"openssl cannot make a test certificate: {exc}")
    return cert, key


@pytest.fixture
def tls_proxy(amqp_url: str, certificate: tuple[Path, Path]) -> Iterator[int]:
    """Terminate TLS on a local port and forward to the broker's plain port; yields the port."""
    parts = urlsplit(amqp_url)
    upstream = (parts.hostname or "127.0.0.1", parts.port or 5672)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()
    threads: list[threading.Thread] = []
    sockets: list[socket.socket] = []

    def shut(*socks: socket.socket) -> None:
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            shut(src, dst)

    def serve() -> None:
        while not stop.is_set():
            conn, _ = listener.accept()
            if stop.is_set():
                conn.close()
                return
            try:
                tls = context.wrap_socket(conn, server_side=True)
            except (OSError, ssl.SSLError):
                conn.close()
                continue
            plain = socket.create_connection(upstream)
            sockets.extend((tls, plain))
            for a, b in ((tls, plain), (plain, tls)):
                t = threading.Thread(target=pipe, args=(a, b), daemon=True)
                t.start()
                threads.append(t)

    acceptor = threading.Thread(target=serve, daemon=True)
    acceptor.start()
    port = int(listener.getsockname()[1])
    yield port
    stop.set()
    with socket.create_connection(("127.0.0.1", port)):
        pass
    acceptor.join(timeout=10)
    listener.close()
    shut(*sockets)
    for t in threads:
        t.join(timeout=10)
    for s in sockets:
        s.close()


def test_amqps_with_verified_certificate_confirms_orders(
    make_api: MakeApi, market: MarketDouble, tls_proxy: int, certificate: tuple[Path, Path]
) -> None:
    """amqps:// verifies the broker certificate against ca_bundle and works end to end."""
    api = make_api(
        url=f"amqps://guest:guest@localhost:{tls_proxy}//",
        ca_bundle=str(certificate[0]),
        declare_exchanges=True,
    )
    receipt = api.send_order(make_order())
    market.pump(5, until=lambda: market.orders)
    assert market.orders[0].message_id == receipt.message_id
    api.close_connection()


def test_publish_properties_are_exactly_the_documented_ones(
    make_api: MakeApi, names: Names, amqp_url: str
) -> None:
    """Raw view of a published order: mandatory text/plain line, ids, header; nothing else."""
    api = make_api()
    api.connect()
    queue = f"raw-{names['key']}"
    with Connection(amqp_url) as conn:
        channel = conn.channel()
        channel.queue_declare(queue, auto_delete=False)
        channel.queue_bind(queue, names["exchange"], "ask")
        try:
            receipt = api.send_order(make_order())
            message: amqp.Message | None = channel.basic_get(queue, no_ack=True)
        finally:
            channel.queue_delete(queue)
    assert message is not None
    props = dict(message.properties)
    assert props.pop("application_headers") == {"sendertimestamp_in_ms": receipt.sent_at_ms}
    assert props == {
        "content_type": "text/plain",
        "message_id": receipt.message_id,
        "user_id": "guest",
        "reply_to": api.application_key,
        "delivery_mode": 2,  # persistent, the spec's deliveryMode: 2
    }
    assert message.body.startswith(f"ask,applicationKey={api.application_key},version=1 ".encode())
