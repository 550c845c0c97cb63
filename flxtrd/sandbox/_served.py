"""The served sandbox: REST + WebSocket over HTTP(S) (uvicorn) and the broker worker on RabbitMQ.

``python -m flxtrd sandbox`` (:mod:`flxtrd.sandbox._cli`) runs :func:`serve`;
:class:`ServedSandbox` is the same thing as a library object (start, stop) for tests and tools.
uvicorn is optional (``pip install 'flxtrd[sandbox]'``) and imported only when a server starts,
so the embedded sandbox never loads it; :meth:`ServedSandbox.start` without it raises
:class:`~flxtrd.ConfigurationError` naming the extra, before anything else is started.

What runs
---------
- one `SandboxMarket` (permissive accounts, or a strict accounts file) and its expiry timer;
- uvicorn serving ``create_app(market)`` in a thread, on a socket bound before start-up (so a
  port already in use fails at once, and ``--http 127.0.0.1:0`` picks a free port, printed in the
  ready line); with a certificate and key it serves **https** and **wss**;
- the :class:`~flxtrd.sandbox._broker.BrokerWorker` on the ``--amqp`` broker;
- on a RabbitMQ on this machine, the accounts' broker users (:mod:`flxtrd.sandbox._rabbitmq`),
  with permissions on the virtual host of ``--amqp`` (``/`` for ``...:5672//``), so
  ``amqp://<userId>:<token>@host:5672//`` works as on the market; they are deleted again on
  shutdown (a sandbox that was killed leaves them; the next one started on this machine
  removes them, on Linux). Ids derive from ``--seed`` and the token key, so they are the same across
  restarts only with ``--token-key-file``, and two sandboxes with their own keys never share a
  broker user. A virtual host of its own (``--amqp amqp://guest:guest@host:5672/sandbox``, made
  with ``rabbitmqctl add_vhost``) keeps a sandbox apart from anything else on the broker.

What a client needs
-------------------
After the ready line :func:`serve` prints the environment a client needs, as shell lines
(:meth:`ServedSandbox.environment`)::

    export FLXTRD_MARKET_URL=sandbox+https://127.0.0.1:8443
    export FLXTRD_BROKER_URL=amqp://127.0.0.1:5672//
    export FLXTRD_CA_BUNDLE=/abs/path/cert.pem

``sandbox+https://`` with ``--certfile`` (``sandbox://`` without); the broker URL is ``--amqp``
without its credentials (clients log in as ``userId`` / device token, the provisioned broker
users; without them a comment line says to add the ``--amqp`` login); the CA bundle is the
certificate itself, right for a self-signed one (for a certificate a private CA signed, point
``FLXTRD_CA_BUNDLE`` at that CA instead). A sandbox listening on ``0.0.0.0`` / ``::`` names the
loopback address.

TLS on the broker side is RabbitMQ's own configuration (``listeners.ssl.default = 5671``,
``ssl_options.cacertfile/certfile/keyfile`` in ``rabbitmq.conf``); pass ``--amqp amqps://...``
so the worker connects over it too. The sandbox does not terminate AMQP TLS itself.

Shutdown
--------
SIGINT (Ctrl-C) and SIGTERM stop it cleanly, and the process exits 0: uvicorn stops accepting and
finishes open requests, the worker stops consuming, finishes the orders in hand, deletes its
queue and closes its connection, the broker users are deleted. A second signal during shutdown
exits at once (code 130). If the worker or the HTTP server dies, the sandbox shuts down and
exits 1.
"""

from __future__ import annotations

import contextlib
import importlib
import ipaddress
import os
import shlex
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any, TextIO
from urllib.parse import urlsplit

from flxtrd._defaults import (
    ENV_BROKER_URL,
    ENV_CA_BUNDLE,
    ENV_MARKET_URL,
    SANDBOX_SCHEME,
    SANDBOX_TLS_SCHEME,
)
from flxtrd._errors import ConfigurationError
from flxtrd._log import get_logger, redact_url

from ._accounts import Accounts, read_token_key
from ._broker import DEFAULT_ORDER_QUEUE, BrokerWorker
from ._http_limits import DEFAULT_HEADER_TIMEOUT_S
from ._market import SandboxMarket
from ._rabbitmq import BrokerUsers, BrokerUsersError, ProvisioningMarket, Rabbitmqctl

__all__ = ["UVICORN_MISSING", "ServedOptions", "ServedSandbox", "serve"]

UVICORN_MISSING = "the served sandbox needs uvicorn: pip install 'flxtrd[sandbox]'"
"""What :meth:`ServedSandbox.start` says when uvicorn (the ``sandbox`` extra) is missing."""

_log = get_logger("sandbox.served")

EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 130
_HEALTH_POLL_S = 0.2
_STARTUP_TIMEOUT_S = 30.0
_SERVER_STOP_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class ServedOptions:
    """Settings of a served sandbox (the command line's options)."""

    http_host: str = "127.0.0.1"
    http_port: int = 8000
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672//"
    certfile: str | None = None
    keyfile: str | None = None
    strict_accounts: str | None = None
    token_lifetime_s: int | None = None
    rate_limit: int | None = None
    seed: int = 0
    broker_users: str = "auto"
    """``auto`` (on a local RabbitMQ when ``rabbitmqctl`` works), ``on`` or ``off``."""
    rabbitmqctl: str = "rabbitmqctl"
    keep_broker_users: bool = False
    exchange: str = "in"
    reply_exchange: str = "ticker-out"
    queue: str = DEFAULT_ORDER_QUEUE
    log_level: str = "warning"
    token_key_file: str | None = None
    """The file of the key that signs tokens (`read_token_key`); None: a random key per run."""
    header_timeout_s: float = DEFAULT_HEADER_TIMEOUT_S
    """How long a connection may take to send a request head, and a request its body, s."""


def _vhost(url: str) -> str:
    """The virtual host of a broker URL, read as kombu reads it (``//`` and none are ``/``)."""
    from kombu.connection import Connection

    connection: Callable[..., Any] = Connection  # kombu is untyped
    return str(connection(url).virtual_host or "/")


def _is_local(url: str) -> bool:
    host = urlsplit(url).hostname or "localhost"
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _require_uvicorn() -> None:
    """Import uvicorn, or raise ConfigurationError naming the extra that installs it."""
    try:
        importlib.import_module("uvicorn")
    except ImportError as exc:
        raise ConfigurationError(UVICORN_MISSING) from exc


class ServedSandbox:
    """A served sandbox market (see the module); :meth:`start` then :meth:`stop`."""

    def __init__(self, options: ServedOptions) -> None:
        if (options.certfile is None) != (options.keyfile is None):
            raise ValueError("--certfile and --keyfile go together")
        self.options = options
        self.market: SandboxMarket | None = None
        self.worker: BrokerWorker | None = None
        self.broker_users: BrokerUsers | None = None
        self._server: Any = None
        self._server_thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.http_url = ""
        self.http_port = 0

    # -- start ------------------------------------------------------------------------------

    def start(self) -> None:
        """Build the market, provision broker users, start the worker and the HTTP server.

        Raises :class:`~flxtrd.ConfigurationError` (:data:`UVICORN_MISSING`) when uvicorn is not
        installed, before any of them is started.
        """
        _require_uvicorn()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _accounts(self) -> Accounts:
        o = self.options
        # ids keyed with the token key too: same-seed sandboxes with different keys must not
        # share a RabbitMQ user (users are global) with two passwords (see _accounts)
        kwargs: dict[str, Any] = {"seed": o.seed, "ids_from_token_key": True}
        if o.token_key_file is not None:
            kwargs["token_key"] = read_token_key(o.token_key_file)
        if o.token_lifetime_s is not None:
            kwargs["access_lifetime_s"] = o.token_lifetime_s
        if o.strict_accounts is not None:
            return Accounts.from_file(o.strict_accounts, **kwargs)
        return Accounts(**kwargs)

    def _provisioner(self) -> BrokerUsers | None:
        o = self.options
        mode = o.broker_users
        if mode == "off" or o.amqp_url.split(":", 1)[0].lower() == "memory":
            return None
        ctl = Rabbitmqctl(o.rabbitmqctl)
        if mode == "auto":
            if not _is_local(o.amqp_url):
                _log.warning(
                    "broker users are not provisioned: the broker is not on this machine (use"
                    " --broker-users on --rabbitmqctl '...' to reach it)"
                )
                return None
            if not ctl.available():
                _log.warning("broker users are not provisioned: %r not found", o.rabbitmqctl)
                return None
        users = BrokerUsers(
            ctl, vhost=_vhost(o.amqp_url), exchange=o.exchange, reply_exchange=o.reply_exchange
        )
        try:
            users.load()
        except BrokerUsersError as exc:
            if mode == "on":
                raise
            _log.warning("broker users are not provisioned: %s", exc)
            return None
        users.release_dead_owners()  # what sandboxes killed on this machine left behind
        return users

    def _start(self) -> None:
        o = self.options
        accounts = self._accounts()
        users = self.broker_users = self._provisioner()
        market: SandboxMarket
        if users is not None:
            market = ProvisioningMarket(broker_users=users, seed=o.seed, accounts=accounts)
            if accounts.strict:
                market.provision_known()
        else:
            market = SandboxMarket(seed=o.seed, accounts=accounts)
        self.market = market
        market.start_expiry_timer()
        worker = self.worker = BrokerWorker(
            market,
            o.amqp_url,
            exchange=o.exchange,
            reply_exchange=o.reply_exchange,
            queue=o.queue,
        )
        worker.start()
        self._start_http(market)

    def _start_http(self, market: SandboxMarket) -> None:
        import uvicorn

        from ._app import RateLimit, create_app
        from ._http_head_timeout import head_timeout_protocol

        o = self.options
        rate_limit = RateLimit(o.rate_limit) if o.rate_limit else None
        app = create_app(market, rate_limit=rate_limit, body_timeout_s=o.header_timeout_s)
        family = socket.AF_INET6 if ":" in o.http_host else socket.AF_INET
        # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on connections accepted from a TCP
        # socket that says so; without it, a response's head and body writes met the client's
        # delayed ACK (Nagle) and every keep-alive request took ~44 ms on loopback, not ~1 ms.
        sock = self._socket = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((o.http_host, o.http_port))
        sock.listen(128)
        sock.set_inheritable(True)
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            app,
            host=o.http_host,
            port=port,
            ssl_certfile=o.certfile,
            ssl_keyfile=o.keyfile,
            log_level=o.log_level,
            lifespan="off",
            access_log=False,
            http=head_timeout_protocol(o.header_timeout_s),
        )
        server = self._server = uvicorn.Server(config)
        thread = self._server_thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="flxtrd-sandbox-http", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + _STARTUP_TIMEOUT_S
        while not server.started:
            thread.join(0.01)
            if not thread.is_alive():
                raise RuntimeError("the HTTP server failed to start (see the log)")
            if time.monotonic() > deadline:
                raise TimeoutError("the HTTP server did not start")
        scheme = "https" if o.certfile else "http"
        host = f"[{o.http_host}]" if ":" in o.http_host else o.http_host
        self.http_url = f"{scheme}://{host}:{port}"
        self.http_port = port

    # -- health, stop -----------------------------------------------------------------------

    def failure(self) -> str | None:
        """Why the sandbox can no longer serve (a part died), or None while it is healthy."""
        thread = self._server_thread
        if thread is not None and not thread.is_alive():
            return "the HTTP server stopped"
        worker = self.worker
        if worker is not None and worker.wait(0):
            return "the broker worker stopped"
        return None

    def stop(self) -> None:
        """Stop the HTTP server, the worker and the expiry timer; delete the broker users."""
        server, thread = self._server, self._server_thread
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(_SERVER_STOP_TIMEOUT_S)
            if thread.is_alive():
                server.force_exit = True
                thread.join(_SERVER_STOP_TIMEOUT_S)
        self._server = self._server_thread = None
        sock, self._socket = self._socket, None
        if sock is not None:
            sock.close()
        worker, self.worker = self.worker, None
        if worker is not None:
            worker.stop()
        market = self.market
        if market is not None:
            market.stop_expiry_timer()
        users, self.broker_users = self.broker_users, None
        if users is not None and not self.options.keep_broker_users:
            try:
                users.delete_all()
            except BrokerUsersError as exc:
                _log.error("could not delete the sandbox's broker users: %s", exc)

    def describe(self) -> str:
        """The ready line: where REST/WebSocket and the broker are."""
        o = self.options
        users = (
            "broker users: userId / device token (provisioned with rabbitmqctl)"
            if self.broker_users is not None
            else "broker users: not provisioned (log in with the --amqp credentials)"
        )
        return (
            f"flxtrd sandbox ready: REST + WebSocket {self.http_url}, broker"
            f" {redact_url(o.amqp_url)} (exchanges {o.exchange!r} / {o.reply_exchange!r}); {users}"
        )

    def environment(self) -> dict[str, str]:
        """What a client sets to trade here: ``FLXTRD_MARKET_URL``, ``FLXTRD_BROKER_URL`` and,
        with a certificate, ``FLXTRD_CA_BUNDLE`` (see the module); call after :meth:`start`."""
        if not self.http_port:
            raise RuntimeError("the sandbox is not serving yet: call start() first")
        o = self.options
        scheme = SANDBOX_TLS_SCHEME if o.certfile else SANDBOX_SCHEME
        env = {ENV_MARKET_URL: f"{scheme}://{_netloc(o.http_host)}:{self.http_port}"}
        broker = _public_broker_url(o.amqp_url)
        if broker is not None:
            env[ENV_BROKER_URL] = broker
        if o.certfile:
            env[ENV_CA_BUNDLE] = os.path.abspath(o.certfile)
        return env

    def environment_lines(self) -> list[str]:
        """:meth:`environment` as ``export NAME=value`` shell lines, plus a comment when the
        clients must bring the broker login themselves."""
        env = self.environment()
        lines = [f"export {name}={shlex.quote(value)}" for name, value in env.items()]
        if self.broker_users is None and ENV_BROKER_URL in env:
            lines.append(
                "# broker users are not provisioned: put the --amqp login in FLXTRD_BROKER_URL"
                " (amqp://USER:PASSWORD@host:port/vhost)"
            )
        return lines


def _netloc(host: str) -> str:
    """``host`` as a client reaches it: a wildcard address becomes loopback, IPv6 in brackets."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"[{host}]" if ":" in host else host


def _public_broker_url(amqp_url: str) -> str | None:
    """``amqp_url`` without its login (clients bring their own); None for ``memory://``, which
    no other process can reach."""
    try:
        parts = urlsplit(amqp_url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if parts.scheme.lower() == "memory" or not host:
        return None
    netloc = _netloc(host) + (f":{port}" if port else "")
    return f"{parts.scheme}://{netloc}{parts.path or '/'}"


def serve(options: ServedOptions, out: TextIO | None = None) -> int:
    """Run a served sandbox until SIGINT/SIGTERM; return the exit code (0 on a clean stop)."""
    out = out if out is not None else sys.stdout
    stop = threading.Event()
    signals: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if signals:
            # A second signal while shutting down: give up at once.
            sys.stderr.write("flxtrd sandbox: forced exit\n")
            sys.stderr.flush()
            import os

            os._exit(EXIT_INTERRUPTED)
        signals.append(signum)
        stop.set()

    previous: dict[signal.Signals, Callable[[int, FrameType | None], Any] | int | None] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, on_signal)
    sandbox = ServedSandbox(options)
    try:
        sandbox.start()
        # The ready line first: readers that wait for it line by line stop reading there.
        out.write("\n".join([sandbox.describe(), *sandbox.environment_lines()]) + "\n")
        out.flush()
        reason: str | None = None
        while not stop.wait(_HEALTH_POLL_S):
            reason = sandbox.failure()
            if reason is not None:
                break
        out.write(f"flxtrd sandbox stopping ({reason or 'signal'})\n")
        out.flush()
        return EXIT_FAILED if reason is not None else EXIT_OK
    finally:
        sandbox.stop()
        with contextlib.suppress(Exception):
            out.write("flxtrd sandbox stopped\n")
            out.flush()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
