"""Order -> closed-order round trip through the served sandbox on RabbitMQ (a script, not a test).

Starts ``python -m flxtrd sandbox`` as its own process (in a fresh RabbitMQ virtual host when
``rabbitmqctl`` works, so it meets no other sandbox; the vhost is deleted afterwards), logs two
devices in over REST and connects them as a market client would (``amqp://userId:token@...``,
the broker users the sandbox provisions; without ``rabbitmqctl`` they use the ``--url`` login).
Then, per trade: the seller's ask is sent (confirmed, it rests), and the clock starts when the
buyer publishes a crossing bid (``AmpqAPI.send_order``, publisher-confirmed); it stops when the
buyer has consumed its ``bid_closed_order``. So one sample is: client publish -> RabbitMQ ->
worker -> matching engine -> reply publish -> RabbitMQ -> reply consumed and decoded.

The table shows percentiles over the measured trades (after a warm-up) and, for context, the
seller's ask (publish -> confirm, no reply) in the same run.

    .venv/bin/python benchmarks/bench_roundtrip.py [--url amqp://guest:guest@127.0.0.1:5672//]
        [-n 2000] [--warmup 200]
"""

from __future__ import annotations

import argparse
import queue
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flxtrd._amqp import AmpqAPI
from flxtrd._line_protocol import OrderLine
from flxtrd._retry import RetryPolicy

HOUR_MS = 3_600_000
TARGET_P50_MS = 2.0


def rabbitmqctl(*args: str) -> None:
    """Run one rabbitmqctl command quietly (raises on failure)."""
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


class Vhost:
    """A throw-away virtual host (when rabbitmqctl works), else the URL's own."""

    def __init__(self, url: str) -> None:
        self.name: str | None = None
        self.url = url
        if shutil.which("rabbitmqctl") is None:
            return
        name = f"flxtrd-bench-{uuid.uuid4().hex[:8]}"
        try:
            rabbitmqctl("add_vhost", name)
            user = urlsplit(url).username or "guest"
            rabbitmqctl("set_permissions", "-p", name, user, ".*", ".*", ".*")
        except (OSError, subprocess.SubprocessError):
            return
        self.name = name
        parts = urlsplit(url)
        self.url = urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))

    def delete(self) -> None:
        """Delete the virtual host if this script made it."""
        if self.name is not None:
            rabbitmqctl("delete_vhost", self.name)


class ServedSandbox:
    """``python -m flxtrd sandbox`` in a subprocess, until stopped with SIGTERM."""

    def __init__(self, amqp_url: str, broker_users: bool) -> None:
        argv = [sys.executable, "-m", "flxtrd", "sandbox", "--http", "127.0.0.1:0",
                "--amqp", amqp_url, "--broker-users", "on" if broker_users else "off"]  # fmt: skip
        self.process = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1
        )
        lines: queue.Queue[str | None] = queue.Queue()

        def read() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=read, daemon=True).start()
        while True:
            line = lines.get(timeout=60)
            if line is None:
                raise SystemExit("the served sandbox did not start")
            found = re.search(r"REST \+ WebSocket (https?://\S+?),", line)
            if found:
                self.http_url = found.group(1)
                return

    def stop(self) -> int:
        """SIGTERM the sandbox and return its exit code."""
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(30)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return code


def device(http_url: str, amqp_url: str, email: str, provisioned: bool) -> AmpqAPI:
    """Log in over REST and connect the first device as a market client does."""
    with httpx.Client(base_url=http_url, timeout=60) as http:
        response = http.post("/users/login", data={"email": email, "password": "bench"})
        response.raise_for_status()
    body = response.json()
    location = body["locations"][0]
    where = urlsplit(amqp_url)
    if provisioned:
        netloc = f"{body['userId']}:{location['token']}@{where.hostname}:{where.port or 5672}"
        url = urlunsplit((where.scheme, netloc, where.path or "//", "", ""))
    else:
        url = amqp_url
    api = AmpqAPI(
        url, body["userId"], location["token"], location["_id"], declare_exchanges=False,
        retry_policy=RetryPolicy(max_retries=0),
    )  # fmt: skip
    api.connect()
    return api


def percentile(sorted_ms: list[float], q: float) -> float:
    """The ``q`` quantile of sorted samples (nearest rank)."""
    index = min(len(sorted_ms) - 1, max(0, round(q * (len(sorted_ms) - 1))))
    return sorted_ms[index]


def row(name: str, samples_ms: list[float]) -> str:
    """One table row: n, p50, p90, p99, max, mean."""
    s = sorted(samples_ms)
    cells = [percentile(s, q) for q in (0.5, 0.9, 0.99)] + [s[-1], statistics.fmean(s)]
    return f"| {name:<44} | {len(s):>6} | " + " | ".join(f"{c:>7.3f}" for c in cells) + " |"


def main() -> int:
    """Run the benchmark; exit 1 if the p50 misses the target."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="amqp://guest:guest@127.0.0.1:5672//")
    parser.add_argument("-n", type=int, default=2000, help="measured trades (default 2000)")
    parser.add_argument("--warmup", type=int, default=200, help="unmeasured first trades")
    args = parser.parse_args()
    if args.n < 1000:
        parser.error("measure at least 1000 trades")

    vhost = Vhost(args.url)
    provisioned = vhost.name is not None
    served = ServedSandbox(vhost.url, broker_users=provisioned)
    seller = buyer = None
    try:
        seller = device(served.http_url, vhost.url, "seller@bench.example", provisioned)
        buyer = device(served.http_url, vhost.url, "buyer@bench.example", provisioned)
        start_ms = (time.time_ns() // 1_000_000 // HOUR_MS + 2) * HOUR_MS

        def order(side: str, key: str, price: float) -> OrderLine:
            return OrderLine(
                side=side, application_key=key, starttime=start_ms, wattage=2500.0,
                runtime=900_000, totalenergy=625.0, price=price,
                expirationtime=start_ms - HOUR_MS // 2,
            )  # fmt: skip

        ask_line = order("ask", seller.application_key, 10.0)
        bid_line = order("bid", buyer.application_key, 12.0)
        roundtrip: list[float] = []
        ask_confirm: list[float] = []
        began = time.perf_counter()
        for i in range(args.warmup + args.n):
            t0 = time.perf_counter()
            seller.send_order(ask_line)
            t1 = time.perf_counter()
            buyer.send_order(bid_line)
            done = None
            for message in buyer.market_messages(timeout=5):
                if message.msg_type == "bid_closed_order":
                    done = time.perf_counter()
                    break
            if done is None:
                raise SystemExit(f"trade {i}: no bid_closed_order within 5 s")
            if i >= args.warmup:
                roundtrip.append((done - t1) * 1000)
                ask_confirm.append((t1 - t0) * 1000)
            buyer.empty_market_responses()
            seller.check_market_responses()
            seller.empty_market_responses()
        elapsed = time.perf_counter() - began
    finally:
        for api in (seller, buyer):
            if api is not None:
                api.close_connection()
        code = served.stop()
        vhost.delete()

    login = "userId/token (provisioned)" if provisioned else "the --url login"
    print(
        f"\nserved sandbox on RabbitMQ ({vhost.url.rsplit('@', 1)[-1]}), devices log in with"
        f" {login}; {args.n} measured trades after {args.warmup} warm-up,"
        f" {(args.warmup + args.n) / elapsed:,.0f} trades/s sequential; sandbox exit code {code}\n"
    )
    print(f"| {'latency, ms':<44} | {'n':>6} | {'p50':>7} | {'p90':>7} | {'p99':>7} |"
          f" {'max':>7} | {'mean':>7} |")  # fmt: skip
    print(f"|{'-' * 46}|{'-' * 8}|" + "|".join("-" * 9 for _ in range(5)) + "|")
    print(row("bid publish -> bid_closed_order consumed", roundtrip))
    print(row("ask publish -> confirm (rests, no reply)", ask_confirm))
    p50 = percentile(sorted(roundtrip), 0.5)
    verdict = "meets" if p50 <= TARGET_P50_MS else "MISSES"
    print(f"\nround-trip p50 {p50:.3f} ms {verdict} the target p50 <= {TARGET_P50_MS} ms")
    return 0 if p50 <= TARGET_P50_MS else 1


if __name__ == "__main__":
    sys.exit(main())
