"""Acks after publisher confirms, nacks, redelivery after a lost connection (scripted link)."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from flxtrd._line_protocol import OrderLine, encode_order_line
from flxtrd._retry import RetryPolicy
from flxtrd.sandbox import ManualClock
from flxtrd.sandbox import _broker as broker_module
from flxtrd.sandbox._broker import BrokerWorker
from flxtrd.sandbox._broker_link import Delivery, OnConfirm, OnDelivery, Topology
from flxtrd.sandbox._market import SandboxMarket

HOUR_MS = 3_600_000
WAIT_S = 5.0


class LinkLost(ConnectionError):
    """The scripted connection loss."""


class FakeLink:
    """A broker link driven by the test: it delivers, confirms and fails when told to."""

    confirms = True
    login = "guest"
    connection_errors: tuple[type[BaseException], ...] = (LinkLost,)
    fan_out = False

    def __init__(self, on_delivery: OnDelivery, on_confirm: OnConfirm) -> None:
        self.on_delivery = on_delivery
        self.on_confirm = on_confirm
        self.events: queue.Queue[Callable[[], None]] = queue.Queue()
        self.published: list[tuple[int, str, dict[str, Any]]] = []
        self.acked: list[int] = []
        self.closed = False
        self._lock = threading.Lock()

    def publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        headers: dict[str, Any],
        bcc: tuple[str, ...] = (),
    ) -> int:
        """Record a reply (its ``BCC`` keys in the headers); its confirm tag is its position."""
        if bcc:
            headers = {**headers, "BCC": list(bcc)}
        with self._lock:
            self.published.append((len(self.published) + 1, routing_key, headers))
            return len(self.published)

    def ack(self, delivery_tag: int) -> None:
        """Record an ack."""
        with self._lock:
            self.acked.append(delivery_tag)

    def reject(self, delivery_tag: int, requeue: bool) -> None:
        """Not used by the worker here."""
        raise AssertionError("unexpected reject")

    def drain(self, timeout: float) -> bool:
        """Run the next scripted event, or time out."""
        try:
            event = self.events.get(timeout=timeout)
        except queue.Empty:
            return False
        event()
        return True

    def cancel(self) -> None:
        """Nothing to cancel."""

    def delete_queue(self) -> None:
        """Nothing to delete."""

    def close(self) -> None:
        """Mark closed."""
        self.closed = True

    def abandon(self) -> None:
        """Mark closed."""
        self.closed = True

    # -- the test's side --

    def deliver(self, delivery: Delivery) -> None:
        """Queue a delivery."""
        self.events.put(lambda: self.on_delivery(delivery))

    def confirm(self, tag: int, multiple: bool = False, ok: bool = True) -> None:
        """Queue a confirm (ack or nack)."""
        self.events.put(lambda: self.on_confirm(tag, multiple, ok))

    def lose(self) -> None:
        """Queue a connection loss."""

        def fail() -> None:
            raise LinkLost("connection reset by the test")

        self.events.put(fail)

    def tags(self) -> list[int]:
        """Confirm tags of the replies published so far."""
        with self._lock:
            return [tag for tag, _, _ in self.published]


def eventually(predicate: Callable[[], bool], what: str) -> None:
    """Poll ``predicate`` until it holds; fail after ``WAIT_S``."""
    deadline = time.monotonic() + WAIT_S
    pause = threading.Event()
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        pause.wait(0.002)


class Rig:
    """A market with alice and bob, a worker on scripted links, and order deliveries."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.clock = ManualClock(1_796_000_000_000)
        self.market = SandboxMarket(clock=self.clock, seed=1)
        self.alice = self.market.login("alice@example.com", "pw")
        self.bob = self.market.login("bob@example.com", "pw")
        self.links: list[FakeLink] = []
        self.tag = 0

        def open_fake(url: str, topology: Topology, on_delivery: OnDelivery,
                      on_confirm: OnConfirm, **kwargs: Any) -> FakeLink:  # fmt: skip
            link = FakeLink(on_delivery, on_confirm)
            self.links.append(link)
            return link

        monkeypatch.setattr(broker_module, "open_link", open_fake)
        self.worker = BrokerWorker(
            self.market, "amqp://guest:guest@fake//", poll_interval_s=0.005,
            retry_policy=RetryPolicy(max_retries=3, initial_delay_s=0.0),
        )  # fmt: skip

    @property
    def link(self) -> FakeLink:
        """The current link."""
        return self.links[-1]

    def order(self, side: str, message_id: str, redelivered: bool = False) -> Delivery:
        """A delivery of alice's ask or bob's bid (crossing), from the trusted login."""
        account = self.alice if side == "ask" else self.bob
        key = account.locations[0].id
        start = self.clock.now_ms() + 2 * HOUR_MS
        line = OrderLine(
            side=side, application_key=key, starttime=start, wattage=1000.0, runtime=900_000,
            totalenergy=250.0, price=10.0 if side == "ask" else 12.0,
            expirationtime=start - HOUR_MS,
        )  # fmt: skip
        self.tag += 1
        return Delivery(
            body=encode_order_line(line).encode(), routing_key=side, user_id="guest",
            reply_to=key, message_id=message_id, delivery_tag=self.tag, redelivered=redelivered,
        )  # fmt: skip


@pytest.fixture
def rig(monkeypatch: pytest.MonkeyPatch) -> Iterator[Rig]:
    """A started worker on a scripted link."""
    r = Rig(monkeypatch)
    r.worker.start()
    yield r
    r.worker.stop()


def test_an_order_is_acked_only_when_all_its_replies_are_confirmed(rig: Rig) -> None:
    """A trade's four replies (2 closed orders, 2 ticks): the bid is acked after the 4th confirm."""
    link = rig.link
    link.deliver(rig.order("ask", "a-1"))
    eventually(lambda: link.acked == [1], "the resting ask acked at once (no replies)")
    link.deliver(rig.order("bid", "b-1"))
    eventually(lambda: link.tags() == [1, 2, 3, 4], "four replies published")
    assert all("sendertimestamp_in_ms" in headers for _, _, headers in link.published)
    for tag in (1, 3, 2):
        link.confirm(tag)
    eventually(lambda: rig.worker.stats.confirmed == 3, "three confirms")
    assert link.acked == [1]
    link.confirm(4)
    eventually(lambda: link.acked == [1, 2], "the bid acked")


def test_a_multiple_confirm_settles_every_earlier_reply(rig: Rig) -> None:
    """basic.ack(multiple=True) of the last tag acks the order."""
    link = rig.link
    link.deliver(rig.order("ask", "a-1"))
    link.deliver(rig.order("bid", "b-1"))
    eventually(lambda: len(link.tags()) == 4, "four replies")
    link.confirm(4, multiple=True)
    eventually(lambda: link.acked == [1, 2], "the bid acked")
    assert rig.worker.stats.confirmed == 4


def test_a_nacked_reply_is_published_again_before_the_ack(rig: Rig) -> None:
    """A nack re-publishes that reply; the order is acked once the new copy is confirmed."""
    link = rig.link
    link.deliver(rig.order("ask", "a-1"))
    link.deliver(rig.order("bid", "b-1"))
    eventually(lambda: len(link.tags()) == 4, "four replies")
    link.confirm(3, multiple=True)
    link.confirm(4, ok=False)
    eventually(lambda: len(link.tags()) == 5, "the nacked reply published again")
    assert link.published[4][1] == link.published[3][1]
    assert link.acked == [1]
    link.confirm(5)
    eventually(lambda: link.acked == [1, 2], "the bid acked")
    assert rig.worker.stats.nacked == 1


def test_a_redelivery_after_a_lost_connection_republishes_instead_of_matching_again(
    rig: Rig,
) -> None:
    """Replies unconfirmed at the loss are re-published for the redelivered order; one trade."""
    first = rig.link
    first.deliver(rig.order("ask", "a-1"))
    first.deliver(rig.order("bid", "b-1"))
    eventually(lambda: len(first.tags()) == 4, "four replies")
    first.confirm(2, multiple=True)  # the closed orders arrived, the ticks are in doubt
    first.lose()
    eventually(lambda: len(rig.links) == 2, "a new connection")
    second = rig.link
    eventually(lambda: rig.worker.stats.reconnects == 1, "the reconnect counted")
    rig.tag = 0
    second.deliver(rig.order("ask", "a-1", redelivered=True))
    second.deliver(rig.order("bid", "b-1", redelivered=True))
    eventually(lambda: len(second.tags()) == 2, "the two unconfirmed ticks published again")
    assert second.acked == [1]  # the ask: a duplicate, dropped
    assert [key for _, key, _ in second.published] == [key for _, key, _ in first.published[2:]]
    second.confirm(2, multiple=True)
    eventually(lambda: second.acked == [1, 2], "the bid acked")
    stats = rig.worker.stats
    assert (stats.submitted, stats.trades, stats.republished) == (2, 1, 1)
    assert (stats.duplicates, stats.redelivered) == (1, 2)
    assert len(rig.market.last_trades(10)) == 1


def test_a_fully_confirmed_order_redelivered_after_a_loss_is_only_acked(rig: Rig) -> None:
    """Confirmed but not yet acked at the loss: the redelivery is a duplicate, no replies."""
    first = rig.link
    first.deliver(rig.order("ask", "a-1"))
    first.deliver(rig.order("bid", "b-1"))
    eventually(lambda: len(first.tags()) == 4, "four replies")
    first.confirm(4, multiple=True)
    first.lose()
    eventually(lambda: len(rig.links) == 2, "a new connection")
    rig.tag = 0
    rig.link.deliver(rig.order("bid", "b-1", redelivered=True))
    eventually(lambda: rig.link.acked == [1], "the redelivered bid acked")
    assert rig.link.published == []
    assert rig.worker.stats.submitted == 2


def test_the_worker_gives_up_after_its_retry_policy_and_reports_stopped(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When every reconnect fails the thread ends; wait() tells the served sandbox."""

    def refuse(*args: Any, **kwargs: Any) -> FakeLink:
        raise LinkLost("broker down")

    monkeypatch.setattr(broker_module, "open_link", refuse)
    rig.link.lose()
    assert rig.worker.wait(WAIT_S)
    assert not rig.worker.running


@pytest.fixture
def fan_out_rig(monkeypatch: pytest.MonkeyPatch) -> Iterator[Rig]:
    """A rig whose links can BCC (as RabbitMQ's), worker not started; one trade delivered."""
    monkeypatch.setattr(FakeLink, "fan_out", True)
    r = Rig(monkeypatch)
    yield r
    r.worker.stop()


def trade_on(rig: Rig, bcc_ticks: bool) -> FakeLink:
    """Start the rig's worker (with or without BCC ticks) and deliver a crossing ask and bid."""
    rig.worker.bcc_ticks = bcc_ticks
    rig.worker.start()
    link = rig.link
    link.deliver(rig.order("ask", "a-1"))
    link.deliver(rig.order("bid", "b-1"))
    return link


def test_on_a_fan_out_link_a_trades_ticks_are_one_bcc_message(fan_out_rig: Rig) -> None:
    """With BCC: closed orders, then ONE tick to routing key "" naming every key; 4 confirmed."""
    rig = fan_out_rig
    link = trade_on(rig, bcc_ticks=True)
    eventually(lambda: len(link.tags()) == 3, "three messages: two closed orders, one tick")
    keys = sorted(a.locations[0].id for a in (rig.alice, rig.bob))
    (_, seller, _), (_, buyer, _), (_, tick_key, tick_headers) = link.published
    assert (seller, buyer) == (rig.alice.locations[0].id, rig.bob.locations[0].id)
    assert tick_key == "" and tick_headers["BCC"] == keys
    link.confirm(2, multiple=True)
    link.confirm(3, ok=False)  # the one tick message nacked: re-published whole
    eventually(lambda: len(link.tags()) == 4, "the tick published again")
    assert link.published[3][1] == "" and link.published[3][2]["BCC"] == keys
    link.confirm(4)
    eventually(lambda: link.acked == [1, 2], "the bid acked")
    stats = rig.worker.stats
    assert (stats.replies, stats.confirmed, stats.nacked) == (6, 4, 1)


def test_without_bcc_ticks_a_fan_out_link_still_gets_one_tick_per_key(fan_out_rig: Rig) -> None:
    """The default: one tick message per device's key, even where BCC is possible."""
    rig = fan_out_rig
    link = trade_on(rig, bcc_ticks=False)
    eventually(lambda: len(link.tags()) == 4, "two closed orders and two ticks")
    keys = sorted(a.locations[0].id for a in (rig.alice, rig.bob))
    assert sorted(key for _, key, _ in link.published[2:]) == keys
    assert all("BCC" not in headers for _, _, headers in link.published)
