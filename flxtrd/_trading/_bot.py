"""One strategy on one connection: events in, actions out, and the bot's counts.

A :class:`Bot` turns what its connection read (:class:`~flxtrd._trading._events.Incoming`)
into strategy events, finds which order each concerns (generation 1: the message id for a
``cancel``; for a closed order, which carries no id, the oldest open order of the same side,
window and power), carries out the strategy's actions (a failed send comes back to the strategy
as an ``OrderClosed`` with status ``"rejected"``) and keeps :class:`BotStats` (orders, deals,
energy, P&L). Several bots on one clock: :mod:`flxtrd._trading._runner`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from flxtrd._errors import FlexConnectionError, FlexError
from flxtrd._log import get_logger
from flxtrd._trading._strategy import (
    POWER_EPSILON_W,
    CancelOrder,
    ContractUpdate,
    Fill,
    MarketTick,
    OrderAccepted,
    OrderClosed,
    PlaceOrder,
    StrategyAction,
    StrategyEvent,
    Timer,
    TradingStrategy,
)
from flxtrd._types import OrderType
from flxtrd._validation import current_time_ms, require_wait

if TYPE_CHECKING:
    from flxtrd._trading._connections import MarketConnection
    from flxtrd._trading._events import Incoming

__all__ = ["Bot", "BotStats", "FillTotals", "count_fill"]

_logger = get_logger("bot")


@dataclass
class BotStats:
    """What a bot has done so far."""

    orders_sent: int = 0
    """Orders the market took."""
    orders_rejected: int = 0
    """Orders that could not be sent or that the market refused."""
    deals: int = 0
    """Fills (closed orders or contracts) of the bot's orders."""
    energy_sold_wh: float = 0.0
    energy_bought_wh: float = 0.0
    revenue_eur: float = 0.0
    """Money received for energy sold, EUR."""
    cost_eur: float = 0.0
    """Money paid for energy bought, EUR."""
    errors: int = 0
    """Connection errors while polling (each retried on the next step)."""
    last_price: float | None = None
    """The price of the last tick the bot saw, EUR/kWh."""

    @property
    def pnl_eur(self) -> float:
        """Revenue minus cost, EUR."""
        return self.revenue_eur - self.cost_eur


class FillTotals(Protocol):
    """Totals a fill adds to: a :class:`BotStats`, a fleet device's ``DeviceStats``."""

    deals: int
    energy_sold_wh: float
    energy_bought_wh: float
    revenue_eur: float
    cost_eur: float


def count_fill(totals: FillTotals, fill: Fill) -> None:
    """Add one fill to ``totals``: a deal, its energy and its money (sold or bought)."""
    totals.deals += 1
    if fill.side is OrderType.ASK:
        totals.energy_sold_wh += fill.energy_wh
        totals.revenue_eur += fill.value_eur
    else:
        totals.energy_bought_wh += fill.energy_wh
        totals.cost_eur += fill.value_eur


class Bot:
    """One strategy trading on one connection (see the module doc)."""

    def __init__(
        self,
        name: str,
        strategy: TradingStrategy,
        connection: MarketConnection,
        *,
        clock: Callable[[], int] = current_time_ms,
    ) -> None:
        self.name = name
        self.strategy = strategy
        self.connection = connection
        self.clock = clock
        self.stats = BotStats()
        self.next_timer_ms: int | None = None
        self.listeners: list[Callable[[StrategyEvent], None]] = []
        """Called with every event before the strategy sees it (the runner records ticks)."""
        self._refs: dict[str, str] = {}
        """Market id -> the strategy's ref."""

    def open(self) -> None:
        """Connect."""
        self.connection.open()

    def close(self) -> None:
        """Disconnect (errors are logged, never raised)."""
        try:
            self.connection.close()
        except Exception as exc:
            _logger.warning("closing bot %s failed: %s", self.name, exc)

    def timer(self, now_ms: int) -> bool:
        """Fire the strategy's timer if it is due; return whether it fired."""
        if self.next_timer_ms is not None and now_ms < self.next_timer_ms:
            return False
        self.next_timer_ms = now_ms + max(1, self.strategy.timer_interval_ms)
        self.feed(Timer(now_ms))
        return True

    def poll(self, timeout: float = 0.0) -> int:
        """Deliver what arrived; return how many events. Connection errors are counted."""
        timeout = require_wait("timeout", timeout)
        try:
            incoming = self.connection.poll(timeout, self.clock())
        except FlexConnectionError as exc:
            self.stats.errors += 1
            _logger.warning("bot %s: %s (retrying on the next step)", self.name, exc)
            return 0
        for item in incoming:
            self.deliver(item)
        return len(incoming)

    def deliver(self, item: Incoming) -> None:
        """Find the order ``item`` concerns and feed its event to the strategy."""
        event = item.event
        ref = self._refs.get(item.market_id) if item.market_id is not None else None
        if isinstance(event, Fill):
            if ref is None and event.generation == 1:
                ref = self._match_closed_order(event, item.order_power_w)
            event = replace(event, ref=ref)
        elif isinstance(event, OrderClosed):
            if ref is None:
                return  # not one of ours (or from before this run)
            event = replace(event, ref=ref)
            if event.status == "rejected":
                self.stats.orders_rejected += 1
        elif isinstance(event, ContractUpdate):
            event = replace(event, ref=ref)
        self.feed(event)

    def _match_closed_order(self, fill: Fill, order_power_w: float | None) -> str | None:
        """The oldest order a generation-1 closed order can belong to (they carry no id)."""
        candidates = [
            t
            for t in self.strategy.orders_for(fill.side, fill.start_ms, fill.end_ms)
            if t.market_id is not None
            and (order_power_w is None or abs(t.order.power_w - order_power_w) < 1e-6)
        ]
        for t in candidates:  # an order with room for this fill first, then any
            if t.remaining_power_w + POWER_EPSILON_W >= fill.power_w:
                return t.ref
        return candidates[0].ref if candidates else None

    def feed(self, event: StrategyEvent) -> None:
        """Hand ``event`` to the strategy and carry out its actions (and their consequences)."""
        pending: deque[StrategyEvent] = deque([event])
        while pending:
            current = pending.popleft()
            self._count(current)
            for listener in self.listeners:
                listener(current)
            for action in self.strategy.handle(current):
                pending.extend(self._execute(action))

    def _count(self, event: StrategyEvent) -> None:
        stats = self.stats
        if isinstance(event, MarketTick):
            stats.last_price = event.price
        elif isinstance(event, Fill):
            count_fill(stats, event)

    def _execute(self, action: StrategyAction) -> list[StrategyEvent]:
        """Carry out one action; return the events it causes (accepted, or rejected)."""
        now = self.clock()
        if isinstance(action, PlaceOrder):
            try:
                market_id = self.connection.place(action)
            except FlexError as exc:
                self.stats.orders_rejected += 1
                _logger.info("bot %s: order %s not placed: %s", self.name, action.ref, exc)
                return [OrderClosed(action.ref, "rejected", str(exc), now)]
            self.stats.orders_sent += 1
            self._refs[market_id] = action.ref
            return [OrderAccepted(action.ref, market_id, now)]
        if isinstance(action, CancelOrder):
            tracked = self.strategy.orders.get(action.ref)
            if tracked is None or tracked.market_id is None or not tracked.is_open:
                return []
            try:
                if not self.connection.cancel(tracked.market_id):
                    _logger.warning(
                        "bot %s: generation 1 cannot cancel order %s; it stays until it expires",
                        self.name,
                        action.ref,
                    )
            except FlexError as exc:
                _logger.info("bot %s: cancelling %s failed: %s", self.name, action.ref, exc)
            return []
        raise TypeError(f"not an action: {action!r}")  # pragma: no cover - typed
