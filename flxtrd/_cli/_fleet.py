"""``python -m flxtrd fleet``: run a fleet with a live table, or be one worker of a sharded run.

Modes:

- ``fleet --sandbox --devices 200``: 200 devices in the embedded sandbox market (no server),
  half selling, half buying one quarter hour, ``--orders`` each, ``--interval`` apart; a live
  table (one row per refresh: a new line when standard output is not a terminal, redrawn in
  place when it is) and a summary at the end;
- ``fleet --market URL --devices-file FILE``: the same on a market; FILE is JSON
  ``{"accounts": [{"email": ..., "password": ...}, ...]}`` (the sandbox's accounts-file format;
  the e-mail is the device id); secrets are read from the file, never the command line;
- ``fleet --assign --run R --shards S --devices-file FILE``: declare run R's shard queues and put
  the assignments in them (once); ``fleet --worker --run R --shards S --devices-file FILE``:
  one worker (start as many as you like, anywhere); see :mod:`flxtrd._fleet._shards`. The
  shard queues' broker comes from ``FLXTRD_FLEET_CONTROL_URL`` (default the local RabbitMQ's
  guest login).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from flxtrd._cli_args import positive_seconds, seconds
from flxtrd._errors import ConfigurationError
from flxtrd._exit_codes import EXIT_CODES_HELP, EXIT_ERROR, EXIT_OK
from flxtrd._types import User

__all__ = ["add_fleet_parser", "format_row", "run_fleet"]

ENV_CONTROL_URL = "FLXTRD_FLEET_CONTROL_URL"
DEFAULT_CONTROL_URL = "amqp://guest:guest@127.0.0.1:5672//"
HEADER = (
    f"{'time s':>7}  {'devices':>11}  {'orders':>7}  {'confirmed':>9}  {'failed':>6}"
    f"  {'deals':>6}  {'energy kWh':>10}  {'P&L EUR':>9}  {'worst ms':>8}"
)


def add_fleet_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``fleet`` to the ``flxtrd`` command line (handler: :func:`run_fleet`)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "fleet",
        help="trade for many devices from one process (live table), or be a shard worker",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        epilog=(
            "example:\n  python -m flxtrd fleet --sandbox --devices 200 --orders 3\n\n"
            f"{EXIT_CODES_HELP}\n  (1 also when an order or a device failed)"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--sandbox", action="store_true", help="the embedded sandbox market")
    where.add_argument("--market", default=None, help="market URL (sandbox://host:port, ...)")
    parser.add_argument("--broker", default=None, help="broker URL (default: the market's)")
    parser.add_argument(
        "--devices", type=int, default=10, metavar="N", help="--sandbox: devices (default 10)"
    )
    parser.add_argument(
        "--devices-file", default=None, metavar="FILE", help="accounts JSON (see above)"
    )
    parser.add_argument("--orders", type=int, default=3, metavar="K", help="orders per device")
    parser.add_argument(
        "--interval", type=seconds, default=0.2, metavar="S", help="seconds between order rounds"
    )
    parser.add_argument(
        "--refresh", type=positive_seconds, default=1.0, metavar="S", help="table refresh, s"
    )
    parser.add_argument("--json", action="store_true", help="the summary as one JSON line")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--worker", action="store_true", help="run shards of --run (take-over)")
    mode.add_argument("--assign", action="store_true", help="create the shards of --run")
    parser.add_argument("--run", default=None, help="--worker/--assign: the run's name")
    parser.add_argument("--shards", type=int, default=4, help="--worker/--assign: shard count")
    parser.set_defaults(handler=run_fleet)
    return parser


def _accounts(path: str) -> list[tuple[str, User]]:
    """(device id, User) of every account in an accounts file (the e-mail is the id)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        accounts = data["accounts"]
        return [(str(a["email"]), User(name=a["email"], password=a["password"])) for a in accounts]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(f"--devices-file {path}: not an accounts file ({exc})") from None


def _users(args: argparse.Namespace) -> list[tuple[str, User]]:
    if args.devices_file is not None:
        return _accounts(args.devices_file)
    if args.devices < 1:
        raise ConfigurationError("--devices must be >= 1")
    from .._fleet._logins import sandbox_users

    return [(user.name or "", user) for user in sandbox_users(args.devices)]


def _market(args: argparse.Namespace) -> str:
    from flxtrd._defaults import ENV_MARKET_URL

    if args.sandbox:
        return "sandbox://"
    market = args.market or os.environ.get(ENV_MARKET_URL)
    if not market:
        raise ConfigurationError("name a market: --sandbox or --market URL")
    return str(market)


def format_row(elapsed_s: float, stats: Any) -> str:
    """One row of the live table from :class:`~flxtrd.FleetStats`."""
    worst = stats.latency.worst_ms
    return (
        f"{elapsed_s:>7.1f}  {f'{stats.connected}/{stats.devices}':>11}  {stats.orders:>7}"
        f"  {stats.confirmed:>9}  {stats.failed:>6}  {stats.deals:>6}"
        f"  {stats.energy_wh / 1000:>10.2f}  {stats.pnl_eur:>9.4f}"
        f"  {'-' if worst is None else f'{worst:.1f}':>8}"
    )


class _Table:
    """The live table: a new line per refresh, or one line redrawn on a terminal."""

    def __init__(self, out: TextIO, refresh_s: float) -> None:
        self.out, self.refresh_s = out, refresh_s
        self.tty = out.isatty()
        self.started = time.monotonic()
        self._next = 0.0
        out.write(HEADER + "\n")

    def show(self, stats: Any, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now < self._next:
            return
        self._next = now + self.refresh_s
        row = format_row(now - self.started, stats)
        self.out.write(f"\r\x1b[K{row}" if self.tty else row + "\n")
        self.out.flush()

    def end(self) -> None:
        if self.tty:
            self.out.write("\n")


def _summary(fleet: Any, out: TextIO, as_json: bool) -> None:
    stats = fleet.stats
    bad = {i: str(fleet.device(i).error) for i in fleet.device_ids if fleet.device(i).error}
    if as_json:
        record = {
            "devices": stats.devices,
            "connected": stats.connected,
            "orders": stats.orders,
            "confirmed": stats.confirmed,
            "failed": stats.failed,
            "deals": stats.deals,
            "energy_wh": stats.energy_wh,
            "pnl_eur": stats.pnl_eur,
            "latency_p50_ms": stats.latency.p50_ms,
            "latency_p99_ms": stats.latency.p99_ms,
            "latency_worst_ms": stats.latency.worst_ms,
            "device_errors": bad,
        }
        out.write(json.dumps(record) + "\n")
        return
    lat = stats.latency
    out.write(
        f"\nfleet summary: {stats.connected} of {stats.devices} devices connected,"
        f" {stats.orders} orders, {stats.confirmed} confirmed, {stats.failed} failed,"
        f" {stats.deals} deals, {stats.energy_wh / 1000:.2f} kWh, P&L {stats.pnl_eur:.4f} EUR\n"
    )
    if lat.count:
        out.write(
            f"confirm latency: p50 {lat.p50_ms:.1f} ms, p99 {lat.p99_ms:.1f} ms,"
            f" worst {lat.worst_ms:.1f} ms\n"
        )
    for device_id, error in bad.items():
        out.write(f"device {device_id}: {error}\n")


class _Stop:
    """SIGTERM/SIGINT end the run after the current round (the summary still prints)."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True


def run_fleet(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run ``python -m flxtrd fleet`` (see the module doc)."""
    out = out or sys.stdout
    if args.orders < 0:
        raise ConfigurationError("--orders must be >= 0")
    if args.worker or args.assign:
        return _run_shards(args, out)
    from .._fleet._fleet import Fleet
    from .._fleet._logins import login_devices
    from .._fleet._shards import OrderPlan, plan_order

    market = _market(args)
    users = _users(args)
    options = {"broker_url": args.broker} if args.broker else {}
    broker_url, devices, errors = login_devices(market, users, client_options=options)
    for device_id, error in errors.items():
        out.write(f"device {device_id}: login failed: {error}\n")
    stop = _Stop()
    previous = signal.signal(signal.SIGTERM, stop)
    fleet = Fleet(devices, broker_url=broker_url)
    try:
        table = _Table(out, args.refresh)
        fleet.connect()
        table.show(fleet.stats, force=True)
        plan = OrderPlan(orders=args.orders, start_ms=_start_ms())
        index = {device_id: i for i, (device_id, _) in enumerate(users)}
        for _ in range(args.orders):
            if stop.requested:
                break
            fleet.place([(d.device_id, plan_order(plan, index[d.device_id])) for d in devices])
            table.show(fleet.stats)
            fleet.step(args.interval)
        _await_quiet(fleet, stop, table)
        table.show(fleet.stats, force=True)
        table.end()
        _summary(fleet, out, args.json)
    finally:
        signal.signal(signal.SIGTERM, previous)
        fleet.close()
    stats = fleet.stats
    return EXIT_OK if stats.failed == 0 and not errors and stats.failed_devices == 0 else EXIT_ERROR


QUIET_S = 1.0
"""The run ends once no reply arrived for this long (the market has answered)."""
LAST_REPLIES_MAX_S = 30.0


def _await_quiet(fleet: Any, stop: _Stop, table: _Table) -> None:
    """Read replies until none came for ``QUIET_S`` (at most ``LAST_REPLIES_MAX_S``)."""
    end = time.monotonic() + LAST_REPLIES_MAX_S
    seen, quiet_since = -1, time.monotonic()
    while not stop.requested and time.monotonic() < end:
        fleet.step(0.05)
        replies = fleet.stats.replies
        if replies != seen:
            seen, quiet_since = replies, time.monotonic()
        elif time.monotonic() - quiet_since >= QUIET_S:
            return
        table.show(fleet.stats)


def _start_ms() -> int:
    """The plan's delivery window: the quarter hour starting 2 hours from now, or later."""
    quarter = 15 * 60_000
    return (time.time_ns() // 1_000_000 // quarter + 8) * quarter


def _run_shards(args: argparse.Namespace, out: TextIO) -> int:
    from .._fleet._logins import login_devices
    from .._fleet._shards import OrderPlan, ShardWorker, assign_shards, publish_assignments

    if not args.run:
        raise ConfigurationError("--worker and --assign need --run NAME")
    if args.shards < 1:
        raise ConfigurationError("--shards must be >= 1")
    control = os.environ.get(ENV_CONTROL_URL, DEFAULT_CONTROL_URL)
    users = _users(args)
    if args.assign:
        ids = [device_id for device_id, _ in users]
        index = {device_id: i for i, device_id in enumerate(ids)}
        shards = [
            {device_id: index[device_id] for device_id in group}
            for group in assign_shards(ids, args.shards)
        ]
        publish_assignments(
            control, args.run, shards, OrderPlan(orders=args.orders, start_ms=_start_ms())
        )
        out.write(f"assigned {len(ids)} devices to {args.shards} shards of run {args.run}\n")
        return EXIT_OK
    market = _market(args)
    by_id = dict(users)
    options = {"broker_url": args.broker} if args.broker else {}

    def source(ids: Sequence[str]) -> Any:
        return login_devices(market, [(i, by_id[i]) for i in ids], client_options=options)

    worker = ShardWorker(control, args.run, args.shards, source, out=out, interval_s=args.interval)
    stop = _Stop()
    previous = [signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)]
    try:
        worker.open()
        out.write(f"worker {os.getpid()} consuming {args.shards} shards of run {args.run}\n")
        out.flush()
        worker.run_forever(lambda: stop.requested)
    finally:
        for s, handler in zip((signal.SIGTERM, signal.SIGINT), previous, strict=True):
            signal.signal(s, handler)
        worker.close()
    out.write(f"worker {os.getpid()} stopped: {len(worker.confirmed)} confirmed\n")
    return EXIT_OK
