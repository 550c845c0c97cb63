"""WebSocket market streams (API generation 2): trade, ticker and order-book events.

Usage::

    with MarketStream("https://test.glocalflexmarket.com", token_source) as market:
        for event in market.stream("ticker"):
            print(event.received_at, event.model.data.price)

    async with AsyncMarketStream("https://test.glocalflexmarket.com", token_source) as market:
        async for event in market.stream("trade"):
            ...

Streams and what they carry (typed models from ``glocalflex_messages.models``):

=============  ==========================  ================================================
kind           path                        ``MarketEvent.model``
=============  ==========================  ================================================
``trade``      ``/api/v1/ws/trade/``       ``OrderStatusUpdate`` | ``ContractStatusUpdate``
``ticker``     ``/api/v1/ws/ticker/``      ``Ticker``
``orderbook``  ``/api/v1/ws/orderbook/``   ``Orderbook``
=============  ==========================  ================================================

**Events.** Iterating a subscription yields :class:`MarketEvent` ``(kind, model, raw,
received_at)``: the typed model, the frame as received (``str`` or ``bytes``) and when it arrived
(UTC). ``Control`` messages are never yielded: the first one is the connection handshake, later
ones are counted in ``stats.controls`` and passed to ``on_control``.

**Handshake.** After every (re)connect the server's first message must be
``{"type": "control", "status": "success", ...}``. A control message with status ``error`` or any
other first message raises :class:`StreamHandshakeError` (not retried); no message within
``handshake_timeout`` is a connection failure (retried).

**Invalid messages** (not JSON, wrong fields, a ``type`` this stream does not carry) are skipped,
never raised: each is counted in ``stats.rejected`` (``stats.unknown`` counts those with an
unknown ``type``), logged at DEBUG and passed to ``on_invalid(raw, MessageDecodeError)``.

**Reconnect.** A lost connection (server close, network error, keepalive ping timeout) and a
failed connect (network error, handshake timeout, upgrade rejected with 408/429/5xx) are retried
after an exponential backoff with jitter (:class:`ReconnectPolicy`): the wait before retry ``n``
(1-based) is ``min(initial_delay * multiplier**(n-1), max_delay)`` shortened by a random
fraction of at most ``jitter``; a ``Retry-After`` on a 429/503 raises it (up to ``max_delay``).
``n`` counts consecutive failures and drops; it restarts at 1 when the dropped connection was
healthy (delivered an event, or stayed up ``stable_after`` seconds). After ``max_attempts``
consecutive failed retries the iterator raises :class:`~flxtrd.FlexConnectionError` (from the
last cause) and ends. The first connect is not delayed.

**Tokens.** The bearer token is asked for on every (re)connect, never cached by the stream. When
the server rejects the upgrade with 401/403, or closes the socket with an auth close code (1008,
4001, 4003, 4401, 4403), the stream refreshes the token first (``TokenSource.refresh()``) and
reconnects at once; a second rejection right after a refresh raises
:class:`~flxtrd.AuthenticationError` / :class:`~flxtrd.PermissionDeniedError`. Other statuses
(404, ...) raise the matching :class:`~flxtrd.FlexStatusError`. Tokens are registered with the
secrets filter and never appear in log records, reprs or exception messages.

**Timeouts and keepalive.** httpx-ws pings the server every ``keepalive_interval`` seconds and
drops the connection (then reconnects) when no pong comes within ``keepalive_timeout``. With
``receive_timeout`` set, an iteration that sees no event in time raises
:class:`~flxtrd.FlexTimeoutError`; the connection stays open and iterating again resumes.

**I/O.** The sync classes use an ``httpx.Client`` (httpx-ws runs the socket in background
threads; :meth:`MarketSubscription.close` may be called from another thread and wakes a blocked
iteration). The async classes run on asyncio with an ``httpx.AsyncClient``; each connection lives
in its own task, so the session's task group never spans the caller's code. Pass ``client=`` (not
closed by the stream) or ``transport=`` (e.g. httpx-ws's ``ASGIWebSocketTransport`` in tests).

**Code.** This module is the I/O-free heart shared by :class:`~flxtrd.MarketStream` and its async
twin: :class:`MarketEvent`, :class:`StreamStats` and :class:`_SubscriptionCore`, which decodes
frames (counting rejections), checks the first control message and makes every reconnect
decision. Around it, each in its own module: ``_kinds`` (the stream kinds and their decoders),
``_tokens`` (token providers), ``_settings`` (:class:`ReconnectPolicy`, the validated
configuration, URLs), ``_failures`` (failure signals and their descriptions) and ``_bases`` (the
constructor and properties both shells share). ``_async_stream`` (and the sync ``_stream``
generated from it) adds the subscription and stream classes, ``_io`` the sockets.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import msgspec
from glocalflex_messages.models import Control, ControlStatus
from httpx_ws import WebSocketDisconnect, WebSocketUpgradeError

from flxtrd._defaults import STREAM_AUTH_CLOSE_CODES as _AUTH_CLOSE_CODES
from flxtrd._defaults import STREAM_AUTH_STATUSES as _AUTH_STATUSES
from flxtrd._defaults import STREAM_RETRY_STATUSES as _RETRY_STATUSES
from flxtrd._errors import (
    AuthenticationError,
    FlexConnectionError,
    FlexError,
    FlexStatusError,
    FlexTimeoutError,
    MessageDecodeError,
    StreamHandshakeError,
    parse_retry_after,
    status_error_for,
)
from flxtrd._log import get_logger, redact, redact_url
from flxtrd._retry import is_certificate_error
from flxtrd._streams._failures import _EXCERPT, _describe, _excerpt, _leaf, _ReceiveTimeout
from flxtrd._streams._kinds import _CONTROL_DECODER, _StreamSpec
from flxtrd._streams._settings import _StreamConfig, _ws_url

__all__ = ["M", "MarketEvent", "StreamStats", "_Attempt", "_SubscriptionCore"]

_logger = get_logger("streams")

M = TypeVar("M", covariant=True)


@dataclass(frozen=True)
class MarketEvent(Generic[M]):
    """One typed message from a market stream, with the raw frame and its arrival time (UTC)."""

    kind: str
    model: M
    raw: str | bytes = field(repr=False)
    received_at: datetime


@dataclass
class StreamStats:
    """Live counters of one subscription."""

    received: int = 0
    """Frames received, the handshake control messages included."""
    delivered: int = 0
    """Events yielded to the caller."""
    rejected: int = 0
    """Frames skipped because they did not decode (``unknown`` ones included)."""
    unknown: int = 0
    """Rejected frames whose ``type`` this stream does not carry."""
    controls: int = 0
    """Control messages after the handshake."""
    connects: int = 0
    """Successful handshakes (the first connect and every reconnect)."""
    reconnects: int = 0
    """Successful handshakes after the first."""
    token_refreshes: int = 0
    """Token refreshes the stream asked for after a 401/403 or an auth close code."""


@dataclass(frozen=True)
class _Attempt:
    """The plan for the next connect attempt."""

    delay: float
    refresh: bool


class _SubscriptionCore:
    """Everything about one subscription except I/O: URL, decode, handshake, retry decisions."""

    def __init__(self, config: _StreamConfig, spec: _StreamSpec) -> None:
        self.config = config
        self.spec = spec
        self.kind = spec.kind
        self.url = _ws_url(config.base_url, spec.path)
        self.shown_url = redact_url(self.url)
        self.stats = StreamStats()
        self.policy = config.policy
        self._started = False
        self._failures = 0
        self._immediate = False
        self._refresh_due = False
        self._refreshed_since_connect = False
        self._auth_error: FlexStatusError | None = None
        self._retry_after: float | None = None
        self._last_error: BaseException | None = None
        self._connected_at = 0.0
        self._delivered_on_connection = 0

    # -- connecting --------------------------------------------------------------------------

    def plan(self) -> _Attempt:
        """Decide the wait before the next connect attempt, or give up (raises)."""
        if not self._started:
            self._started = True
            return _Attempt(0.0, self._refresh_due)
        limit = self.policy.max_attempts
        if limit is not None and self._failures > limit:
            last = self._last_error
            cause = f": {_describe(last)}" if last is not None else ""
            raise FlexConnectionError(
                f"{self.kind} stream: gave up after {limit} reconnect attempts{cause}"
            ) from last
        if self._immediate:
            delay = 0.0
        else:
            delay = self.policy.delay(self._failures, self.config.random())
            if self._retry_after is not None:
                delay = max(delay, min(self._retry_after, self.policy.max_delay))
        self._immediate = False
        self._retry_after = None
        if _logger.isEnabledFor(logging.INFO):
            of = f" of {limit}" if limit is not None else ""
            _logger.info(
                "%s stream: reconnect attempt %d%s in %.3f s%s",
                self.kind,
                self._failures,
                of,
                delay,
                " with a refreshed token" if self._refresh_due else "",
            )
        return _Attempt(delay, self._refresh_due)

    def headers(self, token: str) -> dict[str, str]:
        """The upgrade request's headers."""
        return {"Authorization": f"Bearer {token}"}

    def token_refreshed(self, old: str | None, new: str) -> None:
        """Record a refresh; raise the pending auth error when it produced the same token."""
        self._refresh_due = False
        self._refreshed_since_connect = True
        self.stats.token_refreshes += 1
        if old is not None and new == old:
            error = self._auth_error
            self._auth_error = None
            if error is not None:
                raise error
            raise AuthenticationError(
                401, message=f"{self.kind} stream: the token was refused and could not be renewed"
            )

    def check_handshake(self, raw: str | bytes) -> None:
        """Require the first message to be ``control``/``success``; raise otherwise."""
        self.stats.received += 1
        try:
            control = _CONTROL_DECODER.decode(raw)
        except msgspec.DecodeError as exc:
            raise StreamHandshakeError(
                f"{self.kind} stream: expected a control message first, got {_excerpt(raw)!r}"
                f" ({exc})",
                kind=self.kind,
            ) from exc
        if control.status is not ControlStatus.success:
            text = redact(control.data.message)
            raise StreamHandshakeError(
                f"{self.kind} stream: the server refused the subscription: {text}",
                kind=self.kind,
                server_message=text,
            )

    def on_connected(self) -> None:
        """A handshake succeeded."""
        self.stats.connects += 1
        if self.stats.connects > 1:
            self.stats.reconnects += 1
        self._refreshed_since_connect = False
        self._auth_error = None
        self._connected_at = self.config.clock()
        self._delivered_on_connection = 0
        _logger.info("%s stream: connected to %s", self.kind, self.shown_url)

    def on_connect_failure(self, exc: Exception) -> None:
        """Record a failed connect attempt; raise (translated) when it must not be retried."""
        leaf = _leaf(exc)
        if isinstance(leaf, FlexError) and not isinstance(leaf, FlexConnectionError):
            raise leaf
        if isinstance(leaf, StreamHandshakeError):
            raise leaf
        if is_certificate_error(leaf):  # another attempt cannot change the certificate
            raise FlexConnectionError(
                f"{self.kind} stream: TLS certificate verification failed ({_describe(leaf)});"
                " connect with an httpx client that trusts the CA (verify=...), or verify=False"
                " for a self-signed development server"
            ) from leaf
        self._failures += 1
        self._last_error = exc
        if isinstance(leaf, WebSocketUpgradeError):
            status = leaf.response.status_code
            error = status_error_for(status, leaf.response)
            self._last_error = error
            if status in _AUTH_STATUSES:
                self._auth_rejected(error, leaf)
                return
            if status not in _RETRY_STATUSES:
                raise error from leaf
            self._retry_after = parse_retry_after(leaf.response.headers)
        elif isinstance(leaf, WebSocketDisconnect) and leaf.code in _AUTH_CLOSE_CODES:
            error = AuthenticationError(
                401, message=f"{self.kind} stream: {_describe(leaf)} before the handshake"
            )
            self._last_error = error
            self._auth_rejected(error, leaf)
            return
        elif isinstance(leaf, _ReceiveTimeout):
            self._last_error = FlexTimeoutError(
                f"{self.kind} stream: no control message within {self.config.handshake_timeout:g} s"
            )
        _logger.warning("%s stream: connect failed: %s", self.kind, _describe(self._last_error))

    def _auth_rejected(self, error: FlexStatusError, cause: BaseException) -> None:
        """401/403: refresh and retry at once, unless a refresh was already tried."""
        if self._refreshed_since_connect or not self.config.tokens.refreshable:
            raise error from cause
        self._auth_error = error
        self._refresh_due = True
        self._immediate = True
        _logger.info(
            "%s stream: %s; refreshing the token and reconnecting", self.kind, _describe(cause)
        )

    def on_drop(self, exc: BaseException) -> None:
        """A live connection ended; plan the reconnect."""
        healthy = (
            self._delivered_on_connection > 0
            or self.config.clock() - self._connected_at >= self.policy.stable_after
        )
        self._failures = 1 if healthy else self._failures + 1
        self._last_error = exc
        leaf = _leaf(exc)
        if (
            isinstance(leaf, WebSocketDisconnect)
            and leaf.code in _AUTH_CLOSE_CODES
            and self.config.tokens.refreshable
        ):
            self._refresh_due = True
        _logger.warning("%s stream: connection lost: %s", self.kind, _describe(exc))

    # -- receiving ---------------------------------------------------------------------------

    def receive_timeout_error(self) -> FlexTimeoutError:
        """The error raised when no event arrived within ``receive_timeout``."""
        return FlexTimeoutError(
            f"{self.kind} stream: no event within {self.config.receive_timeout:g} s"
        )

    def decode(self, raw: str | bytes) -> MarketEvent[Any] | None:
        """Decode one frame into an event; ``None`` for control and rejected frames."""
        self.stats.received += 1
        try:
            model = self.spec.decoder.decode(raw)
        except (msgspec.DecodeError, RecursionError, UnicodeError) as exc:
            # Hostile frames also nest past the recursion limit or are not UTF-8: skip them too.
            self._reject(raw, exc)
            return None
        if isinstance(model, Control):
            self._control(model)
            return None
        self.stats.delivered += 1
        self._delivered_on_connection += 1
        received_at = datetime.fromtimestamp(self.config.wall_clock(), tz=UTC)
        return MarketEvent(self.kind, model, raw, received_at)

    def _reject(self, raw: str | bytes, exc: Exception) -> None:
        self.stats.rejected += 1
        type_tag = _peek_type(raw)
        if type_tag is not None and type_tag not in self.spec.tags:
            self.stats.unknown += 1
            what = f"unknown message type {type_tag[:_EXCERPT]!r} on the {self.kind} stream"
        else:
            what = f"invalid message on the {self.kind} stream: {exc}"
        error = MessageDecodeError(redact(what))
        if _logger.isEnabledFor(logging.DEBUG):
            _logger.debug("%s; skipped: %s", error, _excerpt(raw))
        hook = self.config.on_invalid
        if hook is not None:
            try:
                hook(raw, error)
            except Exception:
                _logger.exception("%s stream: the on_invalid hook raised", self.kind)

    def _control(self, control: Control) -> None:
        self.stats.controls += 1
        if control.status is ControlStatus.success:
            _logger.debug("%s stream: control: %s", self.kind, redact(control.data.message))
        else:
            _logger.warning("%s stream: control error: %s", self.kind, redact(control.data.message))
        hook = self.config.on_control
        if hook is not None:
            try:
                hook(control)
            except Exception:
                _logger.exception("%s stream: the on_control hook raised", self.kind)


def _peek_type(raw: str | bytes) -> str | None:
    """The ``type`` of a JSON object frame, if it has a string one."""
    try:
        value = msgspec.json.decode(raw)
    except (msgspec.DecodeError, RecursionError, UnicodeError):
        return None
    if isinstance(value, dict):
        tag = value.get("type")
        if isinstance(tag, str):
            return tag
    return None
