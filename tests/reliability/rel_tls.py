"""Test servers: a self-signed certificate, an app over http(s), a TLS proxy to RabbitMQ.

``cryptography`` is not installed here, so certificates come from the ``openssl`` CLI (as in
``tests/contract/test_amqp_broker.py``). The AMQP side terminates TLS in a small proxy in front
of the broker's plain port (the same approach as the contract tests), so no RabbitMQ TLS
listener is needed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn


@dataclass(frozen=True)
class Certificate:
    """A self-signed certificate (its own CA) and its key."""

    cert: Path
    key: Path


def self_signed(folder: Path, *, san: str) -> Certificate:
    """A self-signed certificate for CN=localhost with ``subjectAltName`` ``san``."""
    if shutil.which("openssl") is None:
        if os.environ.get("CI"):
            pytest.fail("openssl is needed to make the TLS test certificate in CI")
        pytest.skip("openssl is not on PATH")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            f"subjectAltName={san}",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return Certificate(cert, key)


class _Server(uvicorn.Server):
    """uvicorn that says when it serves."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start, then signal readiness."""
        await super().startup(sockets)
        self.ready.set()


@contextlib.contextmanager
def serve_app(app: object, certificate: Certificate | None = None) -> Iterator[int]:
    """Serve ``app`` on 127.0.0.1 (a free port, yielded): https with ``certificate``, else http.

    Like the served sandbox (``flxtrd/sandbox/_served.py``), without uvicorn's access log.
    """
    sock = socket.create_server(("127.0.0.1", 0))
    tls = (
        {"ssl_certfile": str(certificate.cert), "ssl_keyfile": str(certificate.key)}
        if certificate is not None
        else {}
    )
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        lifespan="off",
        log_level="warning",
        access_log=False,
        ws="wsproto",
        **tls,  # type: ignore[arg-type]
    )
    server = _Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        assert server.ready.wait(10) and server.started, "uvicorn did not start"
        yield int(sock.getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


class TlsProxy:
    """Terminates TLS with ``certificate`` on a local port and forwards to ``upstream``."""

    def __init__(self, certificate: Certificate, upstream: tuple[str, int]) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(certificate.cert, certificate.key)
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.accepted = 0
        self.handshakes = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self._acceptor = threading.Thread(target=self._serve, daemon=True)
        self._acceptor.start()

    @staticmethod
    def _shut(*socks: socket.socket) -> None:
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            self._shut(src, dst)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            if self._stop.is_set():
                conn.close()
                return
            self.accepted += 1
            try:
                tls = self.context.wrap_socket(conn, server_side=True)
            except (OSError, ssl.SSLError):  # the client refused our certificate
                conn.close()
                continue
            self.handshakes += 1
            plain = socket.create_connection(self.upstream)
            self._sockets.extend((tls, plain))
            for a, b in ((tls, plain), (plain, tls)):
                t = threading.Thread(target=self._pipe, args=(a, b), daemon=True)
                t.start()
                self._threads.append(t)

    def close(self) -> None:
        """Stop accepting, close every connection, join the threads."""
        self._stop.set()
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 1):
            pass
        self._acceptor.join(10)
        self.listener.close()
        self._shut(*self._sockets)
        for t in self._threads:
            t.join(10)
        for s in self._sockets:
            s.close()
