"""Issue 10 point 7 with default token keys: two served sandboxes, one seed, one RabbitMQ.

Each ``python -m flxtrd sandbox`` process picks a random token-signing key; with the same
``--seed`` they used to hand out the same ``userId`` with different device tokens, so the last
to provision a (global) RabbitMQ user set its password and the other sandbox's device was
refused. Here both sandboxes, each in a virtual host of its own, trade generation 1 at once; one
is stopped and the other's devices still log in and trade.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from flxtrd._amqp._api import AmpqAPI
from flxtrd._line_protocol import OrderLine
from flxtrd._retry import RetryPolicy

pytestmark = pytest.mark.broker

READY_TIMEOUT_S = 30.0
EXIT_TIMEOUT_S = 20.0
WAIT_S = 5.0
HOUR_MS = 3_600_000


def _rabbitmqctl(*args: str) -> str:
    return subprocess.run(
        ["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=60, check=True
    ).stdout


@pytest.fixture
def two_vhosts(amqp_url: str) -> Iterator[list[str]]:
    """Two fresh virtual hosts on the real RabbitMQ (rabbitmqctl needed; a failure in CI)."""
    if shutil.which("rabbitmqctl") is None:
        if os.environ.get("CI"):
            pytest.fail("rabbitmqctl is needed for the broker-user tests in CI")
        pytest.skip("rabbitmqctl is not on PATH")
    where = urlsplit(amqp_url)
    names = [f"flxtrd-compat2-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    made: list[str] = []
    try:
        for name in names:
            _rabbitmqctl("add_vhost", name)
            made.append(name)
            _rabbitmqctl("set_permissions", "-p", name, where.username or "guest", ".*", ".*", ".*")
        yield [urlunsplit((where.scheme, where.netloc, f"/{n}", "", "")) for n in names]
    finally:
        for name in made:
            _rabbitmqctl("delete_vhost", name)


class _Sandbox:
    """One ``python -m flxtrd sandbox`` process (default token key) and its REST URL."""

    def __init__(self, amqp_url: str, seed: int, *options: str) -> None:
        self.amqp_url = amqp_url
        argv = [sys.executable, "-m", "flxtrd", "sandbox", "--http", "127.0.0.1:0",
                "--amqp", amqp_url, "--seed", str(seed), "--broker-users", "on",
                *options]  # fmt: skip
        self.process = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
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
        for text in self.process.stdout:
            self.lines.put(text)
        self.lines.put(None)

    def _read_errors(self) -> None:
        assert self.process.stderr is not None
        for text in self.process.stderr:
            self.errors.append(text)

    def _await_ready(self) -> str:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            try:
                text = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                text = None
            if text is None:
                self.process.kill()
                raise AssertionError(f"no ready line; stderr: {''.join(self.errors)[-2000:]}")
            found = re.search(r"ready: REST \+ WebSocket (https?://[0-9.]+:[0-9]+)", text)
            if found:
                return found.group(1)

    def login(self, name: str) -> dict[str, Any]:
        """``POST /users/login`` as ``name``: the market's answer (userId, locations)."""
        response = httpx.post(
            f"{self.url}/users/login",
            data={"email": f"{name}@example.com", "password": "pw"},
            timeout=WAIT_S,
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def stop(self) -> int:
        """SIGTERM; the exit code (fails if the process does not exit in time)."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(EXIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"no exit within {EXIT_TIMEOUT_S} s after SIGTERM") from None

    def close(self) -> None:
        """Make sure the process is gone (SIGTERM, so it removes its broker users; then SIGKILL)
        and its pipes are closed."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(EXIT_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process.wait()
        for reader in self._readers:
            reader.join(EXIT_TIMEOUT_S)
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()


def _device(amqp_url: str, login: dict[str, Any]) -> AmpqAPI:
    """A market client logged in to the broker as userId / device token (the REST answer)."""
    where = urlsplit(amqp_url)
    location = login["locations"][0]
    url = (
        f"amqp://{login['userId']}:{location['token']}@{where.hostname}:{where.port or 5672}"
        f"{where.path}"
    )
    api = AmpqAPI(url, None, None, location["_id"], declare_exchanges=False,
                  retry_policy=RetryPolicy(max_retries=0), confirm_timeout=WAIT_S)  # fmt: skip
    api.connect()
    return api


def _order(side: str, key: str, price: float, start_ms: int) -> OrderLine:
    """A valid order line delivering at ``start_ms`` for 15 minutes."""
    return OrderLine(
        side=side, application_key=key, starttime=start_ms, wattage=2500.0, runtime=900_000,
        totalenergy=625.0, price=price, expirationtime=start_ms - HOUR_MS // 2,
    )  # fmt: skip


def _closed_price(api: AmpqAPI, msg_type: str) -> float:
    """The price of the next reply of ``msg_type`` (fails after WAIT_S without one)."""
    for message in api.market_messages(timeout=WAIT_S):
        if message.msg_type == msg_type:
            return float(message["closed_order"]["price"])
    raise AssertionError(f"no {msg_type} within {WAIT_S} s")


def _trade(pairs: list[tuple[AmpqAPI, AmpqAPI]], start_ms: int) -> list[tuple[float, float]]:
    """Each (seller, buyer) pair places an ask and a bid at once; their closed-order prices."""
    for seller, buyer in pairs:
        seller.send_order(_order("ask", seller.application_key, 10.0, start_ms))
        buyer.send_order(_order("bid", buyer.application_key, 12.0, start_ms))
    return [
        (_closed_price(seller, "ask_closed_order"), _closed_price(buyer, "bid_closed_order"))
        for seller, buyer in pairs
    ]


def _close(*apis: AmpqAPI) -> None:
    for api in apis:
        api.close_connection()


def test_two_same_seed_sandboxes_with_default_keys_trade_at_once_and_survive_one_stopping(
    two_vhosts: list[str],
) -> None:
    """Same --seed, a random token key each: both sandboxes' devices log in to the broker with
    what REST gave them and trade at once; after one stops, the other's still log in and trade."""
    seed = uuid.uuid4().int % 2**31
    sandboxes: list[_Sandbox] = []
    apis: list[AmpqAPI] = []
    try:
        for vhost_url in two_vhosts:
            sandboxes.append(_Sandbox(vhost_url, seed))
        logins = [{n: s.login(n) for n in ("alice", "bob")} for s in sandboxes]
        pairs = []
        for sandbox, login in zip(sandboxes, logins, strict=True):
            pair = (
                _device(sandbox.amqp_url, login["alice"]),
                _device(sandbox.amqp_url, login["bob"]),
            )
            apis.extend(pair)
            pairs.append(pair)
        start_ms = (time.time_ns() // 1_000_000 // HOUR_MS + 2) * HOUR_MS
        assert _trade(pairs, start_ms) == [(12.0, 12.0), (12.0, 12.0)]
        _close(*apis)
        apis.clear()

        assert sandboxes[0].stop() == 0
        survivor, login = sandboxes[1], logins[1]
        pair = (
            _device(survivor.amqp_url, login["alice"]),
            _device(survivor.amqp_url, login["bob"]),
        )
        apis.extend(pair)
        assert _trade([pair], start_ms + HOUR_MS) == [(12.0, 12.0)]
    finally:
        _close(*apis)
        for sandbox in sandboxes:
            sandbox.close()


def _owner_tags(user_id: str) -> list[str] | None:
    """The owner tags of broker user ``user_id``, or None when there is no such user."""
    for user in json.loads(_rabbitmqctl("list_users", "--formatter", "json")):
        if user["user"] == user_id:
            return [t for t in user["tags"] if t.startswith("flxtrd-sandbox:")]
    return None


def test_a_sandbox_starting_releases_what_a_killed_one_left_on_the_broker_and_nothing_else(
    two_vhosts: list[str], tmp_path: Path
) -> None:
    """A sandbox SIGKILLed leaves its owner tag; the next served sandbox on this machine drops
    it (deleting users no live owner keeps), and a live sandbox's user and device are kept."""
    key_file = tmp_path / "token.key"
    key_file.write_text(uuid.uuid4().hex * 2)
    seed = uuid.uuid4().int % 2**31
    killed = _Sandbox(two_vhosts[0], seed, "--token-key-file", str(key_file))
    sandboxes = [killed]
    apis: list[AmpqAPI] = []
    try:
        live = _Sandbox(two_vhosts[1], seed, "--token-key-file", str(key_file))
        sandboxes.append(live)
        shared, alone = live.login("alice"), killed.login("carol")
        assert killed.login("alice")["userId"] == shared["userId"]
        killed.process.kill()
        killed.process.wait()
        assert len(_owner_tags(shared["userId"]) or []) == 2
        assert len(_owner_tags(alone["userId"]) or []) == 1

        sandboxes.append(_Sandbox(two_vhosts[0], seed))
        assert _owner_tags(alone["userId"]) is None
        assert len(_owner_tags(shared["userId"]) or []) == 1
        apis.append(_device(live.amqp_url, shared))
        _close(*apis)
        apis.clear()
        assert live.stop() == 0
        assert _owner_tags(shared["userId"]) is None
    finally:
        _close(*apis)
        for sandbox in sandboxes:
            sandbox.close()
