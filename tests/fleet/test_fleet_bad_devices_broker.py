"""Bad devices on a real RabbitMQ: refused login, reply queue locked by another process."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator

import pytest
from kombu import Connection

from flxtrd import AlreadyConnectedError, BrokerError, Fleet, FleetDevice
from flxtrd._fleet._shards import OrderPlan, plan_order

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
