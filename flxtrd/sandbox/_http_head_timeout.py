"""The served sandbox's uvicorn HTTP protocol, with a deadline for the request head.

`HeadTimeoutH11Protocol` (made with a timeout by `head_timeout_protocol`): a connection must
send a complete request head within ``header_timeout_s`` of opening, or of its previous
response, else it is closed. uvicorn has no such timeout: ``timeout_keep_alive`` starts only
after a response and any byte received cancels it, and h11's ``max_incomplete_event_size``
bounds the head's size, not its time, so a client sending a request head a byte at a time (slow
loris) would hold its connection open for ever. The deadline is one timer per connection, armed
on connect and after each response and disarmed once h11 has read a whole head (its
``their_state`` leaves ``IDLE``), so it never cuts a request being answered or a WebSocket. The
body's deadline is `_http_limits.BodyLimit`'s.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from ._http_limits import DEFAULT_HEADER_TIMEOUT_S

__all__ = ["HeadTimeoutH11Protocol", "head_timeout_protocol"]


class HeadTimeoutH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection that takes too long to send a request head.

    Use `head_timeout_protocol` to make one with a given timeout (uvicorn builds the protocol
    from its class). See the module docstring for why uvicorn needs it.
    """

    header_timeout_s: float = DEFAULT_HEADER_TIMEOUT_S

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the head deadline with the connection."""
        super().connection_made(transport)
        self._arm_head_timer()

    def data_received(self, data: bytes) -> None:
        """Feed h11; once a whole head is in, the deadline is off."""
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm_head_timer()

    def on_response_complete(self) -> None:
        """After a response, the next request's head has the same deadline."""
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        """No deadline for a closed connection."""
        self._disarm_head_timer()
        super().connection_lost(exc)

    def _arm_head_timer(self) -> None:
        self._disarm_head_timer()
        self._head_timer = self.loop.call_later(self.header_timeout_s, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.logger.info("closing a connection that sent no complete request head in time")
            self.transport.close()


def head_timeout_protocol(header_timeout_s: float) -> type[HeadTimeoutH11Protocol]:
    """A `HeadTimeoutH11Protocol` class with this head deadline (for ``uvicorn.Config(http=)``)."""
    if not (header_timeout_s > 0 and math.isfinite(header_timeout_s)):
        raise ValueError(f"header_timeout_s must be a finite number > 0, got {header_timeout_s!r}")
    return type(
        "HeadTimeoutH11Protocol", (HeadTimeoutH11Protocol,), {"header_timeout_s": header_timeout_s}
    )
