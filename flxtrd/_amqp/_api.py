"""The generation-1 trading connection, :class:`AmpqAPI` (the story: :mod:`flxtrd._amqp`).

Connecting (with the reconnect backoff), publishing with pipelined confirms and consuming
replies; the transports are :mod:`._kombu_backend` and :mod:`._memory_backend`, the broker's
events are handled by the :class:`~flxtrd._amqp._dispatch._Dispatch` mixin and the constructor's
arguments are checked by :mod:`._settings`. What is left is one class whose connect, publish and
consume paths share one lock and one in-flight state.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any

from flxtrd._amqp._backend import (
    _SHORTSTR_RULE,
    _Backend,
    _BackendContext,
    _describe,
    _now_ms,
    _scrub,
)
from flxtrd._amqp._dispatch import OnInvalid, OnMessage, _Dispatch
from flxtrd._amqp._kombu_backend import _AmqpBackend, _connect_error, _ssl_options
from flxtrd._amqp._market_messages import MarketMessage
from flxtrd._amqp._memory_backend import _MemoryBackend
from flxtrd._amqp._order_codec import OrderEncoder
from flxtrd._amqp._results import AmqpStats, OrderOutcome, OrderReceipt, _Counters, _Pending
from flxtrd._amqp._settings import _parse_broker_url, _require_count, _require_shortstr
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
    ConfigurationError,
    FlexConnectionError,
    FlexError,
    FlexValidationError,
    OrderInDoubtError,
)
from flxtrd._log import get_logger, redact_url, register_secret
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

#: Reconnect policy (the numbers live in :mod:`flxtrd._defaults`).
DEFAULT_BROKER_RETRY_POLICY = RetryPolicy(
    max_retries=BROKER_MAX_RETRIES,
    initial_delay_s=BROKER_RETRY_DELAY_S,
    max_delay_s=BROKER_MAX_RETRY_DELAY_S,
    jitter=BROKER_RETRY_JITTER,
)
#: ``send_orders`` reads arrived confirms without waiting after every 64 publishes.
_PUMP_EVERY_MASK = 63


class AmpqAPI(_Dispatch):
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
        address = _parse_broker_url(broker_url)
        scheme = address.scheme
        _require_shortstr("application_key", application_key)
        _require_shortstr("exchange", exchange)
        _require_shortstr("reply_exchange", reply_exchange)
        _require_count("buffer_size", buffer_size)
        _require_count("max_in_flight", max_in_flight)
        confirm_timeout = require_wait("confirm_timeout", confirm_timeout, positive=True)
        connect_timeout = require_wait("connect_timeout", connect_timeout, positive=True)
        heartbeat = require_wait("heartbeat", heartbeat)  # 0: no heartbeat
        self._memory = scheme == "memory"
        login = address.user or user_id
        if not self._memory and not login:
            raise ConfigurationError(
                "the broker login is missing: pass user_id (the user's userId) or put it in"
                " broker_url"
            )
        if login:
            _require_shortstr("user_id", login)
        self._url = broker_url
        self._scheme = scheme
        self._host = address.host
        self._login = login or ""
        self._password = address.password if address.password is not None else access_token
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
        self._backend_factory: Callable[[_BackendContext], _Backend] = (
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

    def _backend_context(self) -> _BackendContext:
        """What the next backend may use of this API: the settings as they are now, the sinks."""
        return _BackendContext(
            url=self._url,
            login=self._login,
            password=self._password,
            ssl=self._ssl_options(),
            connect_timeout=self._connect_timeout,
            confirm_timeout=self._confirm_timeout,
            heartbeat=self._heartbeat,
            connection_name=self.connection_name,
            application_key=self.application_key,
            exchange=self.exchange,
            reply_exchange=self.reply_exchange,
            declare_exchanges=self.declare_exchanges,
            on_ack=self._on_ack,
            on_nack=self._on_nack,
            on_return=self._on_return,
            on_delivery=self._on_delivery,
        )

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
            backend = self._backend_factory(self._backend_context())
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
                error, retryable = _connect_error(exc, self.broker_url, self._login)
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
        # The exact type first: an unhashable str subclass must not reach the dict lookup below.
        if type(message_id) is not str:
            raise FlexValidationError("message_id", _SHORTSTR_RULE, message_id)
        _require_shortstr("message_id", message_id)
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
                self._await_below(1, self._confirm_timeout if timeout is None else timeout)
            return p.outcome().unwrap()

    def _await_below(self, window: int, limit: float) -> None:
        """Drain until fewer than ``window`` orders are in flight; after ``limit`` s, the
        unconfirmed ones are in doubt (``window=1``: wait for every confirm)."""
        deadline = time.monotonic() + limit
        pending = self._pending
        while len(pending) >= window:
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
                    self._await_below(window, limit)
            self._await_below(1, limit)
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
