"""Trading strategies: typed market events in, order actions out, no I/O.

A :class:`TradingStrategy` is a plain object. The bot (``flxtrd._trading._bot``) owns the market
connection, turns what the market says (either API generation) into the events below and calls
:meth:`TradingStrategy.handle` with each; ``handle`` returns the actions to carry out. A
strategy never sends, sleeps or reads a clock: time arrives as :class:`Timer` events and as the
``time_ms`` of every event. So a strategy is tested with plain calls::

    strategy = MyStrategy()
    actions = strategy.handle(Timer(now_ms=1_900_000_000_000))
    assert isinstance(actions[0], PlaceOrder)

Events (all frozen dataclasses, times in ms since the epoch, prices in EUR/kWh)::

    Timer            the periodic timer (every ``timer_interval_ms`` of market time)
    MarketTick       a trade happened on the market (anyone's): price, energy, delivery start
    Fill             one of YOUR orders traded (all or part of it): price, power, energy, window
    OrderAccepted    the market took an order you placed (its market id is known)
    OrderClosed      an order ended without (more) trading: cancelled, expired or rejected
    ContractUpdate   generation 2: a contract of yours changed status (settlement, verification)

Actions (:data:`StrategyAction`)::

    PlaceOrder(ref, side, power_w, price, start_ms, end_ms, expiry_ms)
    CancelOrder(ref)      generation 2 only (generation 1 has no cancel; the order expires)

``ref`` is the strategy's own name for an order, made by :meth:`TradingStrategy.place`. The base
class keeps the book of orders by ref (:attr:`TradingStrategy.orders`): it records every order
it hands out, applies fills and closures to it, and closes an order as expired at the first
timer at or after its ``expiry_ms`` (the market trades no order from its expiry on; a fill
that arrives late still counts). Subclasses override the ``on_*`` hooks they need; each
returns an iterable of actions (or ``None``).

Which side is which: ``OrderType.ASK`` sells flexibility (the device delivers: a battery
discharges, a load consumes less), ``OrderType.BID`` buys it. Power is always positive.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import ClassVar, TypeAlias

from flxtrd._errors import FlexValidationError
from flxtrd._trading._checks import check_finite, check_window
from flxtrd._types import Flexibility, MarketOrder, OrderType
from flxtrd._validation import OrderSpec

__all__ = [
    "CancelOrder",
    "ContractUpdate",
    "Fill",
    "MarketTick",
    "OrderAccepted",
    "OrderClosed",
    "OrderState",
    "PlaceOrder",
    "StrategyAction",
    "StrategyEvent",
    "Timer",
    "TrackedOrder",
    "TradingStrategy",
    "next_slot_ms",
]

MS_PER_HOUR = 3_600_000
QUARTER_HOUR_MS = 15 * 60_000
POWER_EPSILON_W = 1e-6
"""Power below which a remainder counts as nothing (float rounding), W."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _utc(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


def next_slot_ms(after_ms: int, slot_ms: int = QUARTER_HOUR_MS) -> int:
    """The first slot boundary (quarter hour by default) strictly after ``after_ms``."""
    return (after_ms // slot_ms + 1) * slot_ms


# --- events ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Timer:
    """The periodic timer: market time ``now_ms`` has come."""

    now_ms: int


@dataclass(frozen=True, slots=True)
class MarketTick:
    """A trade on the market (anyone's): the last price, and what was traded."""

    time_ms: int
    """When the trade happened, ms since the epoch."""
    price: float
    """Deal price, EUR/kWh."""
    energy_wh: float
    """Energy traded, Wh."""
    start_ms: int
    """Delivery start of the traded flexibility."""
    end_ms: int | None = None
    """Delivery end (generation 2 ticker; generation-1 ticks do not say)."""
    power_w: float | None = None
    """Power traded (generation 2 ticker; generation-1 ticks do not say)."""
    generation: int = 1


@dataclass(frozen=True, slots=True)
class Fill:
    """One of your orders traded, all or part of it (one closed order or one contract)."""

    ref: str | None
    """Your order's ref; None when the runner could not tell which order it was."""
    side: OrderType
    price: float
    """Deal price, EUR/kWh (pay-as-bid: the buyer's limit price)."""
    power_w: float
    """Power traded in this match, W."""
    start_ms: int
    end_ms: int
    time_ms: int
    """When the match happened."""
    generation: int = 1
    contract_id: int | None = None
    """The generation-2 contract of this match."""

    @property
    def energy_wh(self) -> float:
        """Energy traded in this match, Wh: ``power_w * (end_ms - start_ms) / 3_600_000``."""
        return self.power_w * (self.end_ms - self.start_ms) / MS_PER_HOUR

    @property
    def value_eur(self) -> float:
        """Money of this match, EUR: ``price * energy_wh / 1000`` (received for an ASK, paid
        for a BID)."""
        return self.price * self.energy_wh / 1000.0


@dataclass(frozen=True, slots=True)
class OrderAccepted:
    """The market took your order ``ref``; ``market_id`` is its message id or order id."""

    ref: str
    market_id: str
    time_ms: int


@dataclass(frozen=True, slots=True)
class OrderClosed:
    """Your order ``ref`` ended without (further) trading.

    ``status`` is ``"cancelled"`` (by you or the market), ``"expired"`` (not matched in time) or
    ``"rejected"`` (never accepted: invalid, refused, or it could not be sent).
    """

    ref: str
    status: str
    reason: str
    time_ms: int


@dataclass(frozen=True, slots=True)
class ContractUpdate:
    """Generation 2: a contract of yours changed status (informational; fills come as `Fill`)."""

    contract_id: int
    status: str
    settlement_status: str
    verification_status: str
    time_ms: int
    ref: str | None = None
    """Your order in the contract, when the runner knows it."""


StrategyEvent: TypeAlias = Timer | MarketTick | Fill | OrderAccepted | OrderClosed | ContractUpdate
"""Everything a strategy receives."""


# --- actions ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    """Action: place an order to sell (ASK) or buy (BID) ``power_w`` over ``[start_ms, end_ms)``.

    ``price`` is EUR/kWh; the order expires (unmatched) at ``expiry_ms``, at or before the
    delivery start. Checked when built: power > 0, price >= 0, a window, expiry <= start.
    """

    ref: str
    side: OrderType
    power_w: float
    price: float
    start_ms: int
    end_ms: int
    expiry_ms: int

    def __post_init__(self) -> None:
        if not isinstance(self.side, OrderType):
            raise FlexValidationError("side", "must be OrderType.ASK or OrderType.BID", self.side)
        check_finite("power_w", self.power_w)
        check_finite("price", self.price, positive=False)
        check_window(self.start_ms, self.end_ms)
        if self.expiry_ms > self.start_ms:
            raise FlexValidationError("expiry_ms", "must not be after start_ms", self.expiry_ms)

    @property
    def energy_wh(self) -> float:
        """Energy of the whole order, Wh."""
        return self.power_w * (self.end_ms - self.start_ms) / MS_PER_HOUR

    def to_market_order(self) -> MarketOrder:
        """The generation-1 order (AMQP line protocol) for this action."""
        return MarketOrder(
            order_type=self.side,
            price_eur=self.price,
            resource=Flexibility(
                wattage=self.power_w,
                starttime=self.start_ms,
                duration=self.end_ms - self.start_ms,
                expirationtime=self.expiry_ms,
            ),
        )

    def to_order_spec(self, *, country_code: str = "") -> OrderSpec:
        """The generation-2 order (``POST /api/v1/order/``) for this action."""
        return OrderSpec(
            side=self.side.side,
            power_w=self.power_w,
            price_eur_per_kwh=self.price,
            delivery_start=_utc(self.start_ms),
            delivery_end=_utc(self.end_ms),
            expiry_time=_utc(self.expiry_ms),
            country_code=country_code,
        )


@dataclass(frozen=True, slots=True)
class CancelOrder:
    """Action: cancel your open order ``ref`` (generation 2; generation 1 cannot cancel)."""

    ref: str


StrategyAction: TypeAlias = PlaceOrder | CancelOrder
"""Everything a strategy may ask the runner to do."""


# --- the order book of a strategy ------------------------------------------------------------


class OrderState(enum.StrEnum):
    """Where an order of the strategy stands."""

    SENT = "sent"
    """Handed to the runner; the market has not confirmed it yet."""
    OPEN = "open"
    """Accepted by the market; may still trade."""
    FILLED = "filled"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REJECTED = "rejected"

    @property
    def is_open(self) -> bool:
        """Whether the order may still trade."""
        return self in (OrderState.SENT, OrderState.OPEN)


_CLOSED_STATES = {
    "cancelled": OrderState.CANCELLED,
    "expired": OrderState.EXPIRED,
    "rejected": OrderState.REJECTED,
}


@dataclass(slots=True)
class TrackedOrder:
    """An order the strategy placed, as the base class tracks it."""

    order: PlaceOrder
    state: OrderState = OrderState.SENT
    market_id: str | None = None
    filled_power_w: float = 0.0
    fills: list[Fill] = field(default_factory=list)
    reason: str = ""
    """Why it closed (for cancelled, expired and rejected orders)."""

    @property
    def ref(self) -> str:
        """The order's ref."""
        return self.order.ref

    @property
    def side(self) -> OrderType:
        """The order's side."""
        return self.order.side

    @property
    def remaining_power_w(self) -> float:
        """Power not traded yet, W."""
        return max(0.0, self.order.power_w - self.filled_power_w)

    @property
    def filled_energy_wh(self) -> float:
        """Energy traded so far, Wh."""
        return sum(f.energy_wh for f in self.fills)

    @property
    def is_open(self) -> bool:
        """Whether the order may still trade."""
        return self.state.is_open


# --- the strategy ----------------------------------------------------------------------------


class TradingStrategy:
    """Base class of trading strategies: events in, actions out; no I/O (see the module doc).

    Override the hooks you need. Each returns actions (an iterable, or ``None`` for none):

    - :meth:`on_timer` every ``timer_interval_ms`` of market time;
    - :meth:`on_tick` for every market trade;
    - :meth:`on_fill` when one of your orders trades;
    - :meth:`on_order_accepted`, :meth:`on_order_closed`, :meth:`on_contract`.

    Make orders with :meth:`place` (it makes the ref) and cancel them with :meth:`cancel`.
    The strategy's book is :attr:`orders` (ref -> :class:`TrackedOrder`). :meth:`telemetry`
    may return numbers worth plotting (a battery's state of charge, ...).

    ``name`` is the strategy's short name for the command line (``--strategy NAME``); a
    strategy the command line builds must be constructible without arguments.
    """

    name: ClassVar[str] = ""
    timer_interval_ms: int = 60_000
    """How often the runner sends :class:`Timer` events, ms of market time."""

    def __init__(self, *, ref_prefix: str | None = None) -> None:
        self.orders: dict[str, TrackedOrder] = {}
        self.now_ms: int = 0
        """The latest market time the strategy has seen (from timers and event times)."""
        self.last_price: float | None = None
        """The price of the last tick seen, EUR/kWh."""
        self._prefix = ref_prefix or (self.name or type(self).__name__).lower()
        self._seq = 0

    # -- the one entry point --

    def handle(self, event: StrategyEvent) -> list[StrategyAction]:
        """Update the book with ``event``, run the matching hook, return the actions to take."""
        actions: list[StrategyAction] = []
        if isinstance(event, Timer):
            self._see_time(event.now_ms)
            for expired in self._expire_due(event.now_ms):
                actions.extend(self._hook(self.on_order_closed(expired)))
            actions.extend(self._hook(self.on_timer(event.now_ms)))
        elif isinstance(event, MarketTick):
            self._see_time(event.time_ms)
            self.last_price = event.price
            actions.extend(self._hook(self.on_tick(event)))
        elif isinstance(event, Fill):
            self._see_time(event.time_ms)
            filled = self._apply_fill(event)
            actions.extend(self._hook(self.on_fill(event, filled)))
        elif isinstance(event, OrderAccepted):
            self._see_time(event.time_ms)
            accepted = self.orders.get(event.ref)
            if accepted is not None:
                accepted.market_id = event.market_id
                if accepted.state is OrderState.SENT:
                    accepted.state = OrderState.OPEN
                actions.extend(self._hook(self.on_order_accepted(accepted)))
        elif isinstance(event, OrderClosed):
            self._see_time(event.time_ms)
            closed = self.orders.get(event.ref)
            if closed is not None and closed.is_open:
                closed.state = _CLOSED_STATES.get(event.status, OrderState.CANCELLED)
                closed.reason = event.reason
                actions.extend(self._hook(self.on_order_closed(closed)))
        elif isinstance(event, ContractUpdate):
            self._see_time(event.time_ms)
            actions.extend(self._hook(self.on_contract(event)))
        else:
            raise TypeError(f"not a strategy event: {event!r}")
        for action in actions:
            if isinstance(action, PlaceOrder):
                self._track(action)
        return actions

    # -- hooks (override) --

    def on_timer(self, now_ms: int) -> Iterable[StrategyAction] | None:
        """Market time ``now_ms`` has come; return orders to place or cancel."""
        return None

    def on_tick(self, tick: MarketTick) -> Iterable[StrategyAction] | None:
        """A trade happened on the market (``self.last_price`` is already updated)."""
        return None

    def on_fill(self, fill: Fill, order: TrackedOrder | None) -> Iterable[StrategyAction] | None:
        """Your order traded (``order`` already counts the fill; None if not one of the book)."""
        return None

    def on_order_accepted(self, order: TrackedOrder) -> Iterable[StrategyAction] | None:
        """The market accepted your order."""
        return None

    def on_order_closed(self, order: TrackedOrder) -> Iterable[StrategyAction] | None:
        """Your order ended without (further) trading: see ``order.state`` and ``order.reason``."""
        return None

    def on_contract(self, update: ContractUpdate) -> Iterable[StrategyAction] | None:
        """Generation 2: a contract of yours changed status."""
        return None

    def telemetry(self) -> dict[str, float]:
        """Numbers worth recording over a run (plotted by ``--plot``); none by default."""
        return {}

    # -- helpers for subclasses --

    def new_ref(self) -> str:
        """A ref no order of this strategy has had."""
        self._seq += 1
        return f"{self._prefix}-{self._seq}"

    def place(
        self,
        side: OrderType,
        power_w: float,
        price: float,
        start_ms: int,
        end_ms: int,
        expiry_ms: int | None = None,
    ) -> PlaceOrder:
        """A new order with a fresh ref (expiring at the delivery start unless ``expiry_ms``)."""
        return PlaceOrder(
            ref=self.new_ref(),
            side=side,
            power_w=power_w,
            price=price,
            start_ms=start_ms,
            end_ms=end_ms,
            expiry_ms=start_ms if expiry_ms is None else expiry_ms,
        )

    def cancel(self, ref: str) -> CancelOrder:
        """Cancel the open order ``ref``."""
        return CancelOrder(ref)

    def open_orders(self, side: OrderType | None = None) -> list[TrackedOrder]:
        """The orders that may still trade (of ``side``, if given), oldest first."""
        return [t for t in self.orders.values() if t.is_open and (side is None or t.side is side)]

    def orders_for(self, side: OrderType, start_ms: int, end_ms: int) -> list[TrackedOrder]:
        """Every order of ``side`` for exactly the window ``[start_ms, end_ms)``, oldest first."""
        return [
            t
            for t in self.orders.values()
            if t.side is side and t.order.start_ms == start_ms and t.order.end_ms == end_ms
        ]

    # -- internals --

    def _see_time(self, time_ms: int) -> None:
        if time_ms > self.now_ms:
            self.now_ms = time_ms

    def _apply_fill(self, fill: Fill) -> TrackedOrder | None:
        """Count ``fill`` on its order (a late fill on a closed order counts too)."""
        tracked = self.orders.get(fill.ref) if fill.ref is not None else None
        if tracked is None:
            return None
        tracked.fills.append(fill)
        tracked.filled_power_w += fill.power_w
        if tracked.state is OrderState.SENT:
            tracked.state = OrderState.OPEN
        if tracked.remaining_power_w <= POWER_EPSILON_W and tracked.is_open:
            tracked.state = OrderState.FILLED
        return tracked

    def _track(self, action: PlaceOrder) -> None:
        if action.ref in self.orders:
            raise ValueError(f"order ref {action.ref!r} was used before")
        self.orders[action.ref] = TrackedOrder(action)

    def _expire_due(self, now_ms: int) -> list[TrackedOrder]:
        """Close open orders whose expiry has come: the market trades them no more."""
        expired: list[TrackedOrder] = []
        for tracked in self.orders.values():
            if tracked.is_open and tracked.order.expiry_ms <= now_ms:
                tracked.state = OrderState.EXPIRED
                tracked.reason = "expired"
                expired.append(tracked)
        return expired

    @staticmethod
    def _hook(result: Iterable[StrategyAction] | None) -> Sequence[StrategyAction]:
        return () if result is None else list(result)
