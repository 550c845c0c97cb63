"""The py-amqp transport of :class:`~flxtrd.AmpqAPI`: a real broker (``amqp://``, ``amqps://``).

Opens the connection and channel, checks or declares the exchanges, declares the exclusive reply
queue, writes publishes (through :mod:`flxtrd._amqp._frames`) and reads events; what happens on
an event is the API's, reached through the :class:`~flxtrd._amqp._backend._BackendContext`.
"""

from __future__ import annotations

import contextlib
import ssl
from typing import Any

from flxtrd._amqp._backend import (
    _NO_ROUTE,
    _PERSISTENT,
    _BackendContext,
    _body_bytes,
    _describe,
    _kombu_connection,
)
from flxtrd._amqp._frames import _PublishFrames
from flxtrd._amqp._market_messages import SENDER_TIMESTAMP_HEADER
from flxtrd._errors import AlreadyConnectedError, BrokerError, FlexConnectionError, FlexError
from flxtrd._log import get_logger

_log = get_logger("amqp")


class _AmqpBackend:
    """py-amqp under kombu: a real broker (``amqp://``, ``amqps://``)."""

    def __init__(self, ctx: _BackendContext) -> None:
        import amqp

        self.ctx = ctx
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
        ctx = self.ctx
        kconn = _kombu_connection(
            ctx.url,
            userid=ctx.login,
            password=ctx.password,
            ssl=ctx.ssl,
            connect_timeout=ctx.connect_timeout,
            heartbeat=ctx.heartbeat,
            transport_options={
                "client_properties": {
                    "connection_name": ctx.connection_name,
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
            self.raw.transport.sock.settimeout(ctx.confirm_timeout)
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
            if not self.ctx.declare_exchanges:
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
        ctx = self.ctx
        raw = self.raw
        channel = raw.Channel(raw, None, auto_decode=False)
        channel.open()
        self.channel = channel
        if check_exchanges:
            for name in (ctx.exchange, ctx.reply_exchange):
                channel = self._check_exchange(channel, name)
            self.channel = channel
        key = ctx.application_key
        try:
            channel.queue_declare(queue=key, exclusive=True, auto_delete=True, durable=False)
        except self._amqp.ResourceLocked as exc:
            raise AlreadyConnectedError(application_key=key) from exc
        channel.queue_bind(queue=key, exchange=ctx.reply_exchange, routing_key=key)
        channel.basic_consume(
            queue=key, no_ack=True, callback=self._on_delivery, consumer_tag=f"flxtrd.{key}"
        )
        channel.confirm_select()
        channel.events["basic_ack"].add(ctx.on_ack)
        channel.events["basic_nack"].add(ctx.on_nack)
        channel.events["basic_return"].add(self._on_return)
        self._out.clear()
        self._frames = _PublishFrames(
            channel.channel_id, raw.frame_max, ctx.exchange, ctx.login, key
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
        ctx = self.ctx
        message = self._message_cls(
            body,
            content_type="text/plain",
            message_id=message_id,
            user_id=ctx.login,
            reply_to=ctx.application_key,
            application_headers={self._headers_key: sent_at_ms},
            delivery_mode=_PERSISTENT,
        )
        # basic_publish without the per-message drain py-amqp adds for connection.blocked.
        self.channel.send_method(
            self._publish_method,
            "Bssbb",
            (0, ctx.exchange, routing_key, True, False),
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
        self.ctx.on_delivery(
            _body_bytes(message.body), message.properties.get("application_headers")
        )

    def _on_return(self, exc: Any, exchange: str, routing_key: str, message: Any) -> None:
        self.ctx.on_return(
            message.properties.get("message_id"),
            getattr(exc, "reply_code", _NO_ROUTE),
            getattr(exc, "reply_text", "NO_ROUTE"),
        )


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


def _connect_error(exc: Exception, where: str, login: str) -> tuple[FlexError, bool]:
    """Translate a connect failure; the flag says whether another attempt may help."""
    import amqp

    if isinstance(exc, amqp.AccessRefused):
        return (
            BrokerError(
                f"the broker at {where} refused the login {login!r}"
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
