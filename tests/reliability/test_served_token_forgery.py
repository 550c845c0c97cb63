"""Served-sandbox tokens cannot be forged from the public ``--seed``.

An attacker knows the seed (it is on the command line, and the code is open), so everything
derived from it is public: with the old seed-derived signing key, ``Accounts(seed=...)`` made
offline signed a token the served sandbox accepted, and it read another user's orders; the
device token (the broker password) derived from the seed too. Now the signing key is random per
run unless ``--token-key-file`` gives one, which also makes tokens survive a restart.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from rel_served import access_token, order_body, served

from flxtrd.sandbox._accounts import Accounts
from flxtrd.sandbox._served import ServedSandbox

SEED = 4242
ACCOUNTS = {
    "accounts": [
        {"email": "alice@example.com", "password": "alice-secret"},
        {"email": "bob@example.com", "password": "bob-secret"},
    ]
}


@pytest.fixture(scope="module")
def strict_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedSandbox]:
    """A served sandbox with seed 4242 and two strict accounts; bob has one order."""
    path = tmp_path_factory.mktemp("accounts") / "accounts.json"
    path.write_text(json.dumps(ACCOUNTS), encoding="utf-8")
    with served(seed=SEED, strict_accounts=str(path)) as running:
        with httpx.Client(base_url=running.http_url) as client:
            token = access_token(client, "bob@example.com", "bob-secret")
            bearer = {"Authorization": f"Bearer {token}"}
            placed = client.post("/api/v1/order/", json=order_body(["bob-site"]), headers=bearer)
            assert placed.status_code == 200, placed.text
        yield running


def test_a_token_forged_from_the_seed_reads_no_orders(strict_sandbox: ServedSandbox) -> None:
    """A token signed offline by ``Accounts(seed=<the public seed>)`` for bob is a 401."""
    forged = Accounts(seed=SEED).issue_token("bob@example.com", "guessed").access_token
    with httpx.Client(base_url=strict_sandbox.http_url) as client:
        real = access_token(client, "bob@example.com", "bob-secret")
        mine = client.get("/api/v1/order/", headers={"Authorization": f"Bearer {real}"})
        stolen = client.get("/api/v1/order/", headers={"Authorization": f"Bearer {forged}"})
    assert mine.status_code == 200 and mine.json()["total"] == 1
    assert stolen.status_code == 401, stolen.text
    assert stolen.json() == {"detail": "Invalid token"}


def test_a_device_token_derived_from_the_seed_is_unknown(strict_sandbox: ServedSandbox) -> None:
    """Bob's device token (his broker password) is not what the public seed derives."""
    guessed = Accounts(seed=SEED).derive("bob@example.com").locations[0].token
    with httpx.Client(base_url=strict_sandbox.http_url) as client:
        login = client.post(
            "/users/login", data={"email": "bob@example.com", "password": "bob-secret"}
        )
        real = login.json()["locations"][0]["token"]
        assert client.get(f"/users/mptoken/{real}").status_code == 200
        assert client.get(f"/users/mptoken/{guessed}").status_code == 404
    assert guessed != real


def test_two_runs_with_one_seed_do_not_accept_each_others_tokens() -> None:
    """Without a key file every run has its own key: run 1's token is a 401 in run 2."""
    with served(seed=SEED) as first, httpx.Client(base_url=first.http_url) as client:
        token = access_token(client, "carol@example.com")
    with served(seed=SEED) as second, httpx.Client(base_url=second.http_url) as client:
        own = access_token(client, "carol@example.com")
        theirs = client.get("/api/v1/order/", headers={"Authorization": f"Bearer {token}"})
        mine = client.get("/api/v1/order/", headers={"Authorization": f"Bearer {own}"})
    assert mine.status_code == 200
    assert theirs.status_code == 401, theirs.text


_READY = re.compile(r"REST \+ WebSocket (http://\S+?),")


def _start_cli(key_file: Path) -> tuple[subprocess.Popen[str], str]:
    """``python -m flxtrd sandbox --token-key-file`` on memory://; its URL from the ready line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLXTRD_")}
    command = [sys.executable, "-m", "flxtrd", "sandbox", "--http", "127.0.0.1:0"]
    command += ["--amqp", "memory://", "--seed", str(SEED), "--token-key-file", str(key_file)]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not selector.select(deadline - time.monotonic()):
                continue
            line = process.stdout.readline()
            if not line:
                break
            match = _READY.search(line)
            if match:
                return process, match[1]
    process.kill()
    process.wait()
    raise AssertionError("the sandbox printed no ready line")


def _stop_cli(process: subprocess.Popen[str]) -> None:
    process.terminate()
    process.communicate(timeout=20)
    assert process.returncode == 0


def test_token_key_file_keeps_tokens_valid_across_a_restart(tmp_path: Path) -> None:
    """With ``--token-key-file`` a token issued before a restart is accepted after it."""
    key_file = tmp_path / "sandbox.key"
    key_file.write_text("d2f1c3e4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff00\n")
    process, url = _start_cli(key_file)
    try:
        with httpx.Client(base_url=url) as client:
            token = access_token(client, "dave@example.com")
    finally:
        _stop_cli(process)
    process, url = _start_cli(key_file)
    try:
        again = httpx.get(f"{url}/api/v1/order/", headers={"Authorization": f"Bearer {token}"})
    finally:
        _stop_cli(process)
    assert again.status_code == 200, again.text
