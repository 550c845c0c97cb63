"""The flxtrd exception tree.

Every error flxtrd raises is a :class:`FlexError`; third-party errors (httpx, kombu/amqp, the
generated client's ``UnexpectedStatus``) are translated at the boundary with ``raise ... from``::

    FlexError                          (Exception; FlexError(message) as in flxtrd 0.2.9)
    ├── ConfigurationError             the client was set up wrongly
    ├── FlexValidationError            bad user input, names field and rule (also a ValueError)
    │   └── OversellError              an order wants more than the device can deliver
    ├── FlexConnectionError            the market or broker could not be reached
    │   ├── FlexTimeoutError           ... in time
    │   ├── OrderPlacementInDoubtError a gen-2 order was sent, its answer lost: may be placed
    │   │   └── OrderPlacementTimeoutError  ... the answer did not come in time
    │   └── StreamHandshakeError       a WebSocket stream did not open with control/success
    ├── FlexStatusError                the REST API answered with an error status
    │   ├── AuthenticationError        401
    │   ├── PermissionDeniedError      403
    │   ├── NotFoundError              404
    │   ├── ConflictError              409
    │   ├── UnprocessableEntityError   422, with field_errors
    │   ├── RateLimitError             429, with retry_after
    │   └── ServerError                5xx
    ├── BrokerError                    the AMQP broker refused or lost something
    │   ├── OrderUnroutableError       the order was returned as unroutable
    │   ├── OrderNotConfirmedError     the broker nacked the order or never confirmed it
    │   │   └── OrderInDoubtError      lost before its confirm: re-send with its message_id
    │   └── AlreadyConnectedError      RESOURCE_LOCKED: one live connection per application key
    └── MessageError                   a market message could not be (de)serialised
        ├── MessageEncodeError
        └── MessageDecodeError

Secrets never appear in ``str()`` or ``repr()`` of these errors: :class:`FlexStatusError` shows
the method, the redacted URL path and the status, never request headers or bodies.
"""

from __future__ import annotations

import functools
import http
import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from flxtrd._log import redact, redact_url

if TYPE_CHECKING:
    import httpx

__all__ = [
    "AlreadyConnectedError",
    "AuthenticationError",
    "BrokerError",
    "ConfigurationError",
    "ConflictError",
    "FieldError",
    "FlexConnectionError",
    "FlexError",
    "FlexStatusError",
    "FlexTimeoutError",
    "FlexValidationError",
    "MessageDecodeError",
    "MessageEncodeError",
    "MessageError",
    "NotFoundError",
    "OrderInDoubtError",
    "OrderNotConfirmedError",
    "OrderPlacementInDoubtError",
    "OrderPlacementTimeoutError",
    "OrderUnroutableError",
    "OversellError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "StreamHandshakeError",
    "UnprocessableEntityError",
    "parse_retry_after",
    "status_error_for",
]

_MAX_DETAIL = 300
_MAX_VALUE_REPR = 100


def _restore(cls: type[FlexError], args: tuple[Any, ...]) -> FlexError:
    """Unpickle an error without calling its ``__init__`` (whose signature varies)."""
    error = cls.__new__(cls)
    error.args = args
    return error


class FlexError(Exception):
    """Root of every flxtrd error.

    ``FlexError(message)`` and ``err.message`` work as in flxtrd 0.2.9; ``str(err)`` is the
    message. Errors pickle with their attributes.
    """

    message: str

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (type(self), self.args), self.__dict__)


class ConfigurationError(FlexError):
    """The client was configured wrongly (missing user or market, unknown transport, ...)."""


def _shown(value: object) -> str:
    """A short repr of an offending value; never fails (a huge int is not converted)."""
    if isinstance(value, int) and value.bit_length() > _MAX_VALUE_REPR * 3:
        digits = int(value.bit_length() * math.log10(2)) + 1
        return f"<an int of about {digits} digits>"
    try:
        shown = repr(value)
    except Exception:  # e.g. ValueError: an int inside a container exceeds the digit limit
        shown = f"<{type(value).__name__} object>"
    if len(shown) > _MAX_VALUE_REPR:
        shown = shown[: _MAX_VALUE_REPR - 3] + "..."
    return shown


class FlexValidationError(FlexError, ValueError):
    """A value given by the user breaks a rule; raised before anything is sent.

    Attributes:
        field: the parameter or attribute, e.g. ``"power_w"`` or ``"delivery_start"``.
        rule: what it must satisfy, e.g. ``"must be > 0"``.
        value: the offending value.
    """

    def __init__(self, field: str, rule: str, value: object = None) -> None:
        super().__init__(f"{field} {rule} (got {_shown(value)})")
        self.field = field
        self.rule = rule
        self.value = value


class FlexConnectionError(FlexError):
    """The market or its broker could not be reached, or the connection was lost."""


class FlexTimeoutError(FlexConnectionError):
    """A connect, read, write or confirm did not finish within its timeout."""


@dataclass(frozen=True)
class FieldError:
    """One failing field of a 422 body: ``{"loc": [...], "msg": ..., "type": ...}``."""

    loc: tuple[str | int, ...]
    msg: str
    type: str

    def __str__(self) -> str:
        return f"{'.'.join(str(p) for p in self.loc) or '<request>'}: {self.msg}"


def _decode_body(body: object) -> object:
    """Parse a JSON body given as text or bytes; return anything else unchanged."""
    if isinstance(body, (bytes, bytearray)):
        try:
            body = bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            return body
    if isinstance(body, str):
        try:
            return json.loads(body)
        except ValueError:
            return body
    return body


def _body_from_response(response: httpx.Response | None) -> object:
    """Return the parsed JSON (or text) of a response that was read, else ``None``."""
    if response is None:
        return None
    try:
        return response.json()
    except Exception:
        try:
            return response.text
        except Exception:
            return None


def _detail_text(body: object) -> str | None:
    """The ``detail`` / ``error_description`` string of an error body, if it has one."""
    if isinstance(body, Mapping):
        for key in ("detail", "error_description", "error", "message"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
    return None


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 3] + "..."


class FlexStatusError(FlexError):
    """The REST API answered with an error status.

    Attributes:
        status_code: the HTTP status.
        response: the ``httpx.Response`` (or ``None``), for headers and the raw body.
        body: the parsed JSON body (or its text) if known.
        method: the request method, if known.
        url_path: the request path with credentials and query values redacted, if known.

    ``str()`` is ``"<METHOD> <redacted path> -> <status> <reason>"`` plus the server's short
    ``detail`` when it gives one; request headers (``Authorization``) and request bodies
    (login forms with passwords) are never part of it.
    """

    def __init__(
        self,
        status_code: int,
        response: httpx.Response | None = None,
        body: object = None,
        *,
        message: str | None = None,
    ) -> None:
        self.status_code = status_code
        self.response = response
        self.body = _decode_body(body) if body is not None else _body_from_response(response)
        self.method: str | None = None
        self.url_path: str | None = None
        if response is not None:
            try:
                request = response.request
            except RuntimeError:  # a Response built without a request
                pass
            else:
                self.method = request.method
                self.url_path = redact_url(str(request.url), path_only=True)
        super().__init__(message if message is not None else self._summary())

    def _reason(self) -> str:
        if self.response is not None and self.response.reason_phrase:
            return self.response.reason_phrase
        try:
            return http.HTTPStatus(self.status_code).phrase
        except ValueError:
            return ""

    def _detail(self) -> str | None:
        return _detail_text(self.body)

    def _summary(self) -> str:
        if self.method and self.url_path:
            text = f"{self.method} {self.url_path} -> {self.status_code} {self._reason()}"
        else:
            text = f"HTTP {self.status_code} {self._reason()}"
        text = text.rstrip()
        detail = self._detail()
        if detail:
            text = f"{text}: {_short(detail)}"
        return redact(text)


class AuthenticationError(FlexStatusError):
    """401: the credentials or the token are missing, wrong or expired."""


class PermissionDeniedError(FlexStatusError):
    """403: authenticated, but not allowed to do this."""


class NotFoundError(FlexStatusError):
    """404: no such resource (generation 1: unknown device access token)."""


class ConflictError(FlexStatusError):
    """409: the request conflicts with the resource's state (e.g. cancelling a filled order)."""


def _parse_field_errors(body: object) -> list[FieldError]:
    """Parse FastAPI's ``{"detail": [{"loc": [...], "msg": ..., "type": ...}]}``; tolerant."""
    if not isinstance(body, Mapping):
        return []
    detail = body.get("detail")
    if not isinstance(detail, list):
        return []
    errors = []
    for item in detail:
        if not isinstance(item, Mapping):
            continue
        loc = item.get("loc")
        if not isinstance(loc, (list, tuple)):
            loc = [] if loc is None else [loc]
        parts = tuple(p if isinstance(p, (str, int)) else str(p) for p in loc)
        errors.append(
            FieldError(loc=parts, msg=str(item.get("msg", "")), type=str(item.get("type", "")))
        )
    return errors


class UnprocessableEntityError(FlexStatusError):
    """422: the server refused the request body; ``field_errors`` says which field and why."""

    @functools.cached_property
    def field_errors(self) -> list[FieldError]:
        """The failing fields of the parsed body (empty when it is not FastAPI's shape)."""
        return _parse_field_errors(self.body)

    def _detail(self) -> str | None:
        if self.field_errors:
            # loc and msg only: FastAPI also echoes the offending "input", which may be secret.
            return "; ".join(str(e) for e in self.field_errors)
        return super()._detail()


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from ``Retry-After-Ms`` or ``Retry-After`` (seconds or an HTTP date).

    Header names are matched case-insensitively; ``now`` (epoch seconds, for tests) is used for
    HTTP dates. Returns ``None`` when absent or unparsable; never a negative number.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    raw_ms = lowered.get("retry-after-ms")
    if raw_ms is not None:
        try:
            value = float(raw_ms) / 1000.0
        except ValueError:
            value = math.nan
        if math.isfinite(value):
            return max(value, 0.0)
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        value = when.timestamp() - (time.time() if now is None else now)
    return max(value, 0.0) if math.isfinite(value) else None


class RateLimitError(FlexStatusError):
    """429: too many requests; ``retry_after`` (s) is the server's hint, if it gave one."""

    def __init__(
        self,
        status_code: int,
        response: httpx.Response | None = None,
        body: object = None,
        *,
        message: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        if retry_after is None and response is not None:
            retry_after = parse_retry_after(response.headers)
        self.retry_after = retry_after
        super().__init__(status_code, response, body, message=message)


class ServerError(FlexStatusError):
    """5xx: the market failed; safe to retry idempotent requests."""


_STATUS_ERRORS: dict[int, type[FlexStatusError]] = {
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error_for(
    status_code: int, response: httpx.Response | None = None, body: object = None
) -> FlexStatusError:
    """Build (not raise) the :class:`FlexStatusError` subclass that fits ``status_code``."""
    cls = _STATUS_ERRORS.get(status_code)
    if cls is None:
        cls = ServerError if 500 <= status_code <= 599 else FlexStatusError
    return cls(status_code, response, body)


class BrokerError(FlexError):
    """The AMQP broker refused an operation or lost the connection's state."""


class OrderUnroutableError(BrokerError):
    """The broker returned the order: no queue is bound for its routing key (``basic.return``).

    RabbitMQ acks an unroutable mandatory message after returning it, so a confirm alone does
    not mean the order arrived; this error is raised from the return.
    """

    def __init__(
        self,
        message: str | None = None,
        *,
        exchange: str | None = None,
        routing_key: str | None = None,
        reply_code: int | None = None,
        reply_text: str | None = None,
    ) -> None:
        if message is None:
            message = (
                f"order unroutable: exchange {exchange!r}, routing key {routing_key!r}"
                f" ({reply_code} {reply_text})"
            )
        super().__init__(message)
        self.exchange = exchange
        self.routing_key = routing_key
        self.reply_code = reply_code
        self.reply_text = reply_text


class OrderNotConfirmedError(BrokerError):
    """The broker nacked the order (``nacked=True``) or did not confirm it in time."""

    def __init__(
        self, message: str | None = None, *, nacked: bool = False, delivery_tag: int | None = None
    ) -> None:
        if message is None:
            message = "order nacked by the broker" if nacked else "order not confirmed in time"
        super().__init__(message)
        self.nacked = nacked
        self.delivery_tag = delivery_tag


class AlreadyConnectedError(BrokerError):
    """RESOURCE_LOCKED: another live connection already uses this application key.

    The market allows one connection per application key (device); close the other client.
    """

    def __init__(self, message: str | None = None, *, application_key: str | None = None) -> None:
        if message is None:
            key = f" {application_key!r}" if application_key else ""
            message = (
                f"another connection already uses application key{key} (RESOURCE_LOCKED);"
                " the market allows one live connection per application key"
            )
        super().__init__(message)
        self.application_key = application_key


class MessageError(FlexError):
    """A market message could not be encoded or decoded."""


class MessageEncodeError(MessageError):
    """An outgoing message cannot be expressed on the wire (e.g. NaN in line protocol)."""


class MessageDecodeError(MessageError):
    """An incoming message is malformed; the message says what is wrong."""


class OrderInDoubtError(OrderNotConfirmedError):
    """The order was published but its confirm never came: it may or may not have arrived.

    Raised when the connection or channel was lost, or the confirm timed out, between publishing
    and confirming. Re-send with ``message_id=err.message_id`` so that a duplicate can be
    recognised downstream.
    """

    def __init__(self, message_id: str, reason: str) -> None:
        super().__init__(
            f"order {message_id} may or may not have reached the broker ({reason}); re-send it"
            f" with message_id={message_id!r} so a duplicate can be detected"
        )
        self.message_id = message_id
        self.reason = reason


_PLACEMENT_FIELDS = ("side", "power", "price", "delivery_start", "delivery_end", "expiry_time")


def _utc_text(value: object) -> object:
    """An aware datetime as the ISO 8601 ``Z`` text an order body carries; else unchanged."""
    if isinstance(value, datetime) and value.utcoffset() is not None:
        return value.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"
    return value


class OrderPlacementInDoubtError(FlexConnectionError):
    """A generation-2 order was sent, but the connection failed before its answer came.

    The market may have placed it. Placing it again blindly may place it twice: look for it
    first, e.g. ``[o for o in client.orders.list(side=err.order["side"]).items if
    err.matches(o)]``, and place it again only if it is not there.

    Attributes:
        order: the JSON body that was sent (``side``, ``power``, ``price``, ``delivery_start``,
            ``delivery_end``, ``expiry_time``, ``location``, ``baseline``).
        reason: what failed (the transport error, redacted).
    """

    def __init__(self, order: Mapping[str, Any], reason: str) -> None:
        self.order = dict(order)
        self.reason = reason
        shown = ", ".join(f"{name}={self.order.get(name)!r}" for name in _PLACEMENT_FIELDS)
        super().__init__(
            f"order placement in doubt: POST /api/v1/order/ was sent but {reason}; the order"
            f" may have been placed. Before placing it again, look for it with"
            f" client.orders.list(side={self.order.get('side')!r}) (err.matches(order) compares"
            f" one): {shown}"
        )

    def matches(self, order: object) -> bool:
        """True if ``order`` (a listed ``Order``) has the side, power, price and times sent."""
        for name in _PLACEMENT_FIELDS:
            value = getattr(order, name, None)
            value = getattr(value, "value", value)  # an enum member: compare its value
            if _utc_text(value) != self.order.get(name):
                return False
        return True


class OrderPlacementTimeoutError(OrderPlacementInDoubtError, FlexTimeoutError):
    """A generation-2 order was sent and its answer did not come in time: it may be placed."""


class StreamHandshakeError(FlexConnectionError):
    """The server's first message was not ``control``/``success``; the stream is not retried.

    Attributes:
        kind: the stream kind.
        server_message: the control message's ``data.message``, when it was a control message.
    """

    def __init__(self, message: str, *, kind: str, server_message: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.server_message = server_message


class OversellError(FlexValidationError):
    """An order asks for more power or energy than the device can deliver in its window."""
