"""Two shard workers on the served sandbox and RabbitMQ; one is SIGKILLed, the other takes over."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from fleet_procs import FleetProcess, confirmed_ids, write_accounts
from served import served_sandbox

from flxtrd import FlexAPIClient, User

DEVICES = int(os.environ.get("FLXTRD_FLEET_TEST_DEVICES", "50"))
"""50 fit CI; ``FLXTRD_FLEET_TEST_DEVICES=200`` runs the issue's full size."""
ORDERS = 6
SHARDS = 4
TAKEOVER_BOUND_S = 30.0
"""The issue's "bounded time": a shard is running under another worker this soon after a kill."""

pytestmark = pytest.mark.broker


def _running_all(lines: list[str]) -> bool:
    """Every shard taken, and orders confirmed after the last was."""
    taken = [i for i, line in enumerate(lines) if line.startswith("took shard")]
    return len(taken) == SHARDS and len(confirmed_ids(lines[taken[-1] :])) > 0


def _complete(lines: list[str]) -> bool:
    return sum(line.endswith(" complete") for line in lines) >= SHARDS


def test_a_killed_workers_shards_are_taken_over_with_no_order_lost_or_traded_twice(
    amqp_url: str, accounts_file: Path
) -> None:
    """SIGKILL one of 2 workers: the other takes its shards; every order trades exactly once."""
    emails = write_accounts(accounts_file, DEVICES)
    run = f"t{uuid.uuid4().hex[:12]}"
    env = {"FLXTRD_FLEET_CONTROL_URL": amqp_url}
    with served_sandbox(amqp_url, args=["--strict-accounts", str(accounts_file)]) as sandbox:
        common = ["--market", sandbox.market_url, "--devices-file", str(accounts_file)]
        common += ["--run", run, "--shards", str(SHARDS), "--orders", str(ORDERS)]
        assign = FleetProcess(["--assign", *common], env)
        assert assign.finish(60) == 0, assign.text()
        first = FleetProcess(["--worker", *common, "--interval", "1.0"], env)
        second: FleetProcess | None = None
        try:
            assert first.wait_for(lambda ls: any("consuming" in x for x in ls), 30), first.text()
            second = FleetProcess(["--worker", *common, "--interval", "0.05"], env)
            assert second.wait_for(lambda ls: any("consuming" in x for x in ls), 30), second.text()
            # mid-run: the first worker holds every shard and has run a round since the last
            assert first.wait_for(_running_all, 60), first.text()
            first.kill()
            killed_at = time.time()
            assert not _complete(first.lines), "the kill came too late to be mid-run"

            assert second.wait_for(_complete, 90), second.text()
            took = [x for x in second.lines if x.startswith("took shard")]
            assert len(took) == SHARDS, second.text()
            took_at = [float(x.rsplit(" at ", 1)[1]) for x in took]
            assert max(took_at) - killed_at < TAKEOVER_BOUND_S
        finally:
            if second is not None:
                assert second.terminate() == 0, second.text()
            if first.process.poll() is None:
                first.kill()
        assert second is not None
        done = set(confirmed_ids(first.lines)) | set(confirmed_ids(second.lines))
        expected = {f"{run}:{email}:{seq}" for email in emails for seq in range(1, ORDERS + 1)}
        assert done == expected  # none lost: every order of every device was confirmed
        resent = set(confirmed_ids(first.lines)) & set(confirmed_ids(second.lines))
        assert len(resent) <= DEVICES  # at most the one round after the last checkpoint
        # the sandbox's record: every ask met one bid once; a re-sent pair would trade again
        with FlexAPIClient(
            base_url=sandbox.market_url,
            user=User(name=emails[0], password=_password(accounts_file)),
            env={},
        ) as client:
            deals = _deals_once_matched(client, DEVICES // 2 * ORDERS)
        assert len(deals) == DEVICES // 2 * ORDERS


def _deals_once_matched(client: FlexAPIClient, expected: int, within_s: float = 60.0) -> list[Any]:
    """The market's deals once ``expected`` are there (or the deadline passed).

    A confirmed order is in the sandbox's queue, not yet matched: with 200 devices the sandbox is
    still draining the queue when the last worker stops, so the record is read until it settles.
    """
    deadline = time.monotonic() + within_s
    while True:
        deals = client.deals("1h", cache=False)
        assert deals is not None
        if len(deals) >= expected or time.monotonic() > deadline:
            return list(deals)
        time.sleep(0.2)  # a poll interval, not a wait for a guess: the loop ends on the count


def _password(accounts_file: Path) -> str:
    import json

    return str(json.loads(accounts_file.read_text())["accounts"][0]["password"])
