"""Regressions the served-sandbox fuzz (`test_sbxfuzz_served_http`) found, one test each.

Each was a 5xx (or, for ``TCP_NODELAY``, 44 ms per keep-alive request on loopback, which made
a 10,000-request fuzz take minutes) on a served sandbox (`rel_served.served`: uvicorn on a TCP
port, in this process), reached over a real socket.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import httpx
import pytest
from rel_served import served

from flxtrd.sandbox._served import ServedSandbox


@pytest.fixture(scope="module")
def sandbox() -> Iterator[ServedSandbox]:
    """A served sandbox for the module."""
    with served() as running:
        yield running


def test_accepted_connections_have_tcp_nodelay(sandbox: ServedSandbox) -> None:
    """The server's side of a keep-alive connection sends without Nagle's delay (TCP_NODELAY)."""
    with httpx.Client(base_url=sandbox.http_url) as client:
        assert client.get("/deals/").status_code == 401  # the connection stays open
        connections = list(sandbox._server.server_state.connections)
        assert connections, "no open connection on the server"
        for protocol in connections:
            sock = protocol.transport.get_extra_info("socket")
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
