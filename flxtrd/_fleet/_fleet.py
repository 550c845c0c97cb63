"""The generation-1 fleet: many devices, one process, one I/O loop, strategies per device.

A :class:`Fleet` holds N :class:`~flxtrd.FleetDevice` s. Each has its own broker login and
exclusive reply queue (the market allows one live connection per application key) and so its
own :class:`~flxtrd.AmpqAPI`; all of them run on one :class:`~flxtrd._fleet._loop.FleetLoop` in
the calling thread (see there for why). Replies reach the device whose queue they came through
(``on_message`` of its connection), so routing needs no lookup.

Trading
-------
- :meth:`Fleet.place` sends a batch of ``(device_id, order)`` pairs across the devices and
  returns one :class:`~flxtrd.FleetOutcome` per order, in order: confirmed by the broker, or
  the error (not connected, refused before sending, unroutable, nacked, in doubt).
- :meth:`Fleet.step` runs strategies: each device's own :class:`~flxtrd.TradingStrategy`
  (through a :class:`~flxtrd.Bot`, as ``flxtrd bot`` does) or one
  :class:`~flxtrd.PortfolioStrategy` for all devices. Orders the strategies place in a step are
  published together and confirmed together; an order that fails comes back to its strategy as
  an ``OrderClosed`` with status ``"rejected"``.

Message ids are ``<run>:<device_id>:<sequence>`` (the device's order count, from
``first_sequence``; ``run`` a random name per fleet unless given),
so a process that takes a device over (:mod:`flxtrd._fleet._shards`) and re-sends from the last
confirmed sequence re-uses the same ids and the market drops the duplicates.

Bad devices do not stop the fleet: a duplicated device id is refused before anything connects
(naming the id); bad credentials or a reply queue locked by another process leave that device's
error in its :class:`~flxtrd.DeviceStats` (``error``), and every order for it fails with that
error, while the other devices trade.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from flxtrd._amqp._api import AmpqAPI
from flxtrd._defaults import DEFAULT_CONFIRM_TIMEOUT_S
from flxtrd._errors import FlexError, FlexValidationError
from flxtrd._log import get_logger
from flxtrd._trading._bot import Bot, count_fill
from flxtrd._trading._events import Incoming, gen1_events
from flxtrd._trading._strategy import (
    Fill,
    OrderClosed,
    PlaceOrder,
    StrategyAction,
    StrategyEvent,
    TradingStrategy,
)
from flxtrd._validation import current_time_ms

from ._loop import DEFAULT_CONNECT_CONCURRENCY, DeviceLink, FleetLoop
from ._model import (
    DeviceAction,
    DeviceStats,
    FleetDevice,
    FleetOutcome,
    FleetStats,
    PortfolioStrategy,
    check_device_ids,
    check_run,
    order_message_id,
)

if TYPE_CHECKING:
    from flxtrd._amqp._market_messages import MarketMessage

__all__ = ["Fleet"]

_log = get_logger("fleet")
_NO_OUTCOME = FleetOutcome("", "", None, None, FlexError("the order has no outcome"))


class _PortfolioBook(TradingStrategy):
    """A device's order book under a portfolio strategy: it forwards events, keeps the book."""

    def __init__(self, fleet: Fleet, device_id: str, portfolio: PortfolioStrategy) -> None:
        super().__init__(ref_prefix=device_id)
        self.timer_interval_ms = 2**62  # the portfolio has one timer for the fleet
        self._fleet = fleet
        self._device_id = device_id
        self._portfolio = portfolio

    def handle(self, event: StrategyEvent) -> list[StrategyAction]:
        """Book-keep ``event``, let the portfolio react; keep this device's actions."""
        super().handle(event)
        found = self._portfolio.on_event(self._device_id, event)
        return self._fleet._split(self._device_id, found)


class _Gen1Link:
    """A :class:`~flxtrd._trading._connections.MarketConnection` for one fleet device: places
    into the loop."""

    generation = 1

    def __init__(self, fleet: Fleet, link: DeviceLink) -> None:
        self._fleet = fleet
        self._link = link
        self.published = 0

    def open(self) -> None:
        """The fleet connects devices (in bulk); nothing to do per bot."""

    def place(self, order: PlaceOrder) -> str:
        """Queue the order; its confirm (or error) arrives with the fleet's next I/O."""
        message_id = self._fleet._next_message_id(self._link)
        self._fleet._loop.submit(
            self._link, order.to_market_order(), message_id, self._fleet._strategy_outcome
        )
        self.published += 1
        return message_id

    def cancel(self, market_id: str) -> bool:
        """Generation 1 has no cancel: the order stays until it trades or expires."""
        return False

    def poll(self, timeout: float, now_ms: int) -> list[Incoming]:
        """Replies are routed by the fleet (see :meth:`Fleet.step`)."""
        return []

    def close(self) -> None:
        """The fleet closes the connections."""


class Fleet:
    """Many generation-1 devices traded from one process on one I/O loop (see the module).

    Args:
        devices: the devices (ids unique; checked before anything connects).
        broker_url: the market's broker (``amqps://...``, ``amqp://...`` or ``memory://``).
        portfolio: one strategy for every device instead of each device's own.
        connect_concurrency: devices connecting at the same time.
        max_in_flight: orders per device waiting for their confirm at once.
        confirm_timeout: seconds an order may wait for its confirm (then it is in doubt).
        first_sequence: the first order sequence number per device (``device_id`` -> n),
            for a fleet that resumes devices another process ran.
        run: the run's name in every message id (default: random, so a new fleet's orders are
            never mistaken for an earlier run's duplicates); a take-over passes the run's.
        clock: market time in ms since the epoch (strategies' timers).
        amqp_options: more keyword arguments of each device's :class:`~flxtrd.AmpqAPI`
            (``verify_ssl``, ``ca_bundle``, ``declare_exchanges``, ``heartbeat``...).
    """

    def __init__(
        self,
        devices: Iterable[FleetDevice],
        *,
        broker_url: str,
        portfolio: PortfolioStrategy | None = None,
        connect_concurrency: int = DEFAULT_CONNECT_CONCURRENCY,
        max_in_flight: int = 256,
        confirm_timeout: float = DEFAULT_CONFIRM_TIMEOUT_S,
        first_sequence: Mapping[str, int] | None = None,
        run: str | None = None,
        clock: Callable[[], int] = current_time_ms,
        **amqp_options: Any,
    ) -> None:
        devices = list(devices)
        for device in devices:
            if not isinstance(device, FleetDevice):
                raise FlexValidationError("devices", "must be FleetDevice objects", device)
        check_device_ids(d.device_id for d in devices)
        keys: dict[str, str] = {}
        for d in devices:
            other = keys.setdefault(d.application_key, d.device_id)
            if other != d.device_id:
                raise FlexValidationError(
                    "application_key",
                    f"must differ between devices; {other!r} and {d.device_id!r} share it"
                    " (one live connection per key)",
                    d.application_key,
                )
        self.run = check_run(run) if run is not None else uuid.uuid4().hex[:8]
        self.devices = devices
        self.broker_url = broker_url
        self.portfolio = portfolio
        self.clock = clock
        self._links: dict[str, DeviceLink] = {}
        self._bots: dict[str, Bot] = {}
        self._seq: dict[str, int] = dict(first_sequence or {})
        self._deferred: list[DeviceAction] = []
        self._next_portfolio_timer: int | None = None
        for d in devices:
            link = DeviceLink(d.device_id, self._make_api(d, confirm_timeout, amqp_options))
            self._links[d.device_id] = link
            self._seq.setdefault(d.device_id, 1)
            strategy: TradingStrategy | None = d.strategy
            if portfolio is not None:
                strategy = _PortfolioBook(self, d.device_id, portfolio)
            if strategy is not None:
                bot = Bot(d.device_id, strategy, _Gen1Link(self, link), clock=clock)
                self._bots[d.device_id] = bot
        self._loop = FleetLoop(
            list(self._links.values()),
            connect_concurrency=connect_concurrency,
            max_in_flight=max_in_flight,
            confirm_timeout=confirm_timeout,
        )

    def _make_api(
        self, device: FleetDevice, confirm_timeout: float, options: Mapping[str, Any]
    ) -> AmpqAPI:
        def on_message(message: MarketMessage) -> None:
            self._on_reply(device.device_id, message)

        api = AmpqAPI(
            self.broker_url,
            device.user_id,
            device.access_token,
            device.application_key,
            on_message=on_message,
            confirm_timeout=confirm_timeout,
            connection_name=f"flxtrd fleet {device.device_id}",
            **options,
        )
        return api

    # -- introspection --

    def __len__(self) -> int:
        return len(self._links)

    def __repr__(self) -> str:
        s = self.stats
        return f"<Fleet {s.devices} devices, {s.connected} connected, {s.confirmed} confirmed>"

    @property
    def device_ids(self) -> list[str]:
        """The device ids, in the order given."""
        return list(self._links)

    def device(self, device_id: str) -> DeviceStats:
        """The totals of one device (``error`` says why it is not trading, if it is not)."""
        link = self._links.get(device_id)
        if link is None:
            raise FlexValidationError("device_id", "must name a device of the fleet", device_id)
        return link.stats

    def book(self, device_id: str) -> TradingStrategy | None:
        """The strategy (or portfolio order book) of ``device_id``."""
        bot = self._bots.get(device_id)
        return None if bot is None else bot.strategy

    @property
    def stats(self) -> FleetStats:
        """Fleet totals (sums of :meth:`device` over the devices)."""
        return FleetStats.of([self.device(i) for i in self._links])

    @property
    def errors(self) -> dict[str, FlexError]:
        """Why devices are not trading, by device id (connect failures)."""
        return {i: link.stats.error for i, link in self._links.items() if link.stats.error}

    @property
    def sequences(self) -> dict[str, int]:
        """The next order sequence number of each device (where a take-over resumes)."""
        return dict(self._seq)

    # -- connecting --

    def connect(self) -> dict[str, FlexError]:
        """Connect every device not yet connected; the errors by device id (the rest trade)."""
        return self._loop.connect()

    def close(self) -> None:
        """Close every device's connection."""
        self._loop.close()

    def __enter__(self) -> Fleet:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- orders --

    def _next_message_id(self, link: DeviceLink) -> str:
        seq = self._seq[link.device_id]
        self._seq[link.device_id] = seq + 1
        return order_message_id(self.run, link.device_id, seq)

    def place(
        self,
        orders: Iterable[tuple[str, object]],
        *,
        timeout: float | None = None,
    ) -> list[FleetOutcome]:
        """Send ``(device_id, order)`` pairs across the devices; one outcome per pair, in order.

        Orders of different devices go out together, each device pipelining its own confirms.
        Every order ends confirmed or with its error; the call returns when all have ended
        (``timeout``: at most this many seconds, then what is left is in doubt).
        """
        return self._send(((d, o, None) for d, o in orders), timeout)

    def place_with_ids(
        self, orders: Iterable[tuple[str, object, str]], *, timeout: float | None = None
    ) -> list[FleetOutcome]:
        """:meth:`place` with the caller's message ids (a take-over re-sends with the same)."""
        return self._send(orders, timeout)

    def _send(
        self, orders: Iterable[tuple[str, object, str | None]], timeout: float | None
    ) -> list[FleetOutcome]:
        outcomes: list[FleetOutcome | None] = []
        links, submit = self._links, self._loop.submit
        for index, (device_id, order, message_id) in enumerate(orders):
            link = links.get(device_id)
            if link is None:
                error = FlexValidationError(
                    "device_id", "must name a device of the fleet", device_id
                )
                outcomes.append(FleetOutcome(str(device_id), "", order, None, error))
                continue
            outcomes.append(None)

            def sink(outcome: FleetOutcome, index: int = index) -> None:
                outcomes[index] = outcome

            submit(link, order, message_id or self._next_message_id(link), sink)
        self._loop.run(timeout)
        return [o if o is not None else _NO_OUTCOME for o in outcomes]  # run() ends them all

    # -- strategies --

    def _split(self, device_id: str, found: Iterable[DeviceAction] | None) -> list[StrategyAction]:
        """The actions of ``device_id`` among a portfolio's; the others wait for the step."""
        own: list[StrategyAction] = []
        for target, action in found or ():
            if target == device_id:
                own.append(action)
            else:
                self._deferred.append((target, action))
        return own

    def _strategy_outcome(self, outcome: FleetOutcome) -> None:
        if outcome.ok:
            return
        bot = self._bots.get(outcome.device_id)
        if bot is None:
            return
        closed = OrderClosed("", "rejected", str(outcome.error), self.clock())
        bot.deliver(Incoming(closed, market_id=outcome.message_id))

    def _on_reply(self, device_id: str, message: MarketMessage) -> None:
        stats = self._links[device_id].stats
        stats.replies += 1
        bot = self._bots.get(device_id)
        for item in gen1_events(message, self.clock()):
            event = item.event
            if isinstance(event, Fill):
                count_fill(stats, event)
            if bot is not None:
                bot.deliver(item)

    def _run_deferred(self) -> None:
        while self._deferred:
            batch, self._deferred = self._deferred, []
            for device_id, action in batch:
                bot = self._bots.get(device_id)
                if bot is None:
                    _log.warning("portfolio action for unknown device %r dropped", device_id)
                    continue
                if isinstance(action, PlaceOrder):
                    bot.strategy._track(action)
                for event in bot._execute(action):
                    bot.feed(event)

    def step(self, timeout: float = 0.0) -> None:
        """Fire due timers, send what strategies placed, read replies for up to ``timeout`` s."""
        now = self.clock()
        for device in self.devices:
            if device.energy is not None:
                device.energy.advance(now)
        portfolio = self.portfolio
        if portfolio is not None and (
            self._next_portfolio_timer is None or now >= self._next_portfolio_timer
        ):
            self._next_portfolio_timer = now + max(1, portfolio.timer_interval_ms)
            ids = [i for i, link in self._links.items() if link.stats.connected]
            for device_id, action in portfolio.on_timer(now, ids) or ():
                self._deferred.append((device_id, action))
        for bot in self._bots.values():
            if self.portfolio is None:
                bot.timer(now)
        self._run_deferred()
        limit = 2 * self._loop.confirm_timeout  # every order placed ends within this
        self._loop.run(limit)
        self._loop.poll(timeout)
        self._run_deferred()  # what a portfolio placed on the replies just read
        self._loop.run(limit)

    def run_for(self, seconds: float, *, interval: float = 0.05) -> None:
        """Step for ``seconds`` of wall time."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.step(min(interval, max(0.0, end - time.monotonic())))
