"""Slow loris against the served sandbox: incomplete request heads are cut off at the deadline.

uvicorn has no header-read timeout (its keep-alive timer starts after a response and any byte
cancels it), so a socket that sends part of a request head stayed open for as long as it liked:
300 of them held 300 connections. The served sandbox's protocol
(`flxtrd.sandbox._http_head_timeout`) closes a connection whose head is not complete within
``--header-timeout`` seconds. Here the deadline is 1 s and the tests wait, on the sockets
themselves (a selector), for the server to close them, failing only if that has not happened
by a generous bound; meanwhile normal clients, a WebSocket among them, are served.
"""

from __future__ import annotations

import json
import selectors
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from httpx_ws import connect_ws
from rel_served import access_token, host_port, order_body, served

from flxtrd.sandbox._served import ServedSandbox

HEADER_TIMEOUT_S = 1.0
BOUND_S = 20.0
"""How long the server may take to close a slow socket before the test fails (generous)."""
SLOW_SOCKETS = 300
PARTIAL_HEAD = b"GET /deals/ HTTP/1.1\r\nHost: sandbox\r\nX-Slow: "


@pytest.fixture
def sandbox() -> Iterator[ServedSandbox]:
    """A served sandbox with a 1 s header timeout."""
    with served(header_timeout_s=HEADER_TIMEOUT_S) as running:
        yield running


def _closed_by_server(sock: socket.socket) -> bool:
    """Read what is there; True if the server closed (EOF or reset)."""
    try:
        while chunk := sock.recv(65536):
            del chunk
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True
    return True


def wait_until_closed(socks: list[socket.socket], bound_s: float) -> int:
    """Wait (selector, no sleeps) until the server closed each socket or ``bound_s`` passed."""
    open_ = {sock.fileno(): sock for sock in socks}
    deadline = time.monotonic() + bound_s
    with selectors.DefaultSelector() as selector:
        for sock in socks:
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
        while open_ and (remaining := deadline - time.monotonic()) > 0:
            for key, _ in selector.select(remaining):
                sock = open_[key.fd]
                if _closed_by_server(sock):
                    selector.unregister(sock)
                    del open_[key.fd]
    return len(socks) - len(open_)


def test_300_slow_loris_sockets_are_closed_while_others_are_served(
    sandbox: ServedSandbox,
) -> None:
    """300 partial request heads are closed by the server; a client and a WebSocket still work."""
    address = host_port(sandbox)
    url = sandbox.http_url
    with httpx.Client(base_url=url, timeout=30) as client:
        token = access_token(client, "patient@example.com")
        headers = {"Authorization": f"Bearer {token}"}
        # A copy: httpx-ws adds its upgrade headers to the mapping it is given.
        with connect_ws(f"{url}/api/v1/ws/orderbook/", client, headers=dict(headers)) as ws:
            assert json.loads(ws.receive_text(timeout=10))["type"] == "control"
            assert json.loads(ws.receive_text(timeout=10))["type"] == "orderbook"
            slow = [socket.create_connection(address, timeout=10) for _ in range(SLOW_SOCKETS)]
            try:
                for sock in slow:
                    sock.sendall(PARTIAL_HEAD)
                served_meanwhile = client.get("/users/mptoken/no-such-token")
                closed = wait_until_closed(slow, BOUND_S)
            finally:
                for sock in slow:
                    sock.close()
            assert served_meanwhile.status_code == 200
            assert closed == SLOW_SOCKETS, f"only {closed} of {SLOW_SOCKETS} closed in {BOUND_S} s"
            # The WebSocket outlived the head deadline: it still carries the book's changes.
            placed = client.post("/api/v1/order/", json=order_body(), headers=headers)
            assert placed.status_code == 200, placed.text
            snapshot = json.loads(ws.receive_text(timeout=10))
            assert snapshot["type"] == "orderbook" and snapshot["data"]["bids"]


def test_a_head_sent_a_byte_at_a_time_is_cut_off(sandbox: ServedSandbox) -> None:
    """The deadline is for the whole head: trickling a byte now and then does not extend it."""
    head = PARTIAL_HEAD + b"x" * 8000
    deadline = time.monotonic() + BOUND_S
    with socket.create_connection(host_port(sandbox), timeout=10) as sock:
        sock.setblocking(False)
        with selectors.DefaultSelector() as selector:
            selector.register(sock, selectors.EVENT_READ)
            sent = 0
            closed = False
            while not closed and time.monotonic() < deadline and sent < len(head):
                if selector.select(0.05):  # the server spoke: read until it closes
                    closed = _closed_by_server(sock)
                    continue
                try:
                    sock.send(head[sent : sent + 1])
                except (BrokenPipeError, ConnectionResetError):
                    closed = True
                    break
                sent += 1
    assert closed, f"still open after {BOUND_S} s and {sent} bytes"
    assert sent < len(head)


def test_the_next_head_on_a_kept_alive_connection_has_the_deadline_too(
    sandbox: ServedSandbox,
) -> None:
    """After a response, a partial second request head on the same connection is cut off."""
    with socket.create_connection(host_port(sandbox), timeout=10) as sock:
        sock.sendall(b"GET /users/mptoken/nope HTTP/1.1\r\nHost: sandbox\r\n\r\n")
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.endswith(b"}"):
            answer += sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200")
        sock.sendall(PARTIAL_HEAD)
        assert wait_until_closed([sock], BOUND_S) == 1


def test_a_request_that_completes_in_time_is_answered(sandbox: ServedSandbox) -> None:
    """A head sent in two parts within the deadline is served normally (event-driven)."""
    with socket.create_connection(host_port(sandbox), timeout=10) as sock:
        sock.sendall(PARTIAL_HEAD)
        sock.sendall(b"1\r\n\r\n")
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]


def test_the_header_timeout_must_be_positive() -> None:
    """A header timeout of 0, a negative or an infinite one is refused before serving."""
    from flxtrd.sandbox._http_head_timeout import head_timeout_protocol

    for bad in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="header_timeout_s"):
            head_timeout_protocol(bad)
