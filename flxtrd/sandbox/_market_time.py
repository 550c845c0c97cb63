"""Date-time text of the sandbox's wire: RFC 3339 in, ISO 8601 ``Z`` out, ``/deals/`` windows.

Split from `_market` so the REST app, its schema and the tests read and write times without
the market object; nothing here knows about orders.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

__all__ = ["format_datetime_ms", "parse_datetime_ms", "relative_time_ms"]

_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_RELATIVE = re.compile(r"^([1-9][0-9]{0,5})([smhd])$")
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)


def parse_datetime_ms(text: object) -> int:
    """An RFC 3339 date-time (``2026-12-01T10:00:00Z``, offsets allowed) as ms since the epoch.

    Raises ValueError for anything else (including a missing offset).
    """
    if not isinstance(text, str):
        raise ValueError("must be an RFC 3339 date-time string")
    m = _RFC3339.match(text)
    if m is None:
        raise ValueError("must be an RFC 3339 date-time with an offset, e.g. 2026-12-01T10:00:00Z")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    frac, offset = m.group(7), m.group(8)
    if second == 60:
        second = 59  # a leap second: the instant just before the next minute
    try:
        if offset in ("Z", "z"):
            tz = UTC
        else:
            sign = 1 if offset[0] == "+" else -1
            hours, minutes = int(offset[1:3]), int(offset[4:6])
            if hours > 23 or minutes > 59:
                raise ValueError("bad offset")
            tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
        value = datetime(year, month, day, hour, minute, second, tzinfo=tz)
    except ValueError as exc:
        raise ValueError(f"is not a valid date-time ({exc})") from None
    micros = int((frac or ".0")[1:7].ljust(6, "0"))
    seconds = value.timestamp()
    return int(seconds) * 1000 + micros // 1000 if seconds >= 0 else round(seconds * 1000)


def format_datetime_ms(ms: int) -> str:
    """Ms since the epoch as an ISO 8601 UTC date-time with ``Z`` (ms shown when not zero)."""
    value = datetime.fromtimestamp(ms // 1000, tz=UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    rest = ms % 1000
    return f"{text}.{rest:03d}Z" if rest else f"{text}Z"


def relative_time_ms(text: str) -> int:
    """``/deals/``'s ``relativeTime`` (``30s``, ``15m``, ``1h``, ``7d``) in ms, else ValueError."""
    m = _RELATIVE.match(text) if isinstance(text, str) else None
    if m is None:
        raise ValueError("must be a count and a unit (s, m, h, d), e.g. 1h")
    return int(m.group(1)) * _UNIT_MS[m.group(2)]
