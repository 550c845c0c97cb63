"""Bad devices on a real RabbitMQ: refused login, reply queue locked by another process."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator, Sequence

import pytest
from kombu import Connection

from flxtrd import AlreadyConnectedError, BrokerError, Fleet, FleetDevice, FlexError
from flxtrd._fleet._shards import (
    OrderPlan,
    ShardAssignment,
    ShardWorker,
    delete_shards,
    plan_order,
    publish_assignments,
    shard_queue,
)

pytestmark = pytest.mark.broker
QUARTER = 15 * 60_000


@pytest.fixture
def topology(amqp_url: str) -> Iterator[dict[str, str]]:
    """Exchanges of this test's own (the shared broker's ``in`` feeds sandboxes) and a sink."""
    tag = uuid.uuid4().hex[:10]
    names = {"exchange": f"fleet-test-in-{tag}", "reply_exchange": f"fleet-test-out-{tag}"}
    sink = f"fleet-test-sink-{tag}"
    with Connection(amqp_url) as conn:
        channel = conn.default_channel
        for name in names.values():
            channel.exchange_declare(exchange=name, type="direct", auto_delete=True)
        channel.queue_declare(queue=sink, auto_delete=True, arguments={"x-max-length": 1000})
        for key in ("ask", "bid"):
            channel.queue_bind(queue=sink, exchange=names["exchange"], routing_key=key)
        yield names
        channel.queue_delete(sink)
        for name in names.values():
            channel.exchange_delete(name)


def _guest(index: int, tag: str, password: str = "guest") -> FleetDevice:
    return FleetDevice(f"dev{index}", "guest", password, f"fleet-test-{tag}-{index}")


def _orders(devices: list[FleetDevice]) -> list[tuple[str, object]]:
    start = (time.time_ns() // 1_000_000 // QUARTER + 8) * QUARTER
    plan = OrderPlan(orders=1, start_ms=start)
    return [(d.device_id, plan_order(plan, i)) for i, d in enumerate(devices)]


def test_a_device_with_bad_credentials_fails_alone_and_the_rest_trade(
    amqp_url: str, topology: dict[str, str]
) -> None:
    """A refused login is that device's BrokerError (no secret in it); 3 others confirm."""
    tag = uuid.uuid4().hex[:8]
    devices = [_guest(i, tag) for i in range(4)]
    devices[1] = _guest(1, tag, password="wrong-secret-123")
    broker = amqp_url.replace("guest:guest@", "")
    with Fleet(devices, broker_url=broker, **topology) as fleet:
        error = fleet.errors["dev1"]
        assert isinstance(error, BrokerError)
        assert "refused the login" in str(error) and "wrong-secret-123" not in str(error)
        outcomes = fleet.place(_orders(devices))
        assert [o.ok for o in outcomes] == [True, False, True, True]
        assert outcomes[1].error is error


def test_a_reply_queue_locked_by_another_process_fails_that_device_alone(
    amqp_url: str, topology: dict[str, str]
) -> None:
    """Another process holds one device's queue: RESOURCE_LOCKED for it, the others confirm."""
    tag = uuid.uuid4().hex[:8]
    devices = [_guest(i, tag) for i in range(3)]
    broker = amqp_url.replace("guest:guest@", "")
    holder_code = textwrap.dedent(
        f"""
        import sys
        from flxtrd import AmpqAPI
        api = AmpqAPI({broker!r}, "guest", "guest", {devices[0].application_key!r},
                      exchange={topology["exchange"]!r},
                      reply_exchange={topology["reply_exchange"]!r})
        api.connect()
        print("holding", flush=True)
        sys.stdin.read()
        """
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", holder_code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        with Fleet(devices, broker_url=broker, **topology) as fleet:
            assert isinstance(fleet.errors.get("dev0"), AlreadyConnectedError)
            assert set(fleet.errors) == {"dev0"}
            outcomes = fleet.place(_orders(devices))
            assert [o.ok for o in outcomes] == [False, True, True]
            assert isinstance(outcomes[0].error, AlreadyConnectedError)
    finally:
        holder.communicate("", timeout=20)


def test_a_shard_worker_gives_up_devices_that_cannot_trade_and_the_shard_completes(
    amqp_url: str, topology: dict[str, str]
) -> None:
    """A refused login and a failed lookup are retried, then recorded as failed; dev0 finishes."""
    tag = uuid.uuid4().hex[:8]
    run = f"ft{tag}"
    broker = amqp_url.replace("guest:guest@", "")
    good, bad = _guest(0, tag), _guest(1, tag, password="wrong-secret-456")

    def devices(ids: Sequence[str]) -> tuple[str, list[FleetDevice], dict[str, FlexError]]:
        assert sorted(ids) == ["dev0", "dev1", "dev2"]
        return broker, [good, bad], {"dev2": FlexError("no such account")}

    start = (time.time_ns() // 1_000_000 // QUARTER + 8) * QUARTER
    publish_assignments(amqp_url, run, [{"dev0": 0, "dev1": 1, "dev2": 2}], OrderPlan(2, start))
    out = io.StringIO()
    worker = ShardWorker(
        amqp_url, run, 1, devices, out=out, device_retry_s=0.3, fleet_options=topology
    )
    deadline = time.monotonic() + 20
    try:
        worker.open()
        worker.run_forever(
            lambda: (
                time.monotonic() > deadline
                or any(a.complete for a in worker.assignments().values())
            )
        )
        (assignment,) = worker.assignments().values()
        assert assignment.complete
        assert assignment.next_seq.get("dev0") == 3 and len(worker.confirmed) == 2
        assert set(assignment.failed) == {"dev1", "dev2"}
        assert "refused the login" in assignment.failed["dev1"]
        assert "login lookup failed" in assignment.failed["dev2"]
        assert "wrong-secret-456" not in out.getvalue() + json.dumps(assignment.failed)
    finally:
        worker.close()
    with Connection(amqp_url) as conn:  # the checkpoint left in the queue says the same
        message = conn.default_channel.basic_get(shard_queue(run, 0), no_ack=True)
        assert message is not None
        assert set(ShardAssignment.decode(message.body).failed) == {"dev1", "dev2"}
    delete_shards(amqp_url, run, 1)
