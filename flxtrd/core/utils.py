"""flxtrd 0.2.9's ``flxtrd.core.utils``: the time and unit helpers (as ``flxtrd.utils``)."""

from flxtrd._compat._console import log
from flxtrd._compat._utils import (
    MILLI,
    epoch_time_to_isoformat,
    milliseconds_to_min,
    min_to_hour,
    min_to_ms,
    min_to_s,
    seconds_to_min,
    utc_timestamp_ms,
    utc_timestamp_s,
)

__all__ = [
    "MILLI",
    "epoch_time_to_isoformat",
    "log",
    "milliseconds_to_min",
    "min_to_hour",
    "min_to_ms",
    "min_to_s",
    "seconds_to_min",
    "utc_timestamp_ms",
    "utc_timestamp_s",
]
