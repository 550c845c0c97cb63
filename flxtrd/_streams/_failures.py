"""How a stream connection fails, and how a failure is told in messages and logs (redacted).

The two private signals the socket side raises (:class:`_Drop`, :class:`_ReceiveTimeout`), the
unwrapping of anyio's exception groups, and the one-line descriptions of failures and frames.
Both the reconnect decisions and the sockets use them, so they sit below both.
"""

from __future__ import annotations

from httpx_ws import WebSocketDisconnect, WebSocketNetworkError, WebSocketUpgradeError

from flxtrd._errors import FlexError
from flxtrd._log import redact

__all__ = ["_EXCERPT", "_Drop", "_ReceiveTimeout", "_describe", "_excerpt", "_leaf"]

#: How many characters of a frame or a ``type`` tag a message shows.
_EXCERPT = 120


class _Drop(Exception):
    """The connection ended while reading (server close, network error, local close)."""


class _ReceiveTimeout(Exception):
    """No frame arrived within the timeout."""


def _leaf(exc: BaseException) -> BaseException:
    """The first leaf of an exception group (anyio wraps task-group failures), else ``exc``."""
    while True:
        inner = getattr(exc, "exceptions", None)
        if not isinstance(inner, (list, tuple)) or not inner:
            return exc
        exc = inner[0]


def _excerpt(raw: str | bytes) -> str:
    """A short, redacted rendering of a frame for error messages."""
    shown = raw if isinstance(raw, str) else repr(raw)
    if len(shown) > _EXCERPT:
        shown = shown[: _EXCERPT - 3] + "..."
    return redact(shown)


def _describe(exc: BaseException) -> str:
    """A one-line, redacted description of a connection failure for messages and logs."""
    exc = _leaf(exc)
    if isinstance(exc, WebSocketDisconnect):
        reason = f" {exc.reason!r}" if exc.reason else ""
        return f"closed by the server (code {exc.code}{reason})"
    if isinstance(exc, WebSocketUpgradeError):
        return f"upgrade rejected with HTTP {exc.response.status_code}"
    if isinstance(exc, WebSocketNetworkError):
        return "network error or keepalive ping timeout"
    if isinstance(exc, FlexError):
        return redact(str(exc))
    text = str(exc)
    return redact(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)
