"""``python -m flxtrd sandbox`` as a process: a market client trades with it; signals stop it.

Each test starts the served sandbox on a free HTTP port against the real RabbitMQ, waits for its
ready line (no fixed sleeps), talks to it as a client of the real market would (REST login ->
``amqp://userId:token@...``), then sends SIGTERM or SIGINT and checks the exit code and that
nothing is left on the broker (connections, broker users, the order queue).

The sandboxes run in a virtual host of their own (made and deleted here), so they use the
market's default exchange and queue names without meeting any other sandbox on the broker.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import amqp
import httpx
import pytest
from kombu.connection import Connection as _KombuConnection
from test_sandbox_broker import ReplySchemas

from flxtrd._amqp._api import AmpqAPI
from flxtrd._line_protocol import OrderLine
from flxtrd._retry import RetryPolicy
from flxtrd.sandbox._broker import DEFAULT_ORDER_QUEUE

#: kombu is untyped; one typed handle to its Connection class.
Connection: Callable[..., Any] = _KombuConnection

pytestmark = pytest.mark.broker

READY_TIMEOUT_S = 30.0
EXIT_TIMEOUT_S = 20.0
WAIT_S = 5.0
HOUR_MS = 3_600_000
WORKER_CONNECTION = "flxtrd sandbox broker worker"


def rabbitmqctl(*args: str) -> str:
    """Run rabbitmqctl quietly and return its output."""
    done = subprocess.run(
        ["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout


def need_rabbitmqctl() -> None:
    """Skip (fail in CI) when rabbitmqctl cannot be run."""
    if shutil.which("rabbitmqctl") is None:
        if os.environ.get("CI"):
            pytest.fail("rabbitmqctl is needed for the served-sandbox contract tests in CI")
        pytest.skip("rabbitmqctl is not on PATH")


@pytest.fixture(scope="module")
def vhost_url(amqp_url: str) -> Iterator[str]:
    """``amqp_url`` on a fresh virtual host where the URL's user may do anything; deleted after."""
    need_rabbitmqctl()
    vhost = f"flxtrd-served-{uuid.uuid4().hex[:8]}"
    where = urlsplit(amqp_url)
    rabbitmqctl("add_vhost", vhost)
    try:
        rabbitmqctl("set_permissions", "-p", vhost, where.username or "guest", ".*", ".*", ".*")
        yield urlunsplit((where.scheme, where.netloc, f"/{vhost}", "", ""))
    finally:
        rabbitmqctl("delete_vhost", vhost)


class Served:
    """The sandbox process, its output lines, and where it serves."""

    def __init__(self, amqp_url: str, *options: str) -> None:
        self.vhost = urlsplit(amqp_url).path.lstrip("/") or "/"
        argv = [sys.executable, "-m", "flxtrd", "sandbox", "--http", "127.0.0.1:0",
                "--amqp", amqp_url, *options]  # fmt: skip
        self.process = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.output: list[str] = []
        self.errors: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, daemon=True),
            threading.Thread(target=self._read_errors, daemon=True),
        ]
        for reader in self._readers:
            reader.start()
        self.url = self._await_ready()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def _read_errors(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.errors.append(line)

    def _await_ready(self) -> str:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            remaining = deadline - time.monotonic()
            try:
                line = self.lines.get(timeout=max(0.0, remaining))
            except queue.Empty:
                line = None
            if line is None:
                self.process.kill()
                raise AssertionError(f"no ready line; stderr: {''.join(self.errors)[-2000:]}")
            found = re.search(r"ready: REST \+ WebSocket (https?://[0-9.]+:[0-9]+)", line)
            if found:
                return found.group(1)

    def stop(self, signum: int) -> int:
        """Send ``signum`` and return the exit code (fails if it does not exit in time)."""
        self.process.send_signal(signum)
        try:
            return self.process.wait(EXIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(
                f"no exit within {EXIT_TIMEOUT_S} s after signal {signum}"
            ) from None

    def close(self) -> None:
        """Make sure the process is gone and its pipes are closed."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for reader in self._readers:
            reader.join(EXIT_TIMEOUT_S)
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()

    def worker_connections(self) -> int:
        """Live broker connections of a sandbox broker worker in this sandbox's vhost."""
        out = rabbitmqctl("list_connections", "vhost", "client_properties")
        return sum(
            1
            for row in out.splitlines()
            if row.split("\t", 1)[0] == self.vhost and WORKER_CONNECTION in row
        )

    def broker_users(self) -> list[str]:
        """Users with permissions in this sandbox's vhost, the test's own login aside."""
        perms = json.loads(rabbitmqctl("list_permissions", "-p", self.vhost, "--formatter", "json"))
        return sorted(p["user"] for p in perms if p["user"] != "guest")


@pytest.fixture
def launch(vhost_url: str) -> Iterator[Any]:
    """Start served sandboxes in the test vhost; any still running at the end are killed."""
    started: list[Served] = []

    def start(*options: str) -> Served:
        served = Served(vhost_url, *options)
        started.append(served)
        return served

    yield start
    for served in started:
        served.close()


def order_queue_exists(amqp_url: str) -> bool:
    """Whether the sandbox's order queue is on the broker."""
    with Connection(amqp_url) as conn:
        try:
            conn.channel().queue_declare(DEFAULT_ORDER_QUEUE, passive=True)
        except amqp.NotFound:
            return False
    return True


def line(side: str, key: str, price: float, start_ms: int) -> OrderLine:
    """A valid order line delivering at ``start_ms`` for 15 minutes."""
    return OrderLine(
        side=side, application_key=key, starttime=start_ms, wattage=2500.0, runtime=900_000,
        totalenergy=625.0, price=price, expirationtime=start_ms - HOUR_MS // 2,
    )  # fmt: skip


def device(amqp_url: str, user_id: str, token: str, key: str) -> AmpqAPI:
    """A market client: logs in to the broker as userId / device token, default exchanges."""
    where = urlsplit(amqp_url)
    url = f"amqp://{user_id}:{token}@{where.hostname}:{where.port or 5672}{where.path}"
    api = AmpqAPI(url, None, None, key, declare_exchanges=False,
                  retry_policy=RetryPolicy(max_retries=0), confirm_timeout=WAIT_S)  # fmt: skip
    api.connect()
    return api


def next_reply(api: AmpqAPI, msg_type: str, seen: list[Any]) -> Any:
    """The next reply of ``msg_type`` (every reply read is appended to ``seen``)."""
    for message in api.market_messages(timeout=WAIT_S):
        seen.append(message)
        if message.msg_type == msg_type:
            return message
    raise AssertionError(f"no {msg_type} within {WAIT_S} s")


def test_a_market_client_logs_in_and_trades_then_sigterm_exits_0_and_cleans_up(
    launch: Any, vhost_url: str
) -> None:
    """REST login -> userId/token -> amqp; ask + bid trade; SIGTERM: exit 0, nothing left."""
    served = launch("--seed", str(os.getpid()))
    start_ms = (time.time_ns() // 1_000_000 // HOUR_MS + 2) * HOUR_MS
    apis: dict[str, AmpqAPI] = {}
    with httpx.Client(base_url=served.url, timeout=WAIT_S) as http:
        for name in ("alice", "bob"):
            response = http.post(
                "/users/login", data={"email": f"{name}@example.com", "password": "pw"}
            )
            assert response.status_code == 200
            body = response.json()
            location = body["locations"][0]
            apis[name] = device(vhost_url, body["userId"], location["token"], location["_id"])
    alice, bob = apis["alice"], apis["bob"]
    seen: list[Any] = []
    try:
        alice.send_order(line("ask", alice.application_key, 10.0, start_ms))
        bob.send_order(line("bid", bob.application_key, 12.0, start_ms))
        assert next_reply(alice, "ask_closed_order", seen)["closed_order"]["price"] == 12.0
        assert next_reply(bob, "bid_closed_order", seen)["closed_order"]["price"] == 12.0
        next_reply(alice, "tick", seen)
        next_reply(bob, "tick", seen)
    finally:
        alice.close_connection()
        bob.close_connection()
    schemas = ReplySchemas()
    for message in seen:
        schemas.check(message)
    assert served.worker_connections() == 1 and len(served.broker_users()) == 2

    assert served.stop(signal.SIGTERM) == 0
    assert any("stopped" in text for text in served.output)
    assert served.worker_connections() == 0
    assert served.broker_users() == []
    assert not order_queue_exists(vhost_url)


def test_strict_accounts_are_broker_users_from_the_start_and_sigint_exits_0(
    launch: Any, vhost_url: str, tmp_path: Path
) -> None:
    """A strict accounts file is provisioned at start-up (no login needed); Ctrl-C exits 0."""
    accounts = tmp_path / "accounts.json"
    user_id = f"strict-{os.getpid()}"
    accounts.write_text(json.dumps({"accounts": [
        {"email": "s@example.com", "password": "pw", "user_id": user_id,
         "locations": [{"_id": f"{user_id}-dev", "token": "strict-token-1"}]},
    ]}))  # fmt: skip
    served = launch("--strict-accounts", str(accounts))
    assert served.broker_users() == [user_id]
    api = device(vhost_url, user_id, "strict-token-1", f"{user_id}-dev")
    api.close_connection()
    with httpx.Client(base_url=served.url, timeout=WAIT_S) as http:
        refused = http.post("/users/login", data={"email": "x@example.com", "password": "pw"})
    assert refused.status_code == 401
    assert served.stop(signal.SIGINT) == 0
    assert served.broker_users() == [] and served.worker_connections() == 0


def test_with_a_certificate_it_serves_https_to_a_verifying_client(
    launch: Any, tmp_path: Path
) -> None:
    """--certfile/--keyfile: https; a client verifying against the certificate logs in."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    served = launch("--certfile", str(cert), "--keyfile", str(key), "--broker-users", "off")
    assert served.url.startswith("https://")
    trusting = ssl.create_default_context(cafile=str(cert))
    with httpx.Client(base_url=served.url, verify=trusting, timeout=WAIT_S) as http:
        response = http.post("/users/login", data={"email": "t@example.com", "password": "pw"})
    assert response.status_code == 200 and response.json()["userId"]
    with (
        httpx.Client(base_url=served.url, timeout=WAIT_S) as untrusting,
        pytest.raises(httpx.ConnectError),
    ):
        untrusting.post("/users/login", data={"email": "t@example.com", "password": "pw"})
    assert served.stop(signal.SIGTERM) == 0
