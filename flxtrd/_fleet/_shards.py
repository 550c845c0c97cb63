"""Scale-out on RabbitMQ itself: shard queues with single-active-consumer, and the worker.

No coordinator of our own: RabbitMQ decides who runs what.

- The devices are split into shards. Each shard is a durable queue
  ``flxtrd.fleet.<run>.shard.<n>`` declared with ``x-single-active-consumer``: however many
  workers consume it, the broker delivers to one at a time and, when that one's connection
  dies, promotes the next.
- Each shard queue holds one **assignment** message (JSON: the shard's devices, the order plan
  and each device's next order sequence). The active worker keeps it **unacked** while it runs
  those devices (prefetch 1 per consumer): if the worker dies, the broker requeues the message
  and hands it to the next consumer, which takes the devices over.
- Checkpoints: after each round of orders a worker publishes the shard's new assignment (the
  progress made, publisher-confirmed) and only then acks the one it held. Killed between the
  two, the queue holds both; the next worker merges them (the furthest sequence per device).
- Resuming: a worker re-sends from the checkpoint with the deterministic message ids
  (:func:`~flxtrd._fleet._model.order_message_id`); orders the dead worker had sent after its
  last checkpoint come again with the same ids and the market drops them (the sandbox's broker
  deduplicates by ``(user, message_id)``; the market proper is expected to). So no order is
  lost (nothing advances without a confirm) and none trades twice.

A device's exclusive reply queue dies with its connection; the taking-over worker retries
``RESOURCE_LOCKED`` for a bounded time while the broker removes the dead worker's queues.

A device that cannot trade (its login lookup failed, the broker refused it, its connection
dropped) is retried with backoff for ``device_retry_s``; after that it is written into the
assignment as **failed**, with the reason, so the shard still completes, the next worker does
not retry it again, and the failure is in the record rather than a shard that never ends.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO
from urllib.parse import unquote, urlsplit

from flxtrd._errors import AlreadyConnectedError, FlexError
from flxtrd._log import get_logger
from flxtrd._types import Flexibility, MarketOrder, OrderType

from ._fleet import Fleet
from ._model import FleetDevice, check_run, order_message_id

__all__ = [
    "OrderPlan",
    "ShardAssignment",
    "ShardWorker",
    "assign_shards",
    "plan_order",
    "publish_assignments",
    "shard_queue",
]

_log = get_logger("fleet.shards")
QUARTER_MS = 15 * 60_000
TAKEOVER_LOCKED_RETRY_S = 30.0
"""How long a worker retries a device whose reply queue the dead worker still holds."""
DEVICE_RETRY_S = 60.0
"""How long a worker retries a device that cannot trade before it records it as failed."""
RECONNECT_PAUSE_S = (0.5, 8.0)
"""The first and the longest pause between two connection attempts of a failed device."""


def shard_queue(run: str, shard: int) -> str:
    """The queue name of ``shard`` of fleet run ``run``."""
    return f"flxtrd.fleet.{run}.shard.{shard}"


@dataclass(frozen=True)
class OrderPlan:
    """The orders every device sends: ``orders`` each, even devices sell, odd devices buy.

    One delivery window for all (``start_ms``, a quarter hour), asks at ``ask_price``, bids at
    ``bid_price``: every ask meets a bid, so with as many sellers as buyers each order trades
    exactly once and the market's deal count tells whether an order was lost or sent twice.
    """

    orders: int
    start_ms: int
    power_w: float = 1000.0
    ask_price: float = 0.10
    bid_price: float = 0.12


def plan_order(plan: OrderPlan, device_index: int) -> MarketOrder:
    """The order of device number ``device_index`` under ``plan`` (the same every sequence)."""
    ask = device_index % 2 == 0
    flex = Flexibility(
        wattage=plan.power_w,
        starttime=plan.start_ms,
        duration=QUARTER_MS,
        expirationtime=plan.start_ms,
    )
    return MarketOrder(
        type=OrderType.ASK if ask else OrderType.BID,
        price=plan.ask_price if ask else plan.bid_price,
        flexibility=flex,
    )


@dataclass
class ShardAssignment:
    """What a shard's assignment message says: its devices, the plan, the progress."""

    shard: int
    devices: dict[str, int]
    """device id -> device index (its place in the fleet: the plan's side)."""
    plan: OrderPlan
    next_seq: dict[str, int] = field(default_factory=dict)
    """device id -> the next order sequence to send (1 when absent)."""
    failed: dict[str, str] = field(default_factory=dict)
    """device id -> why it was given up (it sends no more orders; the shard can complete)."""

    def encode(self) -> bytes:
        """The message body (JSON)."""
        return json.dumps(
            {
                "shard": self.shard,
                "devices": self.devices,
                "plan": self.plan.__dict__,
                "next_seq": self.next_seq,
                "failed": self.failed,
            },
            sort_keys=True,
        ).encode()

    @classmethod
    def decode(cls, body: bytes) -> ShardAssignment:
        """Parse a message body (ValueError/KeyError/TypeError when it is not an assignment)."""
        data = json.loads(body)
        return cls(
            shard=int(data["shard"]),
            devices={str(k): int(v) for k, v in data["devices"].items()},
            plan=OrderPlan(**data["plan"]),
            next_seq={str(k): int(v) for k, v in data.get("next_seq", {}).items()},
            failed={str(k): str(v) for k, v in data.get("failed", {}).items()},
        )

    def merge(self, other: ShardAssignment) -> None:
        """Keep the furthest progress of each device (two checkpoints of one shard)."""
        for device_id, seq in other.next_seq.items():
            self.next_seq[device_id] = max(seq, self.next_seq.get(device_id, 1))
        for device_id, reason in other.failed.items():
            self.failed.setdefault(device_id, reason)

    @property
    def complete(self) -> bool:
        """True when every device has sent all its orders or was given up as failed."""
        return all(
            d in self.failed or self.next_seq.get(d, 1) > self.plan.orders for d in self.devices
        )


def assign_shards(device_ids: Sequence[str], shards: int, *, pairs: bool = True) -> list[list[str]]:
    """Split devices into ``shards`` lists; ``pairs`` keeps devices 2k and 2k+1 together."""
    if shards < 1:
        raise ValueError("shards must be >= 1")
    out: list[list[str]] = [[] for _ in range(shards)]
    for index, device_id in enumerate(device_ids):
        group = index // 2 if pairs else index
        out[group % shards].append(device_id)
    return out


def _connection(url: str) -> Any:
    """A py-amqp connection (publisher confirms on) for the shard queues."""
    import amqp

    parts = urlsplit(url)
    vhost = unquote(parts.path[1:]) if parts.path not in ("", "/") else "/"
    if vhost == "/" and parts.path == "//":
        vhost = "/"
    conn = amqp.Connection(
        host=f"{parts.hostname or '127.0.0.1'}:{parts.port or 5672}",
        userid=unquote(parts.username or "guest"),
        password=unquote(parts.password or "guest"),
        virtual_host=vhost,
        confirm_publish=True,
        client_properties={"connection_name": "flxtrd fleet shards", "product": "flxtrd"},
    )
    conn.connect()
    return conn


def _declare(channel: Any, run: str, shard: int) -> str:
    name = shard_queue(run, shard)
    channel.queue_declare(
        queue=name,
        durable=True,
        auto_delete=False,
        arguments={"x-single-active-consumer": True},
    )
    return name


def _publish(channel: Any, queue: str, assignment: ShardAssignment) -> None:
    import amqp

    message = amqp.Message(assignment.encode(), content_type="application/json", delivery_mode=2)
    channel.basic_publish(message, exchange="", routing_key=queue, mandatory=True)


def publish_assignments(
    control_url: str, run: str, shards: Sequence[Mapping[str, int]], plan: OrderPlan
) -> None:
    """Declare the shard queues of ``run`` and put one assignment in each (do this once)."""
    conn = _connection(control_url)
    try:
        channel = conn.channel()
        for index, devices in enumerate(shards):
            queue = _declare(channel, run, index)
            _publish(channel, queue, ShardAssignment(index, dict(devices), plan))
    finally:
        conn.close()


def delete_shards(control_url: str, run: str, shards: int) -> None:
    """Delete the shard queues of ``run``."""
    conn = _connection(control_url)
    try:
        channel = conn.channel()
        for index in range(shards):
            channel.queue_delete(shard_queue(run, index))
    finally:
        conn.close()


@dataclass
class _Held:
    assignment: ShardAssignment
    tag: int
    fleet: Fleet | None = None
    down_since: dict[str, float] = field(default_factory=dict)
    """device id -> when (monotonic) it was first seen unable to trade, until it trades again."""
    lookup_errors: dict[str, str] = field(default_factory=dict)
    """device id -> why its login could not be looked up (it is not in the fleet)."""
    next_attempt: float = 0.0
    pause: float = RECONNECT_PAUSE_S[0]


DeviceSource = Callable[[Sequence[str]], tuple[str, list[FleetDevice], dict[str, FlexError]]]
"""device ids -> (broker URL, devices with credentials, errors by device id)."""


class ShardWorker:
    """Consumes every shard queue of a run; runs the devices of the shards it is active on.

    Args:
        control_url: the broker of the shard queues (a login that may declare and consume them).
        run: the fleet run's name (part of the queue names).
        shards: how many shards the run has.
        devices: looks device ids up (logins): ``(broker_url, FleetDevice s, errors)``.
        out: where progress lines go (``took``, ``confirmed``, ``complete``), flushed each.
        interval_s: pause between order rounds (paces a run; 0: as fast as confirms come).
        device_retry_s: how long a device that cannot trade is retried before it is recorded
            as failed in the shard's assignment (so the shard can complete).
    """

    def __init__(
        self,
        control_url: str,
        run: str,
        shards: int,
        devices: DeviceSource,
        *,
        out: TextIO | None = None,
        interval_s: float = 0.0,
        fleet_options: Mapping[str, Any] | None = None,
        device_retry_s: float = DEVICE_RETRY_S,
    ) -> None:
        self.control_url = control_url
        self.run = check_run(run)
        self.shards = shards
        self._devices = devices
        self._out = out
        self.interval_s = interval_s
        self._fleet_options = dict(fleet_options or {})
        self.device_retry_s = device_retry_s
        self._held: dict[int, _Held] = {}
        self._conn: Any = None
        self._channel: Any = None
        self._stop = False
        self.confirmed: list[str] = []
        self.failed = 0

    def _say(self, text: str) -> None:
        if self._out is not None:
            self._out.write(text + "\n")
            self._out.flush()

    def stop(self) -> None:
        """Ask :meth:`run_forever` to return after the current round."""
        self._stop = True

    def open(self) -> None:
        """Connect and consume every shard queue (one consumer each, prefetch 1)."""
        self._conn = _connection(self.control_url)
        channel = self._conn.channel()
        channel.basic_qos(prefetch_size=0, prefetch_count=1, a_global=False)
        for index in range(self.shards):
            queue = _declare(channel, self.run, index)
            channel.basic_consume(queue=queue, callback=self._on_assignment, no_ack=False)
        self._channel = channel

    def _on_assignment(self, message: Any) -> None:
        tag = message.delivery_tag
        try:
            assignment = ShardAssignment.decode(message.body)
        except (ValueError, KeyError, TypeError) as exc:
            _log.warning("not a shard assignment (%s); dropped", exc)
            self._channel.basic_ack(tag)
            return
        held = self._held.get(assignment.shard)
        if held is not None:  # our own checkpoint, or an older one left by a dead worker
            assignment.merge(held.assignment)
            if held.tag >= 0:
                self._channel.basic_ack(held.tag)
            held.assignment, held.tag = assignment, tag
            return
        self._held[assignment.shard] = held = _Held(assignment, tag)
        self._say(
            f"took shard {assignment.shard} ({len(assignment.devices)} devices) at"
            f" {time.time():.3f}"
        )
        self._start(held)

    def _start(self, held: _Held) -> None:
        ids = sorted(held.assignment.devices)
        broker_url, devices, errors = self._devices(ids)
        for device_id, error in errors.items():
            self._say(f"device {device_id} error: {error}")
            held.lookup_errors[device_id] = f"login lookup failed: {error}"
        fleet = Fleet(devices, broker_url=broker_url, run=self.run, **self._fleet_options)
        deadline = time.monotonic() + TAKEOVER_LOCKED_RETRY_S
        pause = 0.1
        while True:
            failed = fleet.connect()
            locked = [i for i, e in failed.items() if isinstance(e, AlreadyConnectedError)]
            if not locked or time.monotonic() > deadline:
                break
            time.sleep(pause)  # the dead worker's exclusive queues are being removed
            pause = min(pause * 2, 1.0)
        for device_id, error in fleet.connect().items():
            self._say(f"device {device_id} error: {error}")
        held.fleet = fleet
        held.next_attempt = time.monotonic() + held.pause

    def _tend_devices(self, held: _Held) -> None:
        """Retry the devices that cannot trade (with backoff); give up those down too long."""
        a, fleet = held.assignment, held.fleet
        assert fleet is not None
        now = time.monotonic()
        down: dict[str, str] = {}
        for device_id in a.devices:
            if device_id in a.failed or a.next_seq.get(device_id, 1) > a.plan.orders:
                continue
            if device_id in held.lookup_errors:
                down[device_id] = held.lookup_errors[device_id]
                continue
            stats = fleet.device(device_id)
            if not stats.connected:
                down[device_id] = str(stats.error or "not connected")
        for device_id in list(held.down_since):
            if device_id not in down:  # trading again
                del held.down_since[device_id]
        for device_id, reason in down.items():
            since = held.down_since.setdefault(device_id, now)
            if now - since >= self.device_retry_s:
                a.failed[device_id] = reason
                del held.down_since[device_id]
                self._say(f"device {device_id} given up: {reason}")
        if held.down_since and now >= held.next_attempt:
            for device_id, error in fleet.connect().items():
                _log.debug("device %s still cannot connect: %s", device_id, error)
            held.pause = min(held.pause * 2, RECONNECT_PAUSE_S[1])
            held.next_attempt = now + held.pause
        elif not held.down_since:
            held.pause = RECONNECT_PAUSE_S[0]

    def _round(self, held: _Held) -> None:
        a, fleet = held.assignment, held.fleet
        if fleet is None or a.complete or held.tag < 0:
            return  # not started, done, or our last checkpoint has not come back yet
        given_up = len(a.failed)
        self._tend_devices(held)
        batch = []
        for device_id, index in sorted(a.devices.items()):
            seq = a.next_seq.get(device_id, 1)
            if device_id in a.failed or device_id in held.lookup_errors:
                continue
            if seq <= a.plan.orders and fleet.device(device_id).connected:
                batch.append(
                    (
                        device_id,
                        plan_order(a.plan, index),
                        order_message_id(self.run, device_id, seq),
                    )
                )
        for outcome in fleet.place_with_ids(batch):
            if outcome.ok:
                a.next_seq[outcome.device_id] = a.next_seq.get(outcome.device_id, 1) + 1
                self.confirmed.append(outcome.message_id)
                self._say(f"confirmed {outcome.message_id}")
            else:
                self.failed += 1
                self._say(f"failed {outcome.message_id}: {outcome.error}")
        if not batch and len(a.failed) == given_up and not a.complete:
            return  # nothing sent and nothing given up: no progress to checkpoint
        # checkpoint: the new assignment first (confirmed), then release the old one
        _publish(self._channel, shard_queue(self.run, a.shard), a)
        self._channel.basic_ack(held.tag)
        held.tag = -1  # until our checkpoint comes back (prefetch 1)
        self._drain_until(lambda: held.tag != -1)
        if a.complete:
            self._say(f"shard {a.shard} complete")

    def _drain(self, timeout: float) -> None:
        try:
            self._conn.drain_events(timeout=timeout)
        except TimeoutError:
            return

    def _drain_until(self, done: Callable[[], bool], limit_s: float = 10.0) -> None:
        end = time.monotonic() + limit_s
        while not done() and time.monotonic() < end:
            self._drain(0.1)

    def run_forever(self, should_stop: Callable[[], bool] = lambda: False) -> None:
        """Take shards, trade their devices, checkpoint; until :meth:`stop` or ``should_stop``."""

        def stopping() -> bool:
            return self._stop or should_stop()

        while not stopping():
            self._drain(0.05)
            for held in list(self._held.values()):
                if stopping():
                    return
                self._round(held)
                if held.fleet is not None:
                    held.fleet._loop.poll(0)
            if self.interval_s > 0:
                end = time.monotonic() + self.interval_s
                while time.monotonic() < end and not stopping():
                    self._drain(min(0.05, self.interval_s))

    def assignments(self) -> dict[int, ShardAssignment]:
        """The assignments of the shards this worker is active on (their progress and failures)."""
        return {shard: held.assignment for shard, held in self._held.items()}

    def close(self) -> None:
        """Close the device connections and the shard consumer (unacked shards go back)."""
        for held in self._held.values():
            if held.fleet is not None:
                held.fleet.close()
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception as exc:
                _log.debug("closing the shard connection failed: %s", exc)
        self._conn = None
