"""flxtrd 0.2.9's time and unit helpers (``from flxtrd import utils``); see ``flxtrd._compat``."""

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
    "milliseconds_to_min",
    "min_to_hour",
    "min_to_ms",
    "min_to_s",
    "seconds_to_min",
    "utc_timestamp_ms",
    "utc_timestamp_s",
]
