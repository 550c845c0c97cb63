"""What the two transports of :class:`~flxtrd.AmpqAPI` share: their protocol and their context.

:class:`_Backend` is one open connection + channel as the API drives it; :class:`_BackendContext`
is everything a backend needs from the API (settings and the four event sinks), so a backend never
sees the :class:`~flxtrd.AmpqAPI` itself. Also the helpers both sides use (short-string limits,
error descriptions without secrets, traceback scrubbing).
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from kombu.connection import Connection as _KombuConnection

from flxtrd._log import redact

#: kombu is untyped; one typed handle to its Connection class.
_kombu_connection: Callable[..., Any] = _KombuConnection

_NO_ROUTE = 312
#: Orders are persistent (the spec's ``deliveryMode: 2``): a confirmed order queued at the
#: market survives a broker restart.
_PERSISTENT = 2

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


def _body_bytes(body: bytes | str) -> bytes:
    """A delivered body as bytes (a ``str`` only when a channel decodes bodies; ours do not)."""
    return body.encode("utf-8", "surrogateescape") if isinstance(body, str) else body


@dataclass(frozen=True, slots=True)
class _BackendContext:
    """What a backend may use of its :class:`~flxtrd.AmpqAPI`: settings and event sinks.

    The settings are read when the backend is made (each connection attempt); the sinks are the
    API's handlers for confirms (``on_ack`` / ``on_nack``: delivery tag, multiple), returns
    (``on_return``: message_id, reply code, reply text) and replies (``on_delivery``: body,
    headers).
    """

    url: str
    login: str
    password: str | None = field(repr=False)
    ssl: dict[str, Any] | bool
    connect_timeout: float
    confirm_timeout: float
    heartbeat: float
    connection_name: str
    application_key: str
    exchange: str
    reply_exchange: str
    declare_exchanges: bool
    on_ack: Callable[[int, bool], None] = field(repr=False)
    on_nack: Callable[[int, bool], None] = field(repr=False)
    on_return: Callable[[object, int, str], None] = field(repr=False)
    on_delivery: Callable[[bytes, Mapping[str, Any] | None], None] = field(repr=False)


class _Backend(Protocol):
    """One open connection + channel, as seen by :class:`~flxtrd.AmpqAPI`."""

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
