"""Time and unit helpers of flxtrd 0.2.9 (``from flxtrd import utils``), kept for its users' code.

Two differences from 0.2.9: a zero never logs an error (converting zero minutes is simply
zero), and :func:`epoch_time_to_isoformat` also takes epoch seconds with fewer than ten digits
(before September 2001) instead of raising.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from flxtrd._errors import FlexValidationError
from flxtrd._validation import current_time_ms

__all__ = [
    "MILLI",
    "epoch_time_to_isoformat",
    "milliseconds_to_min",
    "min_to_hour",
    "min_to_ms",
    "min_to_s",
    "seconds_to_min",
    "utc_timestamp_ms",
    "utc_timestamp_s",
]

MILLI = 1000
#: Digits of an epoch time in seconds from September 2001 to November 2286.
EPOCH_SEC_LENGTH = 10
#: Digits kept: the seconds and three of the fraction (milliseconds).
_KEPT_DIGITS = EPOCH_SEC_LENGTH + 3


def utc_timestamp_ms() -> int:
    """The current UTC time in epoch milliseconds."""
    return current_time_ms()


def utc_timestamp_s() -> int:
    """The current UTC time in epoch seconds."""
    return time.time_ns() // 1_000_000_000


def epoch_time_to_isoformat(epoch_time: int | str) -> str:
    """An epoch time as ISO 8601 UTC with milliseconds (``2021-08-03T10:29:07.123Z``).

    As in flxtrd 0.2.9 the unit is told by the number of digits: ten digits are seconds, and
    a longer number (ms, µs, ns or more) is read as ten digits of seconds followed by the
    fraction, of which the first three digits (the milliseconds) are kept. Shorter numbers are
    seconds.
    """
    text = str(epoch_time).strip() if isinstance(epoch_time, str | int) else None
    if isinstance(epoch_time, bool) or text is None or not text.isdigit() or not text.isascii():
        raise FlexValidationError(
            "epoch_time",
            "must be a non-negative integer or a string of digits (epoch s, ms, µs or ns)",
            epoch_time,
        )
    seconds, fraction = text[:EPOCH_SEC_LENGTH], text[EPOCH_SEC_LENGTH:_KEPT_DIGITS]
    moment = datetime.fromtimestamp(int(seconds), tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{fraction.ljust(3, '0')}Z"


def seconds_to_min(seconds: float) -> int:
    """Seconds to whole minutes (rounded)."""
    return round(seconds / 60)


def milliseconds_to_min(milliseconds: float) -> int:
    """Milliseconds to whole minutes (rounded)."""
    return round(milliseconds / 60 / MILLI)


def min_to_ms(minutes: float) -> float:
    """Minutes to milliseconds."""
    return minutes * 60 * MILLI


def min_to_hour(minutes: float) -> float:
    """Minutes to hours."""
    return minutes / 60


def min_to_s(minutes: float) -> float:
    """Minutes to seconds."""
    return minutes * 60
