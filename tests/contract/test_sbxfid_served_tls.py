"""An HTTPS served sandbox, reached by a client configured only from the lines it prints.

``python -m flxtrd sandbox --certfile ... --keyfile ...`` prints, after its ready line,
``export FLXTRD_MARKET_URL=sandbox+https://...``, the broker URL and ``FLXTRD_CA_BUNDLE``. Each
test starts the process on a free port with a fresh self-signed certificate, reads its standard
output in raw chunks (no line buffering that could hold back lines the selector already
reported), and hands exactly those variables to a client whose code names the real market: the
redirect, the TLS verification against the printed CA and the broker URL all come from them.
"""

from __future__ import annotations

import os
import selectors
import shlex
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from glocalflex_messages.models import OrderStatusUpdate
from test_sandbox_served import need_rabbitmqctl, rabbitmqctl

from flxtrd import FlexAPIClient, Flexibility, MarketOrder, OrderType, User

READY_TIMEOUT_S = 30.0
EXIT_TIMEOUT_S = 20.0
WAIT_S = 10.0
QUARTER_MS = 15 * 60_000
HOUR_MS = 3_600_000
#: The code of a user who points 0.2.9-era code at the real market; the environment redirects it.
REAL_MARKET = "glocalflexmarket.com"


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (its own CA) and its key."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


class TlsSandbox:
    """``python -m flxtrd sandbox`` with a certificate; :attr:`env` is what it printed."""

    def __init__(self, cert: Path, key: Path, amqp_url: str) -> None:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("FLXTRD_")}
        argv = [sys.executable, "-m", "flxtrd", "sandbox", "--http", "127.0.0.1:0",
                "--amqp", amqp_url, "--certfile", str(cert), "--keyfile", str(key),
                "--seed", str(uuid.uuid4().int % 2**31)]  # fmt: skip
        self.process = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean
        )
        self.output = b""
        try:
            self.env = self._read_environment()
        except BaseException:
            self.close()
            raise

    def _read_environment(self) -> dict[str, str]:
        """Read raw chunks until the ``FLXTRD_CA_BUNDLE`` line (the last one) is complete."""
        stdout = self.process.stdout
        assert stdout is not None
        deadline = time.monotonic() + READY_TIMEOUT_S
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            while b"export FLXTRD_CA_BUNDLE=" not in self.output or not self.output.endswith(b"\n"):
                remaining = deadline - time.monotonic()
                assert remaining > 0, f"no environment lines in time: {self.output!r}"
                if not selector.select(remaining):
                    continue
                chunk = os.read(stdout.fileno(), 65536)
                assert chunk, f"the sandbox exited early: {self.output!r} {self._errors()}"
                self.output += chunk
        env: dict[str, str] = {}
        for line in self.output.decode().splitlines():
            if line.startswith("export "):
                name, _, value = shlex.split(line)[1].partition("=")
                env[name] = value
        return env

    def _errors(self) -> str:
        if self.process.poll() is None or self.process.stderr is None:
            return ""
        return self.process.stderr.read().decode(errors="replace")[-2000:]

    def stop(self) -> int:
        """SIGTERM and the exit code."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(EXIT_TIMEOUT_S)

    def close(self) -> None:
        """Make sure the process is gone and its pipes are closed."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A fresh self-signed certificate (skips without openssl, fails in CI)."""
    if subprocess.run(["which", "openssl"], capture_output=True).returncode != 0:
        if os.environ.get("CI"):
            pytest.fail("openssl is needed to make the TLS test certificate in CI")
        pytest.skip("openssl is not on PATH")
    return self_signed(tmp_path)


@pytest.fixture
def vhost_url(amqp_url: str) -> Iterator[str]:
    """``amqp_url`` on a fresh virtual host where the URL's user may do anything; deleted after."""
    need_rabbitmqctl()
    vhost = f"flxtrd-tls-{uuid.uuid4().hex[:8]}"
    where = urlsplit(amqp_url)
    rabbitmqctl("add_vhost", vhost)
    try:
        rabbitmqctl("set_permissions", "-p", vhost, where.username or "guest", ".*", ".*", ".*")
        yield urlunsplit((where.scheme, where.netloc, f"/{vhost}", "", ""))
    finally:
        rabbitmqctl("delete_vhost", vhost)


def _quarter_ahead(quarters: int) -> int:
    """Epoch ms of the quarter hour ``quarters`` quarters after the current one."""
    return (time.time_ns() // 1_000_000 // QUARTER_MS + quarters) * QUARTER_MS


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def test_printed_lines_let_existing_code_place_an_order_and_read_it_back_over_https(
    certificate: tuple[Path, Path],
) -> None:
    """Only the printed variables: an order placed and read back over https, its event over wss."""
    sandbox = TlsSandbox(*certificate, "memory://")
    try:
        env = sandbox.env
        assert env["FLXTRD_MARKET_URL"].startswith("sandbox+https://127.0.0.1:")
        assert env["FLXTRD_CA_BUNDLE"] == str(certificate[0].resolve())
        assert "FLXTRD_BROKER_URL" not in env  # memory:// lives inside the sandbox process
        start = _quarter_ahead(8)
        user = User(name=f"tls-{uuid.uuid4().hex[:6]}@example.com", password="pw")
        with FlexAPIClient(base_url=REAL_MARKET, user=user, env=env) as client:
            assert client.base_url.startswith("https://127.0.0.1:")
            with client.market_stream(receive_timeout=WAIT_S) as market:
                trades = market.stream("trade").connect()  # wss, verified with the printed CA
                placed = client.orders.place(
                    side="buy",
                    power_w=1500.0,
                    price_eur_per_kwh=0.3,
                    delivery_start=_utc(start),
                    delivery_end=_utc(start + QUARTER_MS),
                    expiry_time=_utc(start - HOUR_MS),
                )
                read_back = client.orders.get(placed.id)
                event: Any = next(iter(trades))
        assert (read_back.id, read_back.side, read_back.power) == (placed.id, placed.side, 1500.0)
        assert isinstance(event.model, OrderStatusUpdate)
        assert event.model.data.order_id == placed.id
        assert sandbox.stop() == 0
    finally:
        sandbox.close()


@pytest.mark.broker
def test_printed_broker_line_carries_a_0_2_9_trade_to_its_closed_orders(
    certificate: tuple[Path, Path], vhost_url: str
) -> None:
    """0.2.9-style code (market URL + access token) trades over the printed broker URL."""
    sandbox = TlsSandbox(*certificate, vhost_url)
    try:
        env = sandbox.env
        vhost = urlsplit(vhost_url).path
        assert env["FLXTRD_BROKER_URL"] == f"amqp://127.0.0.1:{urlsplit(vhost_url).port}{vhost}"
        start = _quarter_ahead(8)
        flexibility = Flexibility(
            wattage=100.0, starttime=start, duration=HOUR_MS, expirationtime=start - QUARTER_MS
        )
        token = f"device-{uuid.uuid4().hex}"
        with FlexAPIClient(market_url=REAL_MARKET, access_token=token, env=env) as client:
            client.connect()
            for side in (OrderType.ASK, OrderType.BID):
                order = MarketOrder(type=side, price=100.0, flexibility=flexibility)
                _, err = client.send_order(order=order)
                assert err is None, err
            kinds = set()
            for message in client.market_messages(timeout=WAIT_S):
                kinds.add(message.msg_type)
                if {"ask_closed_order", "bid_closed_order"} <= kinds:
                    break
        assert {"ask_closed_order", "bid_closed_order"} <= kinds
        assert sandbox.stop() == 0
    finally:
        sandbox.close()
