"""A fuzz of the served sandbox's HTTP surface: >= 10,000 requests, no answer >= 500.

ONE ``python -m flxtrd sandbox`` process (``tests/contract/served.py``; the broker worker on
``memory://``, so no RabbitMQ is needed; a known ``--token-key-file``, so forged tokens can be
well signed) gets, over real sockets, on one keep-alive httpx client (raw sockets for what
httpx will not send):

- schemathesis' cases for every operation of ``specs/openapi.yaml`` (`sbxfuzz_schemathesis`:
  its coverage cases, then positive and negative generated ones),
- hostile requests (`sbxfuzz_hostile`: deep bodies, huge and malformed ids, huge strings,
  every field of every wrong type, invalid UTF-8, wrong content types, truncations, unknown
  methods, broken HTTP framing),
- hostile bearer tokens on every secured operation and the WebSocket upgrades
  (`sbxfuzz_tokens`),
- random ones (`sbxfuzz_random`): at least 1,000 x scale, and as many as it takes to reach
  ``10,000 x FLXTRD_SANDBOX_FUZZ_SCALE`` requests in all (``make fuzz-sandbox``: scale 10,
  >= 100,000). Scale also multiplies schemathesis' generated cases (60 per operation and mode).

Then the sandbox must still answer correctly (log in, place, read, list and cancel an order,
refresh a token, a deal list, a WebSocket stream), must have logged no traceback, and must stop
cleanly on SIGTERM. A failure lists every request answered >= 500 (or not at all) in a form that
reproduces it. ``FLXTRD_SANDBOX_FUZZ_SEED`` picks the random requests (default 14).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from httpx_ws import connect_ws
from rel_served import CLIENT_ID, access_token, order_body
from sbxfuzz_hostile import Target, all_rest_probes, full_order, raw_requests
from sbxfuzz_random import random_probes
from sbxfuzz_schemathesis import run_schemathesis
from sbxfuzz_tokens import token_probes
from sbxfuzz_wire import Probe, RawProbe, Tally, Wire

sys.path.append(str(Path(__file__).resolve().parents[1] / "contract"))
from served import SandboxProcess, served_sandbox

REQUESTS_PER_SCALE = 10_000
SCHEMATHESIS_EXAMPLES_PER_SCALE = 60
"""Generated cases per operation and mode (positive, negative) at scale 1."""
RANDOM_PER_SCALE = 1_000
"""The fewest random requests at scale 1 (more if the others leave the total short)."""
HEADER_TIMEOUT_S = 2.0
KEY = b"sbxfuzz-token-key-0123456789abcdef0123456789"
SHOWN_FAILURES = 25


def fuzz_scale() -> int:
    """``FLXTRD_SANDBOX_FUZZ_SCALE`` (default 1), a whole number >= 1."""
    text = os.environ.get("FLXTRD_SANDBOX_FUZZ_SCALE", "1")
    if not text.isdigit() or int(text) < 1:
        raise pytest.UsageError(f"FLXTRD_SANDBOX_FUZZ_SCALE must be a whole number >= 1: {text!r}")
    return int(text)


def fuzz_seed() -> int:
    """``FLXTRD_SANDBOX_FUZZ_SEED`` (default 14): the seed of the random requests."""
    text = os.environ.get("FLXTRD_SANDBOX_FUZZ_SEED", "14")
    if not text.isdigit():
        raise pytest.UsageError(f"FLXTRD_SANDBOX_FUZZ_SEED must be a whole number: {text!r}")
    return int(text)


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxProcess]:
    """The served sandbox process under fuzz (stopped with SIGTERM and checked afterwards)."""
    key_file = tmp_path / "sandbox.key"
    key_file.write_bytes(KEY + b"\n")
    args = ["--token-key-file", str(key_file), "--header-timeout", str(HEADER_TIMEOUT_S)]
    with served_sandbox("memory://", args=args) as process:
        yield process


def _target(client: httpx.Client, seed: int) -> Target:
    """Log the fuzz user in, and give it an order and a contract (with a second user)."""
    form = {"grant_type": "password", "client_id": CLIENT_ID, "username": "fuzz@example.com"}
    pair = client.post("/auth/oauth/v2/token", data={**form, "password": "pw"}).json()
    login = client.post("/users/login", data={"email": "fuzz@example.com", "password": "pw"})
    target = Target(
        access=pair["access_token"],
        login=login.json()["token"],
        refresh=pair["refresh_token"],
        key=KEY,
        seed=seed,
        device_token=login.json()["locations"][0]["token"],
    )
    other = {"Authorization": f"Bearer {access_token(client, 'other@example.com')}"}
    mine = {"Authorization": f"Bearer {target.access}"}
    sell = {**full_order(), "price": 0.1}  # a sell trades once it has a baseline
    for headers, body in ((mine, order_body()), (other, sell), (mine, order_body())):
        placed = client.post("/api/v1/order/", json=body, headers=headers)
        assert placed.status_code == 200, placed.text
        target.order_ids.append(placed.json()["id"])
    contracts = client.get("/api/v1/contract/", headers=mine).json()["items"]
    target.contract_ids.extend(c["id"] for c in contracts)
    assert target.contract_ids, "the set-up trade made no contract"
    return target


def _send(wire: Wire, probe: Probe | RawProbe, source: str) -> None:
    if isinstance(probe, RawProbe):
        wire.send_raw(probe, source)
    else:
        wire.send(probe, source)


def _still_trades(url: str) -> None:
    """The sandbox answers a normal session correctly: orders, tokens, deals, a stream."""
    with httpx.Client(base_url=url, timeout=30) as client:
        form = {"grant_type": "password", "client_id": CLIENT_ID, "username": "after@example.com"}
        pair = client.post("/auth/oauth/v2/token", data={**form, "password": "pw"})
        assert pair.status_code == 200, pair.text
        auth = {"Authorization": f"Bearer {pair.json()['access_token']}"}
        # A sell without its baseline waits for it: no order of the fuzz can fill it.
        sell = {**order_body(), "side": "sell"}
        placed = client.post("/api/v1/order/", json=sell, headers=auth)
        assert placed.status_code == 200, placed.text
        order_id = placed.json()["id"]
        read = client.get(f"/api/v1/order/{order_id}", headers=auth).json()
        assert read == placed.json() and read["status"] == "awaiting_baseline_data", read
        listed = client.get("/api/v1/order/", headers=auth).json()
        assert [item["id"] for item in listed["items"]] == [order_id], listed
        cancelled = client.post(f"/api/v1/order/{order_id}/cancel", headers=auth)
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        refresh = {"grant_type": "refresh_token", "client_id": CLIENT_ID}
        refreshed = client.post(
            "/auth/oauth/v2/token",
            data={**refresh, "refresh_token": pair.json()["refresh_token"]},
        )
        assert refreshed.status_code == 200, refreshed.text
        login = client.post("/users/login", data={"email": "after@example.com", "password": "x"})
        deals = client.get("/deals/", headers={"Authorization": f"Bearer {login.json()['token']}"})
        assert deals.status_code == 200 and isinstance(deals.json(), list), deals.text
        with connect_ws(f"{url}/api/v1/ws/trade/", client, headers=dict(auth)) as ws:
            assert json.loads(ws.receive_text(timeout=10))["type"] == "control"


def _failures(title: str, lines: list[str]) -> str:
    shown = "\n".join(lines[:SHOWN_FAILURES])
    more = f"\n... and {len(lines) - SHOWN_FAILURES} more" if len(lines) > SHOWN_FAILURES else ""
    return f"{len(lines)} {title}:\n{shown}{more}"


def test_the_served_sandbox_answers_every_fuzzed_request_below_500(
    sandbox: SandboxProcess,
) -> None:
    """>= 10,000 x scale fuzzed requests: none answered >= 500; then it still trades, no trace."""
    scale, seed = fuzz_scale(), fuzz_seed()
    tally = Tally()
    wire = Wire(sandbox.http_url, tally, timeout_s=HEADER_TIMEOUT_S + 20)
    try:
        target = _target(wire.client, sandbox.seed)
        operations = run_schemathesis(
            SCHEMATHESIS_EXAMPLES_PER_SCALE * scale,
            target.bearer,
            lambda probe: _send(wire, probe, "schemathesis"),
        )
        for probe in all_rest_probes(target):
            _send(wire, probe, "hostile")
        for raw_probe in raw_requests(target):
            _send(wire, raw_probe, "raw")
        for token_probe in token_probes(target):
            _send(wire, token_probe, "tokens")
        rest = max(RANDOM_PER_SCALE * scale, REQUESTS_PER_SCALE * scale - tally.sent)
        for random_probe in random_probes(target, rest, seed):
            _send(wire, random_probe, "random")
    finally:
        wire.close()
    print(f"\nsandbox fuzz, scale {scale}, seed {seed}: {tally.summary()}")
    log = sandbox.stderr_text()
    assert len(operations) == 10, operations
    assert not tally.server_errors, _failures("answers >= 500", tally.server_errors)
    assert not tally.unanswered, _failures("requests without an answer", tally.unanswered)
    assert tally.sent >= REQUESTS_PER_SCALE * scale, tally.summary()
    _still_trades(sandbox.http_url)
    assert "Traceback" not in log, log[-6000:]
