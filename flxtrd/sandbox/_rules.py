"""The market rules of the sandbox: each rule is one named, documented function, easy to change.

`GLOCALFLEX-API.md` fixes some rules (pay-as-bid, bid price >= ask price, whole sells, partial
buys, the generation-2 expiry) and leaves others open; those are marked *inferred* below. The
engine calls these functions and nothing else decides who trades with whom, at what price,
for how long an order lives, or whether it is valid.

Constraints the engine's index relies on (keep them when changing a rule):

- `prices_cross` is monotone: if a bid crosses an ask, a higher bid crosses it too.
- `windows_fit` implies what `window_search` declares for the generation (a test checks it with
  random windows); the book only looks at the windows `window_search` admits.
- `countries_match` is equality: the book keeps one index per (generation, country).
"""

from __future__ import annotations

import enum
import functools
import math
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from flxtrd._bounds import MAX_DURATION_MS, MAX_POWER_W, MAX_PRICE_EUR_PER_KWH, MAX_TIME_MS

from ._types import Gen1Order, Gen2Order, OrderStatus, Side

QUARTER_HOUR_MS = 15 * 60 * 1000
"""Generation-2 delivery times lie on the quarter hour."""

GEN2_EXPIRY_LEAD_MS = 15 * 60 * 1000
"""A generation-2 order expires at the latest this long before its delivery start."""

POWER_EPSILON = 1e-9
"""Power (W) below which a remainder counts as zero (float rounding)."""

MS_PER_HOUR = 3_600_000


# --------------------------------------------------------------------------------------------
# Price


def prices_cross(bid_price: float, ask_price: float) -> bool:
    """A bid and an ask can trade when the bid price is at least the ask price."""
    return bid_price >= ask_price


def deal_price(bid_price: float, ask_price: float) -> float:
    """Pay-as-bid: a trade is priced at the BID (buy order's) price, whichever order rested.

    GLocalFlex calls its auction pay-as-bid; with a buy order that may be filled by several sells
    and each sell by several buys, the buyer's own limit is the one price known to both sides
    of every partial trade.
    """
    return bid_price


# --------------------------------------------------------------------------------------------
# Delivery window


class WindowSearch(enum.Enum):
    """Which opposite-side delivery windows the book looks at for an order (a superset of fits)."""

    EXACT = "exact"
    """Only the identical window (one dictionary lookup)."""
    SELL_WITHIN_BUY = "sell_within_buy"
    """Sell windows that lie inside the buy window."""
    OVERLAP = "overlap"
    """Every window overlapping the order's window (the safe choice for any sensible rule)."""


def windows_fit(
    generation: int, buy_start: int, buy_end: int, sell_start: int, sell_end: int
) -> bool:
    """*Inferred*: whether a sell's delivery window can serve a buy's window.

    Generation 1: the windows are identical (same `starttime` and `runtime`); the line protocol
    has no notion of a window inside another. Generation 2: the sell window lies within the buy
    window or equals it, so the buyer gets the flexibility when it asked for it; the trade is for
    the sell window (`contract_window`). Windows are half-open `[start, end)`.
    """
    if generation == 1:
        return buy_start == sell_start and buy_end == sell_end
    return buy_start <= sell_start and sell_end <= buy_end


def window_search(generation: int) -> WindowSearch:
    """The candidate windows the book enumerates; must admit every pair `windows_fit` accepts."""
    return WindowSearch.EXACT if generation == 1 else WindowSearch.SELL_WITHIN_BUY


def search_admits(
    search: WindowSearch, buy_start: int, buy_end: int, sell_start: int, sell_end: int
) -> bool:
    """Whether the book, searching by `search`, would look at this pair of windows."""
    if search is WindowSearch.EXACT:
        return buy_start == sell_start and buy_end == sell_end
    if search is WindowSearch.SELL_WITHIN_BUY:
        return buy_start <= sell_start and sell_end <= buy_end
    return buy_start < sell_end and sell_start < buy_end


def contract_window(
    buy_start: int, buy_end: int, sell_start: int, sell_end: int
) -> tuple[int, int]:
    """*Inferred*: a trade delivers over the sell window (it lies within the buy window)."""
    return sell_start, sell_end


def energy_wh(power_w: float, start_ms: int, end_ms: int) -> float:
    """Energy of `power_w` delivered over `[start_ms, end_ms)`, Wh."""
    return power_w * (end_ms - start_ms) / MS_PER_HOUR


# --------------------------------------------------------------------------------------------
# Location (generation 2)


def countries_match(buy_country: str, sell_country: str) -> bool:
    """The country codes are equal (the empty code, "none", only matches itself)."""
    return buy_country == sell_country


LOCATION_WILDCARD = ".*"
"""In a location id, stands for any run of characters (the id is then a pattern)."""


def normalize_location_ids(ids: Iterable[str | None] | None) -> tuple[str, ...] | None:
    """*Inferred*: the location ids an order is restricted to, sorted and unique; None for any.

    ``location_id`` may be ``null``, ``[]``, or a list whose items are ids or ``null``. The
    vendor's generation-2 client sends ``[null]`` by default for "no restriction", so ``null``
    items are dropped and a list with no id left (``null``, ``[]``, ``[null]``) means any
    location.
    """
    if ids is None:
        return None
    kept = sorted({i for i in ids if i is not None})
    return tuple(kept) if kept else None


@functools.lru_cache(maxsize=4096)
def _location_pattern(pattern: str) -> re.Pattern[str]:
    """The regular expression of a location pattern: ``.*`` is any run, the rest literal."""
    return re.compile(".*".join(re.escape(part) for part in pattern.split(LOCATION_WILDCARD)), re.S)


def location_ids_match(a: str, b: str) -> bool:
    """*Inferred*: two location ids match when equal, or when one is a pattern (holds ``.*``)
    that matches the whole of the other (``loc.*`` matches ``loc1``, ``loc.*`` and ``loc``).

    Older versions of the vendor's client sent ``["loc.*"]`` next to sellers' ``["loc1", ...]``,
    a regular expression by its look; only the ``.*`` wildcard is given a meaning (no other
    regular-expression syntax), so matching stays linear and hostile ids cannot be expensive.
    """
    if a == b:
        return True
    return bool(
        (LOCATION_WILDCARD in a and _location_pattern(a).fullmatch(b))
        or (LOCATION_WILDCARD in b and _location_pattern(b).fullmatch(a))
    )


def locations_match(buy_ids: frozenset[str] | None, sell_ids: frozenset[str] | None) -> bool:
    """Locations meet: None or empty on either side means any location; otherwise some id of
    one side matches some id of the other (`location_ids_match`: equal, or a ``.*`` pattern)."""
    if not buy_ids or not sell_ids or not buy_ids.isdisjoint(sell_ids):
        return True
    if not any(LOCATION_WILDCARD in i for i in buy_ids) and not any(
        LOCATION_WILDCARD in i for i in sell_ids
    ):
        return False
    return any(location_ids_match(b, s) for b in buy_ids for s in sell_ids)


# --------------------------------------------------------------------------------------------
# Expiry


def gen1_expires_at_ms(expirationtime: int, starttime: int) -> int:
    """*Inferred*: a generation-1 order expires at its `expirationtime` or at its delivery start
    (`starttime`), whichever is first.

    flxtrd 0.2.9 sends ``expirationtime = starttime + order_expiration_min``, after the delivery
    start, and the market matched such orders (the ``ask_closed_order`` / ``bid_closed_order``
    replies in the vendor's ``examples/trading_client.py``), so a late `expirationtime` is not
    refused. Flexibility cannot be traded once its delivery has begun, so such an order stays
    matchable until its delivery start and expires there.
    """
    return min(expirationtime, starttime)


def gen2_expires_at_ms(expiry_time_ms: int, delivery_start_ms: int) -> int:
    """Generation 2 expires at `expiry_time` or 15 min before delivery, whichever is first."""
    return min(expiry_time_ms, delivery_start_ms - GEN2_EXPIRY_LEAD_MS)


def is_expired(expires_at_ms: int, now_ms: int) -> bool:
    """An order is expired from its expiry instant on (one expiring now is refused on arrival)."""
    return now_ms >= expires_at_ms


# --------------------------------------------------------------------------------------------
# Status machine


def initial_status(side: Side, has_baseline: bool) -> OrderStatus:
    """Where a valid order goes from `pending`: a sell without a baseline waits for one."""
    if side is Side.SELL and not has_baseline:
        return OrderStatus.AWAITING_BASELINE_DATA
    return OrderStatus.ACCEPTED


S = OrderStatus
STATUS_TRANSITIONS: dict[OrderStatus | None, frozenset[OrderStatus]] = {
    None: frozenset({S.PENDING}),
    S.PENDING: frozenset({S.ACCEPTED, S.AWAITING_BASELINE_DATA}),
    S.AWAITING_BASELINE_DATA: frozenset({S.ACCEPTED, S.CANCELLED, S.EXPIRED}),
    S.ACCEPTED: frozenset({S.MATCHING_ACTIVE}),
    S.MATCHING_ACTIVE: frozenset({S.FILLED, S.PARTIAL_FILLED, S.CANCELLED, S.EXPIRED}),
    S.PARTIAL_FILLED: frozenset({S.PARTIAL_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED}),
    S.SELECTED_FOR_BASELINE_ACTIVATION: frozenset(),
    S.FILLED: frozenset(),
    S.CANCELLED: frozenset(),
    S.EXPIRED: frozenset(),
}
"""Allowed status transitions (None = a new order). `selected_for_baseline_activation` is a
market-side step of baseline verification the sandbox does not model. `partial_filled` is for
buy orders only (sells fill whole). `partial_filled -> partial_filled` is a further partial fill.
"""
del S

OPEN_STATUSES = frozenset(
    {
        OrderStatus.AWAITING_BASELINE_DATA,
        OrderStatus.ACCEPTED,
        OrderStatus.MATCHING_ACTIVE,
        OrderStatus.PARTIAL_FILLED,
    }
)
"""Statuses in which an order can still expire or be cancelled."""


# --------------------------------------------------------------------------------------------
# Validation


@dataclass(frozen=True, slots=True)
class Violation:
    """Why an order is invalid: the field to blame and a sentence for the user."""

    field: str
    reason: str


def _is_number(value: object) -> bool:
    """A real number that is finite; an int of any size is (it is never made a float here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return isinstance(value, int) or math.isfinite(value)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_name(value: object) -> bool:
    return isinstance(value, str) and value != ""


def _shown(value: object) -> str:
    """A short repr for a violation's reason; a huge int is not converted to text."""
    if isinstance(value, int) and value.bit_length() > 128:
        return f"an int of {value.bit_length()} bits"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _bounded(name: str, value: object, maximum: float, *, positive: bool) -> Violation | None:
    """`value` is a finite number > 0 (or >= 0) and at most `maximum` (`flxtrd._bounds`)."""
    low = "> 0" if positive else ">= 0"
    if (
        not _is_number(value)
        or not (value > 0 if positive else value >= 0)  # type: ignore[operator]
        or value > maximum  # type: ignore[operator]
    ):
        return Violation(
            name, f"{name} must be a finite number {low} and <= {maximum:g}, not {_shown(value)}"
        )
    return None


def _time(name: str, value: object) -> Violation | None:
    """`value` is an integer time in ms, >= 0 and at most `MAX_TIME_MS` (end of year 9999)."""
    if not _is_int(value) or not 0 <= value <= MAX_TIME_MS:  # type: ignore[operator]
        return Violation(
            name, f"{name} must be an integer in 0..{MAX_TIME_MS} (ms), not {_shown(value)}"
        )
    return None


def validate_gen1(order: Gen1Order) -> Violation | None:
    """Check a generation-1 order: power, runtime, price and times within `flxtrd._bounds`.

    Power > 0 and <= `MAX_POWER_W`, price >= 0 and <= `MAX_PRICE_EUR_PER_KWH`, runtime > 0
    and <= `MAX_DURATION_MS`, start and expiration times in 0..`MAX_TIME_MS`: the bounds of
    ``OrderLine`` in `specs/asyncapi.yaml`, the same as generation 2's.
    """
    if order.side not in ("ask", "bid"):
        return Violation("side", f"side must be 'ask' or 'bid', not {_shown(order.side)}")
    if not _is_name(order.application_key):
        return Violation("application_key", "application key must be a non-empty string")
    if not _is_name(order.user):
        return Violation("user", "user must be a non-empty string")
    violation = _bounded("wattage", order.wattage, MAX_POWER_W, positive=True) or _time(
        "starttime", order.starttime
    )
    if violation is not None:
        return violation
    if not _is_int(order.runtime) or not 0 < order.runtime <= MAX_DURATION_MS:
        return Violation(
            "runtime",
            f"runtime must be an integer in 1..{MAX_DURATION_MS} (ms), not {_shown(order.runtime)}",
        )
    return _bounded("price", order.price, MAX_PRICE_EUR_PER_KWH, positive=False) or _time(
        "expirationtime", order.expirationtime
    )  # an expirationtime after starttime is accepted: see `gen1_expires_at_ms`


def is_quarter_hour(time_ms: int) -> bool:
    """*Inferred*: generation-2 delivery times lie on :00, :15, :30 or :45 (whole minutes)."""
    return time_ms % QUARTER_HOUR_MS == 0


def validate_gen2(order: Gen2Order) -> Violation | None:
    """Check a generation-2 order: side, power and price within `flxtrd._bounds`, a quarter-hour
    window of at most `MAX_DURATION_MS`, times up to `MAX_TIME_MS`, locations."""
    if order.side not in ("buy", "sell"):
        return Violation("side", f"side must be 'buy' or 'sell', not {_shown(order.side)}")
    if not _is_name(order.owner):
        return Violation("owner", "owner must be a non-empty string")
    violation = _bounded("power", order.power, MAX_POWER_W, positive=True) or _bounded(
        "price", order.price, MAX_PRICE_EUR_PER_KWH, positive=False
    )
    if violation is not None:
        return violation
    for name, value in (
        ("delivery_start", order.delivery_start_ms),
        ("delivery_end", order.delivery_end_ms),
    ):
        violation = _time(name, value)
        if violation is not None:
            return violation
        if not is_quarter_hour(value):
            return Violation(name, f"{name} must lie on the quarter hour")
    if order.delivery_end_ms <= order.delivery_start_ms:
        return Violation("delivery_end", "delivery_end must be after delivery_start")
    if order.delivery_end_ms - order.delivery_start_ms > MAX_DURATION_MS:
        return Violation(
            "delivery_end",
            f"delivery_end must be at most {MAX_DURATION_MS // 86_400_000} days after"
            " delivery_start",
        )
    if not _is_int(order.expiry_time_ms):
        return Violation(
            "expiry_time", f"expiry_time must be a time in ms, not {_shown(order.expiry_time_ms)}"
        )
    if not isinstance(order.country_code, str):
        return Violation("country_code", "country_code must be a string")
    ids = order.location_ids
    if ids is not None and (
        isinstance(ids, str)
        or not isinstance(ids, Collection)
        or not all(i is None or _is_name(i) for i in ids)
    ):
        return Violation(
            "location_id", "location ids must be null or a list of non-empty strings (or nulls)"
        )
    return None
