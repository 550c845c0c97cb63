"""The ``memory://`` transport of :class:`~flxtrd.AmpqAPI`: kombu's in-process broker.

It has no broker behind it, so returns, confirms and queue exclusivity are emulated here (see
the package docstring for what is and is not available).
"""

from __future__ import annotations

import threading
from typing import Any

from flxtrd._amqp._backend import (
    _NO_ROUTE,
    _PERSISTENT,
    _BackendContext,
    _body_bytes,
    _kombu_connection,
)
from flxtrd._amqp._market_messages import SENDER_TIMESTAMP_HEADER
from flxtrd._errors import AlreadyConnectedError, BrokerError

_MEMORY_POLLING_INTERVAL_S = 0.005


class _MemoryChannelError(Exception):
    """A ``memory://`` operation failed (e.g. the exchange does not exist)."""


_memory_lock = threading.Lock()
_memory_owners: set[str] = set()


class _MemoryBackend:
    """kombu's in-process transport, with returns, confirms and exclusivity emulated."""

    connection_errors: tuple[type[BaseException], ...] = ()
    channel_errors: tuple[type[BaseException], ...] = (_MemoryChannelError,)

    def __init__(self, ctx: _BackendContext) -> None:
        self.ctx = ctx
        self.kconn: Any = None
        self.channel: Any = None
        self._owned = False
        #: The delivery tag of the last publish on this channel (the API numbers them alike).
        self._tag = 0

    def open(self) -> None:
        key = self.ctx.application_key
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
        ctx = self.ctx
        channel = self.kconn.channel()
        self.channel = channel
        self._tag = 0
        for name in (ctx.exchange, ctx.reply_exchange):
            if ctx.declare_exchanges:
                channel.exchange_declare(exchange=name, type="direct", durable=True)
            elif name not in channel.state.exchanges:
                raise BrokerError(
                    f"exchange {name!r} does not exist on the memory:// broker (pass"
                    " declare_exchanges=True to declare it)"
                )
        key = ctx.application_key
        channel.queue_declare(queue=key, exclusive=True, auto_delete=True)
        channel.queue_purge(key)  # an exclusive queue starts empty
        channel.queue_bind(queue=key, exchange=ctx.reply_exchange, routing_key=key)
        channel.basic_consume(
            queue=key, no_ack=True, callback=self._on_delivery, consumer_tag=f"flxtrd.{key}"
        )

    def publish(self, body: bytes, routing_key: str, message_id: str, sent_at_ms: int) -> None:
        ctx = self.ctx
        self._tag += 1
        channel = self.channel
        exchange = ctx.exchange
        try:
            routes = channel.typeof(exchange).lookup(
                channel.get_table(exchange), exchange, routing_key, None
            )
        except KeyError:
            raise _MemoryChannelError(
                f"NOT_FOUND - no exchange {exchange!r} on the memory:// broker"
            ) from None
        if not routes:
            ctx.on_return(message_id, _NO_ROUTE, "NO_ROUTE")
        else:
            message = channel.prepare_message(
                body,
                content_type="text/plain",
                headers={SENDER_TIMESTAMP_HEADER: sent_at_ms},
                properties={
                    "message_id": message_id,
                    "user_id": ctx.login,
                    "reply_to": ctx.application_key,
                    "delivery_mode": _PERSISTENT,
                },
            )
            channel.basic_publish(message, exchange, routing_key, mandatory=True)
        ctx.on_ack(self._tag, False)

    def drain(self, timeout: float | None) -> bool:
        if timeout is None:
            timeout = self.ctx.confirm_timeout
        try:
            self.kconn.drain_events(timeout=timeout)
        except TimeoutError:  # socket.timeout
            return False
        return True

    def reset_channel(self) -> None:
        self._open_channel()

    def _on_delivery(self, message: Any) -> None:
        self.ctx.on_delivery(_body_bytes(message.body), message.headers)

    def close(self) -> None:
        kconn, channel = self.kconn, self.channel
        self.kconn = self.channel = None
        key = self.ctx.application_key
        try:
            if channel is not None:
                # Unbind first: kombu's memory transport keeps routing to a deleted queue.
                channel.queue_unbind(key, self.ctx.reply_exchange, key)
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
