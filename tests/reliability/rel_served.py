"""A served sandbox in this process, on real sockets, for the hostile-client tests.

:func:`served` starts :class:`flxtrd.sandbox._served.ServedSandbox` (uvicorn on
``127.0.0.1:0`` in a thread, the broker worker on ``memory://`` with exchanges and a queue of
its own, no broker users), so the tests reach the real HTTP server, protocol and middleware
over TCP without needing RabbitMQ. :func:`raw_request` speaks HTTP/1.1 over a plain socket for
what httpx refuses to send. Helpers log in and forge tokens as an attacker would.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx

from flxtrd.sandbox._market_time import format_datetime_ms
from flxtrd.sandbox._served import ServedOptions, ServedSandbox

CLIENT_ID = "glocalflexmarket_public_api"
QUARTER_HOUR_MS = 900_000


@contextlib.contextmanager
def served(**options: Any) -> Iterator[ServedSandbox]:
    """A started in-process served sandbox (``ServedOptions`` overrides), stopped on exit."""
    tag = uuid.uuid4().hex[:12]
    defaults: dict[str, Any] = {
        "http_port": 0,
        "amqp_url": "memory://",
        "broker_users": "off",
        "exchange": f"in-{tag}",
        "reply_exchange": f"out-{tag}",
        "queue": f"orders-{tag}",
    }
    sandbox = ServedSandbox(ServedOptions(**{**defaults, **options}))
    sandbox.start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


def host_port(sandbox: ServedSandbox) -> tuple[str, int]:
    """The sandbox's HTTP address."""
    host, port = sandbox.http_url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def access_token(client: httpx.Client, email: str, password: str = "any") -> str:
    """An OAuth2 access token from the sandbox's token endpoint (password grant)."""
    response = client.post(
        "/auth/oauth/v2/token",
        data={
            "grant_type": "password",
            "client_id": CLIENT_ID,
            "username": email,
            "password": password,
        },
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def order_body(location_ids: list[str] | None = None) -> dict[str, Any]:
    """A valid ``OrderRequest`` (a buy) for two hours from now on the wall clock."""
    start = (int(time.time() * 1000) // QUARTER_HOUR_MS + 8) * QUARTER_HOUR_MS
    return {
        "side": "buy",
        "power": 2500.0,
        "price": 0.25,
        "delivery_start": format_datetime_ms(start),
        "delivery_end": format_datetime_ms(start + QUARTER_HOUR_MS),
        "expiry_time": format_datetime_ms(start - 2 * QUARTER_HOUR_MS),
        "location": {"location_id": location_ids or ["site-1"], "country_code": "DE"},
    }


def b64(data: bytes) -> str:
    """base64url without padding (JWT segments)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jwt(payload: bytes, key: bytes | None = None, signature: str | None = None) -> str:
    """A JWT with this raw payload: HS256-signed with ``key``, or with the given signature."""
    header = b64(b'{"alg":"HS256","typ":"JWT"}')
    body = b64(payload)
    if signature is None:
        digest = hmac.new(key or b"", f"{header}.{body}".encode(), hashlib.sha256).digest()
        signature = b64(digest)
    return f"{header}.{body}.{signature}"


def deep_json(depth: int) -> bytes:
    """``[[[...]]]`` nested ``depth`` levels."""
    return b"[" * depth + b"]" * depth


def raw_request(
    address: tuple[str, int], data: bytes, *, timeout: float = 10.0, read_all: bool = True
) -> bytes:
    """Send raw bytes on a fresh connection; the bytes answered until the server closes.

    With ``read_all`` False, return once the status line is in.
    """
    with socket.create_connection(address, timeout=timeout) as sock:
        sock.sendall(data)
        chunks: list[bytes] = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            if not read_all and b"\r\n" in b"".join(chunks):
                break
        return b"".join(chunks)


def status_of(answer: bytes) -> int | None:
    """The status code of a raw HTTP answer, or None if there was none."""
    line = answer.split(b"\r\n", 1)[0].split()
    return int(line[1]) if len(line) >= 2 and line[0].startswith(b"HTTP/") else None
