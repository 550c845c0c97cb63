"""``python -m flxtrd bot``: run a trading strategy with live progress and a summary.

``bot --sandbox`` trades in the embedded sandbox market against a crowd of other bots
(:func:`~flxtrd._trading._strategies.sandbox_crowd`) on a simulated clock; ``bot --market``
trades on a market in real time, connecting with :data:`CONNECT_RETRY`. Ctrl-C and SIGTERM end
a run with the summary. The trading itself lives in :mod:`flxtrd._trading`; this module only
parses arguments, drives the clock and prints.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

from flxtrd._cli_args import positive_factor, seconds
from flxtrd._defaults import ENV_MARKET_URL, ENV_PASSWORD, ENV_USERNAME
from flxtrd._errors import FlexError
from flxtrd._exit_codes import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from flxtrd._retry import RetryPolicy
from flxtrd._trading._bot import Bot
from flxtrd._trading._connections import Gen1Connection, Gen2Connection, MarketConnection
from flxtrd._trading._format import format_progress, format_summary
from flxtrd._trading._runner import BotRunner
from flxtrd._trading._simulation import SandboxSimulation
from flxtrd._trading._strategies import BUILTIN_STRATEGIES, load_strategy, sandbox_crowd
from flxtrd._trading._strategy import TradingStrategy
from flxtrd._types import User

if TYPE_CHECKING:
    from flxtrd._rest._audit_plugin import AuditLogPlugin

__all__ = ["CONNECT_RETRY", "add_bot_parser", "run_bot"]

CONNECT_RETRY = RetryPolicy(max_retries=5, initial_delay_s=1.0, max_delay_s=30.0, jitter=0.25)
"""How ``flxtrd bot --market`` retries connecting: 1, 2, 4, 8, 16 s apart (less up to 25 %)."""


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
        from flxtrd._trading._plot import matplotlib_missing_message

        missing = matplotlib_missing_message()
        if missing is not None:
            print(f"error: --plot: {missing}", file=sys.stderr)
            return EXIT_USAGE
    audit = None
    if args.audit is not None:
        from flxtrd._rest._audit_plugin import AuditLogPlugin

        audit = AuditLogPlugin(args.audit)
    with _Stop() as stop:

        def pause(seconds: float) -> None:
            if wait is not None:
                wait(seconds)
            else:
                stop.event.wait(seconds)

        run = _Run(args, strategy, out, monotonic, pause, stop, audit)
        code, runner = _run_sandbox(run) if args.sandbox else _run_market(run)
    if runner is not None and runner.started_ms is not None:
        out.write("\n" + format_summary(runner) + "\n")
        if args.plot is not None:
            from flxtrd._trading._plot import plot_run

            path = plot_run(runner.timeline, args.plot)
            out.write(f"plot written to {path}\n")
    return code


def _progress(out: TextIO, runner: BotRunner) -> None:
    out.write(format_progress(runner, you="you") + "\n")
    out.flush()


@dataclass(frozen=True)
class _Run:
    """What a run, in the sandbox or on a market, is given by :func:`run_bot`."""

    args: argparse.Namespace
    strategy: TradingStrategy
    out: TextIO
    monotonic: Callable[[], float]
    wait: Callable[[float], None]
    stop: _Stop
    audit: AuditLogPlugin | None


def _exit_code(trade: Callable[[], None], close: Callable[[], None]) -> int:
    """Run ``trade``, then always ``close``; the exit code (Ctrl-C and a FlexError end a run)."""
    try:
        trade()
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except FlexError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        close()
    return EXIT_OK


def _run_sandbox(run: _Run) -> tuple[int, BotRunner | None]:
    """Trade in the embedded sandbox against a crowd, on a clock ``--speed`` times as fast."""
    args, out = run.args, run.out
    bots = {"you": run.strategy, **sandbox_crowd(args.seed, max(0, args.crowd))}
    sim = SandboxSimulation(bots, seed=args.seed, audit=run.audit)
    out.write(
        f"flxtrd bot: {args.strategy} and {len(bots) - 1} other bots in the embedded sandbox,"
        f" {args.duration:g} s at {args.speed:g}x ({args.duration * args.speed / 60:g} simulated"
        " minutes)\n"
    )

    def trade() -> None:
        sim.start()
        began = run.monotonic()
        shown = began
        while not run.stop.event.is_set():
            elapsed = min(args.duration, run.monotonic() - began)
            sim.advance_to(sim.start_ms + int(elapsed * args.speed * 1000))
            if run.monotonic() - shown >= 1.0 or elapsed >= args.duration:
                shown = run.monotonic()
                _progress(out, sim.runner)
            if elapsed >= args.duration:
                break
            run.wait(0.05)

    return _exit_code(trade, sim.close), sim.runner


def _run_market(run: _Run) -> tuple[int, BotRunner | None]:
    """Trade on a market in real time, connecting with :data:`CONNECT_RETRY`."""
    from flxtrd._client._client import FlexAPIClient

    args, out, audit = run.args, run.out, run.audit
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
    runner = BotRunner([Bot("you", run.strategy, connection)])
    out.write(
        f"flxtrd bot: {args.strategy} on {client.base_url} (generation {args.generation}),"
        f" {args.duration:g} s\n"
    )

    def trade() -> None:
        runner.open(retry=CONNECT_RETRY, wait=run.wait)
        began = run.monotonic()
        shown = began
        while not run.stop.event.is_set() and run.monotonic() - began < args.duration:
            runner.step()
            if run.monotonic() - shown >= 1.0:
                shown = run.monotonic()
                _progress(out, runner)
            run.wait(0.2)
        _progress(out, runner)

    def close() -> None:
        runner.close()
        if audit is not None:
            audit.close()

    return _exit_code(trade, close), runner
