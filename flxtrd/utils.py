"""Time and unit helpers of flxtrd 0.2.9 (``from flxtrd import utils``), kept for its users' code.

Unlike 0.2.9, a zero never logs an error: converting zero minutes is simply zero.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

MILLI = 1000


def utc_timestamp_ms() -> int:
    """The current UTC time in epoch milliseconds."""
    return time.time_ns() // 1_000_000


def utc_timestamp_s() -> int:
    """The current UTC time in epoch seconds."""
    return time.time_ns() // 1_000_000_000


def epoch_time_to_isoformat(epoch_time: int | str) -> str:
    """Epoch seconds or milliseconds as ISO 8601 UTC with milliseconds (``...T10:00:00.000Z``)."""
    value = int(epoch_time)
    millis = value if value >= 100_000_000_000 else value * MILLI  # ms from 1973 on, else seconds
    moment = datetime.fromtimestamp(millis // MILLI, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{millis % MILLI:03d}Z"


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
