"""Peak resident memory of a client that receives 10^6 ticks and never empties its buffer.

Each client runs in its own process, connects to the real RabbitMQ and binds its reply queue
(named after its application key) to a fresh ``ticker-out``-like exchange; then this script
publishes ``--count`` tick messages to that queue and the client reads them the way a 0.2.9 user
does: ``sleep(0.2)`` then ``check_market_responses()``, over and over, **never** calling
``empty_market_responses()``. When every tick has arrived the client reports its peak resident
memory (``VmHWM`` from ``/proc/self/status``; ``ru_maxrss`` elsewhere) and its RSS every
``count / 10`` messages.

- ``flxtrd``: ``AmpqAPI`` (kombu/py-amqp); its buffer is a ``deque(maxlen=10_000)``, so the
  oldest ticks are dropped (and counted in ``stats.dropped``) once it is full;
- ``0.2.9``: ``FlexAPIClient`` of flxtrd 0.2.9 in ``.bench-venv`` (pika; forced TLS patched off in
  the benchmark only); its ``callback_responses`` is a list that grows with every message;
- ``raw``: a bare kombu consumer that ``json.loads`` each body and keeps nothing (the floor of
  a Python process with kombu connected and reading).

Publishing: every tick is the same pre-encoded message (JSON body, ``sendertimestamp_in_ms``
header); its three AMQP frames are built once by py-amqp's own frame writer and written to the
socket a thousand at a time (pipelined, no confirms). The publisher stays at most ``--lead``
messages ahead of what the client has read, so RabbitMQ never holds more than that. One run per
client (memory does not jitter like time does); the figures are in MiB.

    .venv/bin/python benchmarks/bench_memory.py [--url amqp://guest:guest@127.0.0.1:5672//]
        [--count 1000000] [--timeout 300] [--skip-029] [--skip-raw] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from _harness import (
    FLXTRD,
    OLD,
    RAW,
    Report,
    add_json_option,
    ensure_old_venv,
    old_env,
    peak_rss_kib,
    rss_kib,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ITEM = "memory_peak"
TICK = {
    "msg_type": "tick",
    "trade_time": "2026-12-01T09:00:00.137Z",
    "price": 12.5,
    "start_time": "2026-12-01T10:00:00.000Z",
    "energy": 625.0,
}
BATCH = 1000


# --- the clients (own processes) -----------------------------------------------------------


def _emit(payload: dict[str, Any]) -> None:
    print(json.dumps(payload), flush=True)


def client_flxtrd(url: str, exchange: str, key: str, count: int, timeout: float) -> None:
    """flxtrd's AmpqAPI: read with sleep + check_market_responses, never empty the buffer."""
    sys.path.insert(0, str(ROOT))
    from flxtrd._amqp._api import AmpqAPI

    parts = urlsplit(url)
    api = AmpqAPI(
        url,
        parts.username or "guest",
        parts.password or "guest",
        key,
        exchange=f"{exchange}-in",
        reply_exchange=exchange,
        declare_exchanges=True,
    )
    api.connect()
    start_rss = rss_kib()
    print("READY", flush=True)
    deadline = time.monotonic() + timeout
    samples: list[tuple[int, int | None]] = []
    step = next_sample = max(1, count // 10)
    while True:
        api.sleep(0.2)
        api.check_market_responses()
        received = api.stats.received
        print(f"PROGRESS {received}", flush=True)
        if received >= next_sample:
            samples.append((received, rss_kib()))
            next_sample = (received // step + 1) * step
        if received >= count or time.monotonic() > deadline:
            break
    stats = api.stats
    _emit(
        {
            "received": received,
            "buffered": len(api.check_market_responses()),
            "dropped": stats.dropped,
            "start_rss_kib": start_rss,
            "peak_rss_kib": peak_rss_kib(),
            "samples": samples,
        }
    )
    api.close_connection()


def client_raw(url: str, exchange: str, key: str, count: int, timeout: float) -> None:
    """A bare kombu consumer: json.loads every body, keep nothing."""
    from kombu import Connection

    received = 0

    def on_message(message: Any) -> None:
        nonlocal received
        json.loads(message.body)
        received += 1

    with Connection(url) as conn:
        channel = conn.channel()
        channel.queue_declare(key, exclusive=True, auto_delete=True)
        channel.queue_bind(key, exchange, key)
        channel.basic_consume(key, no_ack=True, callback=on_message)
        start_rss = rss_kib()
        print("READY", flush=True)
        deadline = time.monotonic() + timeout
        samples: list[tuple[int, int | None]] = []
        step = next_sample = max(1, count // 10)
        while True:
            poll_until = time.monotonic() + 0.2
            while time.monotonic() < poll_until:
                try:
                    conn.drain_events(timeout=max(0.0, poll_until - time.monotonic()))
                except TimeoutError:
                    break
            print(f"PROGRESS {received}", flush=True)
            if received >= next_sample:
                samples.append((received, rss_kib()))
                next_sample = (received // step + 1) * step
            if received >= count or time.monotonic() > deadline:
                break
        _emit(
            {
                "received": received,
                "buffered": 0,
                "start_rss_kib": start_rss,
                "peak_rss_kib": peak_rss_kib(),
                "samples": samples,
            }
        )


# --- the publisher (this process) -----------------------------------------------------------


class Publisher:
    """Writes pre-built publish frames for one tick straight to a py-amqp connection."""

    def __init__(self, url: str) -> None:
        from kombu import Connection

        self.conn = Connection(url)
        self.channel = self.conn.channel()
        self.raw = self.conn.connection  # the py-amqp Connection under kombu

    def frames(self, exchange: str, routing_key: str) -> bytes:
        """One tick's three AMQP frames, exactly as py-amqp's frame writer makes them."""
        from amqp import Message, spec
        from amqp.method_framing import frame_writer
        from amqp.serialization import dumps

        written: list[bytes] = []

        class Capture:
            def write(self, data: Any) -> None:
                written.append(bytes(data))

        message = Message(
            json.dumps(TICK).encode(),
            content_type="application/json",
            application_headers={"sendertimestamp_in_ms": int(time.time() * 1000)},
        )
        write = frame_writer(self.raw, Capture())
        args = dumps("Bssbb", (0, exchange, routing_key, False, False))
        write(1, self.channel.channel_id, spec.Basic.Publish, args, message)
        return b"".join(written)

    def publish(self, frames: bytes, count: int, lead: int, progress: Any, alive: Any) -> float:
        """Write ``count`` messages in batches, at most ``lead`` ahead of the reader; seconds."""
        chunk = frames * BATCH
        write = self.raw.transport.write
        sent = 0
        t0 = time.perf_counter()
        while sent < count:
            while sent - progress() > lead and alive():
                time.sleep(0.01)
            if not alive():
                break
            k = min(BATCH, count - sent)
            write(chunk if k == BATCH else frames * k)
            sent += k
        self.channel.basic_qos(0, 0, False)  # a round trip: the broker has read every frame
        return time.perf_counter() - t0

    def close(self) -> None:
        """Close the connection."""
        self.conn.release()


class Child:
    """A client process: waits for READY, follows PROGRESS lines, keeps the final JSON."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd="/",
            env=env,
            bufsize=1,
        )
        self.received = 0
        self.result: dict[str, Any] | None = None
        self.stderr_tail = ""
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        if not self.ready.wait(60):
            self.proc.kill()
            raise SystemExit(f"client did not start: {argv}\n{self.stderr_tail}")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("READY"):
                self.ready.set()
            elif line.startswith("PROGRESS "):
                self.received = int(line.split()[1])
            elif line.startswith("{"):
                self.result = json.loads(line)
        self.ready.set()

    def _read_stderr(self) -> None:  # 0.2.9 logs every connection to stderr: keep the tail only
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr_tail = (self.stderr_tail + line)[-3000:]

    def alive(self) -> bool:
        """True while the process runs."""
        return self.proc.poll() is None

    def wait(self) -> dict[str, Any]:
        """The client's final report."""
        code = self.proc.wait()
        self.thread.join(10)
        if code != 0 or self.result is None:
            raise SystemExit(f"client failed (exit {code}):\n{self.stderr_tail}")
        return self.result


def mib(kib: float | None) -> float:
    return 0.0 if kib is None else kib / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default="amqp://guest:guest@127.0.0.1:5672//")
    parser.add_argument("--count", type=int, default=1_000_000, help="ticks per client")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per client")
    parser.add_argument("--lead", type=int, default=200_000, help="most unread ticks queued")
    parser.add_argument("--skip-029", action="store_true")
    parser.add_argument("--skip-raw", action="store_true")
    add_json_option(parser)
    args = parser.parse_args(argv)

    tag = uuid.uuid4().hex[:8]
    exchange = f"bench-mem-out-{tag}"
    parts = urlsplit(args.url)
    here = [sys.executable, __file__]
    timing = [str(args.count), str(args.timeout)]
    clients: list[tuple[str, str, list[str], dict[str, str] | None]] = [
        (FLXTRD, "AmpqAPI", [*here, "--client", "flxtrd", args.url, exchange], None),
    ]
    if not args.skip_029:
        old = str(ensure_old_venv())
        host, port = parts.hostname or "127.0.0.1", str(parts.port or 5672)
        clients.append(
            (OLD, "FlexAPIClient", [old, str(HERE / "_old.py"), "memory", host, port, exchange],
             old_env())
        )  # fmt: skip
    if not args.skip_raw:
        clients.append((RAW, "kombu consumer, json.loads", [*here, "--client", "raw", args.url,
                        exchange], None))  # fmt: skip

    publisher = Publisher(args.url)
    channel = publisher.channel
    for name in (exchange, f"{exchange}-in"):
        channel.exchange_declare(name, "direct", durable=True, auto_delete=False)
    results: dict[str, dict[str, Any]] = {}
    labels: dict[str, str] = {}
    try:
        for contender, label, argv_, env in clients:
            key = f"bench-mem-{tag}-{contender.replace('.', '')}"
            argv_ = [*argv_, key, *timing]
            print(f"{contender}: receiving {args.count:,} ticks ...", file=sys.stderr, flush=True)
            child = Child(argv_, env)
            t0 = time.perf_counter()
            publish_s = publisher.publish(
                publisher.frames(exchange, key),
                args.count,
                args.lead,
                lambda c=child: c.received,
                child.alive,
            )
            result = child.wait()
            result["publish_s"] = publish_s
            result["elapsed_s"] = time.perf_counter() - t0
            results[contender] = result
            labels[contender] = label
            print(
                f"{contender}: peak RSS {mib(result['peak_rss_kib']):.1f} MiB, received"
                f" {result['received']:,} in {result['elapsed_s']:.1f} s",
                file=sys.stderr,
                flush=True,
            )
    finally:
        for name in (exchange, f"{exchange}-in"):
            channel.exchange_delete(name)
        publisher.close()

    report = Report("bench_memory")
    report.item(ITEM, f"peak RSS receiving {args.count:,} ticks, buffer never emptied")
    report.params = {"count": args.count, "lead": args.lead, "url": parts.hostname}
    for contender, result in results.items():
        note = ""
        if result["received"] < args.count:
            note = f"timed out after {result['received']:,} ticks"
        report.add(
            ITEM,
            contender,
            labels[contender],
            "MiB",
            [mib(result["peak_rss_kib"])],
            higher_is_better=False,
            note=note,
        )
    report.extra["runs"] = results
    report.write(args.json)

    print(
        f"\npeak resident memory of a client receiving {args.count:,} ticks from RabbitMQ "
        f"({parts.hostname}:{parts.port or 5672}), never emptying its buffer; one run each\n"
    )
    print(
        f"| {'client':<34} | {'received':>9} | {'buffered':>9} | {'RSS at start':>12} |"
        f" {'peak RSS':>9} | {'ticks/s':>8} |"
    )
    print(f"|{'-' * 36}|{'-' * 11}|{'-' * 11}|{'-' * 14}|{'-' * 11}|{'-' * 10}|")
    for contender, result in results.items():
        name = f"{contender}: {labels[contender]}"
        rate = result["received"] / result["elapsed_s"]
        print(
            f"| {name:<34} | {result['received']:>9,} | {result['buffered']:>9,} |"
            f" {mib(result['start_rss_kib']):>8.1f} MiB | {mib(result['peak_rss_kib']):>5.1f} MiB"
            f" | {rate:>8,.0f} |"
        )
    print("\nRSS (MiB) as the ticks arrive (ticks received: RSS):")
    for contender, result in results.items():
        curve = ", ".join(f"{n // 1000:,}k: {mib(rss):.0f}" for n, rss in result["samples"])
        print(f"  {contender:<7} {curve}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        _, _, kind, url_, exchange_, key_, count_, timeout_ = sys.argv
        run = client_flxtrd if kind == "flxtrd" else client_raw
        run(url_, exchange_, key_, int(count_), float(timeout_))
    else:
        sys.exit(main())
