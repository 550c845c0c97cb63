"""The served sandbox as a real process: ``python -m flxtrd sandbox`` on a free port, on RabbitMQ.

:func:`served_sandbox` starts ``python -m flxtrd sandbox --http 127.0.0.1:0 --amqp <url> --seed
<unique>`` (port 0: the sandbox binds a free port itself and prints it in its ready line, so no
port is picked here and then raced for), waits for that ready line by reading the process's
standard output with a deadline (no fixed sleeps), and on exit sends SIGTERM and requires the
clean shutdown the CLI documents (exit code 0, "stopped" printed). The seed is unique per start,
so account ids, application keys and broker users never meet those of an earlier run.

Clients reach it as users would: ``FLXTRD_MARKET_URL=sandbox://127.0.0.1:<port>`` (see
:attr:`SandboxProcess.market_url`), whose broker is ``amqp://127.0.0.1:5672//`` as a device
(``userId`` / device token, provisioned by the sandbox with ``rabbitmqctl``).
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import IO

READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 20.0
_READY = re.compile(
    r"^flxtrd sandbox ready: REST \+ WebSocket (?P<url>https?://(?P<host>[^\s,]+)),"
)


class SandboxProcess:
    """One ``python -m flxtrd sandbox`` process (see the module docstring)."""

    def __init__(self, amqp_url: str, *, seed: int | None = None, args: Sequence[str] = ()) -> None:
        self.amqp_url = amqp_url
        self.args = tuple(args)  # more options: --token-key-file, --header-timeout...
        self.seed = seed if seed is not None else uuid.uuid4().int % 2**31
        self.http_url = ""
        self.host_port = ""
        self.stdout_lines: list[str] = []
        self.returncode: int | None = None
        self._process: subprocess.Popen[str] | None = None
        self._stderr: IO[str] | None = None

    @property
    def market_url(self) -> str:
        """``FLXTRD_MARKET_URL`` for this sandbox: ``sandbox://127.0.0.1:<port>``."""
        return f"sandbox://{self.host_port}"

    def start(self, timeout: float = READY_TIMEOUT_S) -> SandboxProcess:
        """Start the process and return once it printed its ready line; raise if it did not."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLXTRD_")}
        self._stderr = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 - closed in stop()
        command = [sys.executable, "-m", "flxtrd", "sandbox", "--http", "127.0.0.1:0"]
        command += ["--amqp", self.amqp_url, "--seed", str(self.seed), *self.args]
        self._process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=self._stderr, text=True, env=env
        )
        try:
            self._await_ready(timeout)
        except BaseException:
            self.stop(check=False)
            raise
        return self

    def _await_ready(self, timeout: float) -> None:
        process = self._process
        assert process is not None and process.stdout is not None
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no ready line within {timeout:g} s{self._diagnostics()}")
                if not selector.select(remaining):
                    continue
                line = process.stdout.readline()
                if not line:  # EOF: the process ended before it was ready
                    process.wait(STOP_TIMEOUT_S)
                    raise RuntimeError(
                        f"the sandbox exited with {process.returncode} before it was ready"
                        f"{self._diagnostics()}"
                    )
                self.stdout_lines.append(line.rstrip("\n"))
                match = _READY.match(line)
                if match:
                    self.http_url, self.host_port = match["url"], match["host"]
                    return

    def stderr_text(self) -> str:
        """What the process wrote to standard error so far (its log)."""
        if self._stderr is None or self._stderr.closed:
            return ""
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read()

    def _diagnostics(self) -> str:
        out = "\n".join(self.stdout_lines)
        return f"\n--- stdout ---\n{out}\n--- stderr ---\n{self.stderr_text()[-4000:]}"

    def stop(self, *, check: bool = True) -> int | None:
        """SIGTERM, wait, and (``check``) require exit code 0 and the "stopped" line."""
        process, self._process = self._process, None
        if process is None:
            return self.returncode
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            rest, _ = process.communicate(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            rest, _ = process.communicate()
            if check:
                raise AssertionError(
                    f"the sandbox ignored SIGTERM for {STOP_TIMEOUT_S:g} s{self._diagnostics()}"
                ) from None
        self.stdout_lines.extend((rest or "").splitlines())
        self.returncode = process.returncode
        diagnostics = self._diagnostics()
        if self._stderr is not None:
            self._stderr.close()
        if check:
            assert process.returncode == 0, f"exit code {process.returncode}{diagnostics}"
            assert "flxtrd sandbox stopped" in self.stdout_lines, diagnostics
        return process.returncode


@contextlib.contextmanager
def served_sandbox(
    amqp_url: str, *, seed: int | None = None, args: Sequence[str] = ()
) -> Iterator[SandboxProcess]:
    """A started :class:`SandboxProcess` (``args``: more options), stopped with SIGTERM on exit."""
    sandbox = SandboxProcess(amqp_url, seed=seed, args=args).start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


__all__ = ["READY_TIMEOUT_S", "SandboxProcess", "served_sandbox"]
