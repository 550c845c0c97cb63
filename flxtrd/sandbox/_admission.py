"""Admission of incoming orders: turn a `Gen1Order` or `Gen2Order` into the engine's
`RestingOrder`, or into a `Rejected` with the reason, and the seeded id sequences.

Kept apart from `_engine` so the rules an order must pass before it is stored (validation,
expiry on arrival, duplicate message ids) sit in one place, free of the book and the lock. Ids
are drawn only for an admitted order, so a refused one leaves the sequences where they were.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Container

from . import _rules as rules
from ._book import RestingOrder
from ._types import Gen1Order, Gen2Order, RejectCode, Rejected, Side

__all__ = ["IdSequence", "NewIds", "admit_gen1", "admit_gen2"]

_ID_GAP = 8

NewIds = Callable[[], tuple[int, int]]
"""Draws (order id, arrival sequence number) for an order about to be stored."""


class IdSequence:
    """Increasing integer ids >= 1 with seeded gaps of 1.._ID_GAP."""

    __slots__ = ("_last", "_random")

    def __init__(self, seed: int, name: str) -> None:
        self._random = random.Random(f"{seed}:{name}").random
        self._last = 0

    def next(self) -> int:
        """The next id."""
        self._last += 1 + int(self._random() * _ID_GAP)
        return self._last


def admit_gen1(
    order: Gen1Order, now: int, new_ids: NewIds, message_ids: Container[tuple[str, str]]
) -> RestingOrder | Rejected:
    """A generation-1 order as a record to store, or why it is refused (`message_ids`: the
    (user, message_id) pairs already seen)."""
    key, msg = order.application_key, order.message_id
    violation = rules.validate_gen1(order)
    if violation is not None:
        return _rejected(
            1, order.side, order.user, RejectCode.INVALID, violation.reason,
            violation.field, now, key, msg,
        )  # fmt: skip
    expires = rules.gen1_expires_at_ms(order.expirationtime, order.starttime)
    if rules.is_expired(expires, now):
        return _rejected(
            1, order.side, order.user, RejectCode.EXPIRED_AT_ARRIVAL,
            f"order expired at {expires} ms, before it arrived at {now} ms",
            "expirationtime", now, key, msg,
        )  # fmt: skip
    if msg is not None and (order.user, msg) in message_ids:
        return _rejected(
            1, order.side, order.user, RejectCode.DUPLICATE,
            f"duplicate message_id {msg!r}", "message_id", now, key, msg,
        )  # fmt: skip
    order_id, seq = new_ids()
    return RestingOrder(
        order_id=order_id,
        seq=seq,
        generation=1,
        side=Side.parse(order.side),
        owner=order.user,
        price=order.price,
        power=order.wattage,
        start=order.starttime,
        end=order.starttime + order.runtime,
        expiry_time=order.expirationtime,
        expires_at=expires,
        country="",
        location_ids=None,
        created_ms=now,
        application_key=key,
        message_id=msg,
    )


def admit_gen2(order: Gen2Order, now: int, new_ids: NewIds) -> RestingOrder | Rejected:
    """A generation-2 order as a record to store, or why it is refused."""
    violation = rules.validate_gen2(order)
    if violation is not None:
        return _rejected(
            2, order.side, order.owner, RejectCode.INVALID, violation.reason,
            violation.field, now,
        )  # fmt: skip
    expires = rules.gen2_expires_at_ms(order.expiry_time_ms, order.delivery_start_ms)
    if rules.is_expired(expires, now):
        return _rejected(
            2, order.side, order.owner, RejectCode.EXPIRED_AT_ARRIVAL,
            f"order expired at {expires} ms (expiry_time or 15 min before delivery start), "
            f"before it arrived at {now} ms",
            "expiry_time", now,
        )  # fmt: skip
    ids = rules.normalize_location_ids(order.location_ids)
    order_id, seq = new_ids()
    return RestingOrder(
        order_id=order_id,
        seq=seq,
        generation=2,
        side=Side.parse(order.side),
        owner=order.owner,
        price=order.price,
        power=order.power,
        start=order.delivery_start_ms,
        end=order.delivery_end_ms,
        expiry_time=order.expiry_time_ms,
        expires_at=expires,
        country=order.country_code,
        location_ids=ids,
        created_ms=now,
        baseline=order.baseline,
    )


def _rejected(
    generation: int,
    side: object,
    owner: object,
    code: RejectCode,
    reason: str,
    field: str | None,
    now: int,
    application_key: object = None,
    message_id: object = None,
) -> Rejected:
    """A `Rejected` event; fields of the wrong type (invalid input) become empty or None."""
    return Rejected(
        generation=generation,
        side=side if isinstance(side, str) else "",
        owner=owner if isinstance(owner, str) else "",
        code=code,
        reason=reason,
        field=field,
        time_ms=now,
        application_key=application_key if isinstance(application_key, str) else None,
        message_id=message_id if isinstance(message_id, str) else None,
    )
