"""Bots against an embedded sandbox market on a simulated clock.

:class:`SandboxSimulation` runs a :class:`~flxtrd.BotRunner` against ``flxtrd.sandbox`` on a
``ManualClock``: the simulated hour takes as long as the orders take, not an hour. The only
waiting is for work another thread does (the sandbox's broker, the stream readers), never for
time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from flxtrd._bounds import MAX_DURATION_MS
from flxtrd._errors import FlexTimeoutError
from flxtrd._trading._bot import Bot
from flxtrd._trading._connections import Gen1Connection, Gen2Connection, MarketConnection
from flxtrd._trading._runner import BotRunner
from flxtrd._trading._strategy import QUARTER_HOUR_MS, TradingStrategy
from flxtrd._types import User
from flxtrd._validation import current_time_ms, require_duration_ms

if TYPE_CHECKING:
    from flxtrd._client._client import FlexAPIClient
    from flxtrd._rest._audit_plugin import AuditLogPlugin
    from flxtrd.sandbox import EmbeddedSandbox, ManualClock, SandboxMarket

__all__ = ["SETTLE_TIMEOUT_S", "SandboxSimulation"]

SETTLE_TIMEOUT_S = 10.0
"""Longest wait for the embedded sandbox's broker to handle the orders sent."""


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
        start = (
            start_ms
            if start_ms is not None
            else current_time_ms() // QUARTER_HOUR_MS * QUARTER_HOUR_MS
        )
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
        from flxtrd._client._client import FlexAPIClient

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
