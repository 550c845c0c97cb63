"""The fuzz's wire: requests as data (`Probe`, `RawProbe`), one keep-alive sender, one tally.

`Wire` sends every `Probe` on one keep-alive ``httpx.Client`` (the path goes out byte for byte
as ``raw_path``, so ``%FF`` and 5,000-digit ids reach the server unchanged) and every
`RawProbe` on a fresh socket of its own (for what httpx refuses to send: bytes outside ASCII in
the request line, broken framing, WebSocket upgrades). `Tally` counts the answers by status
class and keeps, for each answer >= 500 and each request that got no answer at all, a line that
reproduces it.
"""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

Header = tuple[str | bytes, str | bytes]
_SHOWN = 1000
"""How much of a path, header or body a failure line shows (each, characters: a whole token)."""


@dataclass(frozen=True, slots=True)
class Probe:
    """One HTTP request: what it tries (``label``), method, raw path (with query), headers, body.

    ``may_close``: the server may rightly close the connection instead of answering (a request
    head over h11's size limit: uvicorn answers 400 and closes while the client is still
    sending, and the reset can overtake the 400).
    """

    label: str
    method: str
    path: str
    headers: Sequence[Header] = ()
    body: bytes = b""
    may_close: bool = False


@dataclass(frozen=True, slots=True)
class RawProbe:
    """Bytes sent as they are on a new connection, read back until the server closes it.

    The bytes should say ``Connection: close`` (or be refused): else the server keeps the
    connection until its head deadline.
    """

    label: str
    data: bytes
    may_close: bool = False
    head_only: bool = False
    """Stop reading once the answer's head is in (a WebSocket upgrade may be accepted)."""


def _short(value: object) -> str:
    text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
    return repr(text if len(text) <= _SHOWN else f"{text[:_SHOWN]}...<{len(text)} chars>")


def describe(probe: Probe | RawProbe) -> str:
    """The request in one line, each part cut to 300 characters (enough to reproduce it)."""
    if isinstance(probe, RawProbe):
        return f"[{probe.label}] raw {_short(probe.data)}"
    headers = ", ".join(f"{_short(k)}: {_short(v)}" for k, v in probe.headers)
    return (
        f"[{probe.label}] {probe.method} {_short(probe.path)} headers {{{headers}}}"
        f" body {_short(probe.body)}"
    )


@dataclass
class Tally:
    """What the fuzz sent and what came back."""

    sent: int = 0
    by_class: Counter[str] = field(default_factory=Counter)
    by_source: Counter[str] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)
    by_raw: int = 0
    """Probes httpx would not send, sent as raw bytes instead."""

    def record(self, source: str, probe: Probe | RawProbe, status: int | None, text: str) -> None:
        """Count one answer (``status`` None: the connection ended without one)."""
        self.sent += 1
        self.by_source[source] += 1
        if status is None:
            self.by_class["closed" if probe.may_close else "no answer"] += 1
            if not probe.may_close:
                self.unanswered.append(f"{describe(probe)} -> {text}")
            return
        self.by_class[f"{status // 100}xx"] += 1
        if status >= 500:
            self.server_errors.append(f"{describe(probe)} -> {status} {_short(text)}")

    def summary(self) -> str:
        """One line: requests sent, answers by status class, by source."""
        classes = ", ".join(f"{k}: {v}" for k, v in sorted(self.by_class.items()))
        sources = ", ".join(f"{k}: {v}" for k, v in sorted(self.by_source.items()))
        return (
            f"{self.sent} requests ({sources}); answers {classes}; 5xx {len(self.server_errors)};"
            f" {self.by_raw} sent raw as httpx would not send them"
        )


class Wire:
    """Sends probes to one server and records each answer in ``tally``."""

    def __init__(self, base_url: str, tally: Tally, *, timeout_s: float = 30.0) -> None:
        self.base = httpx.URL(base_url)
        self.address = (self.base.host, self.base.port or 80)
        self.tally = tally
        self.timeout_s = timeout_s
        self.client = httpx.Client(base_url=base_url, timeout=timeout_s)

    def close(self) -> None:
        """Close the keep-alive connection."""
        self.client.close()

    def send(self, probe: Probe, source: str) -> httpx.Response | None:
        """Send ``probe`` on the keep-alive client; the response, or None if there was none.

        What httpx or h11 refuse to send (a NUL or trailing space in a header...) goes out as
        a `RawProbe` on a socket of its own instead (counted in ``tally.by_raw``).
        """
        try:
            request = self.client.build_request(
                probe.method,
                self.base.copy_with(raw_path=probe.path.encode("ascii")),
                headers=list(probe.headers),
                content=probe.body,
            )
            response = self.client.send(request)
        except (ValueError, TypeError, UnicodeError, httpx.InvalidURL, httpx.LocalProtocolError):
            self.tally.by_raw += 1
            self.send_raw(as_raw(probe), source)
            return None
        except httpx.TransportError as exc:
            self.tally.record(source, probe, None, f"{type(exc).__name__}: {exc}")
            return None
        self.tally.record(source, probe, response.status_code, response.text)
        return response

    def send_raw(self, probe: RawProbe, source: str) -> bytes:
        """Send ``probe`` on a new connection; what the server answered before closing."""
        answer = b""
        try:
            with socket.create_connection(self.address, timeout=self.timeout_s) as sock:
                sock.sendall(probe.data)
                while chunk := sock.recv(65536):
                    answer += chunk
                    if probe.head_only and b"\r\n\r\n" in answer:
                        break
        except OSError as exc:
            if not answer:
                self.tally.record(source, probe, None, f"{type(exc).__name__}: {exc}")
                return answer
        self.tally.record(source, probe, status_of(answer), answer.decode("latin-1"))
        return answer


def as_raw(probe: Probe) -> RawProbe:
    """``probe`` as the bytes of one HTTP/1.1 request that asks for the connection's close."""

    def encoded(value: str | bytes) -> bytes:
        return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")

    lines = [f"{probe.method} {probe.path} HTTP/1.1".encode(), b"Host: fuzz"]
    lines += [encoded(name) + b": " + encoded(value) for name, value in probe.headers]
    lines += [b"Content-Length: %d" % len(probe.body), b"Connection: close"]
    return RawProbe(probe.label, b"\r\n".join(lines) + b"\r\n\r\n" + probe.body, probe.may_close)


def status_of(answer: bytes) -> int | None:
    """The status code of a raw HTTP answer, or None if there was none."""
    line = answer.split(b"\r\n", 1)[0].split()
    if len(line) >= 2 and line[0].startswith(b"HTTP/") and line[1].isdigit():
        return int(line[1])
    return None
