"""How the sandbox's cost grows with a fleet: resting orders, device connections, subscribers.

Run: `.venv/bin/python benchmarks/bench_sandbox_scale.py [--resting 10,100,1000,10000,100000]
[--connections 10,100,1000] [--subscribers 10,100,1000] [--only matching,broker,ws]
[--json PATH] [--plot PATH]`

Three curves, each with the growth ratio between neighbouring sizes (cost at 10x the size
divided by the cost at the size: about 10 when the total cost grows linearly, about 1 when the
cost PER unit is flat):

1. **Matching**: `MatchingEngine.submit` CPU cost per incoming order against a resting book of
   10 ... 100,000 orders, both generations, with the workload of `bench_matching.py` (half the
   incoming orders cross). Median of 5 interleaved rounds.
2. **Device connections** (generation 1): a served sandbox (`python -m flxtrd sandbox`, its own
   process) on a RabbitMQ node this script starts for itself (`sbxscale@localhost`, port 5674,
   in a temporary directory, file-descriptor limit raised; the shared 5672 node is never
   touched) with N strict accounts provisioned as broker users. N devices each log in as their
   own user (userId / device token), declare their exclusive reply queue and consume it, all
   on one I/O loop in this process (py-amqp, selectors). Half are sellers, half buyers; each
   places `--orders-per-device` orders, every bid crossing one ask, so N/2 x k trades; every
   trade sends a closed order to both sides and a tick to every device. Measured: connect time,
   wall time until every closed order and every tick arrived, the sandbox process's CPU
   seconds, bid-to-`bid_closed_order` latency p50/p99, the sandbox's and RabbitMQ's RSS and
   thread counts. One run per size.
3. **WebSocket fan-out** (generation 2): a served sandbox (`--amqp memory://`) with S
   subscribers on `/api/v1/ws/ticker/` (then, separately, S on `/api/v1/ws/orderbook/`), each
   its own TCP connection (asyncio + wsproto, in this process). For 5 trades placed over REST:
   time from sending the trading order until the LAST subscriber has the ticker frame (and the
   median subscriber); for the order book, until the last subscriber has a fresh snapshot. The
   sandbox's RSS, threads and CPU seconds per trade.

It is a script, not a test: nothing is asserted. `run_all.py` runs it with `--json` and puts
its cost-growth table into BENCHMARKS.md ("Sandbox at fleet scale").
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import math
import os
import re
import resource
import selectors
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from _harness import FLXTRD, OLD, RAW, ROOT, Report, add_json_option, rotated
from bench_matching import T0, build, gen1_order, gen2_order, time_engine

Q = 900_000
NODE = "sbxscale@localhost"
NODE_PORT = 5674
DIST_PORT = 25674
ROUNDS = 5
INTRO = (
    "How the sandbox's cost grows with a fleet (issue 12, point 4). Matching runs in-process"
    " (CPU time, medians of 5 interleaved rounds); the served sandbox runs as its own process"
    " (`python -m flxtrd sandbox`) and its CPU seconds are read from /proc (10 ms"
    " resolution); device connections go to a RabbitMQ node the script starts for itself"
    " (`sbxscale@localhost`, port 5674, file-descriptor limit raised), never the shared 5672"
    " node; one run per size. Wall times on this"
    " shared 2-core machine move with the other work on it; CPU seconds much less. Alone:"
    " `.venv/bin/python benchmarks/bench_sandbox_scale.py` (`--only matching,broker,ws`)."
)
FINDINGS = """What grows super-linearly, and why:

- **Generation-1 ticks: O(N^2) deliveries, by the protocol (stays).** Every trade sends a tick
  to every device, so N devices trading in proportion to N make trades x N deliveries
  (1,000,000 for 1,000 devices placing 2 orders each): the sandbox's CPU, RabbitMQ's and the
  devices' all grow about as N^2 (slopes above). The worker publishes one message per device
  per trade (about 30 us each). Tried and measured: one message per trade with the devices'
  keys in RabbitMQ's `BCC` header (`BrokerWorker(bcc_ticks=True)`; each device still gets the
  same tick, with routing key `""`). At 1,000 devices it cut the sandbox's CPU from about 31
  to 2 s, but RabbitMQ 3.10 spent 162 CPU s instead of 62 on the copies, the devices 81
  instead of 36, and the last tick arrived after 218 s instead of 75 on this 2-core machine,
  so it is off by default. Only a protocol change (a tick exchange each device binds itself,
  or no tick per device) would make it linear. Fixed on the way: the tick audience was
  re-sorted for every new device key and the account list copied for every trade.
- **Order book stream: O(S x book) per change (fixed).** Each `/ws/orderbook/` subscriber took
  its own snapshot of the book, under the market's lock, at every change, and each snapshot
  built `depth` levels for every delivery window before keeping `depth` of them. One stream hub
  per app now subscribes once, frames each update once, wakes each event loop once per update
  and shares one snapshot per change; the snapshot merges the windows' levels lazily (the
  order book frame column). It still visits every window's best level, so it grows with the
  number of windows in the book, not with the orders in them.
- **Matching: per-order cost grew with the book (reduced).** An incoming bid scanned and sorted
  every sell of its windows small enough to complete before taking the first; it now walks the
  sells its price reaches lazily, best first, so a bid filled by its first sells stops there.
  Growth left at 100,000 resting: `insort` memmoves in big windows, generation 2's search of
  every window inside the bid's, and the cache misses of 100,000 live Python objects.
- **WebSocket fan-out: linear per trade (stays).** Every subscriber must get every ticker
  frame: S frames per trade, one websocket write each (uvicorn, wsproto), so S subscribers
  trading in proportion to S cost O(S^2) writes in total. The hub's own share per subscriber is
  one queue put.
- **Threads and memory.** The served sandbox keeps 4 threads whatever the number of devices or
  subscribers (no thread per connection); its memory grows with WebSocket subscribers (each
  a uvicorn connection and an asyncio queue) and not with broker devices (they cost RabbitMQ,
  not the sandbox)."""
READY = re.compile(r"REST \+ WebSocket (http://[^,\s]+)")


# --- process figures --------------------------------------------------------------------------


def proc_status(pid: int) -> dict[str, int]:
    """``VmRSS`` (KiB) and ``Threads`` of process ``pid``."""
    out: dict[str, int] = {}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return out
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "Threads"):
            out[key] = int(value.split()[0])
    return out


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def raise_fd_limit() -> None:
    """Soft open-file limit up to the hard one (1,000 sockets need more than 1,024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


# --- 1. matching ------------------------------------------------------------------------------


def bench_matching(sizes: Sequence[int], orders: int) -> list[dict[str, Any]]:
    """CPU microseconds per submitted order, per generation and resting size."""
    configs = []
    for name, make in (("gen1", gen1_order), ("gen2", gen2_order)):
        for size in sizes:
            preload, stream = build(make, size, orders, 1)
            configs.append((name, size, preload, stream))
    rates: dict[tuple[str, int], list[float]] = {(c[0], c[1]): [] for c in configs}
    after: dict[tuple[str, int], int] = {}
    for r in range(ROUNDS):
        for name, size, preload, stream in rotated(configs, r):
            rate, _, resting = time_engine(preload, stream)
            rates[(name, size)].append(1e6 / rate)
            after[(name, size)] = resting
        print(f"matching round {r + 1}/{ROUNDS} done", file=sys.stderr, flush=True)
    rows = [
        {
            "generation": name,
            "resting": size,
            "resting_after": after[(name, size)],
            "us_per_order": statistics.median(rates[(name, size)]),
            "rounds": rates[(name, size)],
        }
        for name, size, _, _ in configs
    ]
    for row, (name, _size, preload, _) in zip(rows, configs, strict=True):
        row["snapshot_ms"] = snapshot_ms(preload) if name == "gen2" else None
    return rows


def snapshot_ms(preload: Sequence[Any]) -> float:
    """CPU ms of one order book stream frame (`orderbook_frame`, depth 20) over ``preload``."""
    from flxtrd.sandbox import ManualClock, SandboxMarket
    from flxtrd.sandbox._app_streams import orderbook_frame

    market = SandboxMarket(clock=ManualClock(T0), seed=1)
    for order in preload:
        market.engine.submit(order)
    times = []
    for _ in range(ROUNDS):
        began = time.process_time()
        orderbook_frame(market)
        times.append(time.process_time() - began)
    return 1e3 * statistics.median(times)


# --- a RabbitMQ node of our own ---------------------------------------------------------------


class OwnRabbit:
    """A RabbitMQ node in a temporary directory on port 5674, started and stopped here."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.env = dict(os.environ)
        self.env.update(
            HOME=str(base),
            RABBITMQ_NODENAME=NODE,
            RABBITMQ_NODE_PORT=str(NODE_PORT),
            RABBITMQ_DIST_PORT=str(DIST_PORT),
            RABBITMQ_MNESIA_BASE=str(base / "mnesia"),
            RABBITMQ_LOG_BASE=str(base / "log"),
            RABBITMQ_CONFIG_FILE=str(base / "rabbitmq"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(base / "enabled_plugins"),
            RABBITMQ_PID_FILE=str(base / "rabbit.pid"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(base / "advanced.config"),
        )
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def ctl(self) -> str:
        """The rabbitmqctl command line for this node (for the sandbox's --rabbitmqctl)."""
        return f"rabbitmqctl -n {NODE}"

    def start(self) -> None:
        """Start the node and wait until it accepts connections."""
        (self.base / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = {NODE_PORT}\n"
            "loopback_users = none\n"
            "connection_max = infinity\n"
            "channel_max = 2047\n"
            "vm_memory_high_watermark.relative = 0.6\n"
            "disk_free_limit.absolute = 50MB\n"
        )
        (self.base / "enabled_plugins").write_text("[].\n")
        (self.base / "advanced.config").write_text("[].\n")
        for sub in ("mnesia", "log"):
            (self.base / sub).mkdir(exist_ok=True)
        # run as root, rabbitmq-server (and rabbitmqctl) switch to the rabbitmq user
        self.base.chmod(0o755)
        for path in (self.base, *self.base.rglob("*")):
            try:
                shutil.chown(path, "rabbitmq", "rabbitmq")
            except (LookupError, PermissionError):
                break  # not root, or no rabbitmq user: the node runs as we do

        command = ["rabbitmq-server"]
        user = None
        if os.geteuid() == 0:
            # /usr/sbin/rabbitmq-server would `su rabbitmq`, and su resets the open-file
            # limit to 1,024 (pam_limits): too few for 1,000 connections. Run the node's own
            # script as the rabbitmq user with our raised limit (and its Erlang cookie).
            import pwd

            with suppress(KeyError):
                user = pwd.getpwnam("rabbitmq")
            server = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
            if user is not None and server.exists():
                command = [str(server)]
                self.env["HOME"] = user.pw_dir
            else:
                user = None

        def limits() -> None:
            raise_fd_limit()
            os.setsid()
            if user is not None:
                os.setgid(user.pw_gid)
                os.initgroups(user.pw_name, user.pw_gid)
                os.setuid(user.pw_uid)

        self.proc = subprocess.Popen(
            command,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=limits,
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"rabbitmq-server exited with {self.proc.returncode}")
            done = subprocess.run(
                ["rabbitmqctl", "-n", NODE, "await_startup", "--timeout", "5"],
                env=self.env,
                capture_output=True,
            )
            if done.returncode == 0:
                return
            time.sleep(1)
        raise TimeoutError("own RabbitMQ node did not start")

    def beam_pid(self) -> int | None:
        """The pid of the node's Erlang VM."""
        try:
            return int((self.base / "rabbit.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def stop(self) -> None:
        """Stop this node only (``-n sbxscale@localhost``) and wait for it."""
        if self.proc is None:
            return
        subprocess.run(["rabbitmqctl", "-n", NODE, "stop"], env=self.env, capture_output=True)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None


@contextmanager
def served_sandbox(args: list[str], env: dict[str, str] | None = None) -> Iterator[tuple[int, str]]:
    """Run ``python -m flxtrd sandbox ARGS``; yield (pid, http url); stop it with SIGINT."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "flxtrd", "sandbox", "--http", "127.0.0.1:0", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        preexec_fn=raise_fd_limit,
    )
    assert proc.stdout is not None
    url = None
    for line in proc.stdout:
        found = READY.search(line)
        if found:
            url = found.group(1)
            break
    if url is None:
        proc.wait(10)
        raise RuntimeError(f"the served sandbox did not start (exit {proc.returncode})")
    try:
        yield proc.pid, url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


# --- 2. device connections --------------------------------------------------------------------


def device_ids(i: int) -> tuple[str, str, str]:
    """(userId, application key, device token) of device ``i``."""
    return f"5b5ca1e0{i:016x}", f"sbxscale-dev-{i:05d}", f"sbxscale-token-{i:05d}-0123456789ab"


def accounts_file(path: Path, n: int) -> None:
    """A strict accounts file with ``n`` accounts of one device each."""
    accounts = []
    for i in range(n):
        user, key, token = device_ids(i)
        accounts.append(
            {
                "email": f"dev{i}@sbxscale.invalid",
                "password": "p",
                "user_id": user,
                "locations": [{"_id": key, "token": token, "name": f"device {i}"}],
            }
        )
    path.write_text(json.dumps({"accounts": accounts}))


def order_line(side: str, key: str, start: int, price: float) -> bytes:
    """A generation-1 order line (1 kW over one quarter hour)."""
    field = "askingprice" if side == "ask" else "biddingprice"
    return (
        f"{side},applicationKey={key},version=1 starttime={start}i,wattage=1000,"
        f"runtime={Q}i,totalenergy=250,{field}={price},expirationtime={start - Q}i"
    ).encode()


class Device:
    """One device: its own broker connection, exclusive reply queue, counters."""

    def __init__(self, i: int, port: int) -> None:
        import amqp

        self.user, self.key, token = device_ids(i)
        self.side = "ask" if i % 2 == 0 else "bid"
        self.conn = amqp.Connection(
            host=f"127.0.0.1:{port}",
            userid=self.user,
            password=token,
            virtual_host="/",
            heartbeat=0,
            connect_timeout=30,
        )
        self.conn.connect()
        self.channel = self.conn.channel()
        self.channel.queue_declare(self.key, exclusive=True, auto_delete=True)
        self.channel.queue_bind(self.key, exchange="ticker-out", routing_key=self.key)
        self.channel.basic_consume(self.key, no_ack=True, callback=self.on_message)
        self.ticks = 0
        self.closed = 0
        self.cancels = 0
        self.sent: deque[float] = deque()
        self.latencies: list[float] = []
        self.last_at = 0.0

    def on_message(self, message: Any) -> None:
        """Count a reply; a closed order ends the oldest outstanding order's latency."""
        now = time.perf_counter()
        self.last_at = now
        body = message.body
        if b'"msg_type":"tick"' in body:
            self.ticks += 1
        elif b"closed_order" in body:
            self.closed += 1
            if self.sent:
                self.latencies.append(now - self.sent.popleft())
        else:
            self.cancels += 1

    def place(self, start: int, n: int) -> None:
        """Publish an order (asks at 0.10, bids at 0.20)."""
        import amqp

        price = 0.10 if self.side == "ask" else 0.20
        self.sent.append(time.perf_counter())
        self.channel.basic_publish(
            amqp.Message(
                order_line(self.side, self.key, start, price),
                user_id=self.user,
                reply_to=self.key,
                message_id=f"{self.key}-{n}",
                application_headers={"sendertimestamp_in_ms": int(time.time() * 1000)},
            ),
            exchange="in",
            routing_key=self.side,
        )

    def drain(self) -> None:
        """Handle every frame already readable, without blocking."""
        while True:
            try:
                self.conn.drain_events(timeout=0)
            except TimeoutError:
                return

    def close(self) -> None:
        """Close the connection (its exclusive queue goes with it)."""
        with suppress(Exception):
            self.conn.close()


def bench_broker(sizes: Sequence[int], per_device: int, timeout_s: float) -> list[dict[str, Any]]:
    """Generation-1 fleets of each size against a served sandbox on our own RabbitMQ node."""
    if shutil.which("rabbitmq-server") is None:
        print("no rabbitmq-server: device connections not measured", file=sys.stderr)
        return []
    raise_fd_limit()
    rows = []
    with tempfile.TemporaryDirectory(prefix="sbxscale-rabbit-") as tmp:
        rabbit = OwnRabbit(Path(tmp))
        rabbit.start()
        try:
            for n in sizes:
                rows.append(broker_run(rabbit, Path(tmp), n, per_device, timeout_s))
                print(f"broker {n} devices done", file=sys.stderr, flush=True)
        finally:
            rabbit.stop()
    return rows


def broker_run(
    rabbit: OwnRabbit, tmp: Path, n: int, per_device: int, timeout_s: float
) -> dict[str, Any]:
    """One fleet of ``n`` devices: connect, trade, wait for every reply."""
    path = tmp / f"accounts-{n}.json"
    accounts_file(path, n)
    args = [
        "--amqp",
        f"amqp://guest:guest@127.0.0.1:{NODE_PORT}//",
        "--strict-accounts",
        str(path),
        "--broker-users",
        "on",
        "--rabbitmqctl",
        rabbit.ctl,
        "--seed",
        str(n),
    ]
    with served_sandbox(args) as (pid, _url):
        gc.collect()
        idle = proc_status(pid)
        began = time.perf_counter()
        devices: list[Device] = []
        try:
            for i in range(n):
                devices.append(Device(i, NODE_PORT))
        except Exception as exc:
            for d in devices:
                d.close()
            error = f"device {len(devices)} could not connect: {type(exc).__name__}: {exc}"
            print(error, file=sys.stderr, flush=True)
            return {"devices": n, "error": error}
        connect_s = time.perf_counter() - began
        selector = selectors.DefaultSelector()
        for d in devices:
            selector.register(d.conn.sock, selectors.EVENT_READ, d)
        start = (int(time.time() * 1000) // Q + 96) * Q  # tomorrow, a quarter hour
        trades = (n // 2) * per_device
        tick_total = trades * n
        cpu0 = proc_cpu_s(pid)
        beam = rabbit.beam_pid()
        beam0 = proc_cpu_s(beam) if beam else 0.0
        own0 = time.process_time()
        began = time.perf_counter()
        for k in range(per_device):
            for d in devices:
                if d.side == "ask":
                    d.place(start, k)
        for k in range(per_device):
            for d in devices:
                if d.side == "bid":
                    d.place(start, k)
        published_s = time.perf_counter() - began
        closed_done = ticks_done = None
        peak_rss = 0
        deadline = time.monotonic() + timeout_s
        last_sample = 0.0
        while time.monotonic() < deadline:
            for key, _ in selector.select(0.2):
                key.data.drain()
            # py-amqp reads whole frames only (a partial one stays buffered until the rest
            # arrives, which select reports), so the readable sockets are all to drain
            now = time.perf_counter()
            if now - last_sample > 0.5:
                peak_rss = max(peak_rss, proc_status(pid).get("VmRSS", 0))
                last_sample = now
            closed = sum(d.closed for d in devices)
            ticks = sum(d.ticks for d in devices)
            if closed_done is None and closed >= 2 * trades:
                closed_done = max(d.last_at for d in devices) - began
            if ticks >= tick_total:
                ticks_done = max(d.last_at for d in devices) - began
                break
        cpu = proc_cpu_s(pid) - cpu0
        beam_cpu = proc_cpu_s(beam) - beam0 if beam else None
        own_cpu = time.process_time() - own0
        busy = proc_status(pid)
        beam_status = proc_status(beam) if beam else {}
        latencies = [x for d in devices for x in d.latencies]
        row = {
            "devices": n,
            "orders": n * per_device,
            "trades": trades,
            "ticks_expected": tick_total,
            "ticks": sum(d.ticks for d in devices),
            "closed": sum(d.closed for d in devices),
            "cancels": sum(d.cancels for d in devices),
            "extra_ticks": sum(max(0, d.ticks - per_device * (n // 2)) for d in devices),
            "missing_ticks": sum(max(0, per_device * (n // 2) - d.ticks) for d in devices),
            "extra_closed": sum(max(0, d.closed - per_device) for d in devices),
            "connect_s": connect_s,
            "publish_s": published_s,
            "closed_done_s": closed_done,
            "ticks_done_s": ticks_done,
            "sandbox_cpu_s": cpu,
            "rabbit_cpu_s": beam_cpu,
            "devices_cpu_s": own_cpu,
            "latency_p50_ms": 1e3 * percentile(latencies, 50) if latencies else None,
            "latency_p99_ms": 1e3 * percentile(latencies, 99) if latencies else None,
            "sandbox_rss_idle_kib": idle.get("VmRSS"),
            "sandbox_rss_peak_kib": max(peak_rss, busy.get("VmRSS", 0)),
            "sandbox_threads": busy.get("Threads"),
            "rabbit_rss_kib": beam_status.get("VmRSS"),
        }
        for d in devices:
            selector.unregister(d.conn.sock)
            d.close()
        selector.close()
    print(json.dumps(row), file=sys.stderr, flush=True)
    return row


# --- 3. WebSocket fan-out ---------------------------------------------------------------------


class Subscriber:
    """One WebSocket subscriber (asyncio + wsproto): counts frames of the kind it watches."""

    def __init__(self, marker: bytes) -> None:
        self.marker = marker
        self.count = 0
        self.last_at = 0.0
        self.ready = asyncio.Event()
        self.changed = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self, host: str, port: int, path: str, token: str) -> None:
        """Connect, upgrade, and start reading in a task."""
        from wsproto import ConnectionType, WSConnection
        from wsproto.events import Request

        reader, writer = await asyncio.open_connection(host, port)
        self.writer = writer
        ws = WSConnection(ConnectionType.CLIENT)
        headers = [(b"authorization", f"Bearer {token}".encode())]
        writer.write(ws.send(Request(host=f"{host}:{port}", target=path, extra_headers=headers)))
        self.task = asyncio.ensure_future(self._read(reader, writer, ws))
        await asyncio.wait_for(self.ready.wait(), 60)

    async def _read(self, reader: asyncio.StreamReader, writer: Any, ws: Any) -> None:
        from wsproto.events import AcceptConnection, CloseConnection, Ping, TextMessage

        parts: list[str] = []
        while True:
            data = await reader.read(65536)
            if not data:
                return
            ws.receive_data(data)
            for event in ws.events():
                if isinstance(event, TextMessage):
                    parts.append(event.data)
                    if event.message_finished:
                        text = "".join(parts)
                        parts.clear()
                        if '"type":"control"' in text:
                            self.ready.set()
                        elif self.marker.decode() in text:
                            self.count += 1
                            self.last_at = time.perf_counter()
                            self.changed.set()
                elif isinstance(event, Ping):
                    writer.write(ws.send(event.response()))
                elif isinstance(event, (AcceptConnection,)):
                    pass
                elif isinstance(event, CloseConnection):
                    return

    def close(self) -> None:
        """Drop the connection."""
        if self.task is not None:
            self.task.cancel()
        if self.writer is not None:
            self.writer.close()


async def wait_all(subs: Sequence[Subscriber], at_least: int, timeout: float) -> bool:
    """Wait until every subscriber counted ``at_least`` frames."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(s.count >= at_least for s in subs):
            return True
        await asyncio.sleep(0.001)
    return False


def gen2_body(side: str, start: int, price: float) -> dict[str, Any]:
    """A generation-2 order request (sells with a baseline, so they match at once)."""
    from datetime import UTC, datetime

    def iso(ms: int) -> str:
        return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    body: dict[str, Any] = {
        "side": side,
        "power": 1000.0,
        "price": price,
        "delivery_start": iso(start),
        "delivery_end": iso(start + Q),
        "expiry_time": iso(start - 2 * Q),
        "location": {"location_id": None, "country_code": "DE"},
        "baseline": None,
    }
    if side == "sell":
        body["baseline"] = {
            "metering_id": "0b5c1a52-7e0a-4c8e-9f3f-2a6b1d4e5f60",
            "created_at": iso(start - 96 * Q),
            "reading_start": iso(start),
            "reading_end": iso(start + Q),
            "resolution": 900,
            "direction": "consumption",
            "quality": "estimated",
            "energy_product": "apparent",
            "unit_measured": "kWh",
            "data_points": [{iso(start): 0.25}],
        }
    return body


async def ws_run(pid: int, url: str, kind: str, n: int, trades: int) -> dict[str, Any]:
    """``n`` subscribers on one stream; ``trades`` trades; fan-out times."""
    import httpx

    host, port = url.split("//", 1)[1].rsplit(":", 1)
    marker = b'"type":"ticker"' if kind == "ticker" else b'"type":"orderbook"'
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        tokens = {}
        for who in ("seller", "buyer", "watcher"):
            got = await http.post(
                "/auth/oauth/v2/token",
                data={
                    "grant_type": "password",
                    "client_id": "glocalflexmarket_public_api",
                    "username": f"{who}@sbxscale.invalid",
                    "password": "p",
                },
            )
            got.raise_for_status()
            tokens[who] = got.json()["access_token"]
        idle = proc_status(pid)
        subs = [Subscriber(marker) for _ in range(n)]
        began = time.perf_counter()
        for chunk in range(0, n, 50):
            await asyncio.gather(
                *(
                    s.open(host, int(port), f"/api/v1/ws/{kind}/", tokens["watcher"])
                    for s in subs[chunk : chunk + 50]
                )
            )
        connect_s = time.perf_counter() - began
        await asyncio.sleep(0.5)  # the order book's first snapshot
        connected = proc_status(pid)
        start = (int(time.time() * 1000) // Q + 96) * Q
        last: list[float] = []
        median: list[float] = []
        cpu0 = proc_cpu_s(pid)
        for t in range(trades):
            base = [s.count for s in subs]
            seller = {"Authorization": f"Bearer {tokens['seller']}"}
            buyer = {"Authorization": f"Bearer {tokens['buyer']}"}
            if kind == "ticker":
                (await http.post("/api/v1/order/", json=gen2_body("sell", start, 0.1),
                                 headers=seller)).raise_for_status()  # fmt: skip
                sent = time.perf_counter()
                side, who = "buy", buyer
            else:
                sent = time.perf_counter()
                side, who = "sell", seller
            window = start if kind == "ticker" else start + t * Q
            answer = await http.post(
                "/api/v1/order/", json=gen2_body(side, window, 0.2), headers=who
            )
            answer.raise_for_status()
            ok = await wait_all_from(subs, base, 60)
            times = sorted(s.last_at - sent for s in subs)
            if ok:
                last.append(times[-1])
                median.append(times[len(times) // 2])
            await asyncio.sleep(0.2)  # let coalesced snapshots settle before the next
        cpu = proc_cpu_s(pid) - cpu0
        busy = proc_status(pid)
        for s in subs:
            s.close()
    return {
        "kind": kind,
        "subscribers": n,
        "trades": trades,
        "measured": len(last),
        "connect_s": connect_s,
        "last_ms": 1e3 * statistics.median(last) if last else None,
        "last_ms_all": [1e3 * x for x in last],
        "median_ms": 1e3 * statistics.median(median) if median else None,
        "sandbox_cpu_ms_per_trade": 1e3 * cpu / trades,
        "sandbox_rss_idle_kib": idle.get("VmRSS"),
        "sandbox_rss_kib": max(connected.get("VmRSS", 0), busy.get("VmRSS", 0)),
        "sandbox_threads": busy.get("Threads"),
    }


async def wait_all_from(subs: Sequence[Subscriber], base: Sequence[int], timeout: float) -> bool:
    """Wait until every subscriber counted a frame more than in ``base``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(s.count > b for s, b in zip(subs, base, strict=True)):
            return True
        await asyncio.sleep(0.0005)
    return False


def bench_ws(sizes: Sequence[int], trades: int) -> list[dict[str, Any]]:
    """Ticker and order book fan-out for each number of subscribers."""
    raise_fd_limit()
    rows = []
    for kind in ("ticker", "orderbook"):
        for n in sizes:
            with served_sandbox(["--amqp", "memory://", "--seed", str(n)]) as (pid, url):
                row = asyncio.run(ws_run(pid, url, kind, n, trades))
            print(json.dumps(row), file=sys.stderr, flush=True)
            rows.append(row)
    return rows


# --- the table --------------------------------------------------------------------------------


def growth(points: Sequence[tuple[float, float | None]]) -> list[str]:
    """Growth ratio of each point over the previous one (``-`` for the first)."""
    out = ["-"]
    for (_, prev), (_, cur) in itertools.pairwise(points):
        out.append("n/a" if not prev or cur is None else f"{cur / prev:.2f}x")
    return out


def exponent(points: Sequence[tuple[float, float | None]]) -> float | None:
    """Log-log slope of total cost vs size between the first and last point."""
    usable = [(x, y) for x, y in points if y]
    if len(usable) < 2:
        return None
    (x0, y0), (x1, y1) = usable[0], usable[-1]
    return math.log(y1 / y0) / math.log(x1 / x0)


def fmt(value: float | None, digits: int = 1) -> str:
    """A figure, or ``n/a``."""
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}"


def markdown(results: dict[str, list[dict[str, Any]]]) -> str:
    """The cost-growth tables (one per curve)."""
    lines: list[str] = []
    match = results.get("matching", [])
    if match:
        lines += [
            "Matching: CPU microseconds per incoming order (half crossing) against a resting"
            " book of the size shown; growth = cost per order at this size / at the previous"
            " size (1.00x = flat). Order book frame: CPU ms to build one `/ws/orderbook/`"
            " message (depth 20) over that book.",
            "",
            "| generation | resting | µs / order | growth per 10x book | order book frame ms |",
            "|---|--:|--:|--:|--:|",
        ]
        for gen in ("gen1", "gen2"):
            rows = [r for r in match if r["generation"] == gen]
            points = [(r["resting"], r["us_per_order"]) for r in rows]
            for r, g in zip(rows, growth(points), strict=True):
                snap = r.get("snapshot_ms")
                lines.append(
                    f"| {gen} | {r['resting']:,} | {r['us_per_order']:.1f} | {g} |"
                    f" {'-' if snap is None else fmt(snap, 2)} |"
                )
        lines.append("")
    broker = results.get("broker", [])
    if broker:
        lines += [
            "Device connections (generation 1, own RabbitMQ node): N devices, each its own"
            " broker login and exclusive reply queue; N/2 x k trades, each a closed order to"
            " both sides and a tick to all N devices. Growth = total at this N / at the"
            " previous N (10.0x = linear in N).",
            "",
            "| devices | orders | trades | ticks delivered | connect s | all closed orders s"
            " | all ticks s | sandbox CPU s | CPU growth | CPU ms / order | RabbitMQ CPU s"
            " | devices' CPU s | latency p50 / p99 ms | sandbox RSS MiB | sandbox threads"
            " | RabbitMQ RSS MiB |",
            "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for r in broker:
            if "error" in r:
                lines.append(f"| {r['devices']:,} | {r['error']} |" + " |" * 14)
        broker = [r for r in broker if "error" not in r]
        points = [(r["devices"], r["sandbox_cpu_s"]) for r in broker]
        for r, g in zip(broker, growth(points), strict=True):
            lines.append(
                f"| {r['devices']:,} | {r['orders']:,} | {r['trades']:,} |"
                f" {r['ticks']:,} / {r['ticks_expected']:,} | {fmt(r['connect_s'])} |"
                f" {fmt(r['closed_done_s'], 2)} | {fmt(r['ticks_done_s'], 2)} |"
                f" {fmt(r['sandbox_cpu_s'], 2)} | {g} |"
                f" {fmt(1e3 * r['sandbox_cpu_s'] / r['orders'], 2)} |"
                f" {fmt(r.get('rabbit_cpu_s'), 2)} | {fmt(r.get('devices_cpu_s'), 2)} |"
                f" {fmt(r['latency_p50_ms'])} / {fmt(r['latency_p99_ms'])} |"
                f" {fmt((r['sandbox_rss_peak_kib'] or 0) / 1024)} | {r['sandbox_threads']} |"
                f" {fmt((r['rabbit_rss_kib'] or 0) / 1024)} |"
            )
        lines.append("")
    ws = results.get("ws", [])
    if ws:
        lines += [
            "WebSocket fan-out (generation 2, served sandbox, each subscriber its own TCP"
            " connection): time from sending the order until the last (and the median)"
            " subscriber has the frame, median of the trades; growth = last-subscriber time"
            " at this S / at the previous S (10.0x = linear in S).",
            "",
            "| stream | subscribers | last ms | growth | median ms | sandbox CPU ms / trade"
            " | sandbox RSS MiB (idle -> subscribed) | sandbox threads |",
            "|---|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for kind in ("ticker", "orderbook"):
            rows = [r for r in ws if r["kind"] == kind]
            points = [(r["subscribers"], r["last_ms"]) for r in rows]
            for r, g in zip(rows, growth(points), strict=True):
                lines.append(
                    f"| {kind} | {r['subscribers']:,} | {fmt(r['last_ms'])} | {g} |"
                    f" {fmt(r['median_ms'])} | {fmt(r['sandbox_cpu_ms_per_trade'])} |"
                    f" {fmt((r['sandbox_rss_idle_kib'] or 0) / 1024)} ->"
                    f" {fmt((r['sandbox_rss_kib'] or 0) / 1024)} | {r['sandbox_threads']} |"
                )
        lines.append("")
    slopes = []
    if broker:
        e = exponent([(r["devices"], r["sandbox_cpu_s"]) for r in broker])
        slopes.append(f"sandbox CPU vs devices: N^{fmt(e, 2)}")
        e = exponent([(r["devices"], r.get("rabbit_cpu_s")) for r in broker])
        slopes.append(f"RabbitMQ CPU vs devices: N^{fmt(e, 2)}")
        e = exponent([(r["devices"], r["ticks_done_s"]) for r in broker])
        slopes.append(f"time to the last tick vs devices: N^{fmt(e, 2)}")
    for kind in ("ticker", "orderbook"):
        rows = [r for r in ws if r["kind"] == kind]
        if rows:
            e = exponent([(r["subscribers"], r["sandbox_cpu_ms_per_trade"]) for r in rows])
            slopes.append(f"{kind} sandbox CPU per trade vs subscribers: S^{fmt(e, 2)}")
    if slopes:
        lines += ["Log-log slopes, first to last size (1 = linear): " + "; ".join(slopes), ""]
    return "\n".join(lines)


def _positive(values: Sequence[float | None]) -> list[float]:
    """Values for a log axis: zero or missing (below the CPU clock's 10 ms) drawn as a gap."""
    return [v if v else float("nan") for v in values]


def plot(
    results: dict[str, list[dict[str, Any]]],
    out: str,
    before: dict[str, list[dict[str, Any]]] | None = None,
) -> str | None:
    """Draw the three curves (log-log), ``before`` dashed if given; an error message or None."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        return f"no plot: {exc}"
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.8))
    runs = [("", "-", results)] + ([(" (before)", "--", before)] if before else [])
    for suffix, style, data in runs:
        for gen, colour in (("gen1", "tab:blue"), ("gen2", "tab:orange")):
            rows = [r for r in data.get("matching", []) if r["generation"] == gen]
            if rows:
                axes[0].plot([r["resting"] for r in rows], [r["us_per_order"] for r in rows],
                             "o" + style, color=colour, label=gen + suffix)  # fmt: skip
        broker = [r for r in data.get("broker", []) if "error" not in r]
        if broker:
            xs = [r["devices"] for r in broker]
            for key, colour, label in (
                ("sandbox_cpu_s", "tab:blue", "sandbox CPU s"),
                ("rabbit_cpu_s", "tab:green", "RabbitMQ CPU s"),
                ("ticks_done_s", "tab:red", "wall s to the last tick"),
            ):
                ys = _positive([r.get(key) for r in broker])
                if any(y == y for y in ys):  # not all NaN
                    axes[1].plot(xs, ys, "o" + style, color=colour, label=label + suffix)
        for kind, colour in (("ticker", "tab:blue"), ("orderbook", "tab:orange")):
            rows = [r for r in data.get("ws", []) if r["kind"] == kind and r["last_ms"]]
            if rows:
                axes[2].plot([r["subscribers"] for r in rows], [r["last_ms"] for r in rows],
                             "o" + style, color=colour,
                             label=f"{kind}: last subscriber{suffix}")  # fmt: skip
    axes[0].set(xscale="log", yscale="log", xlabel="resting orders", ylabel="CPU µs per order",
                title="matching: cost per order")  # fmt: skip
    axes[1].set(xscale="log", yscale="log", xlabel="device connections (gen 1)",
                ylabel="seconds", title="served sandbox: ticks to all N")  # fmt: skip
    axes[2].set(xscale="log", yscale="log", xlabel="WebSocket subscribers", ylabel="ms",
                title="fan-out of one trade (gen 2)")  # fmt: skip
    for ax in axes:
        ax.legend(fontsize=8)
    fig.tight_layout()
    Path(out).parent.mkdir(exist_ok=True)
    fig.savefig(out, dpi=110)
    return None


def ints(text: str) -> list[int]:
    """``10,100`` -> ``[10, 100]``."""
    return [int(x) for x in text.split(",") if x]


def main(argv: Sequence[str] | None = None) -> int:
    """Measure the curves, print the tables, write JSON and the plot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--resting", type=ints, default=ints("10,100,1000,10000,100000"))
    parser.add_argument("--orders", type=int, default=5000, help="incoming orders timed")
    parser.add_argument("--connections", type=ints, default=ints("10,100,1000"))
    parser.add_argument("--orders-per-device", type=int, default=2)
    parser.add_argument("--subscribers", type=ints, default=ints("10,100,1000"))
    parser.add_argument("--trades", type=int, default=5, help="trades per fan-out size")
    parser.add_argument("--timeout", type=float, default=600.0, help="per broker run, s")
    parser.add_argument("--only", default="matching,broker,ws")
    parser.add_argument("--plot", default=str(ROOT / "docs" / "sandbox_scale.png"))
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument(
        "--before", metavar="JSON", nargs="*", default=(),
        help="--json files of an earlier run, drawn dashed on the plot",
    )  # fmt: skip
    parser.add_argument(
        "--plot-only", metavar="JSON", default=None,
        help="draw the plot from this --json file without measuring",
    )  # fmt: skip
    add_json_option(parser)
    args = parser.parse_args(argv)
    before: dict[str, list[dict[str, Any]]] = {}
    for path in args.before:
        before.update(json.loads(Path(path).read_text())["extra"]["results"])
    if args.plot_only:
        drawn = json.loads(Path(args.plot_only).read_text())["extra"]["results"]
        error = plot(drawn, args.plot, before or None)
        print(error or f"wrote {args.plot}")
        return 0 if error is None else 1
    parts = set(args.only.split(","))
    results: dict[str, list[dict[str, Any]]] = {}
    if "matching" in parts:
        results["matching"] = bench_matching(args.resting, args.orders)
    if "broker" in parts:
        results["broker"] = bench_broker(args.connections, args.orders_per_device, args.timeout)
    if "ws" in parts:
        results["ws"] = bench_ws(args.subscribers, args.trades)

    table = markdown(results)
    print(f"sandbox at fleet scale, Python {sys.version.split()[0]}\n")
    print(table)
    plot_error = None if args.no_plot else plot(results, args.plot, before or None)
    if plot_error:
        print(plot_error, file=sys.stderr)

    report = Report("bench_sandbox_scale", params=vars(args) | {"json": None})
    match = [r for r in results.get("matching", []) if r["generation"] == "gen2"]
    if match:
        big = max(match, key=lambda r: r["resting"])
        report.item("sbx_matching", f"sandbox matching, {big['resting']:,} resting (gen2)")
        report.add("sbx_matching", FLXTRD, "MatchingEngine.submit", "µs/order", big["rounds"],
                   higher_is_better=False)  # fmt: skip
        report.na("sbx_matching", OLD, "0.2.9 has no sandbox")
        report.na("sbx_matching", RAW, "the linear scan is bench_matching's column")
    broker = [r for r in results.get("broker", []) if r.get("ticks_done_s")]
    if broker:
        big = max(broker, key=lambda r: r["devices"])
        report.item("sbx_devices", f"served sandbox, {big['devices']:,} gen-1 devices")
        report.add("sbx_devices", FLXTRD, "orders until every tick arrived", "orders/s",
                   [big["orders"] / big["ticks_done_s"]])  # fmt: skip
        report.na("sbx_devices", OLD, "0.2.9 has no sandbox")
        report.na("sbx_devices", RAW, "no other market to compare")
    ws = [r for r in results.get("ws", []) if r["kind"] == "ticker" and r["last_ms"]]
    if ws:
        big = max(ws, key=lambda r: r["subscribers"])
        report.item("sbx_fanout", f"ticker fan-out to {big['subscribers']:,} subscribers")
        report.add("sbx_fanout", FLXTRD, "trade to last subscriber", "ms", big["last_ms_all"],
                   higher_is_better=False)  # fmt: skip
        report.na("sbx_fanout", OLD, "0.2.9 has no sandbox")
        report.na("sbx_fanout", RAW, "no other market to compare")
    report.extra["results"] = results
    report.extra["markdown"] = table
    report.extra["intro"] = INTRO
    report.extra["findings"] = FINDINGS
    report.extra["plot"] = None if (args.no_plot or plot_error) else args.plot
    report.write(args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
