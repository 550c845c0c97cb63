"""The broker worker's counters: the frozen snapshot it shows and the mutable tally behind it.

Kept apart from :mod:`flxtrd.sandbox._broker` because the counters are touched by every step of
an order (receiving, deduplicating, publishing, confirming) while the worker module is about
the thread and the connection; both the worker and its reply ledger
(:mod:`flxtrd.sandbox._broker_confirms`) count into one :class:`Counters`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["BrokerStats", "Counters"]


@dataclass(frozen=True, slots=True)
class BrokerStats:
    """Counters of a :class:`BrokerWorker` (a snapshot)."""

    received: int = 0
    """Order messages delivered (redeliveries included)."""
    submitted: int = 0
    """Orders handed to the market: one per distinct ``(user, message_id)``."""
    duplicates: int = 0
    """Orders dropped because their ``message_id`` was already submitted."""
    malformed: int = 0
    """Orders that did not decode (answered with ``cancel``)."""
    refused: int = 0
    """Orders refused for their identity (answered with ``cancel``)."""
    errors: int = 0
    """Orders whose handling raised unexpectedly (acknowledged and dropped)."""
    trades: int = 0
    """Generation-1 trades replied to."""
    cancels: int = 0
    """``cancel`` replies published."""
    replies: int = 0
    """Replies published, one per device addressed (a tick sent to N keys in one ``BCC``
    message counts N; re-publications included)."""
    confirmed: int = 0
    """Replies the broker confirmed (``amqp://`` only; counted like ``replies``)."""
    nacked: int = 0
    """Replies the broker nacked (then re-published)."""
    acked: int = 0
    """Orders acknowledged."""
    redelivered: int = 0
    """Deliveries flagged as redelivered by the broker."""
    republished: int = 0
    """Redelivered orders whose unconfirmed replies were published again."""
    reconnects: int = 0
    """Connections re-opened after a loss."""


class Counters:
    """Mutable counters behind :class:`BrokerStats` (touched by the worker thread only)."""

    def __init__(self) -> None:
        for f in fields(BrokerStats):
            setattr(self, f.name, 0)

    def snapshot(self) -> BrokerStats:
        """The counters as a frozen :class:`BrokerStats`."""
        return BrokerStats(**{f.name: getattr(self, f.name) for f in fields(BrokerStats)})

    received: int
    submitted: int
    duplicates: int
    malformed: int
    refused: int
    errors: int
    trades: int
    cancels: int
    replies: int
    confirmed: int
    nacked: int
    acked: int
    redelivered: int
    republished: int
    reconnects: int
