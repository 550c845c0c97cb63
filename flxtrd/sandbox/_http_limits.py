"""Request body limits of the sandbox's HTTP surface: `BodyLimit` (size and read deadline).

`BodyLimit` is ASGI middleware on every app of `create_app` (embedded and served): a request
body larger than ``max_body_bytes`` is answered 413, one that does not arrive within
``body_timeout_s`` of the request head 408, both with an ``ErrorDetail`` body and
``Connection: close``. Only ``max_body_bytes`` are ever held. The rest of a body that is too
large is read and dropped up to 8 times the limit before the 413 goes out, because closing a
socket with unread data makes TCP reset it, and the client would see a reset instead of the
413; a larger ``Content-Length`` is refused before a byte of the body is read. The app reads
the body buffered here. The request head's own
deadline is the served sandbox's uvicorn protocol (`_http_head_timeout`).
"""

from __future__ import annotations

import asyncio
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "DEFAULT_BODY_TIMEOUT_S",
    "DEFAULT_HEADER_TIMEOUT_S",
    "DEFAULT_MAX_BODY_BYTES",
    "BodyLimit",
]

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
"""The largest request body read, bytes (1 MiB; an order is well under 1 KiB)."""

_DRAIN_FACTOR = 8
DEFAULT_BODY_TIMEOUT_S = 10.0
"""How long a request body may take to arrive after its head, s."""

DEFAULT_HEADER_TIMEOUT_S = 10.0
"""How long a connection may take to send a complete request head, s (`_http_head_timeout`)."""


async def _error(send: Send, status: int, detail: str) -> None:
    """Answer ``status`` with ``{"detail": ...}`` and close the connection."""
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    """The body grew past the limit."""


class BodyLimit:
    """ASGI middleware: 413 for a body over ``max_body_bytes``, 408 if it arrives too slowly."""

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = f"Request body larger than {self.max_body_bytes} bytes"
        length = _content_length(scope)
        if length is not None and length > self.max_body_bytes * _DRAIN_FACTOR:
            await _error(send, 413, too_large)
            return
        try:
            async with asyncio.timeout(self.body_timeout_s):
                messages = await self._read(receive)
        except _TooLarge:
            await _error(send, 413, too_large)
            return
        except TimeoutError:
            await _error(send, 408, f"Request body not received within {self.body_timeout_s:g} s")
            return

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _read(self, receive: Receive) -> list[Message]:
        """The request's messages up to its last body chunk (or a disconnect)."""
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                messages.append(message)
                break
            size += len(message.get("body", b""))
            if size <= self.max_body_bytes:
                messages.append(message)
            elif not message.get("more_body", False) or size > self.max_body_bytes * _DRAIN_FACTOR:
                raise _TooLarge
            if not message.get("more_body", False):
                break
        return messages


def _content_length(scope: Scope) -> int | None:
    """The request's ``Content-Length``, or None if it has none (or one h11 would refuse)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = bytes(value).strip()
            return int(text) if text.isdigit() and len(text) < 20 else None
    return None
