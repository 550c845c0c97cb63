"""The broker worker's reply ledger: replies published, their publisher confirms, order acks.

An order is acknowledged only once every one of its replies is safe: at once on ``memory://``
(no confirms), after the broker's ``basic_ack`` of each reply on ``amqp://``. That bookkeeping
(publish tags, the window of tags still open, nacked replies to publish again, orders ready to
ack, what is left unconfirmed when the connection dies) is one job with its own invariants, so
it lives here rather than in :mod:`flxtrd.sandbox._broker`, whose worker drives it: it calls
:meth:`ReplyLedger.publish` per order, hands the channel's confirms to
:meth:`ReplyLedger.on_confirm` (inside a drain) and calls :meth:`ReplyLedger.settle` after it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from flxtrd._log import get_logger

from ._broker_link import AmqpLink, MemoryLink
from ._broker_stats import Counters
from ._broker_wire import Reply

__all__ = ["Key", "Pending", "ReplyLedger"]

_log = get_logger("sandbox.broker")

Key = tuple[str, str]
"""``(user, message_id)``: what identifies an order across redeliveries."""

_SENDER_TIMESTAMP_HEADER = "sendertimestamp_in_ms"
_MAX_REPUBLISH = 5


class Pending:
    """An order (or an unprompted update) whose replies await their confirms."""

    __slots__ = ("delivery_tag", "key", "unconfirmed")

    def __init__(self, delivery_tag: int | None, key: Key | None) -> None:
        self.delivery_tag = delivery_tag
        self.key = key
        self.unconfirmed: dict[int, tuple[Reply, int]] = {}


def _headers() -> dict[str, Any]:
    return {_SENDER_TIMESTAMP_HEADER: time.time_ns() // 1_000_000}


class ReplyLedger:
    """Replies on ``exchange`` awaiting their confirms, and the orders they hold back.

    Touched by the worker's thread only; counts into ``counters``.
    """

    def __init__(self, exchange: str, counters: Counters) -> None:
        self._exchange = exchange
        self._counters = counters
        self._by_tag: dict[int, Pending] = {}
        self._low_tag = 1
        self._high_tag = 0
        self._ackable: list[Pending] = []
        self._nacked: list[tuple[Pending, Reply, int]] = []

    @property
    def waiting(self) -> int:
        """How many published replies the broker has not confirmed yet."""
        return len(self._by_tag)

    def publish(
        self,
        link: AmqpLink | MemoryLink,
        delivery_tag: int | None,
        key: Key | None,
        replies: list[Reply],
    ) -> None:
        """Publish ``replies``; ack the order now (no confirms) or when they are confirmed."""
        pending = Pending(delivery_tag, key)
        counters = self._counters
        for reply in replies:
            tag = self._send(link, reply)
            if reply.msg_type == "cancel":
                counters.cancels += 1
            elif reply.msg_type == "bid_closed_order":
                counters.trades += 1
            if tag is not None:
                self._track(pending, tag, reply, 0)
        if not pending.unconfirmed:
            self.ack(link, pending)

    def ack(self, link: AmqpLink | MemoryLink, pending: Pending) -> None:
        """Acknowledge the order behind ``pending`` (an unprompted update has none)."""
        if pending.delivery_tag is not None:
            link.ack(pending.delivery_tag)
            self._counters.acked += 1

    def on_confirm(self, tag: int, multiple: bool, ok: bool) -> None:
        """Channel event (inside drain): settle confirmed replies; acks happen in :meth:`settle`."""
        by_tag = self._by_tag
        tags: Iterable[int] = range(self._low_tag, tag + 1) if multiple else (tag,)
        counters = self._counters
        for t in tags:
            pending = by_tag.pop(t, None)
            if pending is None:
                continue
            reply, attempts = pending.unconfirmed.pop(t)
            if ok:
                counters.confirmed += reply.copies
                if not pending.unconfirmed:
                    self._ackable.append(pending)
            else:
                counters.nacked += 1
                self._nacked.append((pending, reply, attempts + 1))
        low = max(self._low_tag, tag + 1) if multiple else self._low_tag
        high = self._high_tag
        while low <= high and low not in by_tag:
            low += 1
        self._low_tag = low

    def settle(self, link: AmqpLink | MemoryLink) -> None:
        """After a drain: publish the nacked replies again, ack the orders now fully confirmed."""
        if self._nacked:
            self._republish_nacked(link)
        if self._ackable:
            ackable, self._ackable = self._ackable, []
            for pending in ackable:
                self.ack(link, pending)

    def lose(self) -> list[tuple[Key, list[Reply]]]:
        """The connection died: forget every tag; return each order's unconfirmed replies."""
        self._nacked.clear()
        self._ackable.clear()
        orphans = [
            (pending.key, [reply for reply, _ in pending.unconfirmed.values()])
            for pending in {id(p): p for p in self._by_tag.values()}.values()
            if pending.key is not None and pending.delivery_tag is not None
        ]
        self._by_tag.clear()
        self._low_tag = 1
        self._high_tag = 0
        return orphans

    def _send(self, link: AmqpLink | MemoryLink, reply: Reply) -> int | None:
        """Publish one reply and count it; its confirm tag, or None (no confirms)."""
        tag = link.publish(self._exchange, reply.routing_key, reply.body, _headers(), reply.bcc)
        self._counters.replies += reply.copies
        return tag

    def _track(self, pending: Pending, tag: int, reply: Reply, attempts: int) -> None:
        pending.unconfirmed[tag] = (reply, attempts)
        self._by_tag[tag] = pending
        self._high_tag = tag

    def _republish_nacked(self, link: AmqpLink | MemoryLink) -> None:
        nacked, self._nacked = self._nacked, []
        for pending, reply, attempts in nacked:
            if attempts > _MAX_REPUBLISH:
                _log.error("reply to %r nacked %d times; dropping it", reply.routing_key, attempts)
            elif (tag := self._send(link, reply)) is not None:
                self._track(pending, tag, reply, attempts)
                continue
            if not pending.unconfirmed:
                self._ackable.append(pending)
