"""Running ``python -m flxtrd`` as a user does, for the CLI tests.

Every run is a fresh interpreter (``sys.executable -m flxtrd ...``) whose environment has nothing
``FLXTRD_*`` from the test process: a test says which market (``sandbox://`` is the embedded
sandbox, new in each process; ``sandbox://host:port`` a served one) and which credentials.
:class:`Listener` runs a long-lived command (a stream) and waits for its ready line on standard
error with a deadline, so a test can act on the market once the stream is connected.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

RUN_TIMEOUT_S = 120.0
READY_TIMEOUT_S = 60.0
QUARTER_HOUR = timedelta(minutes=15)
PASSWORD = "cli-test-password"
BASELINE = {
    "metering_id": "0b5c1a52-7e0a-4c8e-9f3f-2a6b1d4e5f60",
    "created_at": "2026-11-28T09:00:00Z",
    "reading_start": "2026-12-01T09:00:00Z",
    "reading_end": "2026-12-01T10:00:00Z",
    "resolution": 900,
    "direction": "consumption",
    "quality": "estimated",
    "energy_product": "apparent",
    "unit_measured": "kWh",
    "data_points": [],
}
"""A sell order's baseline as the spec's example has it (the market matches sells with one)."""


def new_user(prefix: str = "cli") -> str:
    """A fresh e-mail address (a new account in a permissive sandbox)."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}@cli.flxtrd.test"


def env_for(
    market: str | None, user: str | None, password: str | None = PASSWORD
) -> dict[str, str]:
    """This process's environment without FLXTRD_*, plus the market and the credentials given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLXTRD_")}
    for key, value in (
        ("FLXTRD_MARKET_URL", market),
        ("FLXTRD_USERNAME", user),
        ("FLXTRD_PASSWORD", password),
    ):
        if value is not None:
            env[key] = value
    return env


def run_cli(
    *args: str, env: dict[str, str], timeout: float = RUN_TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    """``python -m flxtrd ARGS`` to completion; standard input is empty (no prompts)."""
    return subprocess.run(
        [sys.executable, "-m", "flxtrd", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    """The standard output of a run that must have exited 0 (its output shown otherwise)."""
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    return result.stdout


def json_lines(text: str) -> list[dict[str, Any]]:
    """Parse ``--json`` output: every line must be one JSON object."""
    records = []
    for line in text.splitlines():
        record = json.loads(line)
        assert isinstance(record, dict), line
        records.append(record)
    return records


def one(text: str) -> dict[str, Any]:
    """The single JSON object of a ``--json`` output."""
    records = json_lines(text)
    assert len(records) == 1, text
    return records[0]


def parse_time(text: str) -> datetime:
    """An ISO 8601 time of the JSON output, as an aware datetime."""
    moment = datetime.fromisoformat(text)
    assert moment.tzinfo is not None, text
    return moment


def next_slot(hours: int = 2) -> datetime:
    """A quarter hour about ``hours`` ahead (UTC)."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return now.replace(minute=now.minute // 15 * 15) + timedelta(hours=hours)


class Listener:
    """A long-running ``python -m flxtrd`` (a stream): started, awaited ready, then finished."""

    def __init__(self, *args: str, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flxtrd", *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stderr_lines: list[str] = []

    def wait_ready(self, marker: str = "listening:", timeout: float = READY_TIMEOUT_S) -> None:
        """Read standard error until a line holds ``marker``; fail if the process ends first."""
        stream = self.process.stderr
        assert stream is not None
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(stream, selectors.EVENT_READ)
            while True:
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"no {marker!r} within {timeout} s: {self.stderr_lines}"
                if not selector.select(remaining):
                    continue
                line = stream.readline()
                if not line:
                    out, err = self.finish()
                    raise AssertionError(f"ended with {self.process.returncode}: {out} {err}")
                self.stderr_lines.append(line)
                if marker in line:
                    return

    def interrupt(self) -> None:
        """Send SIGINT, as Ctrl-C does."""
        self.process.send_signal(signal.SIGINT)

    def finish(self, timeout: float = RUN_TIMEOUT_S) -> tuple[str, str]:
        """Wait for the end; return (stdout, the rest of stderr). Killed after ``timeout``."""
        try:
            out, err = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, err = self.process.communicate()
            raise AssertionError(f"still running after {timeout} s: {out} {err}") from None
        return out, "".join(self.stderr_lines) + err

    @property
    def returncode(self) -> int | None:
        """The exit code once finished."""
        return self.process.returncode
