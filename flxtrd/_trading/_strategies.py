"""Example strategies: a fixed-margin seller, a tick-following buyer and a random bot.

All three trade quarter-hour delivery slots (``slot_ms``) so that their windows meet (the
generation-1 market only matches identical windows). A slot is "open for orders" while its
start is more than ``expiry_lead_ms`` away: each order expires ``expiry_lead_ms`` before its
delivery start. Generation 2 expires orders 15 minutes before delivery at the latest; with it,
use ``expiry_lead_ms >= 15 min``.

- :class:`FixedMarginSeller` sells what an :class:`~flxtrd.EnergyManagement` (a battery by
  default) can deliver, at the device's cost plus a fixed margin, reserving it before the order
  goes out, so it never sells more than the device holds.
- :class:`TickFollowingBuyer` buys a fixed power every slot, bidding a little under the last
  trade price and raising its bid after every bid that found no seller.
- :class:`RandomBot` sends random asks and bids (power, price and timing drawn from ranges), like
  the vendor's older test scripts; seeded, so a run can be repeated.

:data:`BUILTIN_STRATEGIES` names them for ``python -m flxtrd bot --strategy NAME``;
:func:`load_strategy` makes one from such a name (or ``module:Class``) and :func:`sandbox_crowd`
the other bots of ``bot --sandbox``.
"""

from __future__ import annotations

import importlib
import math
import random
from collections.abc import Callable, Iterable
from typing import Any

from flxtrd._errors import FlexValidationError
from flxtrd._trading._checks import check_finite
from flxtrd._trading._devices import Battery, HeatPump
from flxtrd._trading._energy import EnergyManagement, OversellError
from flxtrd._trading._strategy import (
    QUARTER_HOUR_MS,
    Fill,
    OrderState,
    PlaceOrder,
    StrategyAction,
    TrackedOrder,
    TradingStrategy,
    next_slot_ms,
)
from flxtrd._types import OrderType

__all__ = [
    "BUILTIN_STRATEGIES",
    "FixedMarginSeller",
    "RandomBot",
    "TickFollowingBuyer",
    "load_strategy",
    "open_slots",
    "sandbox_crowd",
]

MINUTE_MS = 60_000
DEFAULT_EXPIRY_LEAD_MS = 5 * MINUTE_MS


def open_slots(now_ms: int, count: int, slot_ms: int, expiry_lead_ms: int) -> list[int]:
    """Starts of the first ``count`` slots whose orders would still expire after ``now_ms``."""
    first = next_slot_ms(now_ms + expiry_lead_ms, slot_ms)
    return [first + i * slot_ms for i in range(count)]


def _round_price(price: float) -> float:
    return round(price, 4)


class _SlotTrader(TradingStrategy):
    """A strategy trading the next ``horizon_slots`` slots still open for orders.

    Its orders are of at least ``min_power_w`` and expire ``expiry_lead_ms`` before delivery
    (see :func:`open_slots`).
    """

    def __init__(
        self,
        horizon_slots: int,
        min_power_w: float,
        slot_ms: int,
        expiry_lead_ms: int,
        ref_prefix: str | None,
    ) -> None:
        super().__init__(ref_prefix=ref_prefix)
        self.horizon_slots = horizon_slots
        self.min_power_w = min_power_w
        self.slot_ms = slot_ms
        self.expiry_lead_ms = expiry_lead_ms

    def _open_windows(self, now_ms: int) -> list[tuple[int, int]]:
        """The ``(start_ms, end_ms)`` of each slot to trade at ``now_ms``."""
        starts = open_slots(now_ms, self.horizon_slots, self.slot_ms, self.expiry_lead_ms)
        return [(start, start + self.slot_ms) for start in starts]


class FixedMarginSeller(_SlotTrader):
    """Sells what an energy model can deliver, at its cost plus ``margin_per_kwh`` (EUR/kWh).

    Every timer it moves the device's physics to now, then for each of the next
    ``horizon_slots`` open slots without an open ask it offers the power the device can still
    deliver there (whole watts, at least ``min_power_w``), reserving it first. A fill becomes an
    obligation of the device; an ask that closes unfilled frees its reservation.
    """

    name = "fixed-margin-seller"

    def __init__(
        self,
        energy: EnergyManagement | None = None,
        *,
        margin_per_kwh: float = 0.05,
        horizon_slots: int = 2,
        min_power_w: float = 100.0,
        slot_ms: int = QUARTER_HOUR_MS,
        expiry_lead_ms: int = DEFAULT_EXPIRY_LEAD_MS,
        ref_prefix: str | None = None,
    ) -> None:
        super().__init__(horizon_slots, min_power_w, slot_ms, expiry_lead_ms, ref_prefix)
        check_finite("margin_per_kwh", margin_per_kwh, positive=False)
        self.energy: EnergyManagement = energy if energy is not None else Battery()
        self.margin_per_kwh = margin_per_kwh

    def on_timer(self, now_ms: int) -> Iterable[StrategyAction]:
        """Advance the device, then offer what it can deliver in each open slot."""
        self.energy.advance(now_ms)
        actions: list[StrategyAction] = []
        for start, end in self._open_windows(now_ms):
            if any(t.is_open for t in self.orders_for(OrderType.ASK, start, end)):
                continue
            ask = self.offer_ask(start, end)
            if ask is not None:
                actions.append(ask)
        return actions

    def offer_ask(self, start_ms: int, end_ms: int) -> PlaceOrder | None:
        """An ask for what the device can deliver over the window (reserved), or None."""
        offer = self.energy.offer(OrderType.ASK, start_ms, end_ms)
        if offer is None:
            return None
        power = math.floor(offer.max_power_w)
        if power < self.min_power_w:
            return None
        order = self.place(
            OrderType.ASK,
            power,
            _round_price(offer.cost_per_kwh + self.margin_per_kwh),
            start_ms,
            end_ms,
            start_ms - self.expiry_lead_ms,
        )
        try:
            self.energy.reserve(order.ref, OrderType.ASK, power, start_ms, end_ms)
        except OversellError:  # pragma: no cover - the offer said it fits
            return None
        return order

    def on_fill(self, fill: Fill, order: TrackedOrder | None) -> None:
        """What traded is now an obligation of the device."""
        if order is not None:
            self.energy.commit(order.ref, fill.side, fill.power_w, fill.start_ms, fill.end_ms)

    def on_order_closed(self, order: TrackedOrder) -> None:
        """Free what the order still held."""
        self.energy.release(order.ref)

    def telemetry(self) -> dict[str, float]:
        """The device's telemetry."""
        return self.energy.telemetry()


class TickFollowingBuyer(_SlotTrader):
    """Buys ``power_w`` in every slot, bidding just under the last trade price.

    The bid price is ``reference - undercut_per_kwh + chase``, capped at ``max_price``:
    ``reference`` is the last tick's price (``initial_price`` before any), ``chase`` grows by
    ``raise_per_kwh`` after every bid that closed without any fill and is reset by a fill. So
    the buyer drifts down while sellers accept and climbs when they stop.
    """

    name = "tick-buyer"

    def __init__(
        self,
        power_w: float = 3_000.0,
        *,
        initial_price: float = 0.20,
        undercut_per_kwh: float = 0.01,
        raise_per_kwh: float = 0.02,
        max_price: float = 0.40,
        horizon_slots: int = 2,
        min_power_w: float = 100.0,
        slot_ms: int = QUARTER_HOUR_MS,
        expiry_lead_ms: int = DEFAULT_EXPIRY_LEAD_MS,
        ref_prefix: str | None = None,
    ) -> None:
        super().__init__(horizon_slots, min_power_w, slot_ms, expiry_lead_ms, ref_prefix)
        check_finite("power_w", power_w)
        self.power_w = power_w
        self.initial_price = initial_price
        self.undercut_per_kwh = undercut_per_kwh
        self.raise_per_kwh = raise_per_kwh
        self.max_price = max_price
        self.chase = 0.0
        """What failed bids have added to the price, EUR/kWh."""

    def bid_price(self) -> float:
        """The price of the next bid, EUR/kWh."""
        reference = self.initial_price if self.last_price is None else self.last_price
        price = reference - self.undercut_per_kwh + self.chase
        return _round_price(min(self.max_price, max(0.0, price)))

    def wanted_w(self, start_ms: int, end_ms: int) -> float:
        """Power still to buy for the slot: not bought and not bid for by an open bid, W."""
        held = 0.0
        for tracked in self.orders_for(OrderType.BID, start_ms, end_ms):
            held += tracked.filled_power_w + (tracked.remaining_power_w if tracked.is_open else 0)
        return max(0.0, self.power_w - held)

    def on_timer(self, now_ms: int) -> Iterable[StrategyAction]:
        """Bid for what is still wanted in each open slot."""
        actions: list[StrategyAction] = []
        for start, end in self._open_windows(now_ms):
            wanted = math.floor(self.wanted_w(start, end))
            if wanted >= self.min_power_w:
                expiry = start - self.expiry_lead_ms
                actions.append(
                    self.place(OrderType.BID, wanted, self.bid_price(), start, end, expiry)
                )
        return actions

    def on_fill(self, fill: Fill, order: TrackedOrder | None) -> None:
        """A seller accepted: stop chasing."""
        self.chase = 0.0

    def on_order_closed(self, order: TrackedOrder) -> None:
        """A bid that found no seller at all raises the next bids."""
        if order.state is OrderState.EXPIRED and not order.fills:
            self.chase = min(self.max_price, self.chase + self.raise_per_kwh)


class RandomBot(TradingStrategy):
    """Random asks and bids, as the vendor's older test scripts send them.

    Every ``interval_ms`` (drawn from ``interval_range_ms``) it sends one order: side drawn from
    ``sides``, power (whole W) from ``power_range_w``, price from ``price_range`` (EUR/kWh,
    4 decimals), delivery start on the slot grid ``start_in_range_ms`` from now, lasting one
    slot. ``seed`` makes a run repeatable.
    """

    name = "random"

    def __init__(
        self,
        seed: int | None = None,
        *,
        sides: tuple[OrderType, ...] = (OrderType.ASK, OrderType.BID),
        power_range_w: tuple[float, float] = (500.0, 3_000.0),
        price_range: tuple[float, float] = (0.10, 0.30),
        start_in_range_ms: tuple[int, int] = (10 * MINUTE_MS, 45 * MINUTE_MS),
        interval_range_ms: tuple[int, int] = (MINUTE_MS, 5 * MINUTE_MS),
        slot_ms: int = QUARTER_HOUR_MS,
        expiry_lead_ms: int = DEFAULT_EXPIRY_LEAD_MS,
        ref_prefix: str | None = None,
    ) -> None:
        super().__init__(ref_prefix=ref_prefix)
        if not sides:
            raise FlexValidationError("sides", "must name at least one side", sides)
        for name, (low, high) in (
            ("power_range_w", power_range_w),
            ("price_range", price_range),
            ("start_in_range_ms", start_in_range_ms),
            ("interval_range_ms", interval_range_ms),
        ):
            if not low <= high:
                raise FlexValidationError(name, "must be (low, high) with low <= high", (low, high))
        self.rng = random.Random(seed)
        self.sides = sides
        self.power_range_w = power_range_w
        self.price_range = price_range
        self.start_in_range_ms = start_in_range_ms
        self.interval_range_ms = interval_range_ms
        self.slot_ms = slot_ms
        self.expiry_lead_ms = expiry_lead_ms
        self.next_order_ms: int | None = None
        """When the next order goes out (set by the first timer)."""

    def on_timer(self, now_ms: int) -> Iterable[StrategyAction]:
        """Send an order when its time has come; draw when the next one goes."""
        if self.next_order_ms is None:
            self.next_order_ms = now_ms
        if now_ms < self.next_order_ms:
            return []
        self.next_order_ms = now_ms + self.rng.randint(*self.interval_range_ms)
        rng = self.rng
        side = rng.choice(self.sides)
        power = max(1, math.floor(rng.uniform(*self.power_range_w)))
        price = _round_price(rng.uniform(*self.price_range))
        earliest = now_ms + max(self.expiry_lead_ms, rng.randint(*self.start_in_range_ms))
        start = next_slot_ms(earliest - 1, self.slot_ms)
        expiry = start - self.expiry_lead_ms
        if expiry <= now_ms:  # pragma: no cover - open_slots-style guard
            start += self.slot_ms
            expiry += self.slot_ms
        return [self.place(side, power, price, start, start + self.slot_ms, expiry)]


def _heat_pump_seller() -> TradingStrategy:
    """A fixed-margin seller of a heat pump's turn-down."""
    return FixedMarginSeller(HeatPump(), ref_prefix="heat-pump-seller")


BUILTIN_STRATEGIES: dict[str, Callable[[], TradingStrategy]] = {
    "battery-seller": FixedMarginSeller,
    "fixed-margin-seller": FixedMarginSeller,
    "heat-pump-seller": _heat_pump_seller,
    "random": RandomBot,
    "tick-buyer": TickFollowingBuyer,
}
"""Strategies ``--strategy NAME`` knows, each made without arguments."""


def load_strategy(spec: str) -> TradingStrategy:
    """A strategy from a built-in name (``tick-buyer``, ...) or ``module:Class``, made without
    arguments."""
    factory = BUILTIN_STRATEGIES.get(spec)
    if factory is None:
        module_name, sep, attr = spec.partition(":")
        if not sep or not module_name or not attr:
            known = ", ".join(sorted(BUILTIN_STRATEGIES))
            raise ValueError(f"unknown strategy {spec!r}: use one of {known}, or module:Class")
        try:
            obj: Any = importlib.import_module(module_name)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"cannot load strategy {spec!r}: {exc}") from exc
        factory = obj
    strategy = factory()
    if not isinstance(strategy, TradingStrategy):
        raise ValueError(f"{spec!r} made a {type(strategy).__name__}, not a TradingStrategy")
    return strategy


def sandbox_crowd(seed: int, count: int) -> dict[str, TradingStrategy]:
    """The other bots of ``--sandbox``: sellers, a buyer and random traders (``count`` of them)."""
    crowd: list[tuple[str, TradingStrategy]] = [
        ("battery", FixedMarginSeller(Battery(8_000, soc=0.8), margin_per_kwh=0.07)),
        ("buyer", TickFollowingBuyer(2_500, initial_price=0.22)),
        ("random-1", RandomBot(seed)),
        ("heat-pump", FixedMarginSeller(HeatPump(), margin_per_kwh=0.04)),
        ("random-2", RandomBot(seed + 1)),
        ("buyer-2", TickFollowingBuyer(1_500, initial_price=0.18, raise_per_kwh=0.01)),
    ]
    for i in range(len(crowd), count):
        crowd.append((f"random-{i}", RandomBot(seed + i)))
    return dict(crowd[:count])
