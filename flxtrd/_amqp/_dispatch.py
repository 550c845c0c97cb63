"""How :class:`~flxtrd.AmpqAPI` handles what the broker sends: confirms, returns and replies.

A mixin of :class:`~flxtrd._amqp._api.AmpqAPI`, apart so the connection and publishing logic
stays readable: the order ledger (pending orders by delivery tag, settled into receipts or
errors) and the reply dispatch (decode, then ``on_message``, ``on_invalid`` or the buffer).
The backends call these through their :class:`~flxtrd._amqp._backend._BackendContext`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from flxtrd._amqp._backend import _describe, _now_ms
from flxtrd._amqp._market_messages import MarketMessage, decode_market_message
from flxtrd._amqp._results import OrderReceipt, _Counters, _Pending
from flxtrd._errors import (
    FlexError,
    MessageDecodeError,
    OrderInDoubtError,
    OrderNotConfirmedError,
    OrderUnroutableError,
)
from flxtrd._log import get_logger

_log = get_logger("amqp")

OnMessage = Callable[[MarketMessage], object]
OnInvalid = Callable[[bytes, MessageDecodeError], object]


class _Dispatch:
    """The order ledger and the reply dispatch of one :class:`~flxtrd.AmpqAPI`."""

    exchange: str
    on_message: OnMessage | None
    on_invalid: OnInvalid | None
    _pending: dict[int, _Pending]
    _inflight_ids: dict[str, int]
    _next_tag: int
    _low_tag: int
    _buffer: deque[MarketMessage]
    _counters: _Counters

    def _fail_pending(self, reason: str) -> None:
        pending = self._pending
        if not pending:
            return
        counters = self._counters
        for p in pending.values():
            p.error = OrderInDoubtError(p.message_id, reason)
            counters.in_doubt += 1
            counters.failed += 1
        pending.clear()
        self._inflight_ids.clear()

    # -- confirms --

    def _on_ack(self, tag: int, multiple: bool) -> None:
        pending = self._pending
        if multiple:
            for t in range(self._low_tag, tag + 1):
                p = pending.pop(t, None)
                if p is not None:
                    self._settle(p, None)
            if tag >= self._low_tag:
                self._low_tag = tag + 1
        else:
            p = pending.pop(tag, None)
            if p is not None:
                self._settle(p, None)
            if tag == self._low_tag:
                self._advance_low()

    def _on_nack(self, tag: int, multiple: bool) -> None:
        pending = self._pending
        tags = range(self._low_tag, tag + 1) if multiple else (tag,)
        for t in tags:
            p = pending.pop(t, None)
            if p is not None:
                self._settle(
                    p,
                    OrderNotConfirmedError(
                        f"order {p.message_id} was nacked by the broker",
                        nacked=True,
                        delivery_tag=t,
                    ),
                )
        if multiple and tag >= self._low_tag:
            self._low_tag = tag + 1
        elif tag == self._low_tag:
            self._advance_low()

    def _advance_low(self) -> None:
        low, stop, pending = self._low_tag, self._next_tag, self._pending
        while low < stop and low not in pending:
            low += 1
        self._low_tag = low

    def _on_return(self, message_id: object, reply_code: int, reply_text: str) -> None:
        tag = self._inflight_ids.get(message_id) if isinstance(message_id, str) else None
        p = self._pending.get(tag) if tag is not None else None
        if p is None:
            _log.warning("broker returned an unknown message %r (%s)", message_id, reply_text)
            return
        p.returned = (reply_code, reply_text)

    def _settle(self, p: _Pending, error: FlexError | None) -> None:
        self._inflight_ids.pop(p.message_id, None)
        counters = self._counters
        if error is None and p.returned is not None:
            code, text = p.returned
            error = OrderUnroutableError(
                f"order {p.message_id} was returned as unroutable by the broker: exchange"
                f" {self.exchange!r}, routing key {p.routing_key!r} ({code} {text});"
                " no market queue is bound for it",
                exchange=self.exchange,
                routing_key=p.routing_key,
                reply_code=code,
                reply_text=text,
            )
            counters.unroutable += 1
        elif error is not None:
            counters.nacked += 1
        if error is None:
            p.receipt = OrderReceipt(
                p.message_id,
                p.routing_key,
                self.exchange,
                p.tag,
                p.sent_at_ms,
                _now_ms(),
                p.order,
            )
            counters.confirmed += 1
        else:
            p.error = error
            counters.failed += 1

    # -- inbound --

    def _on_delivery(self, body: bytes, headers: Mapping[str, Any] | None) -> None:
        """Decode and dispatch one reply; never raises (called inside ``drain_events``)."""
        counters = self._counters
        counters.received += 1
        try:
            message = decode_market_message(body, headers)
        except Exception as exc:
            error = (
                exc
                if isinstance(exc, MessageDecodeError)
                else MessageDecodeError(f"invalid market message: {_describe(exc)}")
            )
            counters.rejected_inbound += 1
            _log.debug("rejected a market message: %s", error)
            on_invalid = self.on_invalid
            if on_invalid is not None:
                try:
                    on_invalid(body, error)
                except Exception:
                    counters.callback_errors += 1
                    _log.exception("on_invalid raised")
            return
        on_message = self.on_message
        if on_message is not None:
            try:
                on_message(message)
            except Exception:
                counters.callback_errors += 1
                _log.exception("on_message raised")
            return
        buffer = self._buffer
        if len(buffer) == buffer.maxlen:
            counters.dropped += 1
        buffer.append(message)
