"""A linear-scan reference of the engine's matching semantics: a test oracle and a baseline.

`ReferenceMatcher` keeps resting orders in one list and, for every incoming order, scans it and
sorts the fitting orders by priority; it has no index, no lazy deletion and no supply bound. It
applies the same `_rules` and the same algorithm as `_engine` (see its docstring), so for the
same inputs it must make the same trades; the property tests check that, and
`benchmarks/bench_matching.py` times it beside the engine.

It lives beside its tests, not in ``flxtrd/sandbox/``, so it does not ship in the wheel: nothing
in flxtrd runs it. The benchmark puts this folder on ``sys.path`` to import it.
"""

from __future__ import annotations

from dataclasses import dataclass

from flxtrd.sandbox import _rules as rules
from flxtrd.sandbox._types import Gen1Order, Gen2Order, OrderStatus, Side

__all__ = ["RefTrade", "ReferenceMatcher"]

_EPS = rules.POWER_EPSILON


@dataclass(frozen=True, slots=True)
class RefTrade:
    """One trade, naming orders by their submission index (0-based)."""

    buy: int
    sell: int
    price: float
    power: float


@dataclass(slots=True)
class _Ref:
    index: int
    generation: int
    side: Side
    price: float
    remaining: float
    start: int
    end: int
    expires_at: int
    country: str
    locations: frozenset[str] | None


class ReferenceMatcher:
    """The engine's matching rules, implemented by scanning every resting order."""

    def __init__(self) -> None:
        self._resting: list[_Ref] = []
        self._count = 0

    def advance(self, now_ms: int) -> None:
        """Drop every resting order expired by `now_ms`."""
        self._resting = [o for o in self._resting if not rules.is_expired(o.expires_at, now_ms)]

    def rest(self, order: Gen1Order | Gen2Order, now_ms: int) -> None:
        """Put an order in the book without matching it (to preload a book known not to cross)."""
        ref = _admit(order, self._count, now_ms)
        self._count += 1
        if ref is not None:
            self._resting.append(ref)

    def cancel(self, index: int) -> None:
        """Take the order submitted as number `index` out of the book, if it rests there."""
        self._resting = [o for o in self._resting if o.index != index]

    def resting(self) -> int:
        """Number of resting orders."""
        return len(self._resting)

    def submit(self, order: Gen1Order | Gen2Order, now_ms: int) -> list[RefTrade] | None:
        """Match one order at `now_ms`; None if refused or parked awaiting a baseline."""
        self.advance(now_ms)
        index = self._count
        self._count += 1
        ref = _admit(order, index, now_ms)
        if ref is None:
            return None
        trades: list[RefTrade] = []
        if ref.side is Side.SELL:
            if not self._fill(ref, None, trades):
                self._resting.append(ref)
            return trades
        asks = sorted(
            (o for o in self._resting if o.side is Side.SELL and _fits(ref, o)),
            key=lambda o: (o.price, o.index),
        )
        for ask in asks:
            if ref.remaining <= _EPS:
                break
            self._fill(ask, ref, trades)
        if ref.remaining > _EPS:
            self._resting.append(ref)
        return trades

    def _fill(self, ask: _Ref, extra: _Ref | None, trades: list[RefTrade]) -> bool:
        bids = [o for o in self._resting if o.side is Side.BUY and _fits(o, ask)]
        if extra is not None:
            bids.append(extra)
        bids.sort(key=lambda o: (-o.price, o.index))
        need = ask.remaining
        plan: list[tuple[_Ref, float]] = []
        for bid in bids:
            take = min(bid.remaining, need)
            plan.append((bid, take))
            need -= take
            if need <= _EPS:
                break
        else:
            return False
        for bid, take in plan:
            bid.remaining -= take
            trades.append(
                RefTrade(bid.index, ask.index, rules.deal_price(bid.price, ask.price), take)
            )
        ask.remaining = 0.0
        self._resting = [o for o in self._resting if o.remaining > _EPS]
        return True


def _fits(bid: _Ref, ask: _Ref) -> bool:
    return (
        bid.generation == ask.generation
        and rules.countries_match(bid.country, ask.country)
        and rules.windows_fit(bid.generation, bid.start, bid.end, ask.start, ask.end)
        and rules.locations_match(bid.locations, ask.locations)
        and rules.prices_cross(bid.price, ask.price)
    )


def _admit(order: Gen1Order | Gen2Order, index: int, now_ms: int) -> _Ref | None:
    if isinstance(order, Gen1Order):
        if rules.validate_gen1(order) is not None:
            return None
        expires = rules.gen1_expires_at_ms(order.expirationtime, order.starttime)
        ref = _Ref(
            index, 1, Side.parse(order.side), float(order.price), float(order.wattage),
            order.starttime, order.starttime + order.runtime, expires, "", None,
        )  # fmt: skip
    else:
        if rules.validate_gen2(order) is not None:
            return None
        side = Side.parse(order.side)
        if rules.initial_status(side, order.baseline is not None) is not OrderStatus.ACCEPTED:
            return None
        expires = rules.gen2_expires_at_ms(order.expiry_time_ms, order.delivery_start_ms)
        ref = _Ref(
            index, 2, side, float(order.price), float(order.power), order.delivery_start_ms,
            order.delivery_end_ms, expires, order.country_code,
            _locations(order.location_ids),
        )  # fmt: skip
    return None if rules.is_expired(ref.expires_at, now_ms) else ref


def _locations(ids: tuple[str | None, ...] | None) -> frozenset[str] | None:
    """The order's location set as the rules see it (null items dropped; None for any)."""
    kept = rules.normalize_location_ids(ids)
    return frozenset(kept) if kept else None
