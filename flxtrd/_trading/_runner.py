"""Several bots on one clock: connect them (with retries), step them, close them.

:meth:`BotRunner.step` delivers what arrived, fires due timers, and with a ``settle`` function
(the simulation's) repeats until the market has answered everything. Connecting is retried with
backoff (``BotRunner.open(retry=...)``); a connection error while polling is logged, counted and
retried on the next step, so a bot keeps running through an outage. :class:`RunTimeline`
records what the run saw, for the progress line, the summary and the plot.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from flxtrd._errors import FlexConnectionError
from flxtrd._log import get_logger
from flxtrd._retry import RetryPolicy
from flxtrd._trading._bot import Bot
from flxtrd._trading._strategy import MarketTick, StrategyEvent
from flxtrd._validation import current_time_ms

__all__ = ["BotRunner", "RunTimeline"]

_logger = get_logger("bot")


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
        clock: Callable[[], int] = current_time_ms,
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
