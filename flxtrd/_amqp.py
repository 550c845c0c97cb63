"""The generation-1 trading connection: confirmed AMQP orders and typed market replies, on kombu.

:class:`AmpqAPI` (flxtrd 0.2.9's spelling) connects a device to the market's broker, publishes
orders with publisher confirms and consumes the device's reply queue.

Topology (see ``specs/asyncapi.yaml``)
--------------------------------------
Orders go to the direct exchange ``in`` with routing key ``ask`` or ``bid``; replies come through
the direct exchange ``ticker-out`` into an **exclusive** queue named after the application key,
bound with the key itself. The real market declares both exchanges; a bare RabbitMQ (sandbox,
tests) does not. Both are first checked with a passive declare (no configure permission
needed); ``declare_exchanges`` decides what happens to a missing one: ``True`` declares it
(direct, durable), ``False`` fails with :class:`~flxtrd.BrokerError`.
The default (``None``) is ``False`` for ``amqps://`` (the market) and ``True`` otherwise.

Connecting
----------
``broker_url`` picks the transport as kombu does: ``amqps://host:5671//`` (TLS, certificate and
host name verified; ``ca_bundle`` adds a CA file; ``verify_ssl=False`` turns verification off for
self-signed development brokers), ``amqp://host:5672//`` (plain), ``memory://`` (in-process).
Credentials come from the URL's userinfo when it has one, else ``user_id`` / ``access_token``.
RabbitMQ refuses a message whose ``user_id`` property differs from the login, so the property is
the login name. The access token and the URL password are registered with the logging secrets
filter and never appear in logs, ``repr()`` or error messages.

A second live connection for the same application key makes the broker refuse the exclusive queue
(``RESOURCE_LOCKED``): :class:`~flxtrd.AlreadyConnectedError` is raised and the connection that
was opened for the attempt is closed again (0.2.9 leaked it).

Publishing
----------
The body is one line-protocol line (:mod:`flxtrd._order_codec`), routing key = the order's side
(a routing hint that disagrees, like the seed's ``endpoint="bi"``, is logged and ignored),
properties ``user_id``, ``reply_to`` (the application key), ``message_id`` (uuid4 hex unless the
caller gives one), ``content_type=text/plain``, header ``sendertimestamp_in_ms``,
``mandatory=True``, on a channel in publisher-confirm mode. Confirms are tracked by delivery tag
from the channel's ``basic_ack`` / ``basic_nack`` / ``basic_return`` events (py-amqp), so
:meth:`AmpqAPI.send_orders` pipelines: it publishes up to ``max_in_flight`` orders before it
waits, and collects the confirms as they come. RabbitMQ *acks* an unroutable mandatory message
after returning it: a ``basic.return`` marks the order (found by its ``message_id``) so its ack
becomes :class:`~flxtrd.OrderUnroutableError`; a nack is :class:`~flxtrd.OrderNotConfirmedError`.
Two orders with the same ``message_id`` cannot be in flight at once (the return could not be
attributed).

The publish frames are built here rather than by py-amqp's generic serialiser (byte for byte the
same; a property test compares them) and ``send_orders`` writes them in batches of up to 64 per
socket write; everything else (handshake, declarations, confirms, deliveries) is py-amqp's. The
connection's socket timeout is ``confirm_timeout``, which also bounds py-amqp's own waits.

Losing the connection
---------------------
Every order ends exactly once: confirmed, or failed. An order published on a connection that is
lost before its confirm arrives may or may not have reached the market; it fails with
:class:`OrderInDoubtError` (a :class:`~flxtrd.OrderNotConfirmedError`) carrying its
``message_id``: re-send it with the same ``message_id`` and the market (or a test consumer) can
recognise the duplicate. flxtrd never re-sends on its own. After a loss the connection is
re-established at once with bounded exponential backoff and jitter (``retry_policy``, the
project's :class:`~flxtrd._retry.RetryPolicy`; a ``RESOURCE_LOCKED`` is retried too, because the
broker may not have deleted the lost connection's exclusive queue yet), the reply queue and its
consumer are declared again, and publishing continues. If reconnecting fails the error surfaces
on the next call, as :class:`~flxtrd.FlexConnectionError`. Replies the market sent while the
queue did not exist are lost: that is what an exclusive queue means.

Consuming replies
-----------------
There is **no background thread**: like kombu's and 0.2.9's pika ``BlockingConnection``, I/O
happens when the caller calls in. Every method that touches the connection (``send_order``,
``send_orders``, ``check_market_responses``, ``market_messages``, ``sleep``) also reads the
replies that have arrived, decodes each into the generated models (:class:`MarketMessage`) and

- passes it to ``on_message(message)`` when that callback is set, or else
- appends it to a bounded buffer (``buffer_size``, oldest dropped first, drops counted in
  :attr:`AmpqAPI.stats`), which ``check_market_responses()`` returns (without removing, as 0.2.9
  did; ``empty_market_responses()`` clears it) and ``market_messages(timeout)`` consumes.

A message that does not decode (not JSON, wrong types, unknown ``msg_type``) is counted
(``stats.rejected_inbound``) and handed to ``on_invalid(raw_body, error)``; it never stops the
consumer or later messages. An exception raised by either callback is logged and counted
(``stats.callback_errors``). ``on_message`` may itself send orders. Replies are consumed with
automatic acknowledgement: the queue is exclusive, so unacknowledged messages would die with the
connection anyway.

Heartbeats are off by default (``heartbeat=0``): a client that sleeps between polls, as 0.2.9's
example does, is not dropped by the broker; dead peers are found by TCP keepalive (py-amqp's
defaults) or on the next call. With ``heartbeat=N`` call in at least every ``N/2`` seconds.

Threads: one :class:`AmpqAPI` serialises its calls with a lock; it is meant to be used from one
thread at a time, like a kombu connection.

``memory://``
-------------
kombu's in-process transport has no broker behind it, so some guarantees are emulated and some do
not exist:

- *mandatory / returns* -- emulated: an order is checked against the exchange's bindings before
  it is put, and fails with :class:`~flxtrd.OrderUnroutableError` when no queue is bound;
- *publisher confirms* -- a put into an in-process queue cannot fail, so every routed order is
  confirmed at once; there is no nack and no in-doubt state;
- *exclusive queues* -- emulated per process: a second :class:`AmpqAPI` with the same
  application key raises :class:`~flxtrd.AlreadyConnectedError`; the queue is deleted on close;
- not available: ``user_id`` checking, TLS, heartbeats, connection loss and reconnection,
  message sharing across processes. Messages only travel between threads of one process.
"""

from __future__ import annotations

import contextlib
import random
import ssl
import struct
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from kombu.connection import Connection as _KombuConnection

from flxtrd._defaults import (
    BROKER_MAX_RETRIES,
    BROKER_MAX_RETRY_DELAY_S,
    BROKER_RETRY_DELAY_S,
    BROKER_RETRY_JITTER,
    DEFAULT_BUFFER_SIZE,
    DEFAULT_CONFIRM_TIMEOUT_S,
    DEFAULT_CONNECT_TIMEOUT_S,
    DEFAULT_EXCHANGE,
    DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_REPLY_EXCHANGE,
)
from flxtrd._errors import (
    AlreadyConnectedError,
    BrokerError,
    ConfigurationError,
    FlexConnectionError,
    FlexError,
    FlexValidationError,
    MessageDecodeError,
    OrderInDoubtError,
    OrderNotConfirmedError,
    OrderUnroutableError,
)
from flxtrd._log import get_logger, redact, redact_url, register_secret
from flxtrd._market_messages import SENDER_TIMESTAMP_HEADER, MarketMessage, decode_market_message
from flxtrd._order_codec import OrderEncoder
from flxtrd._retry import RetryPolicy
from flxtrd._validation import require_optional_wait, require_wait

__all__ = [
    "DEFAULT_BROKER_RETRY_POLICY",
    "AmpqAPI",
    "AmqpStats",
    "OrderInDoubtError",
    "OrderOutcome",
    "OrderReceipt",
]

_log = get_logger("amqp")
#: kombu is untyped; one typed handle to its Connection class.
_kombu_connection: Callable[..., Any] = _KombuConnection

#: Reconnect policy (the numbers live in :mod:`flxtrd._defaults`).
DEFAULT_BROKER_RETRY_POLICY = RetryPolicy(
    max_retries=BROKER_MAX_RETRIES,
    initial_delay_s=BROKER_RETRY_DELAY_S,
    max_delay_s=BROKER_MAX_RETRY_DELAY_S,
    jitter=BROKER_RETRY_JITTER,
)
_MEMORY_POLLING_INTERVAL_S = 0.005
#: ``send_orders`` reads arrived confirms without waiting after every 64 publishes.
_PUMP_EVERY_MASK = 63
_NO_ROUTE = 312
_SCHEMES = frozenset({"amqp", "amqps", "pyamqp", "memory"})

OnMessage = Callable[[MarketMessage], object]
OnInvalid = Callable[[bytes, MessageDecodeError], object]


# --- results ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderReceipt:
    """The broker's confirmation of one order.

    Attributes:
        message_id: the AMQP ``message_id`` the order was published with.
        routing_key: ``"ask"`` or ``"bid"``.
        exchange: the exchange it was published to.
        delivery_tag: its publisher-confirm sequence number on the channel.
        sent_at_ms: the header ``sendertimestamp_in_ms`` (epoch ms).
        confirmed_at_ms: when the confirm was read (epoch ms).
        order: the order as given to ``send_order``.
    """

    message_id: str
    routing_key: str
    exchange: str
    delivery_tag: int
    sent_at_ms: int
    confirmed_at_ms: int
    order: object

    @property
    def confirm_ms(self) -> int:
        """Milliseconds from publishing to the confirm."""
        return self.confirmed_at_ms - self.sent_at_ms


@dataclass(frozen=True, slots=True)
class OrderOutcome:
    """What happened to one order of :meth:`AmpqAPI.send_orders`: a receipt or an error."""

    order: object
    message_id: str
    receipt: OrderReceipt | None = None
    error: FlexError | None = None

    @property
    def ok(self) -> bool:
        """True when the broker confirmed the order."""
        return self.receipt is not None

    def unwrap(self) -> OrderReceipt:
        """Return the receipt or raise the error."""
        if self.receipt is None:
            raise self.error if self.error is not None else FlexError("order has no outcome")
        return self.receipt


@dataclass(frozen=True)
class AmqpStats:
    """Counters of one :class:`AmpqAPI` since it was created.

    Attributes:
        sent: orders published (handed to the broker).
        confirmed: orders the broker confirmed (acked and not returned).
        failed: orders reported failed, for any reason (the next four, plus encoding and
            connection errors before publishing).
        unroutable: orders returned by the broker (no queue bound).
        nacked: orders the broker nacked.
        in_doubt: orders whose confirm was lost with the connection or timed out.
        received: reply messages read from the queue, valid or not.
        rejected_inbound: replies that did not decode (also passed to ``on_invalid``).
        dropped: valid replies pushed out of the full buffer.
        callback_errors: exceptions raised by ``on_message`` / ``on_invalid``.
        connection_losses: connections or channels lost while in use.
        reconnects: successful re-connections after a loss.
    """

    sent: int = 0
    confirmed: int = 0
    failed: int = 0
    unroutable: int = 0
    nacked: int = 0
    in_doubt: int = 0
    received: int = 0
    rejected_inbound: int = 0
    dropped: int = 0
    callback_errors: int = 0
    connection_losses: int = 0
    reconnects: int = 0


class _Counters:
    """The mutable counters behind :attr:`AmpqAPI.stats`."""

    __slots__ = (
        "callback_errors",
        "confirmed",
        "connection_losses",
        "dropped",
        "failed",
        "in_doubt",
        "nacked",
        "received",
        "reconnects",
        "rejected_inbound",
        "sent",
        "unroutable",
    )

    def __init__(self) -> None:
        self.sent = self.confirmed = self.failed = 0
        self.unroutable = self.nacked = self.in_doubt = 0
        self.received = self.rejected_inbound = self.dropped = self.callback_errors = 0
        self.connection_losses = self.reconnects = 0

    def snapshot(self) -> AmqpStats:
        return AmqpStats(**{name: getattr(self, name) for name in self.__slots__})


class _Pending:
    """An order between publish and outcome."""

    __slots__ = (
        "error",
        "message_id",
        "order",
        "receipt",
        "returned",
        "routing_key",
        "sent_at_ms",
        "tag",
    )

    def __init__(self, order: object, message_id: str, routing_key: str, sent_at_ms: int) -> None:
        self.order = order
        self.message_id = message_id
        self.routing_key = routing_key
        self.sent_at_ms = sent_at_ms
        self.tag = 0
        self.returned: tuple[int, str] | None = None
        self.receipt: OrderReceipt | None = None
        self.error: FlexError | None = None

    @property
    def done(self) -> bool:
        return self.receipt is not None or self.error is not None

    def outcome(self) -> OrderOutcome:
        return OrderOutcome(self.order, self.message_id, self.receipt, self.error)


_SHORTSTR_MAX = 255
_SHORTSTR_RULE = "must be a non-empty string of at most 255 UTF-8 bytes (an AMQP short string)"


def _too_long(text: str) -> bool:
    return len(text.encode("utf-8", "surrogatepass")) > _SHORTSTR_MAX


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _scrub(exc: BaseException) -> None:
    """Clear the local variables of the finished frames in ``exc``'s traceback and chain.

    kombu's and py-amqp's frames hold the broker password (``establish_connection`` builds an
    ``opts`` dict with it), and a flxtrd error raised ``from`` their errors keeps those frames
    reachable: ``traceback.TracebackException(..., capture_locals=True)`` would print it. The
    frames stay (file, line, function), their locals go; a frame still running is skipped.
    """
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        traceback.clear_frames(current.__traceback__)
        todo += (current.__cause__, current.__context__)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return redact(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)


# --- transports -------------------------------------------------------------------------------


class _Backend(Protocol):
    """One open connection + channel, as seen by :class:`AmpqAPI`."""

    connection_errors: tuple[type[BaseException], ...]
    channel_errors: tuple[type[BaseException], ...]

    def open(self) -> None: ...

    def publish(self, body: bytes, routing_key: str, message_id: str, sent_at_ms: int) -> None: ...

    def drain(self, timeout: float | None) -> bool:
        """Handle one event; False after ``timeout`` s (``None``: the I/O timeout) without."""
        ...

    def reset_channel(self) -> None: ...

    def close(self) -> None: ...

    def abandon(self) -> None: ...


_pack = struct.pack
_FRAME_END = b"\xce"
#: Basic properties present on an order: content_type, headers, delivery_mode, reply_to,
#: message_id, user_id.
_ORDER_PROPERTY_FLAGS = 0x8000 | 0x2000 | 0x1000 | 0x0200 | 0x0080 | 0x0010
#: Orders are persistent (the spec's ``deliveryMode: 2``): a confirmed order queued at the
#: market survives a broker restart.
_PERSISTENT = 2
_INT32_MAX = 2147483647


def _shortstr(value: str) -> bytes:
    data = value.encode("utf-8", "surrogatepass")
    if len(data) > 255:
        raise ValueError(f"AMQP short string longer than 255 bytes: {value[:40]!r}...")
    return _pack("B", len(data)) + data


def _frame(frame_type: int, channel_id: int, payload: bytes) -> bytes:
    return _pack(">BHI", frame_type, channel_id, len(payload)) + payload + _FRAME_END


class _PublishFrames:
    """The wire bytes of one order publish, built without py-amqp's generic serialiser.

    A publish is three frames: ``basic.publish`` (constant per routing key), the content
    header (properties: ``content_type``, ``application_headers``, ``delivery_mode``,
    ``reply_to``, ``message_id``, ``user_id``) and the body. The bytes are exactly what py-amqp's
    frame
    writer produces for the same message (a unit test compares them), at a fraction of the cost,
    and many can go out in one socket write.
    """

    __slots__ = ("_channel_id", "_content_type", "_header_key", "_max_body", "_method", "_tail")

    def __init__(
        self, channel_id: int, frame_max: int, exchange: str, user_id: str, reply_to: str
    ) -> None:
        self._channel_id = channel_id
        self._max_body = frame_max - 8
        exchange_bytes = _shortstr(exchange)
        self._method = {
            key: _frame(
                1,
                channel_id,
                _pack(">HHH", 60, 40, 0) + exchange_bytes + _shortstr(key) + b"\x01",
            )
            for key in ("ask", "bid")
        }
        self._content_type = _shortstr("text/plain")
        self._header_key = _shortstr(SENDER_TIMESTAMP_HEADER)
        self._tail = (_shortstr(reply_to), _shortstr(user_id))

    def build(
        self, body: bytes, routing_key: str, message_id: str, sent_at_ms: int
    ) -> bytes | None:
        """The frames, or ``None`` when py-amqp must do it (other key, body over frame_max)."""
        method = self._method.get(routing_key)
        if method is None or len(body) > self._max_body:
            return None
        if -_INT32_MAX <= sent_at_ms <= _INT32_MAX:
            item = b"I" + _pack(">i", sent_at_ms)
        else:
            item = b"L" + _pack(">q", sent_at_ms)
        table = self._header_key + item
        reply_to, user_id = self._tail
        header = b"".join(
            (
                _pack(">HHQH", 60, 0, len(body), _ORDER_PROPERTY_FLAGS),
                self._content_type,
                _pack(">I", len(table)),
                table,
                _pack("B", _PERSISTENT),
                reply_to,
                _shortstr(message_id),
                user_id,
            )
        )
        channel_id = self._channel_id
        return b"".join(
            (
                method,
                _pack(">BHI", 2, channel_id, len(header)),
                header,
                _FRAME_END,
                _pack(">BHI", 3, channel_id, len(body)),
                body,
                _FRAME_END,
            )
        )


class _AmqpBackend:
    """py-amqp under kombu: a real broker (``amqp://``, ``amqps://``)."""

    def __init__(self, api: AmpqAPI) -> None:
        import amqp

        self.api = api
        self.kconn: Any = None
        self.raw: Any = None
        self.channel: Any = None
        self._amqp = amqp
        self._publish_method = amqp.spec.Basic.Publish
        self._message_cls = amqp.Message
        self.connection_errors = tuple(amqp.Connection.connection_errors)
        self.channel_errors = tuple(amqp.Connection.channel_errors)
        self._headers_key = SENDER_TIMESTAMP_HEADER
        self._frames: _PublishFrames | None = None
        #: Publishes built but not yet written; drain() writes them first, in one write.
        self._out: list[bytes] = []

    # connection

    def open(self) -> None:
        api = self.api
        kconn = _kombu_connection(
            api._url,
            userid=api._login,
            password=api._password,
            ssl=api._ssl_options(),
            connect_timeout=api._connect_timeout,
            heartbeat=api._heartbeat,
            transport_options={
                "client_properties": {
                    "connection_name": api.connection_name,
                    "product": "flxtrd",
                }
            },
        )
        self.kconn = kconn
        try:
            kconn.ensure_connection(max_retries=0, reraise_as_library_errors=False)  # one attempt
            self.raw = kconn.connection
            # The I/O timeout of every read and write, also of py-amqp's own RPC waits (which
            # otherwise block forever); drain(None) waits this long.
            self.raw.transport.sock.settimeout(api._confirm_timeout)
            self._open_channel(check_exchanges=True)
        except BaseException:
            self._close_quietly()
            raise

    def _check_exchange(self, channel: Any, name: str) -> Any:
        """Check passively that exchange ``name`` exists; declare it only when it is missing.

        The passive check needs no configure permission, so a device login (on the market or a
        served sandbox, where devices may not configure the market's exchanges) passes it. A
        missing exchange is declared when ``declare_exchanges`` allows it, on a fresh channel:
        the failed check closed the old one. Returns the channel to go on with.
        """
        try:
            channel.exchange_declare(exchange=name, type="direct", passive=True)
            return channel
        except self._amqp.NotFound as exc:
            if not self.api.declare_exchanges:
                raise BrokerError(
                    f"exchange {name!r} does not exist on the broker; the market declares"
                    " it (pass declare_exchanges=True for a bare broker such as a sandbox)"
                ) from exc
        raw = self.raw
        channel = raw.Channel(raw, None, auto_decode=False)
        channel.open()
        try:
            channel.exchange_declare(exchange=name, type="direct", durable=True, auto_delete=False)
        except self._amqp.AccessRefused as exc:
            raise BrokerError(
                f"exchange {name!r} does not exist and this login may not declare it"
            ) from exc
        return channel

    def _open_channel(self, *, check_exchanges: bool) -> None:
        api = self.api
        raw = self.raw
        channel = raw.Channel(raw, None, auto_decode=False)
        channel.open()
        self.channel = channel
        if check_exchanges:
            for name in (api.exchange, api.reply_exchange):
                channel = self._check_exchange(channel, name)
            self.channel = channel
        key = api.application_key
        try:
            channel.queue_declare(queue=key, exclusive=True, auto_delete=True, durable=False)
        except self._amqp.ResourceLocked as exc:
            raise AlreadyConnectedError(application_key=key) from exc
        channel.queue_bind(queue=key, exchange=api.reply_exchange, routing_key=key)
        channel.basic_consume(
            queue=key, no_ack=True, callback=self._on_delivery, consumer_tag=f"flxtrd.{key}"
        )
        channel.confirm_select()
        channel.events["basic_ack"].add(api._on_ack)
        channel.events["basic_nack"].add(api._on_nack)
        channel.events["basic_return"].add(self._on_return)
        self._out.clear()
        self._frames = _PublishFrames(
            channel.channel_id, raw.frame_max, api.exchange, api._login, key
        )

    def reset_channel(self) -> None:
        self._out.clear()  # built for the old channel: their orders are already in doubt
        channel, self.channel = self.channel, None
        if channel is not None:
            with contextlib.suppress(*self.channel_errors):
                channel.close()
        self._open_channel(check_exchanges=False)

    def close(self) -> None:
        self._close_quietly()

    def _close_quietly(self) -> None:
        self._out.clear()
        kconn, raw = self.kconn, self.raw
        self.kconn = self.raw = self.channel = None
        if kconn is None:
            return
        try:
            kconn.release()
        except Exception as exc:  # the connection is broken: drop it without I/O
            _log.debug("closing the broker connection failed (%s); dropping it", _describe(exc))
            self._collect(kconn)
        finally:
            # kombu swallows some close errors (e.g. a consumer cancelled by the broker during
            # the close) without closing the socket; make sure it is gone.
            if raw is not None:
                with contextlib.suppress(Exception):
                    raw.collect()

    def abandon(self) -> None:
        self._out.clear()
        kconn, self.kconn = self.kconn, None
        self.raw = self.channel = None
        if kconn is not None:
            self._collect(kconn)

    @staticmethod
    def _collect(kconn: Any) -> None:
        try:
            kconn.collect()
        except Exception as exc:
            _log.debug("collecting the broker connection failed: %s", _describe(exc))

    # I/O

    def publish(self, body: bytes, routing_key: str, message_id: str, sent_at_ms: int) -> None:
        frames = self._frames
        data = frames.build(body, routing_key, message_id, sent_at_ms) if frames else None
        if data is not None:
            self._out.append(data)  # written by the next drain(), with the others
            return
        self.flush()
        api = self.api
        message = self._message_cls(
            body,
            content_type="text/plain",
            message_id=message_id,
            user_id=api._login,
            reply_to=api.application_key,
            application_headers={self._headers_key: sent_at_ms},
            delivery_mode=_PERSISTENT,
        )
        # basic_publish without the per-message drain py-amqp adds for connection.blocked.
        self.channel.send_method(
            self._publish_method,
            "Bssbb",
            (0, api.exchange, routing_key, True, False),
            message,
        )

    def flush(self) -> None:
        """Write the publishes built so far, in one write."""
        out = self._out
        if out:
            data = out[0] if len(out) == 1 else b"".join(out)
            out.clear()
            raw = self.raw
            raw.transport.write(data)
            raw.bytes_sent += 1  # as py-amqp's frame writer counts, for heartbeat_tick

    def drain(self, timeout: float | None) -> bool:
        raw = self.raw
        if raw is None:
            raise self._amqp.RecoverableConnectionError("connection closed")
        if self._out:
            self.flush()
        if raw.heartbeat:
            raw.heartbeat_tick()
        try:
            raw.drain_events(timeout=timeout)
        except TimeoutError:  # socket.timeout
            return False
        return True

    # channel events

    def _on_delivery(self, message: Any) -> None:
        body = message.body
        if isinstance(body, str):  # only when a channel decodes bodies; ours does not
            body = body.encode("utf-8", "surrogateescape")
        self.api._on_delivery(body, message.properties.get("application_headers"))

    def _on_return(self, exc: Any, exchange: str, routing_key: str, message: Any) -> None:
        self.api._on_return(
            message.properties.get("message_id"),
            getattr(exc, "reply_code", _NO_ROUTE),
            getattr(exc, "reply_text", "NO_ROUTE"),
        )


class _MemoryChannelError(Exception):
    """A ``memory://`` operation failed (e.g. the exchange does not exist)."""


_memory_lock = threading.Lock()
_memory_owners: set[str] = set()


class _MemoryBackend:
    """kombu's in-process transport, with returns, confirms and exclusivity emulated."""

    connection_errors: tuple[type[BaseException], ...] = ()
    channel_errors: tuple[type[BaseException], ...] = (_MemoryChannelError,)

    def __init__(self, api: AmpqAPI) -> None:
        self.api = api
        self.kconn: Any = None
        self.channel: Any = None
        self._owned = False

    def open(self) -> None:
        key = self.api.application_key
        with _memory_lock:
            if key in _memory_owners:
                raise AlreadyConnectedError(application_key=key)
            _memory_owners.add(key)
            self._owned = True
        try:
            self.kconn = _kombu_connection(
                "memory://", transport_options={"polling_interval": _MEMORY_POLLING_INTERVAL_S}
            )
            self._open_channel()
        except BaseException:
            self.close()
            raise

    def _open_channel(self) -> None:
        api = self.api
        channel = self.kconn.channel()
        self.channel = channel
        for name in (api.exchange, api.reply_exchange):
            if api.declare_exchanges:
                channel.exchange_declare(exchange=name, type="direct", durable=True)
            elif name not in channel.state.exchanges:
                raise BrokerError(
                    f"exchange {name!r} does not exist on the memory:// broker (pass"
                    " declare_exchanges=True to declare it)"
                )
        key = api.application_key
        channel.queue_declare(queue=key, exclusive=True, auto_delete=True)
        channel.queue_purge(key)  # an exclusive queue starts empty
        channel.queue_bind(queue=key, exchange=api.reply_exchange, routing_key=key)
        channel.basic_consume(
            queue=key, no_ack=True, callback=self._on_delivery, consumer_tag=f"flxtrd.{key}"
        )

    def publish(self, body: bytes, routing_key: str, message_id: str, sent_at_ms: int) -> None:
        api = self.api
        channel = self.channel
        exchange = api.exchange
        try:
            routes = channel.typeof(exchange).lookup(
                channel.get_table(exchange), exchange, routing_key, None
            )
        except KeyError:
            raise _MemoryChannelError(
                f"NOT_FOUND - no exchange {exchange!r} on the memory:// broker"
            ) from None
        if not routes:
            api._on_return(message_id, _NO_ROUTE, "NO_ROUTE")
        else:
            message = channel.prepare_message(
                body,
                content_type="text/plain",
                headers={SENDER_TIMESTAMP_HEADER: sent_at_ms},
                properties={
                    "message_id": message_id,
                    "user_id": api._login,
                    "reply_to": api.application_key,
                    "delivery_mode": _PERSISTENT,
                },
            )
            channel.basic_publish(message, exchange, routing_key, mandatory=True)
        api._on_ack(api._next_tag - 1, False)

    def drain(self, timeout: float | None) -> bool:
        if timeout is None:
            timeout = self.api._confirm_timeout
        try:
            self.kconn.drain_events(timeout=timeout)
        except TimeoutError:  # socket.timeout
            return False
        return True

    def reset_channel(self) -> None:
        self._open_channel()

    def _on_delivery(self, message: Any) -> None:
        body = message.body
        if isinstance(body, str):
            body = body.encode("utf-8", "surrogateescape")
        self.api._on_delivery(body, message.headers)

    def close(self) -> None:
        kconn, channel = self.kconn, self.channel
        self.kconn = self.channel = None
        key = self.api.application_key
        try:
            if channel is not None:
                # Unbind first: kombu's memory transport keeps routing to a deleted queue.
                channel.queue_unbind(key, self.api.reply_exchange, key)
                channel.queue_delete(key)
            if kconn is not None:
                kconn.release()
        finally:
            if self._owned:
                with _memory_lock:
                    _memory_owners.discard(key)
                self._owned = False

    def abandon(self) -> None:
        self.close()


# --- the API ----------------------------------------------------------------------------------


def _ssl_options(host: str | None, verify: bool, ca_bundle: str | None) -> dict[str, Any]:
    """py-amqp TLS options: verify the certificate and the host name unless told not to."""
    if not verify:
        # No server_hostname: py-amqp would switch host name checking on, which requires
        # verification. (Unverified connections therefore send no SNI.)
        return {"cert_reqs": ssl.CERT_NONE}
    options: dict[str, Any] = {"cert_reqs": ssl.CERT_REQUIRED, "server_hostname": host}
    if ca_bundle is not None:
        options["ca_certs"] = ca_bundle
    return options


class AmpqAPI:
    """A device's connection to the market's order broker (generation 1).

    Args:
        broker_url: ``amqps://host:5671//``, ``amqp://host:5672//`` or ``memory://``.
        user_id: the broker login (the user's ``userId``); the URL's user name wins if given.
        access_token: the broker password (the device access token); the URL's wins if given.
        application_key: the device's application key: reply queue name and ``reply_to``.
        verify_ssl: verify the broker's TLS certificate and host name (``amqps`` only).
        ca_bundle: a CA file to verify against instead of the system's.
        exchange: where orders go (``"in"``).
        reply_exchange: where replies come from (``"ticker-out"``).
        buffer_size: replies kept for ``check_market_responses`` / ``market_messages``.
        on_message: called with each decoded reply instead of buffering it.
        on_invalid: called with ``(raw_body, MessageDecodeError)`` for each undecodable reply.
        retry_policy: reconnect attempts and backoff (default
            :data:`DEFAULT_BROKER_RETRY_POLICY`).
        declare_exchanges: declare the exchanges when they are missing (``True``) or only
            check that they exist (``False``); default: check on ``amqps://``, declare a missing
            one otherwise. Existing exchanges are never re-declared (a device may lack the
            permission).
        confirm_timeout: seconds an order may wait for its confirm (a broker that falls silent
            is given up on after up to twice that); also the connection's I/O timeout.
        connect_timeout: seconds one connection attempt may take.
        heartbeat: AMQP heartbeat in seconds, 0 (default) for none.
        max_in_flight: orders ``send_orders`` publishes before waiting for confirms.
        connection_name: shown by the broker (``rabbitmqctl list_connections client_properties``).
    """

    def __init__(
        self,
        broker_url: str,
        user_id: str | None,
        access_token: str | None,
        application_key: str,
        verify_ssl: bool = True,
        ca_bundle: str | None = None,
        *,
        exchange: str = DEFAULT_EXCHANGE,
        reply_exchange: str = DEFAULT_REPLY_EXCHANGE,
        buffer_size: int = DEFAULT_BUFFER_SIZE,
        on_message: OnMessage | None = None,
        on_invalid: OnInvalid | None = None,
        retry_policy: RetryPolicy | None = None,
        declare_exchanges: bool | None = None,
        confirm_timeout: float = DEFAULT_CONFIRM_TIMEOUT_S,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_S,
        heartbeat: float = 0,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        connection_name: str | None = None,
    ) -> None:
        register_secret(access_token)
        if not isinstance(broker_url, str):
            raise ConfigurationError("broker_url must be a string such as amqps://host:5671//")
        try:
            parts = urlsplit(broker_url)
            url_user = unquote(parts.username) if parts.username else None
            url_password = unquote(parts.password) if parts.password else None
            host = parts.hostname
        except ValueError:
            raise ConfigurationError(f"broker_url is not a URL: {redact_url(broker_url)}") from None
        register_secret(url_password)
        scheme = parts.scheme.lower()
        if scheme not in _SCHEMES:
            raise ConfigurationError(
                f"broker_url must start with amqps://, amqp:// or memory://, got"
                f" {redact_url(broker_url)}"
            )
        for field, value in (
            ("application_key", application_key),
            ("exchange", exchange),
            ("reply_exchange", reply_exchange),
        ):
            if not isinstance(value, str) or not value or _too_long(value):
                raise FlexValidationError(field, _SHORTSTR_RULE, value)
        if isinstance(buffer_size, bool) or not isinstance(buffer_size, int) or buffer_size < 1:
            raise FlexValidationError("buffer_size", "must be an integer >= 1", buffer_size)
        if isinstance(max_in_flight, bool) or not isinstance(max_in_flight, int):
            raise FlexValidationError("max_in_flight", "must be an integer >= 1", max_in_flight)
        if max_in_flight < 1:
            raise FlexValidationError("max_in_flight", "must be an integer >= 1", max_in_flight)
        confirm_timeout = require_wait("confirm_timeout", confirm_timeout, positive=True)
        connect_timeout = require_wait("connect_timeout", connect_timeout, positive=True)
        heartbeat = require_wait("heartbeat", heartbeat)  # 0: no heartbeat
        self._memory = scheme == "memory"
        login = url_user or user_id
        if not self._memory and not login:
            raise ConfigurationError(
                "the broker login is missing: pass user_id (the user's userId) or put it in"
                " broker_url"
            )
        if login and (not isinstance(login, str) or _too_long(login)):
            raise FlexValidationError("user_id", _SHORTSTR_RULE, login)
        self._url = broker_url
        self._scheme = scheme
        self._host = host
        self._login = login or ""
        self._password = url_password if url_password is not None else access_token
        self._verify_ssl = bool(verify_ssl)
        self._ca_bundle = ca_bundle
        self._connect_timeout = connect_timeout
        self._confirm_timeout = float(confirm_timeout)
        self._heartbeat = heartbeat
        self._retry_policy = retry_policy or DEFAULT_BROKER_RETRY_POLICY
        self.application_key = application_key
        self._encoder = OrderEncoder(application_key)
        self.exchange = exchange
        self.reply_exchange = reply_exchange
        self.declare_exchanges = (
            scheme != "amqps" if declare_exchanges is None else bool(declare_exchanges)
        )
        self.max_in_flight = max_in_flight
        self.connection_name = connection_name or f"flxtrd {application_key}"
        self.on_message = on_message
        self.on_invalid = on_invalid

        self._lock = threading.RLock()
        self._backend: _Backend | None = None
        self._reconnecting = False
        self._pending: dict[int, _Pending] = {}
        self._inflight_ids: dict[str, int] = {}
        self._next_tag = 1
        self._low_tag = 1
        self._buffer: deque[MarketMessage] = deque(maxlen=buffer_size)
        self._counters = _Counters()
        #: Injected for tests: how the reconnect backoff waits, and what makes a connection.
        self._sleep: Callable[[float], None] = time.sleep
        self._backend_factory: Callable[[AmpqAPI], _Backend] = (
            _MemoryBackend if self._memory else _AmqpBackend
        )

    # -- introspection --

    @property
    def broker_url(self) -> str:
        """The broker URL with any password replaced by ``***``."""
        return redact_url(self._url)

    @property
    def stats(self) -> AmqpStats:
        """A snapshot of the counters (see :class:`AmqpStats`)."""
        return self._counters.snapshot()

    def is_connected(self) -> bool:
        """True while a connection is open (it may still turn out to be lost on the next call)."""
        return self._backend is not None

    def __repr__(self) -> str:
        state = "connected" if self._backend is not None else "not connected"
        return (
            f"<AmpqAPI {self.broker_url} application_key={self.application_key!r}"
            f" login={self._login!r} {state}>"
        )

    # -- connection --

    def _ssl_options(self) -> dict[str, Any] | bool:
        if self._scheme != "amqps":
            return False
        return _ssl_options(self._host, self._verify_ssl, self._ca_bundle)

    def connect(self) -> None:
        """Open the connection, declare the reply queue and start consuming (idempotent).

        Raises :class:`~flxtrd.AlreadyConnectedError` if another connection uses the
        application key, :class:`~flxtrd.FlexConnectionError` if the broker cannot be reached
        (after the retry policy's attempts), :class:`~flxtrd.BrokerError` if it refuses.
        """
        with self._lock:
            self._ensure_open()

    def _ensure_open(self) -> _Backend:
        backend = self._backend
        if backend is None:
            backend = self._open(initial=not self._reconnecting)
        return backend

    def _open(self, *, initial: bool) -> _Backend:
        policy = self._retry_policy
        attempt = 0
        while True:
            backend = self._backend_factory(self)
            try:
                backend.open()
            except AlreadyConnectedError:
                if initial or attempt >= policy.max_retries:
                    raise
                cause = "RESOURCE_LOCKED (the lost connection's queue is not deleted yet)"
            except FlexError as err:
                _scrub(err)  # e.g. AlreadyConnectedError from py-amqp's ResourceLocked
                raise
            except Exception as exc:
                error, retryable = self._connect_error(exc)
                if not retryable or attempt >= policy.max_retries:
                    _scrub(exc)
                    raise error from exc
                cause = _describe(exc)
                _scrub(exc)
            else:
                self._backend = backend
                self._next_tag = self._low_tag = 1
                if self._reconnecting:
                    self._counters.reconnects += 1
                    _log.info("reconnected to %s", self.broker_url)
                else:
                    _log.info("connected to %s as %r", self.broker_url, self._login)
                self._reconnecting = False
                return backend
            delay = policy.backoff_s(attempt, random.random())
            attempt += 1
            _log.warning(
                "connecting to %s failed (%s); attempt %d of %d in %.2f s",
                self.broker_url,
                cause,
                attempt + 1,
                policy.max_retries + 1,
                delay,
            )
            self._sleep(delay)

    def _connect_error(self, exc: Exception) -> tuple[FlexError, bool]:
        """Translate a connect failure; the flag says whether another attempt may help."""
        import amqp

        where = self.broker_url
        if isinstance(exc, amqp.AccessRefused):
            return (
                BrokerError(
                    f"the broker at {where} refused the login {self._login!r}"
                    f" ({_describe(exc)}); check the user id and the access token"
                ),
                False,
            )
        if isinstance(exc, ssl.SSLCertVerificationError):
            return (
                FlexConnectionError(
                    f"TLS certificate verification failed for {where}: {_describe(exc)}"
                    " (pass ca_bundle=..., or verify_ssl=False for a self-signed development"
                    " broker)"
                ),
                False,
            )
        if isinstance(exc, amqp.ChannelError):
            return BrokerError(f"the broker at {where} refused: {_describe(exc)}"), False
        return FlexConnectionError(f"cannot connect to {where}: {_describe(exc)}"), True

    def close_connection(self) -> None:
        """Close the connection (idempotent; does nothing if it was never opened).

        Replies already read stay in the buffer. A later call opens a new connection.
        """
        with self._lock:
            backend, self._backend = self._backend, None
            self._reconnecting = False
            if backend is None:
                _log.debug("no connection to close")
                return
            self._fail_pending("the connection was closed")
            try:
                backend.close()
            except Exception as exc:
                _log.warning("closing the broker connection failed: %s", _describe(exc))
            _log.info("connection to %s closed", self.broker_url)

    def __enter__(self) -> AmpqAPI:
        self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close_connection()

    def _lost(self, exc: BaseException) -> None:
        """The connection died: fail what is in flight as in doubt, then reconnect at once."""
        backend, self._backend = self._backend, None
        if backend is not None:
            backend.abandon()
        reason = f"connection lost: {_describe(exc)}"
        self._counters.connection_losses += 1
        _log.warning("%s; %d order(s) in doubt; reconnecting", reason, len(self._pending))
        self._fail_pending(reason)
        self._reconnecting = True
        try:
            self._open(initial=False)
        except FlexError as err:
            _log.error("reconnecting failed (%s); the next call tries again", err)

    def _channel_failed(self, exc: BaseException) -> None:
        """The broker closed the channel (e.g. a refused user_id): fail in-flight, reopen it."""
        backend = self._backend
        reason = f"channel closed by the broker: {_describe(exc)}"
        self._counters.connection_losses += 1
        _log.warning("%s; %d order(s) in doubt", reason, len(self._pending))
        self._fail_pending(reason)
        if backend is None:
            return
        try:
            backend.reset_channel()
            self._next_tag = self._low_tag = 1
        except Exception as err:
            self._lost(err)

    def _fail_pending(self, reason: str) -> None:
        pending = self._pending
        if not pending:
            return
        counters = self._counters
        for p in pending.values():
            p.error = OrderInDoubtError(p.message_id, reason)
            counters.in_doubt += 1
            counters.failed += 1
        pending.clear()
        self._inflight_ids.clear()

    # -- confirms --

    def _on_ack(self, tag: int, multiple: bool) -> None:
        pending = self._pending
        if multiple:
            for t in range(self._low_tag, tag + 1):
                p = pending.pop(t, None)
                if p is not None:
                    self._settle(p, None)
            if tag >= self._low_tag:
                self._low_tag = tag + 1
        else:
            p = pending.pop(tag, None)
            if p is not None:
                self._settle(p, None)
            if tag == self._low_tag:
                self._advance_low()

    def _on_nack(self, tag: int, multiple: bool) -> None:
        pending = self._pending
        tags = range(self._low_tag, tag + 1) if multiple else (tag,)
        for t in tags:
            p = pending.pop(t, None)
            if p is not None:
                self._settle(
                    p,
                    OrderNotConfirmedError(
                        f"order {p.message_id} was nacked by the broker",
                        nacked=True,
                        delivery_tag=t,
                    ),
                )
        if multiple and tag >= self._low_tag:
            self._low_tag = tag + 1
        elif tag == self._low_tag:
            self._advance_low()

    def _advance_low(self) -> None:
        low, stop, pending = self._low_tag, self._next_tag, self._pending
        while low < stop and low not in pending:
            low += 1
        self._low_tag = low

    def _on_return(self, message_id: object, reply_code: int, reply_text: str) -> None:
        tag = self._inflight_ids.get(message_id) if isinstance(message_id, str) else None
        p = self._pending.get(tag) if tag is not None else None
        if p is None:
            _log.warning("broker returned an unknown message %r (%s)", message_id, reply_text)
            return
        p.returned = (reply_code, reply_text)

    def _settle(self, p: _Pending, error: FlexError | None) -> None:
        self._inflight_ids.pop(p.message_id, None)
        counters = self._counters
        if error is None and p.returned is not None:
            code, text = p.returned
            error = OrderUnroutableError(
                f"order {p.message_id} was returned as unroutable by the broker: exchange"
                f" {self.exchange!r}, routing key {p.routing_key!r} ({code} {text});"
                " no market queue is bound for it",
                exchange=self.exchange,
                routing_key=p.routing_key,
                reply_code=code,
                reply_text=text,
            )
            counters.unroutable += 1
        elif error is not None:
            counters.nacked += 1
        if error is None:
            p.receipt = OrderReceipt(
                p.message_id,
                p.routing_key,
                self.exchange,
                p.tag,
                p.sent_at_ms,
                _now_ms(),
                p.order,
            )
            counters.confirmed += 1
        else:
            p.error = error
            counters.failed += 1

    # -- inbound --

    def _on_delivery(self, body: bytes, headers: Mapping[str, Any] | None) -> None:
        """Decode and dispatch one reply; never raises (called inside ``drain_events``)."""
        counters = self._counters
        counters.received += 1
        try:
            message = decode_market_message(body, headers)
        except Exception as exc:
            error = (
                exc
                if isinstance(exc, MessageDecodeError)
                else MessageDecodeError(f"invalid market message: {_describe(exc)}")
            )
            counters.rejected_inbound += 1
            _log.debug("rejected a market message: %s", error)
            on_invalid = self.on_invalid
            if on_invalid is not None:
                try:
                    on_invalid(body, error)
                except Exception:
                    counters.callback_errors += 1
                    _log.exception("on_invalid raised")
            return
        on_message = self.on_message
        if on_message is not None:
            try:
                on_message(message)
            except Exception:
                counters.callback_errors += 1
                _log.exception("on_message raised")
            return
        buffer = self._buffer
        if len(buffer) == buffer.maxlen:
            counters.dropped += 1
        buffer.append(message)

    def _drain_once(self, timeout: float | None) -> bool:
        """Read and handle one event; False when ``timeout`` passed without one."""
        backend = self._backend
        if backend is None:
            return False
        try:
            return backend.drain(timeout)
        except backend.channel_errors as exc:
            self._channel_failed(exc)
        except Exception as exc:  # connection errors, and anything that leaves py-amqp unsure
            self._lost(exc)
        return True

    def _pump(self, limit: int) -> None:
        """Handle what has arrived without waiting (at most ``limit`` events)."""
        for _ in range(limit):
            if not self._drain_once(0):
                return

    # -- publishing --

    def _prepare(self, order: object, routing_hint: str | None) -> tuple[str, bytes]:
        routing_key, body = self._encoder.encode(order)
        if routing_hint and routing_hint != routing_key:
            _log.warning(
                "routing hint %r disagrees with the order type %r; the order type decides:"
                " sending with routing key %r",
                routing_hint,
                routing_key,
                routing_key,
            )
        return routing_key, body

    def _publish(self, order: object, routing_key: str, body: bytes, message_id: str) -> _Pending:
        # The type first: an unhashable message_id must not reach the dict lookup below.
        if type(message_id) is not str or not 0 < len(message_id) <= _SHORTSTR_MAX:
            raise FlexValidationError("message_id", _SHORTSTR_RULE, message_id)
        if len(message_id) > _SHORTSTR_MAX // 4 and _too_long(message_id):
            raise FlexValidationError("message_id", _SHORTSTR_RULE, message_id)
        if message_id in self._inflight_ids:
            raise FlexValidationError(
                "message_id", "must not belong to an order still in flight", message_id
            )
        backend = self._ensure_open()
        p = _Pending(order, message_id, routing_key, _now_ms())
        tag = p.tag = self._next_tag
        self._next_tag = tag + 1
        self._pending[tag] = p
        self._inflight_ids[message_id] = tag
        self._counters.sent += 1
        try:
            backend.publish(body, routing_key, message_id, p.sent_at_ms)
        except backend.channel_errors as exc:
            self._channel_failed(exc)
        except Exception as exc:
            self._lost(exc)
        return p

    @staticmethod
    def _confirm_wait(remaining: float) -> float | None:
        """The drain timeout while waiting for confirms.

        ``None`` (the connection's I/O timeout, ``confirm_timeout``) unless less than a second
        is left: py-amqp changes the socket timeout (two syscalls per read) whenever it differs
        from the socket's own. A broker that stays silent is therefore given up on after
        ``confirm_timeout`` to twice that; a broker that keeps talking, precisely.
        """
        return None if remaining > 1.0 else remaining

    def _give_up(self, reason: str) -> None:
        _log.warning("%d order(s) not confirmed: %s", len(self._pending), reason)
        self._fail_pending(reason)

    def send_order(
        self,
        order: object,
        *,
        routing_hint: str | None = None,
        message_id: str | None = None,
        timeout: float | None = None,
    ) -> OrderReceipt:
        """Publish one order and return when the broker has confirmed it.

        Args:
            order: a :class:`~flxtrd.MarketOrder` (or an ``OrderLine``).
            routing_hint: the caller's idea of the routing key (0.2.9's ``endpoint``); if it
                disagrees with the order type it is logged and ignored.
            message_id: the AMQP ``message_id``; default a fresh uuid4 hex. Re-use the id of an
                order that failed in doubt to re-send it.
            timeout: seconds to wait for the confirm (default ``confirm_timeout``).

        Raises:
            OrderUnroutableError: the broker returned it (no queue bound for the side).
            OrderNotConfirmedError: the broker nacked it.
            OrderInDoubtError: the connection was lost (or the confirm timed out) after publishing.
            FlexConnectionError, AlreadyConnectedError, BrokerError: connecting failed.
            MessageEncodeError, FlexValidationError: the order cannot be sent.
        """
        timeout = require_optional_wait("timeout", timeout, none_means="confirm_timeout")
        with self._lock:
            routing_key, body = self._prepare(order, routing_hint)
            if message_id is None:
                message_id = uuid.uuid4().hex
            p = self._publish(order, routing_key, body, message_id)
            if not p.done:
                self._await_all(timeout)
            if p.receipt is None:
                raise p.error if p.error is not None else FlexError("order has no outcome")
            return p.receipt

    def _await_all(self, timeout: float | None) -> None:
        """Drain until nothing is in flight; what is left after ``timeout`` is in doubt."""
        limit = self._confirm_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        pending = self._pending
        while pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._give_up(f"no confirm within {limit:g} s")
                return
            self._drain_once(self._confirm_wait(remaining))

    def send_orders(
        self,
        orders: Iterable[object],
        *,
        max_in_flight: int | None = None,
        timeout: float | None = None,
    ) -> list[OrderOutcome]:
        """Publish many orders with pipelined confirms; one :class:`OrderOutcome` per order.

        Items are orders or ``(order, message_id)`` pairs (to re-send in-doubt orders). At
        most ``max_in_flight`` orders wait for their confirm at any time. Every order of the
        iterable gets exactly one outcome, in order: a receipt only when the broker confirmed
        it. If the connection is lost, the unconfirmed orders are in doubt and publishing
        continues on the new connection; if it cannot be re-established, the remaining orders
        fail with that error (the iterable is still consumed). ``timeout`` bounds each wait for
        a confirm (default ``confirm_timeout``).
        """
        timeout = require_optional_wait("timeout", timeout, none_means="confirm_timeout")
        window = self.max_in_flight if max_in_flight is None else max_in_flight
        if window < 1:
            raise FlexValidationError("max_in_flight", "must be an integer >= 1", window)
        limit = self._confirm_timeout if timeout is None else timeout
        with self._lock:
            results: list[_Pending | OrderOutcome] = []
            append = results.append
            pending = self._pending
            connect_error: FlexError | None = None
            count = 0
            for item in orders:
                if isinstance(item, tuple) and len(item) == 2:
                    order, message_id = item
                    if message_id is None:
                        message_id = uuid.uuid4().hex
                else:
                    order, message_id = item, uuid.uuid4().hex
                if connect_error is not None:
                    self._counters.failed += 1
                    append(OrderOutcome(order, message_id, None, connect_error))
                    continue
                try:
                    routing_key, body = self._prepare(order, None)
                    append(self._publish(order, routing_key, body, message_id))
                except (FlexConnectionError, AlreadyConnectedError) as exc:
                    connect_error = exc
                    self._counters.failed += 1
                    append(OrderOutcome(order, message_id, None, exc))
                    continue
                except FlexError as exc:
                    self._counters.failed += 1
                    append(OrderOutcome(order, message_id, None, exc))
                    continue
                count += 1
                if not count & _PUMP_EVERY_MASK:
                    # Read acks (and notice a lost connection) without waiting.
                    self._pump(window)
                if len(pending) >= window:
                    deadline = time.monotonic() + limit
                    while len(pending) >= window:
                        remaining = deadline - time.monotonic()
                        if remaining <= 0:
                            self._give_up(f"no confirm within {limit:g} s")
                            break
                        self._drain_once(self._confirm_wait(remaining))
            self._await_all(limit)
            return [r if isinstance(r, OrderOutcome) else r.outcome() for r in results]

    # -- consuming --

    def check_market_responses(self) -> list[MarketMessage]:
        """Read the replies that have arrived and return every buffered reply (oldest first).

        The buffer is not cleared (as in 0.2.9); call :meth:`empty_market_responses` after
        handling them. Opens the connection if needed. Empty when nothing arrived.
        """
        with self._lock:
            self._ensure_open()
            self._pump(2 * (self._buffer.maxlen or DEFAULT_BUFFER_SIZE))
            return list(self._buffer)

    def empty_market_responses(self) -> None:
        """Forget the buffered replies."""
        with self._lock:
            self._buffer.clear()

    def market_messages(self, timeout: float | None = None) -> Iterator[MarketMessage]:
        """Yield replies as they arrive, consuming them from the buffer.

        ``timeout`` is the longest wait for the *next* message: the iteration ends when that
        much time passes without one (``None``: wait forever, ``0``: only what has arrived).
        Replies go to ``on_message`` instead when that callback is set. A ``timeout`` that is
        not a finite number >= 0 (or ``None``) is refused here, before the first iteration.
        """
        return self._messages(require_optional_wait("timeout", timeout))

    def _messages(self, timeout: float | None) -> Iterator[MarketMessage]:
        while True:
            with self._lock:
                message = self._next_message(timeout)
            if message is None:
                return
            yield message

    def _next_message(self, timeout: float | None) -> MarketMessage | None:
        buffer = self._buffer
        if not buffer:
            self._ensure_open()
            deadline = None if timeout is None else time.monotonic() + timeout
            while not buffer:
                if deadline is None:
                    self._drain_once(None if self._heartbeat == 0 else self._heartbeat / 2)
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._pump(self._buffer.maxlen or DEFAULT_BUFFER_SIZE)
                    break
                self._drain_once(remaining)
        return buffer.popleft() if buffer else None

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` while reading replies (0.2.9's ``trading_client.sleep``)."""
        seconds = require_wait("seconds", seconds)
        with self._lock:
            self._ensure_open()
            deadline = time.monotonic() + seconds
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._drain_once(remaining)
