"""The bot runner: connections, events in, actions out, progress, shutdown; and ``flxtrd bot``.

Strategies (``flxtrd._strategy``) do no I/O. This module does it for them:

- a **connection** speaks one API generation: :class:`Gen1Connection` (orders over AMQP through
  ``FlexAPIClient.send_order``, replies from ``market_messages``) or :class:`Gen2Connection`
  (orders over REST ``client.orders``, events from the ``trade`` and ``ticker`` WebSocket
  streams; a contract becomes a :class:`~flxtrd.Fill` after one ``contracts.get``);
- a :class:`Bot` is one strategy on one connection: it turns market messages into strategy
  events, finds which order each concerns (generation 1: the message id for a ``cancel``; for a
  closed order, which carries no id, the oldest open order of the same side, window and power),
  carries out the actions (a failed send comes back to the strategy as an ``OrderClosed`` with
  status ``"rejected"``) and keeps :class:`BotStats` (orders, deals, energy, P&L);
- a :class:`BotRunner` drives several bots on one clock: :meth:`BotRunner.step` delivers what
  arrived, fires due timers, and with a ``settle`` function (the simulation's) repeats until
  the market has answered everything;
- :class:`SandboxSimulation` runs bots against an embedded sandbox market (``flxtrd.sandbox``)
  on a ``ManualClock``: the simulated hour takes as long as the orders take, not an hour;
- :func:`add_bot_parser` / :func:`run_bot`: ``python -m flxtrd bot``.

What the strategy sees of each market message::

    generation 1 (AMQP reply)         generation 2 (WebSocket stream)          strategy event
    tick                              ticker                                   MarketTick
    ask/bid_closed_order              contract_status_update (new contract)    Fill
    cancel (with the message id)      order_status_update cancelled/expired    OrderClosed
    -                                 contract_status_update                   ContractUpdate
    broker confirm (send_order)       201/200 of orders.place                  OrderAccepted
    send refused (FlexError)          place refused (FlexError)                OrderClosed rejected

Other generation-2 order statuses (``accepted``, ``filled``, ...) add nothing the events above
do not say, and are not passed on.

Retries: connecting is retried with backoff (``BotRunner.open(retry=...)``; ``flxtrd bot
--market`` uses :data:`CONNECT_RETRY`); REST calls retry inside the client and the AMQP
connection reconnects by itself; a connection error while polling is logged, counted and
retried on the next step, so a bot keeps running through an outage. Shutdown closes every
connection; Ctrl-C and SIGTERM end a run with the summary.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import queue
import random
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from flxtrd._bounds import MAX_DURATION_MS
from flxtrd._cli_args import positive_factor, seconds
from flxtrd._defaults import ENV_MARKET_URL, ENV_PASSWORD, ENV_USERNAME
from flxtrd._errors import FlexConnectionError, FlexError, FlexTimeoutError
from flxtrd._log import get_logger
from flxtrd._retry import RetryPolicy
from flxtrd._strategies import BUILTIN_STRATEGIES, FixedMarginSeller, RandomBot, TickFollowingBuyer
from flxtrd._strategy import (
    POWER_EPSILON_W,
    QUARTER_HOUR_MS,
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
from flxtrd._types import OrderType, User
from flxtrd._validation import require_duration_ms, require_wait

if TYPE_CHECKING:
    from flxtrd._amqp._market_messages import MarketMessage
    from flxtrd._audit_plugin import AuditLogPlugin
    from flxtrd._client import FlexAPIClient
    from flxtrd._streams import MarketStream
    from flxtrd.sandbox import EmbeddedSandbox, ManualClock, SandboxMarket

__all__ = [
    "Bot",
    "BotRunner",
    "BotStats",
    "Gen1Connection",
    "Gen2Connection",
    "Incoming",
    "MarketConnection",
    "RunTimeline",
    "SandboxSimulation",
    "add_bot_parser",
    "format_progress",
    "format_summary",
    "gen1_events",
    "gen2_events",
    "load_strategy",
    "run_bot",
]

_logger = get_logger("bot")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
CONNECT_RETRY = RetryPolicy(max_retries=5, initial_delay_s=1.0, max_delay_s=30.0, jitter=0.25)
"""How ``flxtrd bot --market`` retries connecting: 1, 2, 4, 8, 16 s apart (less up to 25 %)."""
SETTLE_TIMEOUT_S = 10.0
"""Longest wait for the embedded sandbox's broker to handle the orders sent."""


def _ms(moment: datetime) -> int:
    """An aware datetime as ms since the epoch (exact, no float rounding)."""
    return (moment - _EPOCH) // _ONE_MS


def wall_ms() -> int:
    """The wall clock, ms since the epoch."""
    return time.time_ns() // 1_000_000


# --- market messages -> strategy events --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Incoming:
    """A market event for one bot, before the bot knows which of its orders it concerns.

    ``market_id`` is the order's message id (generation 1) or order id (generation 2) when the
    market said it; ``order_power_w`` the power of the order a generation-1 closed order
    belongs to (closed orders carry no id).
    """

    event: StrategyEvent
    market_id: str | None = None
    order_power_w: float | None = None


def gen1_events(message: MarketMessage, now_ms: int) -> list[Incoming]:
    """The strategy events of one generation-1 reply (``now_ms`` dates a ``cancel``)."""
    from glocalflex_messages.models import AskClosedOrder, BidClosedOrder, Cancel
    from glocalflex_messages.models import Tick as TickModel

    model = message.model
    if isinstance(model, TickModel):
        tick = MarketTick(
            time_ms=_ms(model.trade_time),
            price=model.price,
            energy_wh=model.energy,
            start_ms=_ms(model.start_time),
            generation=1,
        )
        return [Incoming(tick)]
    if isinstance(model, (AskClosedOrder, BidClosedOrder)):
        closed = model.closed_order
        fill = Fill(
            ref=None,
            side=OrderType.ASK if isinstance(model, AskClosedOrder) else OrderType.BID,
            price=closed.price,
            power_w=closed.power,
            start_ms=closed.starttime,
            end_ms=closed.starttime + closed.runtime,
            time_ms=closed.match_time // 1_000_000,
            generation=1,
        )
        return [Incoming(fill, order_power_w=closed.wattage)]
    if isinstance(model, Cancel):
        message_id = model.message_id if isinstance(model.message_id, str) else None
        if message_id is None:
            _logger.info("a cancel without a message id: %s", model.reason)
            return []
        status = "expired" if model.reason.startswith("expired") else "cancelled"
        closed_event = OrderClosed(ref="", status=status, reason=model.reason, time_ms=now_ms)
        return [Incoming(closed_event, market_id=message_id)]
    return []  # pragma: no cover - the reply union has no other member


def gen2_events(model: Any, now_ms: int) -> list[Incoming]:
    """The strategy events of one generation-2 stream model (ticker and order status).

    Contracts need a REST call to become fills; :class:`Gen2Connection` does that.
    """
    from glocalflex_messages.models import OrderStatusUpdate, Ticker

    if isinstance(model, Ticker):
        data = model.data
        tick = MarketTick(
            time_ms=_ms(data.trade_time),
            price=data.price,
            energy_wh=data.energy,
            start_ms=_ms(data.delivery_start),
            end_ms=_ms(data.delivery_end),
            power_w=data.power,
            generation=2,
        )
        return [Incoming(tick)]
    if isinstance(model, OrderStatusUpdate):
        update = model.data
        status = str(update.status)
        if status in ("cancelled", "expired"):
            closed = OrderClosed(
                ref="",
                status=status,
                reason=f"order {update.order_id} {status}",
                time_ms=_ms(update.timestamp),
            )
            return [Incoming(closed, market_id=str(update.order_id))]
    return []


# --- connections -------------------------------------------------------------------------------


class MarketConnection(Protocol):
    """What a :class:`Bot` needs of the market: place, cancel, poll, and a count of orders."""

    generation: int
    published: int
    """Orders handed to the market so far."""

    def open(self) -> None:
        """Authenticate and connect."""

    def place(self, order: PlaceOrder) -> str:
        """Send ``order``; return its market id; raise a FlexError when it was not taken."""

    def cancel(self, market_id: str) -> bool:
        """Cancel an order; False when this generation cannot cancel."""

    def poll(self, timeout: float, now_ms: int) -> list[Incoming]:
        """What arrived, waiting at most ``timeout`` s for the first message."""

    def close(self) -> None:
        """Disconnect."""


class Gen1Connection:
    """Generation 1: orders over AMQP (``send_order``), replies from ``market_messages``.

    ``on_reply`` sees every raw :class:`~flxtrd.MarketMessage` (an audit log, say).
    """

    generation = 1

    def __init__(
        self, client: FlexAPIClient, *, on_reply: Callable[[MarketMessage], None] | None = None
    ) -> None:
        self.client = client
        self.published = 0
        self._on_reply = on_reply

    def open(self) -> None:
        """Log in and connect to the broker."""
        self.client.connect()

    def place(self, order: PlaceOrder) -> str:
        """Send the order; return its message id once the broker has confirmed it."""
        response, err = self.client.send_order(order=order.to_market_order())
        if err is not None:
            raise err
        self.published += 1
        return str(response.order_response.message_id)

    def cancel(self, market_id: str) -> bool:
        """Generation 1 has no cancel: the order stays until it trades or expires."""
        return False

    def poll(self, timeout: float, now_ms: int) -> list[Incoming]:
        """The replies that arrived (waiting up to ``timeout`` s for the first)."""
        timeout = require_wait("timeout", timeout)
        messages: list[MarketMessage] = []
        for message in self.client.market_messages(timeout=timeout):
            messages.append(message)
            break
        if messages:
            messages.extend(self.client.market_messages(timeout=0))
        events: list[Incoming] = []
        for message in messages:
            if self._on_reply is not None:
                self._on_reply(message)
            events.extend(gen1_events(message, now_ms))
        return events

    def close(self) -> None:
        """Close the broker connection and the REST pool."""
        self.client.close()


def _baseline(order: PlaceOrder, now_ms: int) -> dict[str, Any]:
    """A sell order's baseline: the metering data of its window (an estimate, 15-min steps).

    The sandbox waits for a baseline before it matches a generation-2 sell; a real device
    sends its own metering data instead.
    """
    import uuid

    def iso(ms: int) -> str:
        return (_EPOCH + timedelta(milliseconds=ms)).strftime("%Y-%m-%dT%H:%M:%SZ")

    return {
        "metering_id": str(uuid.uuid4()),
        "created_at": iso(now_ms // 1000 * 1000),
        "reading_start": iso(order.start_ms),
        "reading_end": iso(order.end_ms),
        "resolution": 900,
        "direction": "production",
        "quality": "estimated",
        "energy_product": "active",
        "unit_measured": "kWh",
        "data_points": [
            {iso(t): round(order.power_w / 4000.0, 6)}
            for t in range(order.start_ms, order.end_ms, QUARTER_HOUR_MS)
        ],
    }


class Gen2Connection:
    """Generation 2: orders over REST, events from the ``trade`` and ``ticker`` streams.

    The streams are read by two daemon threads into a queue; ``poll`` drains it. A contract
    status update of a contract not seen before is looked up (``contracts.get``) and becomes a
    :class:`~flxtrd.Fill` for each of your orders in it. Sell orders carry a baseline built from
    the order (:func:`_baseline`) unless ``baseline=False``.
    """

    generation = 2

    def __init__(
        self,
        client: FlexAPIClient,
        *,
        stream_url: str | None = None,
        stream_transport: Any = None,
        country_code: str = "",
        baseline: bool = True,
        clock: Callable[[], int] = wall_ms,
        connect_timeout_s: float = 10.0,
    ) -> None:
        self.client = client
        self._connect_timeout_s = require_wait(
            "connect_timeout_s", connect_timeout_s, positive=True
        )
        self.published = 0
        self._stream_url = stream_url
        self._stream_transport = stream_transport
        self._country = country_code
        self._baseline = baseline
        self._clock = clock
        self._queue: queue.Queue[Any] = queue.Queue()
        self._mine: dict[int, OrderType] = {}
        self._contracts: set[int] = set()
        self.tickers_received = 0
        """Ticker events read from the stream so far (read by another thread)."""
        self.contracts_received: set[int] = set()
        """Ids of the contracts whose status updates the stream has brought."""
        self._stream: MarketStream | None = None
        self._subscriptions: list[Any] = []
        self._threads: list[threading.Thread] = []

    def open(self) -> None:
        """Get a token and start reading the trade and ticker streams."""
        from flxtrd._streams import MarketStream

        auth = self.client.auth
        if auth is None:
            raise FlexConnectionError("generation 2 needs the client's AuthPlugin for its token")
        auth.bearer_token()
        transport = self._stream_transport
        if transport is None and self.client.endpoint.sandbox:  # sandbox://: in this process
            from flxtrd.sandbox import embedded_transport

            transport = embedded_transport()
        stream = MarketStream(
            self._stream_url or self.client.base_url, auth.bearer_token, transport=transport
        )
        self._stream = stream
        # One stream at a time: each connects before the next starts (the embedded sandbox's
        # in-process transport mixes up WebSocket upgrades made at the same moment).
        deadline = time.monotonic() + self._connect_timeout_s
        pause = threading.Event()
        for kind in ("trade", "ticker"):
            subscription = stream.stream(kind)
            self._subscriptions.append(subscription)
            thread = threading.Thread(
                target=self._read, args=(subscription,), name=f"flxtrd-bot-{kind}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
            # Events of orders placed before the stream is connected would be lost.
            while subscription.stats.connects < 1:
                if not thread.is_alive() or time.monotonic() > deadline:
                    self.close()
                    raise FlexConnectionError(f"the {kind} stream did not connect")
                pause.wait(0.005)

    def _read(self, subscription: Iterator[Any]) -> None:
        from glocalflex_messages.models import ContractStatusUpdate, Ticker

        try:
            for event in subscription:
                model = event.model
                self._queue.put(model)
                if isinstance(model, Ticker):
                    self.tickers_received += 1
                elif isinstance(model, ContractStatusUpdate):
                    self.contracts_received.add(model.data.contract_id)
        except FlexError as exc:
            self._queue.put(exc)

    @property
    def order_ids(self) -> frozenset[int]:
        """The ids of the orders this connection placed."""
        return frozenset(self._mine)

    def place(self, order: PlaceOrder) -> str:
        """Place the order over REST; return its order id."""
        from glocalflex_rest.models import OrderRequest

        spec = order.to_order_spec(country_code=self._country)
        if order.side is OrderType.ASK and self._baseline:
            body = spec.to_body()
            body["baseline"] = _baseline(order, self._clock())
            placed = self.client.orders.place(OrderRequest.from_dict(body))
        else:
            placed = self.client.orders.place(spec)
        self._mine[placed.id] = order.side
        self.published += 1
        return str(placed.id)

    def cancel(self, market_id: str) -> bool:
        """Cancel the order over REST."""
        self.client.orders.cancel(int(market_id))
        return True

    def poll(self, timeout: float, now_ms: int) -> list[Incoming]:
        """The stream events that arrived (waiting up to ``timeout`` s for the first)."""
        timeout = require_wait("timeout", timeout)
        models: list[Any] = []
        with contextlib.suppress(queue.Empty):
            models.append(
                self._queue.get(timeout=timeout) if timeout > 0 else self._queue.get_nowait()
            )
            while True:
                models.append(self._queue.get_nowait())
        events: list[Incoming] = []
        for model in models:
            if isinstance(model, FlexError):
                raise model
            events.extend(self._contract_events(model, now_ms))
            events.extend(gen2_events(model, now_ms))
        return events

    def _contract_events(self, model: Any, now_ms: int) -> list[Incoming]:
        from glocalflex_messages.models import ContractStatusUpdate

        if not isinstance(model, ContractStatusUpdate):
            return []
        data = model.data
        events: list[Incoming] = []
        if data.contract_id not in self._contracts:
            self._contracts.add(data.contract_id)
            contract = self.client.contracts.get(data.contract_id)
            for order_id in (contract.buy_order_id, contract.sell_order_id):
                side = self._mine.get(order_id)
                if side is None:
                    continue
                fill = Fill(
                    ref=None,
                    side=side,
                    price=contract.price,
                    power_w=contract.power,
                    start_ms=_ms(contract.delivery_start),
                    end_ms=_ms(contract.delivery_end),
                    time_ms=_ms(data.timestamp),
                    generation=2,
                    contract_id=contract.id,
                )
                events.append(Incoming(fill, market_id=str(order_id)))
        update = ContractUpdate(
            contract_id=data.contract_id,
            status=str(data.status),
            settlement_status=str(data.settlement_status),
            verification_status=str(data.verification_status),
            time_ms=_ms(data.timestamp),
        )
        ids = [getattr(data, "buy_order_id", None), getattr(data, "sell_order_id", None)]
        mine = next((str(i) for i in ids if isinstance(i, int) and i in self._mine), None)
        events.append(Incoming(update, market_id=mine))
        return events

    def close(self) -> None:
        """Close the streams and the client."""
        if self._stream is not None:
            self._stream.close()
        for thread in self._threads:
            thread.join(5)
        self.client.close()


# --- one bot -----------------------------------------------------------------------------------


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
        clock: Callable[[], int] = wall_ms,
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


# --- several bots on one clock -----------------------------------------------------------------


@dataclass
class RunTimeline:
    """What a run saw over time: the market's ticks and each bot's telemetry."""

    ticks: list[tuple[int, float]] = field(default_factory=list)
    """(trade time ms, price EUR/kWh), each market trade once."""
    samples: dict[str, list[tuple[int, dict[str, float]]]] = field(default_factory=dict)
    """Bot name -> (time ms, the strategy's telemetry) after each step."""
    _seen: set[tuple[int, float, int, float]] = field(default_factory=set, repr=False)

    def add_tick(self, tick: MarketTick) -> None:
        """Record a tick unless another bot reported the same trade already."""
        key = (tick.time_ms, tick.price, tick.start_ms, tick.energy_wh)
        if key not in self._seen:
            self._seen.add(key)
            self.ticks.append((tick.time_ms, tick.price))


class BotRunner:
    """Drives bots on one clock; see :meth:`step`.

    Args:
        bots: the bots, in the order their timers fire within a step.
        clock: market time, ms since the epoch.
        settle: waits until the market has handled every order sent (simulation only); with
            it, a step repeats delivering until nothing new arrives.
        max_rounds: most delivery rounds per step.
    """

    def __init__(
        self,
        bots: Sequence[Bot],
        *,
        clock: Callable[[], int] = wall_ms,
        settle: Callable[[], None] | None = None,
        max_rounds: int = 20,
    ) -> None:
        self.bots = list(bots)
        self.clock = clock
        self.settle = settle
        self.max_rounds = max_rounds
        self.timeline = RunTimeline()
        self.started_ms: int | None = None
        self.now_ms: int | None = None
        for bot in self.bots:
            bot.listeners.append(self._observe)

    def _observe(self, event: StrategyEvent) -> None:
        if isinstance(event, MarketTick):
            self.timeline.add_tick(event)

    def open(
        self,
        *,
        retry: RetryPolicy | None = None,
        wait: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        """Connect every bot; a connection error is retried as ``retry`` says (default: not).

        If a bot cannot connect in the end, the bots already connected are closed again and
        the error is raised.
        """
        opened: list[Bot] = []
        try:
            for bot in self.bots:
                attempt = 0
                while True:
                    try:
                        bot.open()
                        break
                    except FlexConnectionError as exc:
                        if retry is None or attempt >= retry.max_retries:
                            raise
                        delay = retry.backoff_s(attempt, rng())
                        _logger.warning(
                            "bot %s cannot connect (%s); retrying in %.1f s", bot.name, exc, delay
                        )
                        wait(delay)
                        attempt += 1
                opened.append(bot)
        except BaseException:
            for bot in opened:
                bot.close()
            raise
        self.started_ms = self.clock()

    def step(self) -> None:
        """One step at the clock's time: deliver what arrived, fire due timers, deliver answers.

        With ``settle``, delivering repeats (settle, poll) until a round brings nothing new.
        """
        now = self.clock()
        self.now_ms = now
        self._deliver_round()
        for bot in self.bots:
            bot.timer(now)
        for _ in range(self.max_rounds):
            if self._deliver_round() == 0 or self.settle is None:
                break
        for bot in self.bots:
            telemetry = bot.strategy.telemetry()
            if telemetry:
                self.timeline.samples.setdefault(bot.name, []).append((now, telemetry))

    def _deliver_round(self) -> int:
        if self.settle is not None:
            self.settle()
        return sum(bot.poll(0.0) for bot in self.bots)

    def close(self) -> None:
        """Disconnect every bot."""
        for bot in self.bots:
            bot.close()


# --- the embedded sandbox on a simulated clock -------------------------------------------------


class SandboxSimulation:
    """Bots trading in an embedded sandbox market on a ``ManualClock``.

    ``strategies`` maps bot names to strategies (each bot logs in as ``<name>@sandbox.flxtrd``).
    The clock starts at ``start_ms`` (default: the current quarter hour) and moves in steps of
    ``step_ms``; each step expires what is due in the market, then runs
    :meth:`BotRunner.step`, whose ``settle`` waits until the market has answered everything:

    - generation 1: until the sandbox's broker (a thread) has handled every order sent;
    - generation 2 (REST orders, WebSocket streams): until every connection has read the
      ticker entry of every trade and the status of every contract of its orders.

    That is the only waiting, and it is for work, not for time. Generation 2 expires orders
    15 minutes before delivery: give its strategies ``expiry_lead_ms`` of at least that.

    Only one embedded sandbox can trade on ``memory://`` in a process: :meth:`start` closes the
    process-wide one (``sandbox://`` clients made elsewhere lose it).
    """

    def __init__(
        self,
        strategies: Mapping[str, TradingStrategy],
        *,
        start_ms: int | None = None,
        step_ms: int = 60_000,
        seed: int = 0,
        generation: int = 1,
        audit: AuditLogPlugin | None = None,
    ) -> None:
        from flxtrd.sandbox import EmbeddedSandbox, ManualClock

        step_ms = require_duration_ms("step_ms", step_ms, positive=True, maximum=MAX_DURATION_MS)
        if generation not in (1, 2):
            raise ValueError("generation must be 1 or 2")
        self.generation = generation
        start = start_ms if start_ms is not None else wall_ms() // QUARTER_HOUR_MS * QUARTER_HOUR_MS
        self.clock: ManualClock = ManualClock(start)
        self.start_ms = start
        self.step_ms = step_ms
        self.market: SandboxMarket = _SimulationMarket(clock=self.clock, seed=seed)
        self.sandbox: EmbeddedSandbox = EmbeddedSandbox(self.market, expiry_interval_s=None)
        self._strategies = dict(strategies)
        self._audit = audit
        self.bots: list[Bot] = []
        self.runner = BotRunner([], clock=self.clock.now_ms, settle=self.settle)
        self._started = False

    def client(self, name: str) -> FlexAPIClient:
        """A generation-1 client of the sandbox for account ``name`` (on the simulated clock)."""
        from flxtrd._client import FlexAPIClient

        clock = self.clock
        client = FlexAPIClient(
            base_url="sandbox://",
            user=User(name=f"{name}@sandbox.flxtrd", password="sandbox"),
            transport=self.sandbox.transport(),
            env={},
            clock=lambda: clock.now_ms() / 1000,
        )
        if self._audit is not None:
            client.add_plugin(self._audit)
        return client

    def start(self) -> SandboxSimulation:
        """Start the sandbox, connect every bot and run the first step."""
        from flxtrd.sandbox import reset_embedded_sandbox

        if self._started:
            return self
        reset_embedded_sandbox()
        self.sandbox.start()
        self._started = True
        try:
            for name, strategy in self._strategies.items():
                connection = self._connection(name)
                self.bots.append(Bot(name, strategy, connection, clock=self.clock.now_ms))
            self.runner = BotRunner(self.bots, clock=self.clock.now_ms, settle=self.settle)
            subscribed = _subscribers(self.market)
            self.runner.open()
            if self.generation == 2:
                # A stream's handshake can reach the client before the sandbox subscribes the
                # stream to market updates; wait until every stream (2 per bot) is subscribed.
                wanted = subscribed + 2 * len(self.bots)
                _wait_for(lambda: _subscribers(self.market) >= wanted, "the streams to subscribe")
            self.runner.step()
        except BaseException:
            self.close()
            raise
        return self

    def _connection(self, name: str) -> MarketConnection:
        """The connection of bot ``name`` for the simulation's generation."""
        from flxtrd._defaults import SANDBOX_BASE_URL

        client = self.client(name)
        if self.generation == 2:
            return Gen2Connection(
                client,
                stream_url=SANDBOX_BASE_URL,
                stream_transport=self.sandbox.transport(),
                clock=self.clock.now_ms,
            )
        on_reply = self._audit.record_reply if self._audit is not None else None
        return Gen1Connection(client, on_reply=on_reply)

    def settle(self) -> None:
        """Wait until the market has answered everything sent so far (see the class doc)."""
        if self.generation == 2:
            trades = len(self.market.last_trades(10**9, generation=2))
            contracts = self.market.engine.contracts()
            waits: list[tuple[str, Callable[[], bool]]] = []
            for bot in self.bots:
                conn = bot.connection
                if not isinstance(conn, Gen2Connection):  # pragma: no cover - made above
                    continue
                mine = conn.order_ids
                wanted = {
                    c.contract_id
                    for c in contracts
                    if c.buy_order_id in mine or c.sell_order_id in mine
                }
                what = f"{bot.name}: {trades} ticker entries, {len(wanted)} contracts"
                waits.append((what, _gen2_caught_up(conn, trades, wanted)))
            for what, done in waits:
                _wait_for(done, what)
            return
        worker = self.sandbox.broker
        if worker is None:  # pragma: no cover - the embedded sandbox always has one
            return
        sent = sum(bot.connection.published for bot in self.bots)
        _wait_for(lambda: worker.stats.acked >= sent, f"the broker to handle {sent} orders")

    def advance_to(self, time_ms: int) -> None:
        """Move the clock to ``time_ms`` in steps of ``step_ms``, running a step at each.

        ``time_ms`` is a finite number of ms since the epoch, at most ``MAX_TIME_MS``.
        """
        time_ms = require_duration_ms("time_ms", time_ms)
        self.start()
        while self.clock.now_ms() < time_ms:
            self.clock.set(min(time_ms, self.clock.now_ms() + self.step_ms))
            self.market.advance()
            self.runner.step()

    def run_for(self, duration_ms: int) -> None:
        """Run ``duration_ms`` of simulated time from now (a finite number of ms >= 0)."""
        duration_ms = require_duration_ms("duration_ms", duration_ms)
        self.advance_to(self.clock.now_ms() + duration_ms)

    @property
    def now_ms(self) -> int:
        """The simulated time."""
        return self.clock.now_ms()

    def close(self) -> None:
        """Disconnect every bot and stop the sandbox."""
        self.runner.close()
        for bot in self.bots:
            if bot not in self.runner.bots:
                bot.close()
        if self._started:
            self.sandbox.close()
        if self._audit is not None:
            self._audit.close()

    def __enter__(self) -> SandboxSimulation:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _make_simulation_market() -> type[SandboxMarket]:
    from flxtrd.sandbox import SandboxMarket as Base

    class SimulationMarket(Base):
        """A sandbox market that counts its live subscribers (the streams of the bots)."""

        live_subscribers = 0

        def subscribe(self, callback: Callable[[Any], None]) -> Callable[[], None]:
            """Subscribe, counting the subscription until it is ended."""
            unsubscribe = super().subscribe(callback)
            self.live_subscribers += 1
            ended = threading.Event()

            def counted_unsubscribe() -> None:
                if not ended.is_set():
                    ended.set()
                    self.live_subscribers -= 1
                unsubscribe()

            return counted_unsubscribe

    return SimulationMarket


def _SimulationMarket(**kwargs: Any) -> SandboxMarket:
    """A `SandboxMarket` that counts its live subscribers (see `_subscribers`)."""
    return _make_simulation_market()(**kwargs)


def _subscribers(market: SandboxMarket) -> int:
    """How many WebSocket streams receive ``market``'s updates now (one market subscription
    serves them all: the app's stream hub counts them)."""
    return market.streams_attached


def _gen2_caught_up(conn: Gen2Connection, trades: int, wanted: set[int]) -> Callable[[], bool]:
    """Whether ``conn`` has read ``trades`` ticker entries and the ``wanted`` contracts."""

    def done() -> bool:
        return conn.tickers_received >= trades and wanted <= conn.contracts_received

    return done


def _wait_for(done: Callable[[], bool], what: str) -> None:
    """Wait until ``done()`` (work another thread does); FlexTimeoutError after a while."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    pause = threading.Event()
    while not done():
        if time.monotonic() > deadline:
            raise FlexTimeoutError(f"the sandbox did not settle in {SETTLE_TIMEOUT_S:g} s: {what}")
        pause.wait(0.0005)  # the other thread is working; look again shortly


# --- progress and summary ----------------------------------------------------------------------


def _kwh(wh: float) -> str:
    return f"{wh / 1000:.2f}"


def _clock_text(ms: int) -> str:
    return (_EPOCH + timedelta(milliseconds=ms)).strftime("%H:%M")


def format_progress(runner: BotRunner, *, you: str | None = None) -> str:
    """One progress line: the market time, your bot's counts and P&L, and the market's trades."""
    now = runner.now_ms if runner.now_ms is not None else runner.clock()
    bots = [b for b in runner.bots if you is None or b.name == you] or runner.bots
    sent = sum(b.stats.orders_sent for b in bots)
    deals = sum(b.stats.deals for b in bots)
    sold = sum(b.stats.energy_sold_wh for b in bots)
    bought = sum(b.stats.energy_bought_wh for b in bots)
    pnl = sum(b.stats.pnl_eur for b in bots)
    ticks = runner.timeline.ticks
    last = f"{ticks[-1][1]:.4f}" if ticks else "-"
    line = (
        f"{_clock_text(now)} UTC | orders {sent} | deals {deals} | sold {_kwh(sold)} kWh"
        f" | bought {_kwh(bought)} kWh | P&L {pnl:+.2f} EUR | market trades {len(ticks)},"
        f" last {last} EUR/kWh"
    )
    if len(bots) == 1:
        soc = bots[0].strategy.telemetry().get("soc_pct")
        if soc is not None:
            line += f" | SoC {soc:.1f}%"
    return line


def format_summary(runner: BotRunner) -> str:
    """A table: per bot its strategy, orders, deals, energy and P&L; then the market's trades."""
    header = (
        "bot", "strategy", "orders", "rejected", "deals", "sold kWh", "bought kWh", "P&L EUR"
    )  # fmt: skip
    rows = [header]
    for bot in runner.bots:
        s = bot.stats
        strategy = bot.strategy.name or type(bot.strategy).__name__
        rows.append(
            (
                bot.name,
                strategy,
                str(s.orders_sent),
                str(s.orders_rejected),
                str(s.deals),
                _kwh(s.energy_sold_wh),
                _kwh(s.energy_bought_wh),
                f"{s.pnl_eur:+.2f}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    ticks = runner.timeline.ticks
    if ticks:
        prices = [p for _, p in ticks]
        lines.append(
            f"\nmarket: {len(ticks)} trades, price {min(prices):.4f}..{max(prices):.4f}"
            f" EUR/kWh, last {prices[-1]:.4f}"
        )
    else:
        lines.append("\nmarket: no trades")
    return "\n".join(line.rstrip() for line in lines)


# --- strategies by name ------------------------------------------------------------------------


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
    from flxtrd._energy import Battery, HeatPump

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


# --- the command line --------------------------------------------------------------------------


def add_bot_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``bot`` to the ``flxtrd`` command line (handler: :func:`run_bot`)."""
    names = ", ".join(sorted(BUILTIN_STRATEGIES))
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "bot",
        help="run a trading strategy with live progress and a summary",
        description=(
            "Run a trading strategy. --sandbox trades in the embedded sandbox market against a"
            " crowd of other bots on a simulated clock (--speed); --market trades on a market"
            " (credentials from FLXTRD_USERNAME and FLXTRD_PASSWORD)."
        ),
    )
    parser.add_argument(
        "--strategy",
        default="battery-seller",
        metavar="NAME|module:Class",
        help=f"a built-in strategy ({names}) or module:Class (default: battery-seller)",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--sandbox", action="store_true", help="trade in the embedded sandbox with other bots"
    )
    where.add_argument("--market", default=None, help="market URL (default: FLXTRD_MARKET_URL)")
    parser.add_argument(
        "--duration", type=seconds, default=60.0, metavar="S", help="seconds to run (default 60)"
    )
    parser.add_argument(
        "--speed",
        type=positive_factor,
        default=60.0,
        metavar="X",
        help="--sandbox: simulated seconds per second (default 60: a minute shows an hour)",
    )
    parser.add_argument(
        "--crowd", type=int, default=4, metavar="N", help="--sandbox: other bots (default 4)"
    )
    parser.add_argument("--seed", type=int, default=0, help="--sandbox: random seed (default 0)")
    parser.add_argument(
        "--generation", type=int, choices=(1, 2), default=1, help="--market: API generation"
    )
    parser.add_argument("--broker", default=None, help="--market: broker URL (generation 1)")
    parser.add_argument(
        "--insecure", action="store_true", help="do not verify TLS certificates (development)"
    )
    parser.add_argument(
        "--plot",
        metavar="FILE",
        default=None,
        help="write a plot of the run (price ticks, state of charge) to FILE (.png, .svg, .pdf);"
        " needs matplotlib: pip install 'flxtrd[plot]'",
    )
    parser.add_argument(
        "--audit", metavar="FILE", default=None, help="append an audit log (JSON lines) to FILE"
    )
    parser.set_defaults(handler=run_bot)
    return parser


class _Stop:
    """Set by SIGTERM (and by Ctrl-C through KeyboardInterrupt)."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self._previous: Any = None

    def __enter__(self) -> _Stop:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._on_signal)
        return self

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.event.set()

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)


def run_bot(
    args: argparse.Namespace,
    *,
    out: TextIO | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    wait: Callable[[float], None] | None = None,
) -> int:
    """Run ``python -m flxtrd bot``; return the exit code.

    ``out`` (default stdout), ``monotonic`` and ``wait`` are injectable for tests.
    """
    out = out or sys.stdout
    try:
        strategy = load_strategy(args.strategy)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.plot is not None:
        from flxtrd._plot import matplotlib_missing_message

        missing = matplotlib_missing_message()
        if missing is not None:
            print(f"error: --plot: {missing}", file=sys.stderr)
            return EXIT_USAGE
    audit = None
    if args.audit is not None:
        from flxtrd._audit_plugin import AuditLogPlugin

        audit = AuditLogPlugin(args.audit)
    with _Stop() as stop:

        def pause(seconds: float) -> None:
            if wait is not None:
                wait(seconds)
            else:
                stop.event.wait(seconds)

        if args.sandbox:
            code, runner = _run_sandbox(args, strategy, out, monotonic, pause, stop, audit)
        else:
            code, runner = _run_market(args, strategy, out, monotonic, pause, stop, audit)
    if runner is not None and runner.started_ms is not None:
        out.write("\n" + format_summary(runner) + "\n")
        if args.plot is not None:
            from flxtrd._plot import plot_run

            path = plot_run(runner.timeline, args.plot)
            out.write(f"plot written to {path}\n")
    return code


def _progress(out: TextIO, runner: BotRunner) -> None:
    out.write(format_progress(runner, you="you") + "\n")
    out.flush()


def _run_sandbox(
    args: argparse.Namespace,
    strategy: TradingStrategy,
    out: TextIO,
    monotonic: Callable[[], float],
    wait: Callable[[float], None],
    stop: _Stop,
    audit: AuditLogPlugin | None,
) -> tuple[int, BotRunner | None]:
    bots = {"you": strategy, **sandbox_crowd(args.seed, max(0, args.crowd))}
    sim = SandboxSimulation(bots, seed=args.seed, audit=audit)
    out.write(
        f"flxtrd bot: {args.strategy} and {len(bots) - 1} other bots in the embedded sandbox,"
        f" {args.duration:g} s at {args.speed:g}x ({args.duration * args.speed / 60:g} simulated"
        " minutes)\n"
    )
    code = EXIT_OK
    try:
        sim.start()
        began = monotonic()
        shown = began
        while not stop.event.is_set():
            elapsed = min(args.duration, monotonic() - began)
            sim.advance_to(sim.start_ms + int(elapsed * args.speed * 1000))
            if monotonic() - shown >= 1.0 or elapsed >= args.duration:
                shown = monotonic()
                _progress(out, sim.runner)
            if elapsed >= args.duration:
                break
            wait(0.05)
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    except FlexError as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = EXIT_ERROR
    finally:
        sim.close()
    return code, sim.runner


def _run_market(
    args: argparse.Namespace,
    strategy: TradingStrategy,
    out: TextIO,
    monotonic: Callable[[], float],
    wait: Callable[[float], None],
    stop: _Stop,
    audit: AuditLogPlugin | None,
) -> tuple[int, BotRunner | None]:
    from flxtrd._client import FlexAPIClient

    market = args.market or os.environ.get(ENV_MARKET_URL)
    client = FlexAPIClient(
        base_url=market,
        user=User(name=os.environ.get(ENV_USERNAME), password=os.environ.get(ENV_PASSWORD)),
        broker_url=args.broker,
        verify_ssl=not args.insecure,
    )
    if audit is not None:
        client.add_plugin(audit)
    connection: MarketConnection
    if args.generation == 2:
        connection = Gen2Connection(client)
    else:
        connection = Gen1Connection(
            client, on_reply=audit.record_reply if audit is not None else None
        )
    runner = BotRunner([Bot("you", strategy, connection)])
    out.write(
        f"flxtrd bot: {args.strategy} on {client.base_url} (generation {args.generation}),"
        f" {args.duration:g} s\n"
    )
    code = EXIT_OK
    try:
        runner.open(retry=CONNECT_RETRY, wait=wait)
        began = monotonic()
        shown = began
        while not stop.event.is_set() and monotonic() - began < args.duration:
            runner.step()
            if monotonic() - shown >= 1.0:
                shown = monotonic()
                _progress(out, runner)
            wait(0.2)
        _progress(out, runner)
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    except FlexError as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = EXIT_ERROR
    finally:
        runner.close()
        if audit is not None:
            audit.close()
    return code, runner
