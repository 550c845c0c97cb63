"""``python -m flxtrd fleet`` as real processes read with deadlines, and their accounts files."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path


class FleetProcess:
    """One ``python -m flxtrd fleet ...`` process; :meth:`wait_for` reads its output."""

    def __init__(self, args: Sequence[str], env: Mapping[str, str]) -> None:
        base = {k: v for k, v in os.environ.items() if not k.startswith("FLXTRD_")}
        base.update(env)
        self.lines: list[str] = []
        self._partial = b""
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flxtrd", "fleet", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            bufsize=0,  # unbuffered: what select() sees is all there is (no hidden buffer)
            env=base,
        )

    def _take(self, data: bytes) -> None:
        *whole, self._partial = (self._partial + data).split(b"\n")
        self.lines.extend(line.decode("utf-8", "replace") for line in whole)

    def wait_for(self, done: Callable[[list[str]], bool], timeout: float) -> bool:
        """Read lines until ``done(lines)`` holds (True) or ``timeout`` s pass / EOF (False)."""
        stdout = self.process.stdout
        assert stdout is not None
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            while not done(self.lines):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                if not selector.select(remaining):
                    continue
                data = os.read(stdout.fileno(), 65536)
                if not data:
                    return done(self.lines)
                self._take(data)
        return True

    def kill(self) -> None:
        """SIGKILL, then read what it wrote before it died."""
        self.process.send_signal(signal.SIGKILL)
        self.finish(10)

    def finish(self, timeout: float) -> int:
        """Wait for the exit and collect the rest of the output; the exit code."""
        self.process.wait(timeout)
        stdout = self.process.stdout
        assert stdout is not None
        while data := os.read(stdout.fileno(), 65536):  # the writer is gone: read to EOF
            self._take(data)
        if self._partial:
            self._take(b"\n")
        stdout.close()
        return self.process.returncode

    def terminate(self, timeout: float = 20) -> int:
        """SIGTERM and wait; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.finish(timeout)

    def text(self) -> str:
        """Everything read so far."""
        return "\n".join(self.lines)


def confirmed_ids(lines: Sequence[str]) -> list[str]:
    """The message ids of the ``confirmed <id>`` lines."""
    return [line.split(" ", 1)[1] for line in lines if line.startswith("confirmed ")]


def write_accounts(path: Path, count: int, prefix: str | None = None) -> list[str]:
    """An accounts file of ``count`` accounts; returns their e-mails (the device ids)."""
    prefix = prefix or f"fleet{uuid.uuid4().hex[:8]}"
    accounts = [
        {"email": f"{prefix}-{i:03d}@example.com", "password": f"pw-{i}-{uuid.uuid4().hex[:6]}"}
        for i in range(count)
    ]
    path.write_text(json.dumps({"accounts": accounts}), encoding="utf-8")
    return [a["email"] for a in accounts]
