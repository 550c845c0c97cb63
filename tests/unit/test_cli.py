"""The command line: `python -m flxtrd --help` and the demo, as a user runs them."""

from __future__ import annotations

import subprocess
import sys


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m flxtrd ARGS`` in a fresh interpreter and capture what it prints."""
    return subprocess.run(
        [sys.executable, "-m", "flxtrd", *args], capture_output=True, text=True, timeout=60
    )


def test_help_lists_every_command() -> None:
    """--help names the sample client's commands, the seed's promised `python -m flxtrd --help`."""
    result = run("--help")
    assert result.returncode == 0
    for command in ("demo", "sandbox", "login", "order", "listen", "bot"):
        assert f"    {command} " in result.stdout


def test_demo_trades_in_the_embedded_sandbox_and_shows_both_closed_orders() -> None:
    """The README's first command: an ask and a matching bid, two closed orders, ticks, exit 0."""
    result = run("demo")
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    closed = [row for row in rows if row[1:2] in (["ask_closed_order"], ["bid_closed_order"])]
    assert sorted(row[:2] for row in closed) == [
        ["buyer", "bid_closed_order"],
        ["seller", "ask_closed_order"],
    ]
    assert all(row[2] == "12" and row[3] == "625" for row in closed)  # bid price, 2.5 kW x 15 min
    assert any(row[1:2] == ["tick"] for row in rows)


def test_listen_runs_for_its_duration_on_replies_and_on_a_stream() -> None:
    """`listen` (AMQP replies, and --stream ticker) connects, stops after --duration, exits 0."""
    import os

    env = {**os.environ, "FLXTRD_MARKET_URL": "sandbox://", "FLXTRD_USERNAME": "l@example.com",
           "FLXTRD_PASSWORD": "pw"}  # fmt: skip
    for extra in ([], ["--stream", "ticker"]):
        result = subprocess.run(
            [sys.executable, "-m", "flxtrd", "listen", "--duration", "0.3", *extra],
            capture_output=True, text=True, timeout=60, env=env,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[-1] == "0 messages received"
