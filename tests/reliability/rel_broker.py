"""Broker-side fault tools of the reliability suite: rabbitmqctl, forced closes, a broker restart.

Everything here waits on a condition with a deadline (never a fixed sleep). The broker restart
(:func:`broker_restarted`) is ``rabbitmqctl stop_app`` followed by ``start_app`` in a background
thread, so the clients see a real outage (connection refused until the app is up again); the
``finally`` always runs ``start_app`` and waits until the broker accepts AMQP logins again, even
when the test failed half-way.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest
from kombu import Connection

RABBITMQCTL_TIMEOUT_S = 60.0
BROKER_BACK_TIMEOUT_S = 60.0


def need_rabbitmqctl() -> None:
    """Skip (fail in CI) when rabbitmqctl cannot be run."""
    if shutil.which("rabbitmqctl") is None:
        if os.environ.get("CI"):
            pytest.fail("rabbitmqctl is needed for the broker fault tests in CI")
        pytest.skip("rabbitmqctl is not on PATH")


def rabbitmqctl(*args: str) -> str:
    """Run ``rabbitmqctl -q <args>``; return its output (raises on failure)."""
    exe = shutil.which("rabbitmqctl")
    if exe is None:
        raise FileNotFoundError("rabbitmqctl is not on PATH")
    done = subprocess.run(
        [exe, "-q", *args],
        capture_output=True,
        text=True,
        timeout=RABBITMQCTL_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {done.stderr or done.stdout}")
    return done.stdout


def connection_pids(connection_name: str) -> list[str]:
    """Broker pids of the connections whose client_properties carry ``connection_name``."""
    out = rabbitmqctl("list_connections", "pid", "client_properties")
    needle = f'"{connection_name}"'
    return [row.split("\t", 1)[0] for row in out.splitlines() if needle in row]


def close_connections(connection_name: str, reason: str = "reliability test") -> int:
    """Force-close (``rabbitmqctl close_connection``) every connection named so; return how many."""
    pids = connection_pids(connection_name)
    for pid in pids:
        rabbitmqctl("close_connection", pid, reason)
    return len(pids)


def wait_until(
    predicate: Callable[[], bool], timeout: float, what: str, poll: float = 0.02
) -> None:
    """Poll ``predicate`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        time.sleep(poll)


def broker_accepts(amqp_url: str) -> bool:
    """True when an AMQP login on ``amqp_url`` succeeds now."""
    parts = urlsplit(amqp_url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), 1):
            pass
        with Connection(amqp_url, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=0)
            conn.default_channel.basic_qos(0, 1, False)
        return True
    except Exception:
        return False


class BrokerRestart:
    """What :func:`broker_restarted` did: when the app went down and came back."""

    def __init__(self) -> None:
        self.stopped_at: float | None = None
        self.started_at: float | None = None
        self.error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def stop_then_start(self) -> None:
        """``stop_app`` now (synchronously), then ``start_app`` in a background thread."""
        rabbitmqctl("stop_app")
        self.stopped_at = time.monotonic()

        def start() -> None:
            try:
                rabbitmqctl("start_app")
                self.started_at = time.monotonic()
            except BaseException as exc:  # reported by the context manager
                self.error = exc

        self._thread = threading.Thread(target=start, name="rabbitmq-start-app", daemon=True)
        self._thread.start()

    def join(self) -> None:
        """Wait for the background ``start_app``."""
        if self._thread is not None:
            self._thread.join(RABBITMQCTL_TIMEOUT_S)

    @property
    def outage_s(self) -> float | None:
        """Seconds from ``stop_app`` returning to ``start_app`` returning."""
        if self.stopped_at is None or self.started_at is None:
            return None
        return self.started_at - self.stopped_at


@contextlib.contextmanager
def broker_restarted(amqp_url: str) -> Iterator[BrokerRestart]:
    """A :class:`BrokerRestart` to trigger; on exit the broker app always runs again.

    The ``finally`` joins the background ``start_app``, runs ``start_app`` again if the app is
    not back (idempotent), and waits until an AMQP login succeeds.
    """
    need_rabbitmqctl()
    restart = BrokerRestart()
    try:
        yield restart
    finally:
        restart.join()
        if not broker_accepts(amqp_url):
            with contextlib.suppress(Exception):
                rabbitmqctl("start_app")
            with contextlib.suppress(Exception):
                rabbitmqctl("await_startup")
        wait_until(
            lambda: broker_accepts(amqp_url),
            BROKER_BACK_TIMEOUT_S,
            "RabbitMQ accepting connections after start_app",
            poll=0.2,
        )
    if restart.error is not None:
        raise AssertionError(f"rabbitmqctl start_app failed: {restart.error}")
