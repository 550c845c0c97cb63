"""An httpx transport that injects REST faults in front of a real one, and counts attempts.

:class:`FaultTransport` wraps any transport (``httpx.MockTransport`` around the fake market, or
the embedded sandbox's in-process transport) and works for the sync and the async client. Rules
(:meth:`FaultTransport.inject`) say which requests are hit (method and path prefix) and with
what, one fault per matching request, in order; a rule can repeat its last fault forever. A
fault is one of:

- :func:`raise_` -- an httpx transport error raised before the request reaches the server
  (connect refused, connect/read timeout, connection reset, protocol error);
- :func:`answer` -- a status, headers and body sent instead of the server's answer (429 with or
  without ``Retry-After``, 5xx, HTML, truncated JSON);
- :func:`after_server` -- the request reaches the server, then the answer is lost (an error is
  raised) or mangled;
- :func:`body_breaks` -- the server's status and headers arrive, then the body stream fails
  (a reset or a timeout in the middle of the body);
- :data:`PASS` -- forward untouched.

``attempts`` counts every request that reached the transport, per ``METHOD path``.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

Fault = Callable[[httpx.Request, "Forward"], httpx.Response]
Forward = Callable[[httpx.Request], httpx.Response]


class _PassFault:
    """Forward the request untouched."""

    def __call__(self, request: httpx.Request, forward: Forward) -> httpx.Response:
        return forward(request)

    def __repr__(self) -> str:
        return "PASS"


PASS: Fault = _PassFault()


def raise_(make: Callable[[httpx.Request], Exception]) -> Fault:
    """Raise ``make(request)`` before the request reaches the server."""

    def fault(request: httpx.Request, forward: Forward) -> httpx.Response:
        raise make(request)

    return fault


def answer(
    status: int,
    *,
    json: Any = None,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Fault:
    """Answer with ``status`` (and a body) instead of the server."""

    def fault(request: httpx.Request, forward: Forward) -> httpx.Response:
        if json is not None:
            return httpx.Response(status, json=json, headers=headers)
        return httpx.Response(status, content=content or b"", headers=headers)

    return fault


def after_server(
    mangle: Callable[[httpx.Request, httpx.Response], httpx.Response],
) -> Fault:
    """Let the server handle the request, then pass its response through ``mangle``."""

    def fault(request: httpx.Request, forward: Forward) -> httpx.Response:
        response = forward(request)
        response.read()
        return mangle(request, response)

    return fault


class _BreakingStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body that yields ``head`` and then raises ``make(request)``."""

    def __init__(self, head: bytes, make: Callable[[httpx.Request], Exception], request: Any):
        self.head = head
        self.make = make
        self.request = request

    def __iter__(self) -> Iterator[bytes]:
        yield self.head
        raise self.make(self.request)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.head
        raise self.make(self.request)


def body_breaks(head: bytes, make: Callable[[httpx.Request], Exception]) -> Fault:
    """Status 200 and JSON headers arrive, then the body fails after ``head``."""

    def fault(request: httpx.Request, forward: Forward) -> httpx.Response:
        headers = {"content-type": "application/json", "content-length": str(len(head) + 100)}
        return httpx.Response(200, headers=headers, stream=_BreakingStream(head, make, request))

    return fault


# Common transport errors, each made for the request it hits.
def read_timeout(request: httpx.Request) -> Exception:
    """A read timeout."""
    return httpx.ReadTimeout("timed out", request=request)


def connect_timeout(request: httpx.Request) -> Exception:
    """A connect timeout."""
    return httpx.ConnectTimeout("timed out", request=request)


def connect_refused(request: httpx.Request) -> Exception:
    """A refused connection."""
    return httpx.ConnectError("[Errno 111] Connection refused", request=request)


def connection_reset(request: httpx.Request) -> Exception:
    """A connection reset by the peer."""
    return httpx.ReadError("[Errno 104] Connection reset by peer", request=request)


def peer_closed(request: httpx.Request) -> Exception:
    """The peer closed the connection in the middle of the response."""
    return httpx.RemoteProtocolError(
        "peer closed connection without sending complete message body", request=request
    )


@dataclass
class _Rule:
    method: str
    path: str
    faults: list[Fault]
    repeat_last: bool
    hits: int = 0

    def matches(self, request: httpx.Request) -> bool:
        return request.method == self.method and request.url.path.startswith(self.path)


@dataclass
class FaultTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Inject faults in front of ``inner`` (a sync and/or async httpx transport)."""

    inner: Any
    rules: list[_Rule] = field(default_factory=list)
    attempts: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def inject(self, method: str, path: str, *faults: Fault, repeat_last: bool = False) -> None:
        """Hit the next matching requests with ``faults``, one each (the last one forever if
        ``repeat_last``); later requests pass."""
        self.rules.append(_Rule(method, path, list(faults), repeat_last))

    def count(self, method: str, path: str) -> int:
        """Requests ``METHOD path`` that reached this transport."""
        return self.attempts[f"{method} {path}"]

    def _next_fault(self, request: httpx.Request) -> Fault:
        with self.lock:
            self.attempts[f"{request.method} {request.url.path}"] += 1
            for rule in self.rules:
                if not rule.matches(request):
                    continue
                if rule.hits < len(rule.faults):
                    rule.hits += 1
                    return rule.faults[rule.hits - 1]
                if rule.repeat_last and rule.faults:
                    return rule.faults[-1]
        return PASS

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Apply the next fault to a sync request."""
        return self._next_fault(request)(request, self.inner.handle_request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Apply the next fault to an async request (the inner transport is run in sync form
        for ``after_server`` faults: both inner transports used here answer synchronously)."""
        fault = self._next_fault(request)
        if fault is PASS:
            return await self.inner.handle_async_request(request)
        response = fault(request, self.inner.handle_request)
        return response

    def close(self) -> None:
        """Close the wrapped transport."""
        self.inner.close()

    async def aclose(self) -> None:
        """Close the wrapped transport."""
        await self.inner.aclose()
