"""A RabbitMQ node of the benchmark's own, on its own ports, with raised limits (standard library).

The 1,000-device fleet benchmark needs 1,000+ connections; the shared broker on 5672 serves other
work and its limits are not the benchmark's to change. :class:`RabbitNode` starts a separate node
(``RABBITMQ_NODENAME=fleetbench@localhost``, AMQP on 5673, distribution on 25673 by default) with
its data, logs, cookie and ``rabbitmq.conf`` in a temporary directory, waits until its AMQP port
answers, and stops only that node again (``rabbitmqctl -n <node> stop``).
"""

from __future__ import annotations

import os
import resource
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
CTL = "/usr/lib/rabbitmq/bin/rabbitmqctl"


def _raise_fd_limit(want: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


class RabbitNode:
    """A private RabbitMQ node (see the module); use as a context manager."""

    def __init__(
        self, *, name: str = "fleetbench@localhost", port: int = 5673, dist_port: int = 25673
    ) -> None:
        self.name, self.port, self.dist_port = name, port, dist_port
        self.dir = Path(tempfile.mkdtemp(prefix="flxtrd-fleetbench-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The node's AMQP URL (guest may log in over loopback)."""
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def _env(self) -> dict[str, str]:
        d = self.dir
        env = dict(os.environ)
        env.update(
            HOME=str(d),  # its own Erlang cookie
            RABBITMQ_NODENAME=self.name,
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_MNESIA_BASE=str(d / "mnesia"),
            RABBITMQ_LOG_BASE=str(d / "log"),
            RABBITMQ_CONFIG_FILE=str(d / "rabbitmq"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(d / "enabled_plugins"),
            RABBITMQ_PID_FILE=str(d / "pid"),
            RABBITMQ_CONF_ENV_FILE=str(d / "rabbitmq-env.conf"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(d / "advanced.config"),
        )
        return env

    def start(self, timeout: float = 90.0) -> RabbitNode:
        """Write the config, start the node, return once its AMQP port accepts connections."""
        d = self.dir
        (d / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
            "loopback_users.guest = true\n"
            "connection_max = 20000\n"
            "channel_max = 16\n"
            "vm_memory_high_watermark.relative = 0.6\n"
            "disk_free_limit.absolute = 50MB\n"
            "log.console = false\n"
            "log.file.level = warning\n"
        )
        (d / "enabled_plugins").write_text("[].\n")
        (d / "rabbitmq-env.conf").write_text("")
        (d / "advanced.config").write_text("[].\n")
        _raise_fd_limit(20000)
        self.process = subprocess.Popen(
            [SERVER], env=self._env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"rabbitmq-server exited with {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), 1) as sock:
                    sock.sendall(b"AMQP\x00\x00\x09\x01")
                    sock.settimeout(2)
                    if sock.recv(1):
                        return self
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise TimeoutError(f"the node {self.name} did not start within {timeout:g} s")

    def stop(self) -> None:
        """Stop this node (only this one) and remove its directory."""
        if self.process is not None and self.process.poll() is None:
            subprocess.run(
                [CTL, "-n", self.name, "stop"], env=self._env(), capture_output=True, timeout=60
            )
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> RabbitNode:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
