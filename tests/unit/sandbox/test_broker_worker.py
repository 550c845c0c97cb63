"""The sandbox broker worker on ``memory://``: replies, refusals, dedup, robustness, lifecycle."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from kombu.connection import Connection as _KombuConnection

from flxtrd._amqp._api import AmpqAPI
from flxtrd._amqp._market_messages import MarketMessage
from flxtrd._line_protocol import OrderLine, encode_order_line
from flxtrd._retry import RetryPolicy
from flxtrd.sandbox import ManualClock
from flxtrd.sandbox._accounts import Account
from flxtrd.sandbox._broker import BrokerWorker
from flxtrd.sandbox._market import SandboxMarket

#: kombu is untyped; one typed handle to its Connection class.
Connection: Callable[..., Any] = _KombuConnection

HOUR_MS = 3_600_000
NO_RETRY = RetryPolicy(max_retries=0)
WAIT_S = 5.0


def eventually(predicate: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    """Poll ``predicate`` (no fixed sleep) until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        pause.wait(0.002)


@dataclass
class Device:
    """A logged-in account with a connected ``memory://`` client on its application key."""

    account: Account
    api: AmpqAPI

    @property
    def key(self) -> str:
        """The device's application key."""
        return self.account.locations[0].id

    @property
    def user_id(self) -> str:
        """The account's user id."""
        return self.account.user_id

    def next(self, msg_type: str | None = None) -> MarketMessage:
        """The next reply (of ``msg_type``, skipping others); fail after ``WAIT_S``."""
        for message in self.api.market_messages(timeout=WAIT_S):
            if msg_type is None or message.msg_type == msg_type:
                return message
        raise AssertionError(f"{self.key}: no {msg_type or 'reply'} within {WAIT_S} s")

    def drain(self) -> list[MarketMessage]:
        """Every reply that has arrived so far."""
        return list(self.api.market_messages(timeout=0))


class Sandbox:
    """One market + worker on unique ``memory://`` exchanges, with helpers to trade."""

    def __init__(self, **worker_kwargs: Any) -> None:
        tag = uuid.uuid4().hex[:10]
        self.exchange, self.reply_exchange = f"in-{tag}", f"out-{tag}"
        self.clock = ManualClock(time.time_ns() // 1_000_000)
        self.market = SandboxMarket(clock=self.clock, seed=7)
        self.worker = BrokerWorker(
            self.market,
            "memory://",
            exchange=self.exchange,
            reply_exchange=self.reply_exchange,
            queue=f"orders-{tag}",
            poll_interval_s=0.01,
            **worker_kwargs,
        )
        self.apis: list[AmpqAPI] = []
        self.start_ms = (self.clock.now_ms() // HOUR_MS + 2) * HOUR_MS
        self._raw = Connection("memory://")
        self._channel = self._raw.channel()

    def device(self, email: str) -> Device:
        """Log ``email`` in and connect its device."""
        account = self.market.login(email, "pw")
        location = account.locations[0]
        api = AmpqAPI(
            "memory://",
            account.user_id,
            location.token,
            location.id,
            exchange=self.exchange,
            reply_exchange=self.reply_exchange,
            retry_policy=NO_RETRY,
            declare_exchanges=True,
        )
        api.connect()
        self.apis.append(api)
        return Device(account, api)

    def line(self, side: str, key: str, price: float, **changes: Any) -> OrderLine:
        """A valid order line for the sandbox's delivery hour."""
        fields: dict[str, Any] = {
            "side": side,
            "application_key": key,
            "starttime": self.start_ms,
            "wattage": 2500.0,
            "runtime": 900_000,
            "totalenergy": 625.0,
            "price": price,
            "expirationtime": self.start_ms - HOUR_MS // 2,
        }
        fields.update(changes)
        return OrderLine(**fields)

    def send(self, device: Device, line: OrderLine, message_id: str | None = None) -> str:
        """Publish ``line`` from ``device`` with its client (confirmed) and return the id."""
        receipt = device.api.send_order(line, message_id=message_id)
        return receipt.message_id

    def publish_raw(
        self,
        body: bytes | str,
        routing_key: str = "ask",
        **properties: Any,
    ) -> None:
        """Publish any body with any properties to the order exchange (no client checks)."""
        channel = self._channel
        message = channel.prepare_message(
            body,
            content_type="text/plain",
            headers={"sendertimestamp_in_ms": 1},
            properties=dict(properties),
        )
        channel.basic_publish(message, self.exchange, routing_key)

    def close(self) -> None:
        """Close clients and stop the worker."""
        for api in self.apis:
            api.close_connection()
        self.worker.stop()
        self._raw.release()


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A started worker on ``memory://`` over a market with a manual clock."""
    box = Sandbox()
    box.worker.start()
    yield box
    box.close()


def barrier(box: Sandbox, device: Device) -> list[MarketMessage]:
    """Wait until the worker has handled everything published so far; the replies before.

    The worker handles orders in order, so once the cancel of a malformed marker comes back,
    every earlier order has been answered.
    """
    marker = f"barrier-{uuid.uuid4().hex}"
    box.publish_raw(b"not an order", user_id=device.user_id, reply_to=device.key, message_id=marker)
    before: list[MarketMessage] = []
    for message in device.api.market_messages(timeout=WAIT_S):
        if message.get("message_id") == marker:
            return before
        before.append(message)
    raise AssertionError("the barrier's cancel did not come back")


def test_a_match_sends_closed_orders_to_both_owners_and_a_tick_to_everyone(
    sandbox: Sandbox,
) -> None:
    """Ask + crossing bid: ask_closed_order to the seller, bid_closed_order to the buyer, ticks."""
    alice, bob, carol = (sandbox.device(f"{n}@example.com") for n in ("alice", "bob", "carol"))
    sandbox.send(alice, sandbox.line("ask", alice.key, 10.0))
    sandbox.send(bob, sandbox.line("bid", bob.key, 12.0))

    ask = alice.next("ask_closed_order")
    bid = bob.next("bid_closed_order")
    assert ask["application_key"] == alice.key and bid["application_key"] == bob.key
    for closed in (ask["closed_order"], bid["closed_order"]):
        assert closed["ask_user"] == alice.user_id and closed["bid_user"] == bob.user_id
        assert closed["price"] == 12.0  # pay-as-bid
        assert closed["energy"] == 625.0 and closed["power"] == 2500.0
        assert closed["starttime"] == sandbox.start_ms
        assert closed["endtime"] == sandbox.start_ms + 900_000
    for device in (alice, bob, carol):
        tick = device.next("tick")
        assert tick["price"] == 12.0 and tick["energy"] == 625.0
        assert isinstance(tick.sent_at_ms, int)
    assert isinstance(ask.sent_at_ms, int) and isinstance(bid.sent_at_ms, int)
    eventually(lambda: sandbox.worker.stats.acked == 2, "both orders acked")
    stats = sandbox.worker.stats
    assert (stats.submitted, stats.trades, stats.cancels) == (2, 1, 0)


def test_the_seller_hears_first_then_the_buyer_then_ticks(sandbox: Sandbox) -> None:
    """Closed orders are published before the ticks of their trade."""
    alice, bob = sandbox.device("alice@example.com"), sandbox.device("bob@example.com")
    sandbox.send(alice, sandbox.line("ask", alice.key, 10.0))
    sandbox.send(bob, sandbox.line("bid", bob.key, 11.0))
    assert [alice.next().msg_type, alice.next().msg_type] == ["ask_closed_order", "tick"]
    assert [bob.next().msg_type, bob.next().msg_type] == ["bid_closed_order", "tick"]


def test_a_malformed_order_gets_a_cancel_with_reason_and_message_id(sandbox: Sandbox) -> None:
    """A body that is not line protocol is answered with ``cancel`` naming the problem."""
    alice = sandbox.device("alice@example.com")
    sandbox.publish_raw(
        b"ask,applicationKey=x starttime=oops", user_id=alice.user_id, reply_to=alice.key,
        message_id="m-bad",
    )  # fmt: skip
    cancel = alice.next("cancel")
    assert cancel["message_id"] == "m-bad" and cancel["application_key"] == alice.key
    assert cancel["reason"].startswith("malformed order:")
    eventually(lambda: sandbox.worker.stats.malformed == 1, "the malformed count")
    assert sandbox.worker.stats.submitted == 0


def test_a_side_that_disagrees_with_the_routing_key_is_malformed(sandbox: Sandbox) -> None:
    """A bid line published with routing key ``ask`` is refused, not traded."""
    alice = sandbox.device("alice@example.com")
    body = encode_order_line(sandbox.line("bid", alice.key, 10.0))
    sandbox.publish_raw(body, "ask", user_id=alice.user_id, reply_to=alice.key, message_id="m1")
    cancel = alice.next("cancel")
    assert "routing key 'ask'" in cancel["reason"] and cancel["message_id"] == "m1"


def test_an_order_for_another_users_key_is_refused_and_only_the_sender_hears(
    sandbox: Sandbox,
) -> None:
    """user_id bob with reply_to alice's key: cancel to bob's own key; alice hears nothing."""
    alice, bob = sandbox.device("alice@example.com"), sandbox.device("bob@example.com")
    body = encode_order_line(sandbox.line("ask", alice.key, 10.0))
    sandbox.publish_raw(body, user_id=bob.user_id, reply_to=alice.key, message_id="m-steal")
    cancel = bob.next("cancel")
    assert cancel["message_id"] == "m-steal"
    assert "is not a location of user" in cancel["reason"]
    assert barrier(sandbox, alice) == []
    assert sandbox.worker.stats.refused == 1
    assert sandbox.market.engine.resting_count() == 0


def test_a_line_tag_of_another_users_key_is_refused(sandbox: Sandbox) -> None:
    """reply_to is the sender's, but the line's applicationKey is someone else's: refused."""
    alice, bob = sandbox.device("alice@example.com"), sandbox.device("bob@example.com")
    body = encode_order_line(sandbox.line("ask", alice.key, 10.0))
    sandbox.publish_raw(body, user_id=bob.user_id, reply_to=bob.key, message_id="m-tag")
    cancel = bob.next("cancel")
    assert "applicationKey" in cancel["reason"] and cancel["message_id"] == "m-tag"
    assert sandbox.market.engine.resting_count() == 0


@pytest.mark.parametrize(
    ("user_id", "expected"),
    [(None, "no user_id"), ("nobody-0001", "unknown user 'nobody-0001'")],
)
def test_an_order_without_a_known_user_is_refused(
    sandbox: Sandbox, user_id: str | None, expected: str
) -> None:
    """A missing or unknown user_id is answered on reply_to with the reason."""
    alice = sandbox.device("alice@example.com")
    body = encode_order_line(sandbox.line("ask", alice.key, 10.0))
    props: dict[str, Any] = {"reply_to": alice.key, "message_id": "m-who"}
    if user_id is not None:
        props["user_id"] = user_id
    sandbox.publish_raw(body, **props)
    cancel = alice.next("cancel")
    assert expected in cancel["reason"]
    assert sandbox.market.engine.resting_count() == 0


def test_an_order_expired_at_arrival_gets_a_cancel(sandbox: Sandbox) -> None:
    """expirationtime already past on the market clock: ``cancel`` with the engine's reason."""
    alice = sandbox.device("alice@example.com")
    past = sandbox.clock.now_ms() - 1000
    line = sandbox.line("ask", alice.key, 10.0, expirationtime=past)
    message_id = sandbox.send(alice, line)
    cancel = alice.next("cancel")
    assert cancel["message_id"] == message_id and "expired" in cancel["reason"]
    assert sandbox.market.engine.resting_count() == 0


def test_an_order_that_expires_while_resting_gets_a_cancel(sandbox: Sandbox) -> None:
    """Expiry noticed by another thread (the market's timer): the worker still sends cancel."""
    alice = sandbox.device("alice@example.com")
    line = sandbox.line("ask", alice.key, 10.0)
    message_id = sandbox.send(alice, line)
    eventually(lambda: sandbox.market.engine.resting_count() == 1, "the ask resting")
    sandbox.clock.set(line.expirationtime)
    sandbox.market.advance()  # this thread, not the worker's
    cancel = alice.next("cancel")
    assert cancel["message_id"] == message_id
    assert cancel["reason"].startswith("expired:")


def test_an_order_resent_with_the_same_message_id_is_matched_once(sandbox: Sandbox) -> None:
    """A re-sent ask (same message_id) is dropped: two bids find only one ask."""
    alice, bob = sandbox.device("alice@example.com"), sandbox.device("bob@example.com")
    ask = sandbox.line("ask", alice.key, 10.0)
    sandbox.send(alice, ask, message_id="ask-1")
    sandbox.send(alice, ask, message_id="ask-1")
    sandbox.send(bob, sandbox.line("bid", bob.key, 12.0), message_id="bid-1")
    sandbox.send(bob, sandbox.line("bid", bob.key, 12.0), message_id="bid-2")
    closed = [m for m in barrier(sandbox, bob) if m.msg_type == "bid_closed_order"]
    assert len(closed) == 1
    eventually(lambda: sandbox.worker.stats.acked == 5, "every order acked")
    stats = sandbox.worker.stats
    assert (stats.submitted, stats.duplicates, stats.trades) == (3, 1, 1)
    assert sandbox.market.engine.resting_count() == 1  # the second bid


def test_the_same_message_id_from_two_users_is_two_orders(sandbox: Sandbox) -> None:
    """Deduplication is per user: equal client ids of different users do not collide."""
    alice, bob = sandbox.device("alice@example.com"), sandbox.device("bob@example.com")
    sandbox.send(alice, sandbox.line("ask", alice.key, 10.0), message_id="same")
    sandbox.send(bob, sandbox.line("bid", bob.key, 12.0), message_id="same")
    assert bob.next("bid_closed_order")["closed_order"]["price"] == 12.0
    eventually(lambda: sandbox.worker.stats.submitted == 2, "two submissions")
    assert sandbox.worker.stats.duplicates == 0


JUNK: list[tuple[bytes | str, str, dict[str, Any]]] = [
    (b"", "ask", {}),
    (b"\x00\xff\xfe garbage", "bid", {"message_id": "j1"}),
    ("ask,applicationKey=k only-tags", "ask", {"message_id": "j2"}),
    (b"x" * 10_000, "ask", {"message_id": "j3"}),
    ('{"msg_type": "tick"}', "bid", {"message_id": "j4"}),
    ("bid,applicationKey=k starttime=1i\nask,applicationKey=k starttime=2i", "bid", {}),
    ("ask,applicationKey=k starttime=9999999999999999999999i,wattage=1", "ask", {}),
    ("ask,applicationKey=\u2603 starttime=1i,wattage=nan,runtime=1i", "ask", {}),
    (b"ask", "nonsense-key", {"message_id": "j5"}),
]


@pytest.mark.parametrize("with_identity", [True, False], ids=["with-identity", "anonymous"])
def test_junk_bodies_never_stop_the_worker(sandbox: Sandbox, with_identity: bool) -> None:
    """Every junk message is counted and acknowledged; trading works afterwards."""
    alice, bob = sandbox.device("alice@example.com"), sandbox.device("bob@example.com")
    for body, routing_key, props in JUNK:
        extra = {"user_id": alice.user_id, "reply_to": alice.key} if with_identity else {}
        sandbox.publish_raw(body, routing_key if routing_key in ("ask", "bid") else "ask",
                            **props, **extra)  # fmt: skip
    sandbox.send(alice, sandbox.line("ask", alice.key, 10.0))
    sandbox.send(bob, sandbox.line("bid", bob.key, 12.0))
    assert bob.next("bid_closed_order")
    eventually(lambda: sandbox.worker.stats.acked == len(JUNK) + 2, "every message acked")
    stats = sandbox.worker.stats
    assert stats.received == len(JUNK) + 2 and stats.errors == 0
    assert stats.malformed + stats.refused == len(JUNK)
    assert sandbox.worker.running


def test_an_unexpected_error_while_handling_an_order_is_counted_and_survived(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the market raises, the order is acked and dropped; the next order is handled."""
    alice, bob = sandbox.device("alice@example.com"), sandbox.device("bob@example.com")
    real = sandbox.market.submit_gen1
    calls = []

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return real(*args, **kwargs)

    monkeypatch.setattr(sandbox.market, "submit_gen1", flaky)
    sandbox.send(alice, sandbox.line("ask", alice.key, 10.0))
    sandbox.send(alice, sandbox.line("ask", alice.key, 10.0))
    sandbox.send(bob, sandbox.line("bid", bob.key, 12.0))
    assert bob.next("bid_closed_order")
    eventually(lambda: sandbox.worker.stats.acked == 3, "every order acked")
    assert sandbox.worker.stats.errors == 1


def test_a_trusted_login_acts_for_the_owner_of_reply_to() -> None:
    """An order from a trusted login (the operator's) is placed for the key's owner."""
    box = Sandbox(trusted_logins={"operator"})
    box.worker.start()
    try:
        alice, bob = box.device("alice@example.com"), box.device("bob@example.com")
        body = encode_order_line(box.line("ask", alice.key, 10.0))
        box.publish_raw(body, user_id="operator", reply_to=alice.key, message_id="op-1")
        box.send(bob, box.line("bid", bob.key, 12.0))
        closed = alice.next("ask_closed_order")["closed_order"]
        assert closed["ask_user"] == alice.user_id
    finally:
        box.close()


def test_memory_has_no_trusted_login_by_default() -> None:
    """On ``memory://`` nobody may act for another account (there is no broker login)."""
    box = Sandbox()
    assert box.worker.trusted_logins == frozenset()
    assert box.worker.confirm_replies is False


def test_stop_is_clean_idempotent_and_start_happens_once(sandbox: Sandbox) -> None:
    """stop() ends the thread, a second stop() is harmless, a second start() is refused."""
    alice = sandbox.device("alice@example.com")
    sandbox.send(alice, sandbox.line("ask", alice.key, 10.0))
    eventually(lambda: sandbox.worker.stats.acked == 1, "the ask acked")
    assert sandbox.worker.running
    sandbox.worker.stop()
    assert not sandbox.worker.running and sandbox.worker.wait(0)
    sandbox.worker.stop()
    with pytest.raises(RuntimeError):
        sandbox.worker.start()


def test_bad_settings_are_refused() -> None:
    """A URL of another scheme or non-positive sizes raise ValueError at construction."""
    market = SandboxMarket()
    with pytest.raises(ValueError, match="broker_url"):
        BrokerWorker(market, "http://example.com")
    with pytest.raises(ValueError, match="positive"):
        BrokerWorker(market, "memory://", prefetch_count=0)


def test_the_default_trusted_login_is_the_urls_user() -> None:
    """On ``amqp://`` the worker trusts its own login (an administrator anyway)."""
    market = SandboxMarket()
    worker = BrokerWorker(market, "amqp://ops:secret@127.0.0.1:5672//")
    assert worker.trusted_logins == frozenset({"ops"})
    assert "secret" not in repr(worker) and worker.confirm_replies
