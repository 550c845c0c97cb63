"""The broker worker's connection: one kombu connection and channel, ``amqp://`` or ``memory://``.

Two links with one interface, so the worker's logic does not care which broker it runs on:

- :class:`AmqpLink` (``amqp://``, ``amqps://``): py-amqp under kombu, bodies left undecoded,
  publisher confirms (``confirm_select``) tracked by the channel's ``basic_ack`` / ``basic_nack``
  events when ``confirms`` is on, publishing through ``send_method`` (py-amqp's
  ``basic_publish`` adds a ``drain_events(timeout=0)`` per message);
- :class:`AmqpLink` can send a tick for many devices as one message with a ``BCC`` header
  (``fan_out``; the worker does so with ``bcc_ticks=True``);
- :class:`MemoryLink` (``memory://``): kombu's in-process transport; a put into an in-process
  queue cannot fail, so there are no confirms (``publish`` returns ``None``) and no connection
  loss.

Both declare the topology idempotently: the direct, durable exchanges ``in`` and ``ticker-out``
and the market's order queue (non-exclusive, durable, not auto-deleted, so unacknowledged
orders survive a lost worker connection or a broker restart and are redelivered; orders are
persistent messages), bound to ``in`` with the keys
``ask`` and ``bid``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from kombu.connection import Connection as _KombuConnection

from flxtrd._errors import BrokerError

__all__ = ["AmqpLink", "Delivery", "Link", "MemoryLink", "OnConfirm", "OnDelivery", "open_link"]

#: kombu is untyped; one typed handle to its Connection class.
_kombu_connection: Callable[..., Any] = _KombuConnection

ORDER_ROUTING_KEYS = ("ask", "bid")
_MEMORY_POLLING_INTERVAL_S = 0.002
_REPLY_CONTENT_TYPE = "application/json"


@dataclass(slots=True)
class Delivery:
    """One order as delivered: body, the properties the worker reads, the delivery tag."""

    body: bytes
    routing_key: str
    user_id: str | None
    reply_to: str | None
    message_id: str | None
    delivery_tag: int
    redelivered: bool
    headers: dict[str, Any] = field(default_factory=dict)
    received_ns: int = 0


OnDelivery = Callable[[Delivery], None]
#: ``(publish_tag, multiple, ok)``: the broker confirmed (``ok``) or nacked publishes.
OnConfirm = Callable[[int, bool, bool], None]


class Link(Protocol):
    """An open connection + channel consuming the order queue."""

    confirms: bool
    login: str | None
    connection_errors: tuple[type[BaseException], ...]
    fan_out: bool
    """Whether one publish reaches many routing keys (RabbitMQ's ``BCC`` header)."""

    def publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        headers: dict[str, Any],
        bcc: tuple[str, ...] = (),
    ) -> int | None:
        """Publish one reply (and to the ``bcc`` keys); its confirm tag, or None (no confirms)."""
        ...

    def ack(self, delivery_tag: int) -> None:
        """Acknowledge one order."""
        ...

    def reject(self, delivery_tag: int, requeue: bool) -> None:
        """Reject one order (back to the queue with ``requeue``)."""
        ...

    def drain(self, timeout: float) -> bool:
        """Handle the next event (delivery, confirm) within ``timeout`` s; False on timeout."""
        ...

    def cancel(self) -> None:
        """Stop consuming (orders already delivered still arrive)."""
        ...

    def delete_queue(self) -> None:
        """Delete the order queue (undelivered orders are dropped)."""
        ...

    def close(self) -> None:
        """Close the connection (unacknowledged orders go back to the queue)."""
        ...


def _str_or_none(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value if isinstance(value, str) and value else None


def _delivery(
    body: object, props: dict[str, Any], info: dict[str, Any], tag: int, headers: object
) -> Delivery:
    if isinstance(body, str):
        body = body.encode("utf-8", "surrogateescape")
    elif not isinstance(body, bytes):
        body = bytes(body) if isinstance(body, (bytearray, memoryview)) else b""
    return Delivery(
        body=body,
        routing_key=str(info.get("routing_key") or ""),
        user_id=_str_or_none(props.get("user_id")),
        reply_to=_str_or_none(props.get("reply_to")),
        message_id=_str_or_none(props.get("message_id")),
        delivery_tag=tag,
        redelivered=bool(info.get("redelivered")),
        headers=dict(headers) if isinstance(headers, dict) else {},
        received_ns=time.time_ns(),
    )


@dataclass(frozen=True, slots=True)
class Topology:
    """Names of what the worker declares and consumes."""

    exchange: str
    reply_exchange: str
    queue: str
    prefetch_count: int
    consumer_tag: str


def _declare(channel: Any, topology: Topology) -> tuple[int, int]:
    """Declare exchanges, queue and bindings; return the queue's (messages, consumers)."""
    for name in (topology.exchange, topology.reply_exchange):
        channel.exchange_declare(exchange=name, type="direct", durable=True, auto_delete=False)
    ok = channel.queue_declare(
        queue=topology.queue, durable=True, exclusive=False, auto_delete=False
    )
    for key in ORDER_ROUTING_KEYS:
        channel.queue_bind(queue=topology.queue, exchange=topology.exchange, routing_key=key)
    return int(ok[1]), int(ok[2])


def _drain_events(connection: Any, timeout: float) -> bool:
    """Handle the next event of ``connection`` within ``timeout`` s; False when none came."""
    try:
        connection.drain_events(timeout=timeout)
    except TimeoutError:  # socket.timeout
        return False
    return True


class _ConsumingChannel:
    """What both links do alike on their open channel: settle one order, cancel the consumer."""

    _topology: Topology
    _channel: Any

    def ack(self, delivery_tag: int) -> None:
        """Acknowledge one order."""
        self._channel.basic_ack(delivery_tag)

    def reject(self, delivery_tag: int, requeue: bool) -> None:
        """Reject one order (back to the queue with ``requeue``)."""
        self._channel.basic_reject(delivery_tag, requeue)

    def cancel(self) -> None:
        """Cancel the consumer."""
        if self._channel is not None:
            self._channel.basic_cancel(self._topology.consumer_tag)


class AmqpLink(_ConsumingChannel):
    """A py-amqp connection to RabbitMQ (see the module docstring)."""

    def __init__(
        self,
        url: str,
        topology: Topology,
        on_delivery: OnDelivery,
        on_confirm: OnConfirm,
        *,
        confirms: bool,
        connect_timeout: float,
        ssl: Any,
        connection_name: str,
    ) -> None:
        import amqp

        self.confirms = confirms
        self._topology = topology
        self._on_delivery = on_delivery
        self._on_confirm = on_confirm
        self._amqp = amqp
        self._publish_method = amqp.spec.Basic.Publish
        self._message_cls = amqp.Message
        self.connection_errors = (
            *amqp.Connection.connection_errors,
            *amqp.Connection.channel_errors,
            OSError,
        )
        self._kconn: Any = _kombu_connection(
            url,
            ssl=ssl,
            connect_timeout=connect_timeout,
            heartbeat=0,
            transport_options={
                "client_properties": {"connection_name": connection_name, "product": "flxtrd"}
            },
        )
        self.login: str | None = self._kconn.userid
        self._published = 0
        self._raw: Any = None
        self._channel: Any = None

    def open(self) -> None:
        """Connect, declare the topology and start consuming; raise if another worker consumes."""
        kconn = self._kconn
        try:
            kconn.ensure_connection(max_retries=0, reraise_as_library_errors=False)
            raw = self._raw = kconn.connection
            channel = self._channel = raw.Channel(raw, None, auto_decode=False)
            channel.open()
            topology = self._topology
            _, consumers = _declare(channel, topology)
            if consumers:
                raise BrokerError(
                    f"another sandbox broker worker already consumes queue {topology.queue!r} on"
                    " this broker; stop it, or give this one other exchange and queue names"
                )
            channel.basic_qos(0, topology.prefetch_count, False)
            if self.confirms:
                channel.confirm_select()
                channel.events["basic_ack"].add(self._acked)
                channel.events["basic_nack"].add(self._nacked)
            channel.basic_consume(
                queue=topology.queue,
                no_ack=False,
                callback=self._deliver,
                consumer_tag=topology.consumer_tag,
            )
        except BaseException:
            self.abandon()
            raise

    def _acked(self, tag: int, multiple: bool) -> None:
        self._on_confirm(tag, multiple, True)

    def _nacked(self, tag: int, multiple: bool) -> None:
        self._on_confirm(tag, multiple, False)

    def _deliver(self, message: Any) -> None:
        info = message.delivery_info
        props = message.properties
        self._on_delivery(
            _delivery(
                message.body,
                props,
                info,
                info["delivery_tag"],
                props.get("application_headers"),
            )
        )

    fan_out = True

    def publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        headers: dict[str, Any],
        bcc: tuple[str, ...] = (),
    ) -> int | None:
        """Publish one reply (transient, not mandatory); see :class:`Link`."""
        if bcc:
            headers = {**headers, "BCC": list(bcc)}  # RabbitMQ strips it before delivery
        message = self._message_cls(
            body,
            content_type=_REPLY_CONTENT_TYPE,
            delivery_mode=1,
            application_headers=headers,
        )
        self._channel.send_method(
            self._publish_method, "Bssbb", (0, exchange, routing_key, False, False), message
        )
        if not self.confirms:
            return None
        self._published += 1
        return self._published

    def drain(self, timeout: float) -> bool:
        """Handle the next frame within ``timeout`` s; False when none came."""
        raw = self._raw
        if raw is None:
            raise self._amqp.RecoverableConnectionError("connection closed")
        return _drain_events(raw, timeout)

    def delete_queue(self) -> None:
        """Delete the order queue."""
        if self._channel is not None:
            self._channel.queue_delete(self._topology.queue)

    def close(self) -> None:
        """Close the connection cleanly; drop it without I/O if that fails."""
        kconn, self._kconn = self._kconn, None
        self._raw = self._channel = None
        if kconn is None:
            return
        try:
            kconn.release()
        except Exception:
            with contextlib.suppress(Exception):
                kconn.collect()

    def abandon(self) -> None:
        """Drop a broken connection without I/O."""
        kconn, self._kconn = self._kconn, None
        self._raw = self._channel = None
        if kconn is not None:
            with contextlib.suppress(Exception):
                kconn.collect()


class MemoryLink(_ConsumingChannel):
    """kombu's ``memory://`` transport (in-process; see the module docstring)."""

    confirms = False
    login: str | None = None
    connection_errors: tuple[type[BaseException], ...] = ()
    fan_out = False

    def __init__(self, topology: Topology, on_delivery: OnDelivery) -> None:
        self._topology = topology
        self._on_delivery = on_delivery
        self._kconn: Any = None
        self._channel: Any = None

    def open(self) -> None:
        """Declare the topology and start consuming."""
        self._kconn = _kombu_connection(
            "memory://", transport_options={"polling_interval": _MEMORY_POLLING_INTERVAL_S}
        )
        channel = self._channel = self._kconn.channel()
        topology = self._topology
        _declare(channel, topology)
        channel.basic_qos(0, topology.prefetch_count, False)
        channel.basic_consume(topology.queue, False, self._deliver, topology.consumer_tag)

    def _deliver(self, message: Any) -> None:
        props = message.properties
        self._on_delivery(
            _delivery(
                message.body,
                props,
                message.delivery_info or {},
                message.delivery_tag,
                message.headers,
            )
        )

    def publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        headers: dict[str, Any],
        bcc: tuple[str, ...] = (),
    ) -> int | None:
        """Publish one reply (one put per key: ``memory://`` has no ``BCC``); no confirms."""
        channel = self._channel
        for key in (routing_key, *bcc) if routing_key else bcc:
            message = channel.prepare_message(
                body, content_type=_REPLY_CONTENT_TYPE, headers=headers, properties={}
            )
            channel.basic_publish(message, exchange, key)
        return None

    def drain(self, timeout: float) -> bool:
        """Handle the next delivery within ``timeout`` s; False when none came."""
        return _drain_events(self._kconn, timeout)

    def delete_queue(self) -> None:
        """Unbind and delete the order queue (the memory transport keeps routing otherwise)."""
        channel = self._channel
        if channel is None:
            return
        topology = self._topology
        for key in ORDER_ROUTING_KEYS:
            channel.queue_unbind(topology.queue, topology.exchange, key)
        channel.queue_delete(topology.queue)

    def close(self) -> None:
        """Release the connection (unacknowledged orders are restored to the queue)."""
        kconn, self._kconn = self._kconn, None
        self._channel = None
        if kconn is not None:
            kconn.release()

    def abandon(self) -> None:
        """Same as :meth:`close` (nothing can break in-process)."""
        self.close()


def open_link(
    url: str,
    topology: Topology,
    on_delivery: OnDelivery,
    on_confirm: OnConfirm,
    *,
    confirms: bool,
    connect_timeout: float,
    ssl: Any,
    connection_name: str,
) -> AmqpLink | MemoryLink:
    """Open the link ``url`` asks for (``memory://`` or ``amqp(s)://``) and start consuming."""
    link: AmqpLink | MemoryLink
    if url.split(":", 1)[0].lower() == "memory":
        link = MemoryLink(topology, on_delivery)
    else:
        link = AmqpLink(
            url,
            topology,
            on_delivery,
            on_confirm,
            confirms=confirms,
            connect_timeout=connect_timeout,
            ssl=ssl,
            connection_name=connection_name,
        )
    link.open()
    return link
