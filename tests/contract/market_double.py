"""A test double of the generation-1 market: takes orders from ``in``, replies on ``ticker-out``.

It speaks the documented wire format (``GLOCALFLEX-API.md``, ``specs/asyncapi.yaml``) and nothing
more: orders are line-protocol bodies with ``reply_to``, ``user_id``, ``message_id`` and the header
``sendertimestamp_in_ms``; replies are JSON (``tick``, ``ask_closed_order``, ``bid_closed_order``,
``cancel``) published to ``ticker-out`` with the device's application key as routing key and the
header ``sendertimestamp_in_ms``.

Matching is deliberately small (the real simulation is the sandbox's job): a bid matches the
oldest open ask whose price is at most the bid's and whose delivery window overlaps; the deal is
pay-as-bid. A match sends one ``tick`` to every device seen so far, then ``ask_closed_order`` to
the ask's device and ``bid_closed_order`` to the bid's. An order that does not decode is answered
with ``cancel`` (carrying its ``message_id``).

Works on any kombu URL (``amqp://`` or ``memory://``). Either pump it from the test thread
(:meth:`MarketDouble.pump`) or run it in a thread (:meth:`MarketDouble.start` / ``stop``).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kombu import Connection

from flxtrd._errors import MessageDecodeError
from flxtrd._line_protocol import OrderLine, decode_order_line
from flxtrd._retry import RetryPolicy
from flxtrd._types import Flexibility, MarketOrder, OrderType

#: Fail at the first connection error (tests never wait for backoff).
NO_RETRY = RetryPolicy(max_retries=0)


def make_order(
    side: OrderType = OrderType.ASK, price: float = 10.0, wattage: float = 2500.0
) -> MarketOrder:
    """A valid order delivering in an hour, for 15 minutes."""
    now = int(time.time() * 1000)
    flex = Flexibility(
        wattage=wattage, starttime=now + 3_600_000, duration=900_000, expirationtime=now + 1_800_000
    )
    return MarketOrder(type=side, price=price, flexibility=flex)


@dataclass
class ReceivedOrder:
    """One order as the market saw it."""

    line: OrderLine | None
    body: bytes
    routing_key: str
    message_id: str | None
    reply_to: str | None
    user_id: str | None
    headers: dict[str, Any]
    received_ns: int = field(default_factory=time.time_ns)


def _iso(ms: float) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


class MarketDouble:
    """A minimal market on a broker: consume orders, match, reply."""

    def __init__(
        self,
        url: str,
        *,
        exchange: str = "in",
        reply_exchange: str = "ticker-out",
        queue: str | None = None,
    ) -> None:
        self.exchange = exchange
        self.reply_exchange = reply_exchange
        self.queue = queue or f"market-double-{uuid.uuid4().hex[:12]}"
        self.orders: list[ReceivedOrder] = []
        self.replies: list[tuple[str, dict[str, Any]]] = []
        self.devices: list[str] = []
        self._asks: list[ReceivedOrder] = []
        self._bids: list[ReceivedOrder] = []
        self._conn = Connection(url, transport_options={"polling_interval": 0.005})
        self._channel = self._conn.channel()
        self._memory = url.startswith("memory")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.errors: list[BaseException] = []
        self._declare()
        self._channel.basic_consume(
            queue=self.queue, no_ack=True, callback=self._on_raw, consumer_tag=self.queue
        )

    # -- topology --

    def _declare(self) -> None:
        ch = self._channel
        for name in (self.exchange, self.reply_exchange):
            ch.exchange_declare(exchange=name, type="direct", durable=True, auto_delete=False)
        ch.queue_declare(queue=self.queue, durable=False, auto_delete=False, exclusive=False)
        for side in ("ask", "bid"):
            ch.queue_bind(queue=self.queue, exchange=self.exchange, routing_key=side)

    def redeclare(self) -> None:
        """Declare the exchanges and bindings again (after a test deleted them)."""
        self._declare()

    def unbind(self) -> None:
        """Stop receiving orders: every order becomes unroutable."""
        for side in ("ask", "bid"):
            self._channel.queue_unbind(self.queue, self.exchange, side)

    # -- running --

    def pump(self, timeout: float = 0.0, *, until: Any = None) -> None:
        """Handle arrived orders; with ``until`` (a callable) wait up to ``timeout`` for it."""
        deadline = time.monotonic() + timeout
        while True:
            if until is not None and until():
                return
            remaining = deadline - time.monotonic()
            try:
                self._conn.drain_events(timeout=max(remaining, 0.0) if until else 0)
            except TimeoutError:
                if until is None or remaining <= 0:
                    return

    def start(self) -> MarketDouble:
        """Serve in a background thread until :meth:`stop`."""

        def serve() -> None:
            while not self._stop.is_set():
                try:
                    self._conn.drain_events(timeout=0.05)
                except TimeoutError:
                    continue
                except BaseException as exc:  # surfaced by stop()
                    self.errors.append(exc)
                    return

        self._thread = threading.Thread(target=serve, name="market-double", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the background thread and re-raise what it died of, if anything."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self.errors:
            raise self.errors[0]

    def close(self) -> None:
        """Stop, delete the order queue and close the connection."""
        try:
            self.stop()
        finally:
            try:
                self._channel.basic_cancel(self.queue)
                if self._memory:
                    self.unbind()
                self._channel.queue_delete(self.queue)
            finally:
                self._conn.release()

    def __enter__(self) -> MarketDouble:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- orders --

    def _on_raw(self, raw: Any) -> None:
        message = self._channel.message_to_python(raw) if not self._memory else raw
        props = message.properties
        body = message.body if isinstance(message.body, bytes) else message.body.encode()
        delivery = getattr(message, "delivery_info", None) or {}
        try:
            line: OrderLine | None = decode_order_line(body)
            reason = None
        except MessageDecodeError as exc:
            line, reason = None, str(exc)
        order = ReceivedOrder(
            line=line,
            body=body,
            routing_key=delivery.get("routing_key", ""),
            message_id=props.get("message_id"),
            reply_to=props.get("reply_to"),
            user_id=props.get("user_id"),
            headers=dict(message.headers or {}),
        )
        self.orders.append(order)
        device = order.reply_to
        if device and device not in self.devices:
            self.devices.append(device)
        if line is None:
            if device:
                cancel = {"msg_type": "cancel", "reason": reason or "invalid order"}
                if order.message_id:
                    cancel["message_id"] = order.message_id
                self.reply(device, cancel)
            return
        (self._asks if line.side == "ask" else self._bids).append(order)
        self._match()

    def _match(self) -> None:
        for bid in list(self._bids):
            b = bid.line
            assert b is not None
            for ask in self._asks:
                a = ask.line
                assert a is not None
                overlap = (
                    a.starttime < b.starttime + b.runtime and b.starttime < a.starttime + a.runtime
                )
                if a.price <= b.price and overlap:
                    self._asks.remove(ask)
                    self._bids.remove(bid)
                    self._deal(ask, bid)
                    break

    def _deal(self, ask: ReceivedOrder, bid: ReceivedOrder) -> None:
        a, b = ask.line, bid.line
        assert a is not None and b is not None
        energy = min(a.totalenergy, b.totalenergy)
        start = max(a.starttime, b.starttime)
        end = min(a.starttime + a.runtime, b.starttime + b.runtime)
        now_ns = time.time_ns()
        closed = {
            "bid_time": bid.received_ns,
            "ask_time": ask.received_ns,
            "ask_user": ask.user_id or "",
            "bid_user": bid.user_id or "",
            "price": b.price,
            "totalenergy": energy,
            "energy": energy,
            "starttime": start,
            "endtime": float(end),
            "runtime": end - start,
            "wattage": min(a.wattage, b.wattage),
            "power": min(a.wattage, b.wattage),
            "match_time": now_ns,
        }
        tick = {
            "msg_type": "tick",
            "trade_time": _iso(now_ns / 1e6),
            "price": b.price,
            "start_time": _iso(start),
            "energy": energy,
        }
        for device in self.devices:
            self.reply(device, tick)
        if ask.reply_to:
            self.reply(
                ask.reply_to,
                {
                    "msg_type": "ask_closed_order",
                    "application_key": a.application_key,
                    "closed_order": closed,
                },
            )
        if bid.reply_to:
            self.reply(
                bid.reply_to,
                {
                    "msg_type": "bid_closed_order",
                    "application_key": b.application_key,
                    "closed_order": closed,
                },
            )

    # -- replies --

    def reply(self, device: str, payload: dict[str, Any]) -> None:
        """Send a JSON reply to a device's queue through ``ticker-out``."""
        self.replies.append((device, payload))
        self.send_raw(device, json.dumps(payload).encode())

    def send_raw(self, device: str, body: bytes, headers: dict[str, Any] | None = None) -> None:
        """Publish any body to a device's queue (for fuzzing the consumer)."""
        ch = self._channel
        message = ch.prepare_message(
            body,
            content_type="application/json",
            headers=headers
            if headers is not None
            else {"sendertimestamp_in_ms": time.time_ns() // 1_000_000},
        )
        ch.basic_publish(message, exchange=self.reply_exchange, routing_key=device)


# --- broker administration for the contract tests ---------------------------------------------


def rabbitmqctl(*args: str) -> str:
    """Run ``rabbitmqctl -q <args>`` and return its output (raises if it is missing or fails)."""
    import shutil
    import subprocess

    exe = shutil.which("rabbitmqctl")
    if exe is None:
        raise FileNotFoundError("rabbitmqctl is not on PATH")
    done = subprocess.run(
        [exe, "-q", *args], check=True, capture_output=True, text=True, timeout=60
    )
    return done.stdout


def connection_pids(connection_name: str) -> list[str]:
    """Broker pids of the live connections whose client_properties carry ``connection_name``."""
    needle = f'"{connection_name}"'
    out = rabbitmqctl("list_connections", "pid", "client_properties")
    return [line.split("\t", 1)[0] for line in out.splitlines() if needle in line]


def close_connections(connection_name: str, reason: str = "closed by test") -> int:
    """Force-close every connection named ``connection_name``; return how many."""
    pids = connection_pids(connection_name)
    for pid in pids:
        rabbitmqctl("close_connection", pid, reason)
    return len(pids)


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    """Poll ``predicate`` until it is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
