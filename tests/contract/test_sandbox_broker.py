"""The sandbox broker worker on the real RabbitMQ, with flxtrd's own AmpqAPI as the client.

Every reply a client receives here is validated against its message in ``specs/asyncapi.yaml``
(payload schema with ``$ref``s resolved, date-time formats checked, reply headers). Broker users
made by the provisioning tests are deleted afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import amqp
import jsonschema  # type: ignore[import-untyped]
import pytest
import yaml  # type: ignore[import-untyped]
from kombu.connection import Connection as _KombuConnection
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from flxtrd._amqp._api import AmpqAPI
from flxtrd._amqp._market_messages import MarketMessage
from flxtrd._line_protocol import OrderLine, encode_order_line
from flxtrd._retry import RetryPolicy
from flxtrd.sandbox._accounts import Account
from flxtrd.sandbox._broker import BrokerWorker
from flxtrd.sandbox._market import SandboxMarket
from flxtrd.sandbox._rabbitmq import BrokerUsers, ProvisioningMarket

#: kombu is untyped; one typed handle to its Connection class.
Connection: Callable[..., Any] = _KombuConnection

pytestmark = pytest.mark.broker

SPEC = Path(__file__).resolve().parents[2] / "specs" / "asyncapi.yaml"
HOUR_MS = 3_600_000
WAIT_S = 5.0
NO_RETRY = RetryPolicy(max_retries=0)


# --- the spec's reply schemas -----------------------------------------------------------------


class ReplySchemas:
    """Validators for the replies of channel ``marketReplies``, by ``msg_type``."""

    def __init__(self) -> None:
        document = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
        uri = "urn:flxtrd:asyncapi"
        registry: Registry[Any] = Registry().with_resource(
            uri, Resource.from_contents(document, default_specification=DRAFT202012)
        )
        checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
        self.payloads: dict[str, jsonschema.Draft202012Validator] = {}
        self.headers: dict[str, jsonschema.Draft202012Validator] = {}
        channel = document["channels"]["marketReplies"]["messages"]
        for ref in channel.values():
            name = ref["$ref"].rsplit("/", 1)[-1]
            message = document["components"]["messages"][name]
            for part, into in (("payload", self.payloads), ("headers", self.headers)):
                pointer = message[part]["$ref"]
                into[message["name"]] = jsonschema.Draft202012Validator(
                    {"$ref": f"{uri}{pointer}"}, registry=registry, format_checker=checker
                )
        assert set(self.payloads) == {"tick", "ask_closed_order", "bid_closed_order", "cancel"}

    def check(self, message: MarketMessage) -> None:
        """Raise if the reply's body or headers break the spec; the header must be present."""
        self.payloads[message.msg_type].validate(dict(message))
        headers = dict(message.headers)
        self.headers[message.msg_type].validate(headers)
        assert isinstance(headers.get("sendertimestamp_in_ms"), int)


@pytest.fixture(scope="module")
def schemas() -> ReplySchemas:
    """The reply validators (loaded once)."""
    return ReplySchemas()


def test_the_schema_check_rejects_a_wrong_reply(schemas: ReplySchemas) -> None:
    """The validators are not vacuous: bad date-times, a missing field, a bad header fail."""
    tick = {"msg_type": "tick", "trade_time": "2026-12-01T09:00:00Z", "price": 1.0,
            "start_time": "2026-12-01T10:00:00Z", "energy": 1.0}  # fmt: skip
    schemas.payloads["tick"].validate(tick)
    for broken in ({**tick, "trade_time": "yesterday"}, {**tick, "energy": -1.0},
                   {k: v for k, v in tick.items() if k != "price"}):  # fmt: skip
        with pytest.raises(jsonschema.ValidationError):
            schemas.payloads["tick"].validate(broken)
    with pytest.raises(jsonschema.ValidationError):
        schemas.payloads["cancel"].validate({"msg_type": "cancel"})
    with pytest.raises(jsonschema.ValidationError):
        schemas.headers["tick"].validate({"sendertimestamp_in_ms": "soon"})


# --- a sandbox on RabbitMQ --------------------------------------------------------------------


class Session:
    """A market and worker on unique exchanges and queue; clients; every reply received."""

    def __init__(self, amqp_url: str, market: SandboxMarket | None = None) -> None:
        tag = uuid.uuid4().hex[:10]
        self.amqp_url = amqp_url
        self.exchange, self.reply_exchange = f"t-in-{tag}", f"t-out-{tag}"
        self.queue = f"t-orders-{tag}"
        self.market = market if market is not None else SandboxMarket(seed=11)
        self.worker = BrokerWorker(
            self.market,
            amqp_url,
            exchange=self.exchange,
            reply_exchange=self.reply_exchange,
            queue=self.queue,
            poll_interval_s=0.02,
        )
        self.apis: list[AmpqAPI] = []
        self.received: list[MarketMessage] = []
        self.start_ms = (time.time_ns() // 1_000_000 // HOUR_MS + 2) * HOUR_MS

    def client(self, account: Account, url: str | None = None, **kwargs: Any) -> AmpqAPI:
        """A connected client for the account's first device (as guest unless ``url``)."""
        location = account.locations[0]
        kwargs.setdefault("exchange", self.exchange)
        kwargs.setdefault("reply_exchange", self.reply_exchange)
        api = AmpqAPI(
            url or self.amqp_url,
            account.user_id,
            location.token,
            location.id,
            retry_policy=NO_RETRY,
            confirm_timeout=WAIT_S,
            **kwargs,
        )
        api.connect()
        self.apis.append(api)
        return api

    def line(self, side: str, key: str, price: float, **changes: Any) -> OrderLine:
        """A valid order line for the session's delivery hour."""
        fields: dict[str, Any] = {
            "side": side, "application_key": key, "starttime": self.start_ms,
            "wattage": 2500.0, "runtime": 900_000, "totalenergy": 625.0, "price": price,
            "expirationtime": self.start_ms - HOUR_MS // 2,
        }  # fmt: skip
        fields.update(changes)
        return OrderLine(**fields)

    def next(self, api: AmpqAPI, msg_type: str) -> MarketMessage:
        """The next reply of ``msg_type`` on ``api`` (others are kept in ``received``)."""
        for message in api.market_messages(timeout=WAIT_S):
            self.received.append(message)
            if message.msg_type == msg_type:
                return message
        raise AssertionError(f"no {msg_type} for {api.application_key} within {WAIT_S} s")

    def collect(self) -> None:
        """Read what every client has left (to validate it too)."""
        for api in self.apis:
            self.received.extend(api.market_messages(timeout=0))

    def close(self) -> None:
        """Close the clients, stop the worker, delete the exchanges."""
        for api in self.apis:
            api.close_connection()
        self.worker.stop()
        with Connection(self.amqp_url) as conn:
            channel = conn.channel()
            for name in (self.exchange, self.reply_exchange):
                channel.exchange_delete(name)


@pytest.fixture
def session(amqp_url: str) -> Iterator[Session]:
    """A started worker on the real broker."""
    s = Session(amqp_url)
    s.worker.start()
    yield s
    s.close()


def test_ask_and_bid_over_rabbitmq_give_two_closed_orders_and_ticks_to_all(
    session: Session, schemas: ReplySchemas
) -> None:
    """The documented trade over RabbitMQ; every reply validates against the spec."""
    alice, bob, carol = (session.market.login(f"{n}@example.com", "pw") for n in "abc")
    a, b, c = session.client(alice), session.client(bob), session.client(carol)
    a.send_order(session.line("ask", a.application_key, 10.0))
    b.send_order(session.line("bid", b.application_key, 12.0))
    ask = session.next(a, "ask_closed_order")
    bid = session.next(b, "bid_closed_order")
    assert ask["closed_order"]["ask_user"] == alice.user_id
    assert bid["closed_order"]["bid_user"] == bob.user_id
    assert bid["closed_order"]["price"] == 12.0
    for api in (a, b, c):
        assert session.next(api, "tick")["price"] == 12.0
    session.collect()
    for message in session.received:
        schemas.check(message)
    assert {m.msg_type for m in session.received} == {
        "ask_closed_order",
        "bid_closed_order",
        "tick",
    }


def test_cancels_over_rabbitmq_validate_and_carry_the_message_id(
    session: Session, schemas: ReplySchemas
) -> None:
    """Expired-at-arrival and malformed orders are answered with spec-valid cancels."""
    alice = session.market.login("alice@example.com", "pw")
    a = session.client(alice)
    past = time.time_ns() // 1_000_000 - 1000
    receipt = a.send_order(session.line("ask", a.application_key, 10.0, expirationtime=past))
    cancel = session.next(a, "cancel")
    assert cancel["message_id"] == receipt.message_id and "expired" in cancel["reason"]
    with Connection(session.amqp_url) as conn:
        producer = conn.Producer()
        producer.publish(
            b"ask,this is not=an order",
            exchange=session.exchange,
            routing_key="ask",
            reply_to=a.application_key,
            message_id="junk-1",
            user_id="guest",
            content_type="text/plain",
            content_encoding="binary",
        )
    junk = session.next(a, "cancel")
    assert junk["message_id"] == "junk-1" and junk["reason"].startswith("malformed order:")
    for message in session.received:
        schemas.check(message)


def test_every_order_is_acked_after_its_replies_are_confirmed(session: Session) -> None:
    """After a burst of trades the worker has acked every order and had every reply confirmed."""
    alice, bob = (session.market.login(f"{n}@example.com", "pw") for n in "ab")
    a, b = session.client(alice), session.client(bob)
    n = 50
    a.send_orders([session.line("ask", a.application_key, 10.0, starttime=session.start_ms + i)
                   for i in range(n)])  # fmt: skip
    b.send_orders([session.line("bid", b.application_key, 12.0, starttime=session.start_ms + i)
                   for i in range(n)])  # fmt: skip
    closed = 0
    for message in b.market_messages(timeout=WAIT_S):
        closed += message.msg_type == "bid_closed_order"
        if closed == n:
            break
    assert closed == n
    deadline = time.monotonic() + WAIT_S
    while session.worker.stats.acked < 2 * n and time.monotonic() < deadline:
        b.sleep(0.01)
    stats = session.worker.stats
    assert stats.acked == 2 * n and stats.trades == n
    assert stats.confirmed == stats.replies == 4 * n  # two closed orders + two ticks per trade
    with Connection(session.amqp_url) as conn:
        _, messages, consumers = conn.channel().queue_declare(session.queue, passive=True)
    assert (messages, consumers) == (0, 1)


def test_a_resend_after_a_client_reconnect_is_matched_once(session: Session) -> None:
    """An order re-sent on a new connection with the same message_id is dropped as duplicate."""
    alice, bob = (session.market.login(f"{n}@example.com", "pw") for n in "ab")
    a = session.client(alice)
    ask = session.line("ask", a.application_key, 10.0)
    a.send_order(ask, message_id="in-doubt-1")
    a.close_connection()
    a.connect()
    a.send_order(ask, message_id="in-doubt-1")
    b = session.client(bob)
    b.send_order(session.line("bid", b.application_key, 12.0))
    b.send_order(session.line("bid", b.application_key, 12.0))
    assert session.next(b, "bid_closed_order")
    deadline = time.monotonic() + WAIT_S
    while session.worker.stats.acked < 4 and time.monotonic() < deadline:
        b.sleep(0.01)
    stats = session.worker.stats
    assert (stats.submitted, stats.duplicates, stats.trades) == (3, 1, 1)
    assert session.market.engine.resting_count() == 1


def test_a_second_worker_on_the_same_queue_refuses_to_start(session: Session) -> None:
    """Two sandboxes consuming one order queue would split the orders: the second one fails."""
    other = BrokerWorker(
        SandboxMarket(), session.amqp_url, exchange=session.exchange,
        reply_exchange=session.reply_exchange, queue=session.queue,
        delete_queue_on_stop=False,
    )  # fmt: skip
    with pytest.raises(Exception, match="already consumes"):
        other.start()
    assert not other.running


def test_stop_deletes_the_order_queue_and_closes_the_connection(amqp_url: str) -> None:
    """After stop() the queue is gone (orders are unroutable) and no connection is left."""
    s = Session(amqp_url)
    s.worker.start()
    s.worker.stop()
    with Connection(amqp_url) as conn, pytest.raises(amqp.NotFound):
        conn.channel().queue_declare(s.queue, passive=True)
    s.close()


# --- broker users (rabbitmqctl) ---------------------------------------------------------------


def need_rabbitmqctl() -> None:
    """Skip (fail in CI) when rabbitmqctl cannot be run."""
    if shutil.which("rabbitmqctl") is None:
        if os.environ.get("CI"):
            pytest.fail("rabbitmqctl is needed for the broker-user contract tests in CI")
        pytest.skip("rabbitmqctl is not on PATH")


@pytest.fixture
def provisioned(amqp_url: str) -> Iterator[Session]:
    """A session whose market makes every logged-in account a broker user (deleted after)."""
    need_rabbitmqctl()
    s = Session(amqp_url)
    users = BrokerUsers(exchange=s.exchange, reply_exchange=s.reply_exchange)
    s.market = ProvisioningMarket(broker_users=users, seed=int(uuid.uuid4().int % 10**6))
    s.worker = BrokerWorker(
        s.market, amqp_url, exchange=s.exchange, reply_exchange=s.reply_exchange, queue=s.queue
    )
    s.worker.start()
    try:
        yield s
    finally:
        s.close()
        users.delete_all()


def device_url(amqp_url: str, account: Account) -> str:
    """``amqp://<userId>:<token>@host:port//``, as a market client builds it."""
    parts = amqp_url.split("@", 1)[1]
    return f"amqp://{account.user_id}:{account.locations[0].token}@{parts}"


def test_a_fresh_accounts_user_id_and_token_log_in_and_trade(
    provisioned: Session, schemas: ReplySchemas
) -> None:
    """Login makes the broker user; userId/token connect, publish with user_id, get replies."""
    s = provisioned
    alice = s.market.login("alice@example.com", "pw")
    bob = s.market.login("bob@example.com", "pw")
    assert s.market.broker_users.provisioned >= {alice.user_id, bob.user_id}  # type: ignore[attr-defined]
    a = s.client(alice, device_url(s.amqp_url, alice), declare_exchanges=False)
    b = s.client(bob, device_url(s.amqp_url, bob), declare_exchanges=False)
    a.send_order(s.line("ask", a.application_key, 10.0))
    b.send_order(s.line("bid", b.application_key, 12.0))
    assert s.next(a, "ask_closed_order")["closed_order"]["ask_user"] == alice.user_id
    assert s.next(b, "bid_closed_order")["closed_order"]["bid_user"] == bob.user_id
    s.collect()
    for message in s.received:
        schemas.check(message)


def test_a_device_user_is_confined_to_its_own_names(provisioned: Session) -> None:
    """A device cannot impersonate, read another queue or declare exchanges."""
    s = provisioned
    alice = s.market.login("alice@example.com", "pw")
    bob = s.market.login("bob@example.com", "pw")
    bob_key = bob.locations[0].id

    alice_key = alice.locations[0].id
    where = urlsplit(s.amqp_url)

    def bind_own_queue_to_orders(ch: Any) -> None:
        ch.queue_declare(alice_key, exclusive=True, auto_delete=True)
        ch.queue_bind(alice_key, s.exchange, "ask")

    refused: list[Callable[[Any], Any]] = [
        lambda ch: ch.queue_declare(bob_key, exclusive=True, auto_delete=True),
        lambda ch: ch.basic_consume(s.queue, callback=lambda m: None),
        lambda ch: ch.exchange_declare(s.exchange, "direct", durable=True, auto_delete=False),
        bind_own_queue_to_orders,
    ]
    for attempt in [*refused, None]:
        conn = amqp.Connection(
            f"{where.hostname}:{where.port or 5672}",
            userid=alice.user_id,
            password=alice.locations[0].token,
        )
        conn.connect()
        try:
            ch = conn.channel()
            if attempt is not None:
                with pytest.raises(amqp.AccessRefused):
                    attempt(ch)
                continue
            # Publishing with bob's user_id: RabbitMQ closes the channel.
            ch.basic_publish(amqp.Message(b"x", user_id=bob.user_id), s.exchange, "ask")
            with pytest.raises(amqp.PreconditionFailed, match="user_id"):
                ch.exchange_declare(s.exchange, "direct", passive=True)
        finally:
            conn.collect()


def test_the_worker_reconnects_after_the_broker_drops_it(session: Session) -> None:
    """RabbitMQ closes the worker's connection; it reconnects, and the resting ask still trades."""
    need_rabbitmqctl()
    alice, bob = (session.market.login(f"{n}@example.com", "pw") for n in "ab")
    a, b = session.client(alice), session.client(bob)
    a.send_order(session.line("ask", a.application_key, 10.0))
    name = f"flxtrd sandbox broker worker ({session.queue})"
    listing = subprocess.run(
        ["rabbitmqctl", "-q", "list_connections", "pid", "client_properties"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    (pid,) = [row.split("\t", 1)[0] for row in listing.splitlines() if name in row]
    subprocess.run(
        ["rabbitmqctl", "-q", "close_connection", pid, "test: broker drops the worker"],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    deadline = time.monotonic() + WAIT_S
    while session.worker.stats.reconnects < 1 and time.monotonic() < deadline:
        b.sleep(0.01)
    assert session.worker.stats.reconnects == 1 and session.worker.running
    b.send_order(session.line("bid", b.application_key, 12.0))
    assert session.next(b, "bid_closed_order")["closed_order"]["ask_user"] == alice.user_id


def test_one_bcc_tick_reaches_every_device_once_without_the_bcc_list(session: Session) -> None:
    """Three devices on raw queues: one trade, one tick each; RabbitMQ stripped the BCC header."""
    session.worker.bcc_ticks = True
    accounts = [session.market.login(f"{n}@example.com", "pw") for n in "abc"]
    keys = [a.locations[0].id for a in accounts]
    where = urlsplit(session.amqp_url)
    conn = amqp.Connection(
        f"{where.hostname}:{where.port or 5672}",
        userid=where.username or "guest",
        password=where.password or "guest",
    )
    conn.connect()
    got: dict[str, list[Any]] = {key: [] for key in keys}
    try:
        ch = conn.channel()
        for key in keys:
            ch.queue_declare(key, exclusive=True, auto_delete=True)
            ch.queue_bind(key, session.reply_exchange, key)
            ch.basic_consume(key, no_ack=True, callback=lambda m, k=key: got[k].append(m))
        for side, account, price in (("ask", accounts[0], 10.0), ("bid", accounts[1], 12.0)):
            key = account.locations[0].id
            body = encode_order_line(session.line(side, key, price)).encode()
            ch.basic_publish(
                amqp.Message(body, user_id="guest", reply_to=key, message_id=f"{side}-1"),
                session.exchange,
                side,
            )
        deadline = time.monotonic() + WAIT_S
        while sum(len(v) for v in got.values()) < 5 and time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                conn.drain_events(timeout=0.1)
        with contextlib.suppress(TimeoutError):
            conn.drain_events(timeout=0.2)  # a sixth message would be a duplicate tick
    finally:
        conn.collect()
    kinds = {k: [json.loads(m.body)["msg_type"] for m in v] for k, v in got.items()}
    assert kinds == {
        keys[0]: ["ask_closed_order", "tick"],
        keys[1]: ["bid_closed_order", "tick"],
        keys[2]: ["tick"],
    }
    ticks = [m for v in got.values() for m in v if b'"tick"' in m.body]
    assert len({m.body for m in ticks}) == 1
    for m in ticks:
        headers = m.properties.get("application_headers") or {}
        assert "BCC" not in headers and isinstance(headers["sendertimestamp_in_ms"], int)
        assert m.delivery_info["routing_key"] == ""
