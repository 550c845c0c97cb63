"""Receipts, outcomes and counters of :class:`~flxtrd.AmpqAPI` (what its callers get back).

Split from the connection logic so the fleet and the client can name these types without the
transport code.
"""

from __future__ import annotations

from dataclasses import dataclass

from flxtrd._errors import FlexError

__all__ = ["AmqpStats", "OrderOutcome", "OrderReceipt"]


@dataclass(frozen=True, slots=True)
class OrderReceipt:
    """The broker's confirmation of one order.

    Attributes:
        message_id: the AMQP ``message_id`` the order was published with.
        routing_key: ``"ask"`` or ``"bid"``.
        exchange: the exchange it was published to.
        delivery_tag: its publisher-confirm sequence number on the channel.
        sent_at_ms: the header ``sendertimestamp_in_ms`` (epoch ms).
        confirmed_at_ms: when the confirm was read (epoch ms).
        order: the order as given to ``send_order``.
    """

    message_id: str
    routing_key: str
    exchange: str
    delivery_tag: int
    sent_at_ms: int
    confirmed_at_ms: int
    order: object

    @property
    def confirm_ms(self) -> int:
        """Milliseconds from publishing to the confirm."""
        return self.confirmed_at_ms - self.sent_at_ms


@dataclass(frozen=True, slots=True)
class OrderOutcome:
    """What happened to one order of :meth:`AmpqAPI.send_orders`: a receipt or an error."""

    order: object
    message_id: str
    receipt: OrderReceipt | None = None
    error: FlexError | None = None

    @property
    def ok(self) -> bool:
        """True when the broker confirmed the order."""
        return self.receipt is not None

    def unwrap(self) -> OrderReceipt:
        """Return the receipt or raise the error."""
        if self.receipt is None:
            raise self.error if self.error is not None else FlexError("order has no outcome")
        return self.receipt


@dataclass(frozen=True)
class AmqpStats:
    """Counters of one :class:`AmpqAPI` since it was created.

    Attributes:
        sent: orders published (handed to the broker).
        confirmed: orders the broker confirmed (acked and not returned).
        failed: orders reported failed, for any reason (the next four, plus encoding and
            connection errors before publishing).
        unroutable: orders returned by the broker (no queue bound).
        nacked: orders the broker nacked.
        in_doubt: orders whose confirm was lost with the connection or timed out.
        received: reply messages read from the queue, valid or not.
        rejected_inbound: replies that did not decode (also passed to ``on_invalid``).
        dropped: valid replies pushed out of the full buffer.
        callback_errors: exceptions raised by ``on_message`` / ``on_invalid``.
        connection_losses: connections or channels lost while in use.
        reconnects: successful re-connections after a loss.
    """

    sent: int = 0
    confirmed: int = 0
    failed: int = 0
    unroutable: int = 0
    nacked: int = 0
    in_doubt: int = 0
    received: int = 0
    rejected_inbound: int = 0
    dropped: int = 0
    callback_errors: int = 0
    connection_losses: int = 0
    reconnects: int = 0


class _Counters:
    """The mutable counters behind :attr:`AmpqAPI.stats`."""

    __slots__ = (
        "callback_errors",
        "confirmed",
        "connection_losses",
        "dropped",
        "failed",
        "in_doubt",
        "nacked",
        "received",
        "reconnects",
        "rejected_inbound",
        "sent",
        "unroutable",
    )

    def __init__(self) -> None:
        self.sent = self.confirmed = self.failed = 0
        self.unroutable = self.nacked = self.in_doubt = 0
        self.received = self.rejected_inbound = self.dropped = self.callback_errors = 0
        self.connection_losses = self.reconnects = 0

    def snapshot(self) -> AmqpStats:
        return AmqpStats(**{name: getattr(self, name) for name in self.__slots__})


class _Pending:
    """An order between publish and outcome."""

    __slots__ = (
        "error",
        "message_id",
        "order",
        "receipt",
        "returned",
        "routing_key",
        "sent_at_ms",
        "tag",
    )

    def __init__(self, order: object, message_id: str, routing_key: str, sent_at_ms: int) -> None:
        self.order = order
        self.message_id = message_id
        self.routing_key = routing_key
        self.sent_at_ms = sent_at_ms
        self.tag = 0
        self.returned: tuple[int, str] | None = None
        self.receipt: OrderReceipt | None = None
        self.error: FlexError | None = None

    @property
    def done(self) -> bool:
        return self.receipt is not None or self.error is not None

    def outcome(self) -> OrderOutcome:
        return OrderOutcome(self.order, self.message_id, self.receipt, self.error)
