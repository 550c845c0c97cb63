"""Validation of orders before anything is sent.

Every check raises :class:`~flxtrd.FlexValidationError` naming the field and the rule it broke.

Generation 1 (line-protocol orders over AMQP) uses the ``require_*`` checks below; the domain
types in ``_types`` call them at construction (rules that do not depend on the clock) and in
their ``validate(now_ms)`` methods (all rules, including "in the future").

Generation 2 (``POST /api/v1/order/``) uses :class:`OrderSpec`. Its policy on datetimes:

- **Naive datetimes are refused.** A naive ``datetime`` means "local time of whichever machine
  runs this", which silently shifts an order by hours between a laptop and a server (and is
  ambiguous at DST changes). Pass aware datetimes, e.g. ``datetime(..., tzinfo=timezone.utc)``
  or ``tzinfo=ZoneInfo("Europe/Berlin")``.
- Aware datetimes are converted to UTC before any comparison or check, so wall-clock times
  repeated at the end of DST (``fold=0`` / ``fold=1``) are ordered correctly, and the body
  carries ISO 8601 with a ``Z`` suffix.
- Delivery start and end must be on the quarter hour (:00/:15/:30/:45, zero seconds) in UTC;
  the expiry need not be. The market also expires an order 15 minutes before delivery start;
  that is the market's rule, not refused here.

Prices may be 0 (giving flexibility away) but not negative: neither API generation defines
negative prices.
"""

from __future__ import annotations

import math
import numbers
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flxtrd._bounds import MAX_DURATION_MS, MAX_POWER_W, MAX_PRICE_EUR_PER_KWH, MAX_TIME_MS
from flxtrd._errors import FlexValidationError

__all__ = [
    "COUNTRY_CODES",
    "MAX_DURATION_MS",
    "MAX_LOCATION_IDS",
    "MAX_LOCATION_ID_LENGTH",
    "MAX_POWER_W",
    "MAX_PRICE_EUR_PER_KWH",
    "MAX_TIME_MS",
    "MAX_WAIT_S",
    "SIDES",
    "OrderSpec",
    "current_time_ms",
    "format_utc",
    "order_spec_to_body",
    "require_at_most",
    "require_bounded",
    "require_duration_ms",
    "require_finite",
    "require_in_future",
    "require_non_negative",
    "require_not_after",
    "require_number",
    "require_optional_wait",
    "require_positive",
    "require_string",
    "require_wait",
    "to_utc",
    "wait_rule",
]

SIDES = ("buy", "sell")
COUNTRY_CODES = frozenset({"CZ", "DE", "CH", "ES", "FI", "FR", ""})
MAX_LOCATION_ID_LENGTH = 128
MAX_LOCATION_IDS = 1000
#: The longest wait (s) the platform's timed waits accept (``threading.TIMEOUT_MAX``).
MAX_WAIT_S: float = threading.TIMEOUT_MAX
_QUARTER_HOUR_MIN = 15
_MAX_DELIVERY = timedelta(milliseconds=MAX_DURATION_MS)

# The rules, as they appear in FlexValidationError.rule.
NUMBER = "must be a real number (not bool, str or None)"
FINITE = "must be finite (NaN and infinity are refused)"
POSITIVE = "must be > 0"
NON_NEGATIVE = "must be >= 0 (0 is allowed, negative prices are refused)"
IN_FUTURE = "must be in the future"
TZ_AWARE = (
    "must be timezone-aware (naive datetimes are refused: their meaning depends on the"
    " machine's local time zone)"
)
DATETIME = "must be a datetime"
QUARTER_HOUR = "must be on the quarter hour in UTC (:00, :15, :30 or :45, zero seconds)"
AFTER_DELIVERY_START = "must be after delivery_start"
LONGEST_DELIVERY = f"must be at most {MAX_DURATION_MS // 86_400_000} days after delivery_start"
SIDE = "must be 'buy' or 'sell' (sell = ask, buy = bid)"
COUNTRY = "must be one of " + ", ".join(repr(c) for c in sorted(COUNTRY_CODES)) + " ('' = any)"
LOCATION_IDS = f"must be None or a list of at most {MAX_LOCATION_IDS} strings (or Nones)"
NON_EMPTY_STRING = "must be a non-empty string"
WAIT = "must be a finite number >= 0"
POSITIVE_WAIT = "must be a finite number > 0"
WAIT_TOO_LONG = f"must be at most {MAX_WAIT_S:g} seconds (the longest wait this platform supports)"


def current_time_ms() -> int:
    """Now, in ms since the epoch (the default clock of every ``now_ms`` parameter)."""
    return time.time_ns() // 1_000_000


def require_number(field: str, value: object) -> float:
    """Return ``value`` as a float; refuse bools, strings, ``None`` and other non-numbers."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise FlexValidationError(field, NUMBER, value)
    try:
        return float(value)
    except OverflowError:  # an int too large for a float
        raise FlexValidationError(field, FINITE, value) from None


def require_finite(field: str, value: object) -> float:
    """Return ``value`` as a finite float; NaN and infinities are refused."""
    number = require_number(field, value)
    if not math.isfinite(number):
        raise FlexValidationError(field, FINITE, value)
    return number


def require_positive(field: str, value: object) -> float:
    """Return ``value`` as a finite float > 0."""
    number = require_finite(field, value)
    if not number > 0:
        raise FlexValidationError(field, POSITIVE, value)
    return number


def require_non_negative(field: str, value: object) -> float:
    """Return ``value`` as a finite float >= 0 (a price of 0 is allowed)."""
    number = require_finite(field, value)
    if not number >= 0:
        raise FlexValidationError(field, NON_NEGATIVE, value)
    return number


def require_at_most(field: str, value: float, limit: float) -> float:
    """Return ``value`` if it is <= ``limit``."""
    if value > limit:
        raise FlexValidationError(field, f"must be <= {limit:g}", value)
    return value


def require_bounded(field: str, value: object, maximum: float, *, positive: bool = False) -> float:
    """Return ``value`` as a finite float in ``(0, maximum]`` (``positive``) or ``[0, maximum]``.

    An int is compared with ``maximum`` exactly before it becomes a float, so ``10**5000`` is
    refused as too large rather than failing the float conversion.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise FlexValidationError(field, NUMBER, value)
    if isinstance(value, int) and value > maximum:
        raise FlexValidationError(field, f"must be <= {maximum:g}", value)
    number = require_positive(field, value) if positive else require_non_negative(field, value)
    return require_at_most(field, number, maximum)


def wait_rule(*, positive: bool = False, none_means: str | None = None) -> str:
    """The rule text of a wait: ``"must be a finite number >= 0"`` (``> 0`` when ``positive``),
    followed by ``", or None (<none_means>)"`` when ``None`` is allowed and means something."""
    rule = POSITIVE_WAIT if positive else WAIT
    return rule if none_means is None else f"{rule}, or None ({none_means})"


def require_wait(
    field: str, value: object, *, positive: bool = False, none_means: str | None = None
) -> float:
    """Return a wait, timeout or interval in seconds as a float; refuse NaN, infinities,
    negatives (and 0 when ``positive``), non-numbers and waits longer than :data:`MAX_WAIT_S`.

    ``none_means`` only completes the rule text for arguments where ``None`` is allowed (see
    :func:`require_optional_wait`).
    """
    rule = wait_rule(positive=positive, none_means=none_means)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise FlexValidationError(field, rule, value)
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float
        raise FlexValidationError(field, WAIT_TOO_LONG, value) from None
    if not math.isfinite(number) or not (number > 0 if positive else number >= 0):
        raise FlexValidationError(field, rule, value)
    if number > MAX_WAIT_S:
        raise FlexValidationError(field, WAIT_TOO_LONG, value)
    return number


def require_optional_wait(
    field: str, value: object, *, positive: bool = False, none_means: str = "wait forever"
) -> float | None:
    """:func:`require_wait`, with ``None`` passed through (it means ``none_means``)."""
    if value is None:
        return None
    return require_wait(field, value, positive=positive, none_means=none_means)


def require_duration_ms(
    field: str, value: object, *, positive: bool = False, maximum: int = MAX_TIME_MS
) -> int:
    """Return a duration or time in ms as an int: a finite number >= 0 (> 0 when ``positive``)
    and at most ``maximum``; floats are rounded to the nearest ms."""
    rule = f"must be a finite number of ms {'>' if positive else '>='} 0"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise FlexValidationError(field, rule, value)
    if isinstance(value, int):
        if value > maximum:  # exact for ints of any size
            raise FlexValidationError(field, f"must be <= {maximum} ms", value)
        number = value
    else:
        as_float = float(value)
        if not math.isfinite(as_float):
            raise FlexValidationError(field, rule, value)
        if as_float > maximum:
            raise FlexValidationError(field, f"must be <= {maximum} ms", value)
        number = round(as_float)
    if not (number > 0 if positive else number >= 0):
        raise FlexValidationError(field, rule, value)
    return number


def require_in_future(field: str, epoch_ms: int, now_ms: int) -> None:
    """Refuse an epoch-ms time at or before ``now_ms``; hint when it looks like seconds."""
    if epoch_ms <= now_ms:
        rule = IN_FUTURE
        if 0 < epoch_ms < 100_000_000_000 < now_ms:  # before 1973 in ms, but a plausible epoch s
            rule += " (this looks like epoch seconds; epoch milliseconds are expected)"
        raise FlexValidationError(field, rule, epoch_ms)


def require_not_after(field: str, value: int, limit_field: str, limit: int) -> None:
    """Refuse ``value`` later than ``limit`` (e.g. an expiration after the delivery start)."""
    if value > limit:
        raise FlexValidationError(field, f"must not be after {limit_field} ({limit})", value)


def require_string(field: str, value: object, max_length: int) -> str:
    """Return ``value`` if it is a non-empty string of at most ``max_length`` characters."""
    if not isinstance(value, str) or not value:
        raise FlexValidationError(field, NON_EMPTY_STRING, value)
    if len(value) > max_length:
        raise FlexValidationError(field, f"must be at most {max_length} characters", value)
    return value


def to_utc(field: str, value: object) -> datetime:
    """Return an aware datetime converted to UTC; naive datetimes are refused."""
    if not isinstance(value, datetime):
        raise FlexValidationError(field, DATETIME, value)
    if value.tzinfo is None or value.utcoffset() is None:
        raise FlexValidationError(field, TZ_AWARE, value)
    return value.astimezone(UTC)


def format_utc(field: str, value: object) -> str:
    """ISO 8601 in UTC with a ``Z`` suffix, e.g. ``2025-10-26T00:30:00Z``."""
    utc = to_utc(field, value)
    return utc.replace(tzinfo=None).isoformat() + "Z"


def _require_quarter_hour(field: str, utc: datetime) -> None:
    if utc.minute % _QUARTER_HOUR_MIN or utc.second or utc.microsecond:
        raise FlexValidationError(field, QUARTER_HOUR, utc)


def _location_ids(value: object) -> list[str | None] | None:
    """The ``location_id`` list as sent: ids, ``.*`` patterns and ``None`` items kept as given.

    The market reads ``None``, ``[]`` and ``[None]`` (the vendor client's default) as any
    location; see ``OrderLocation`` in ``specs/openapi.yaml``.
    """
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise FlexValidationError("location_ids", LOCATION_IDS, value)
    if len(value) > MAX_LOCATION_IDS:
        raise FlexValidationError("location_ids", LOCATION_IDS, value)
    return [
        None if item is None else require_string(f"location_ids[{i}]", item, MAX_LOCATION_ID_LENGTH)
        for i, item in enumerate(value)
    ]


@dataclass
class OrderSpec:
    """A generation-2 order (``POST /api/v1/order/``) before it is sent.

    Attributes:
        side: ``"buy"`` or ``"sell"``.
        power_w: power offered or wanted, W, > 0.
        price_eur_per_kwh: limit price, EUR/kWh, >= 0.
        delivery_start, delivery_end: aware datetimes on the quarter hour; end after start.
        expiry_time: aware datetime, at or before ``delivery_start``, in the future.
        country_code: one of :data:`COUNTRY_CODES` (``""`` = any country).
        location_ids: location ids (or ``.*`` patterns); ``None``, ``[]`` or ``[None]`` for any.
        baseline: a sell order's baseline (``Baseline`` in the spec), checked by the market.
    """

    side: str
    power_w: float
    price_eur_per_kwh: float
    delivery_start: datetime
    delivery_end: datetime
    expiry_time: datetime
    country_code: str = ""
    location_ids: Sequence[str | None] | None = None
    #: A sell order's baseline metering data (the spec's ``Baseline``), or None to send it later.
    baseline: Mapping[str, Any] | None = None

    def validate(self, now: datetime | None = None) -> None:
        """Check every rule; raise :class:`FlexValidationError` on the first one broken.

        ``now`` (aware; default: the current UTC time) decides "in the future".
        """
        if self.side not in SIDES:
            raise FlexValidationError("side", SIDE, self.side)
        require_bounded("power_w", self.power_w, MAX_POWER_W, positive=True)
        require_bounded("price_eur_per_kwh", self.price_eur_per_kwh, MAX_PRICE_EUR_PER_KWH)
        if not isinstance(self.country_code, str) or self.country_code not in COUNTRY_CODES:
            raise FlexValidationError("country_code", COUNTRY, self.country_code)
        _location_ids(self.location_ids)

        start = to_utc("delivery_start", self.delivery_start)
        end = to_utc("delivery_end", self.delivery_end)
        expiry = to_utc("expiry_time", self.expiry_time)
        _require_quarter_hour("delivery_start", start)
        _require_quarter_hour("delivery_end", end)
        if not end > start:
            raise FlexValidationError("delivery_end", AFTER_DELIVERY_START, self.delivery_end)
        if end - start > _MAX_DELIVERY:
            raise FlexValidationError("delivery_end", LONGEST_DELIVERY, self.delivery_end)
        if expiry > start:
            raise FlexValidationError(
                "expiry_time", "must not be after delivery_start", self.expiry_time
            )
        now_utc = datetime.now(UTC) if now is None else to_utc("now", now)
        if not start > now_utc:
            raise FlexValidationError("delivery_start", IN_FUTURE, self.delivery_start)
        if not expiry > now_utc:
            raise FlexValidationError("expiry_time", IN_FUTURE, self.expiry_time)

    def to_body(self) -> dict[str, Any]:
        """The JSON body of ``POST /api/v1/order/``; see :func:`order_spec_to_body`."""
        return order_spec_to_body(self)


def order_spec_to_body(spec: OrderSpec) -> dict[str, Any]:
    """Turn an :class:`OrderSpec` into the JSON body of ``POST /api/v1/order/``.

    Times become ISO 8601 UTC strings with ``Z``. This does not run the clock-dependent
    checks: call ``spec.validate(now)`` first (the client does). Naive datetimes are refused
    here too, so a wrong time can never be serialised.
    """
    ids = _location_ids(spec.location_ids)
    return {
        "side": spec.side,
        "power": require_finite("power_w", spec.power_w),
        "price": require_finite("price_eur_per_kwh", spec.price_eur_per_kwh),
        "delivery_start": format_utc("delivery_start", spec.delivery_start),
        "delivery_end": format_utc("delivery_end", spec.delivery_end),
        "expiry_time": format_utc("expiry_time", spec.expiry_time),
        "location": {"location_id": ids, "country_code": spec.country_code},
        "baseline": None if spec.baseline is None else dict(spec.baseline),
    }
