"""Side-by-side AMQP publish benchmark against a real RabbitMQ (not a test; run it as a script).

Cases, each publishing N orders (the same line-protocol order, fresh message_id and
``sendertimestamp_in_ms`` per message, ``mandatory``, properties ``user_id`` / ``reply_to``):

- ``flxtrd send_order``: ``AmpqAPI.send_order`` per order, each confirmed before the next;
- ``kombu confirmed``: raw ``kombu.Producer.publish`` with ``confirm_publish=True`` (the
  baseline for per-order confirmed sends, target ratio >= 1.0);
- ``flxtrd send_orders``: ``AmpqAPI.send_orders`` on all N, pipelined confirms, all confirmed;
- ``kombu unconfirmed``: raw ``kombu.Producer.publish`` without confirms (the ceiling; target
  ratio of ``send_orders`` >= 0.8);
- ``flxtrd 0.2.9 send_order``: ``FlexAPIClient.send_order`` of flxtrd 0.2.9 (pika, no confirms),
  installed into ``.bench-venv`` by this script; its forced TLS is patched off here only.

Each target runs paired with its baseline on two open connections, in alternating chunks (250
orders for the per-order pair, N/5 for the batch pair; who goes first alternates), so load that
comes and goes on the machine hits both alike. Rounds are interleaved (the step order rotates
each round); every run's messages are counted in the sink queue afterwards. The table shows the
median rate, the min-max range over rounds and the ratios of medians.

    .venv/bin/python benchmarks/bench_amqp.py [--url amqp://guest:guest@127.0.0.1:5672//]
        [-n 5000] [--rounds 5] [--skip-029]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kombu import Connection, Exchange, Producer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flxtrd._amqp import AmpqAPI
from flxtrd._line_protocol import encode_order_line
from flxtrd._types import Flexibility, MarketOrder, OrderType

ROOT = Path(__file__).resolve().parents[1]
BENCH_VENV = ROOT / ".bench-venv"
OLD = "flxtrd 0.2.9 send_order"


def make_order() -> MarketOrder:
    now = int(time.time() * 1000)
    flex = Flexibility(
        wattage=2500.0, starttime=now + 3_600_000, duration=900_000, expirationtime=now + 1_800_000
    )
    return MarketOrder(type=OrderType.ASK, price=10.0, flexibility=flex)


class Setup:
    """Unique exchanges and a bounded sink queue bound to ``ask``/``bid``."""

    def __init__(self, url: str) -> None:
        self.url = url
        tag = uuid.uuid4().hex[:8]
        self.exchange = f"bench-in-{tag}"
        self.reply_exchange = f"bench-out-{tag}"
        self.sink = f"bench-sink-{tag}"
        self.key = f"bench-dev-{tag}"
        self.conn = Connection(url)
        ch = self.channel = self.conn.channel()
        for name in (self.exchange, self.reply_exchange):
            ch.exchange_declare(name, "direct", durable=True, auto_delete=False)
        ch.queue_declare(self.sink, auto_delete=False, arguments={"x-max-length": 100_000})
        for side in ("ask", "bid"):
            ch.queue_bind(self.sink, self.exchange, side)

    def purge(self) -> None:
        """Empty the sink queue between runs."""
        self.channel.queue_purge(self.sink)

    def expect(self, count: int, case: str) -> None:
        """Check the run delivered ``count`` messages (waits for unconfirmed ones to land)."""
        deadline = time.monotonic() + 30
        while True:
            got = self.channel.queue_declare(self.sink, passive=True).message_count
            if got == count:
                return
            if time.monotonic() > deadline:
                raise SystemExit(f"{case}: {got} messages arrived, expected {count}")
            time.sleep(0.05)

    def close(self) -> None:
        """Delete what the benchmark declared."""
        ch = self.channel
        ch.queue_delete(self.sink)
        for name in (self.exchange, self.reply_exchange):
            ch.exchange_delete(name)
        self.conn.release()


def flxtrd_api(s: Setup) -> AmpqAPI:
    return AmpqAPI(
        s.url,
        "guest",
        "guest",
        s.key,
        exchange=s.exchange,
        reply_exchange=s.reply_exchange,
        declare_exchanges=True,
    )


#: A runner publishes k orders; each is opened (and warmed up with one order) per round.
Runner = Callable[[int], None]


def flxtrd_single(api: AmpqAPI) -> Runner:
    order = make_order()
    api.send_order(order)  # warm-up

    def run(k: int) -> None:
        for _ in range(k):
            api.send_order(order)

    return run


def flxtrd_batch(api: AmpqAPI) -> Runner:
    order = make_order()
    api.send_order(order)  # warm-up

    def run(k: int) -> None:
        outcomes = api.send_orders([order] * k)
        if not all(o.ok for o in outcomes):
            raise SystemExit("send_orders: not every order was confirmed")

    return run


def kombu_runner(s: Setup, conn: Connection) -> Runner:
    body = encode_order_line(make_order().to_order_line(s.key))
    producer = Producer(
        conn.channel(),
        exchange=Exchange(s.exchange, "direct", durable=True),
        routing_key="ask",
        auto_declare=False,
    )

    def publish() -> None:
        producer.publish(
            body,
            mandatory=True,
            content_type="text/plain",
            content_encoding="utf-8",
            message_id=uuid.uuid4().hex,
            user_id="guest",
            reply_to=s.key,
            headers={"sendertimestamp_in_ms": time.time_ns() // 1_000_000},
        )

    publish()  # warm-up

    def run(k: int) -> None:
        for _ in range(k):
            publish()

    return run


def paired(a: Runner, b: Runner, n: int, chunk: int) -> tuple[float, float]:
    """Run n orders through a and b in alternating chunks (who goes first alternates too).

    Load that comes and goes on the machine then hits both alike; returns both rates.
    """
    spent = [0.0, 0.0]
    done = 0
    turn = 0
    while done < n:
        k = min(chunk, n - done)
        order = ((0, a), (1, b)) if turn % 2 == 0 else ((1, b), (0, a))
        for index, runner in order:
            t0 = time.perf_counter()
            runner(k)
            spent[index] += time.perf_counter() - t0
        done += k
        turn += 1
    return n / spent[0], n / spent[1]


def round_single(s: Setup, n: int) -> tuple[float, float]:
    """flxtrd send_order vs kombu Producer.publish(confirm_publish=True), chunks of 250."""
    with (
        flxtrd_api(s) as api,
        Connection(s.url, transport_options={"confirm_publish": True}) as conn,
    ):
        return paired(flxtrd_single(api), kombu_runner(s, conn), n, 250)


def round_batch(s: Setup, n: int) -> tuple[float, float]:
    """flxtrd send_orders (all confirmed) vs kombu Producer.publish unconfirmed, chunks of N/5."""
    with flxtrd_api(s) as api, Connection(s.url) as conn:
        return paired(flxtrd_batch(api), kombu_runner(s, conn), n, max(n // 5, 1))


# --- flxtrd 0.2.9, in its own virtualenv --------------------------------------------------------

OLD_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    import flxtrd
    from flxtrd import ASK, FlexAPIClient, FlexMarket, FlexResource, FlexUser, MarketOrder
    from flxtrd.protocols import ampq

    url, port, exchange, reply_exchange, key, n = sys.argv[1:7]
    ampq.AmpqAPI._ssl_context = lambda self, verify_ssl=True: None  # benchmark only: no TLS
    user = FlexUser(name="bench", password="x", access_token="guest", app_key=key,
                    user_id="guest")
    market = FlexMarket(market_url=url, broker_port=int(port))
    market.broker.exchangename = exchange
    market.broker.tickeroutexname = reply_exchange
    client = FlexAPIClient(user=user, market=market)
    resource = FlexResource(power_w=2500.0, start_time_epoch_s=int(time.time()) + 3600,
                            duration_min=15, order_expiration_min=10)
    order = MarketOrder(order_type=ASK, price_eur=10.0, resource=resource)
    _, err = client.send_order(market_order=order)
    assert err is None, err
    t0 = time.perf_counter()
    for _ in range(int(n)):
        client.send_order(market_order=order)
    elapsed = time.perf_counter() - t0
    client.disconnect()
    print(json.dumps({"rate": int(n) / elapsed}))
    """
)


def ensure_old_venv() -> Path:
    """``.bench-venv`` with flxtrd 0.2.9 (and its pika) installed; created if needed."""
    python = BENCH_VENV / "bin" / "python"
    if not python.exists():
        print("creating .bench-venv ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)], check=True)
    probe = "import importlib.metadata as m; assert m.version('flxtrd') == '0.2.9'; import pika"
    if subprocess.run([str(python), "-c", probe], cwd="/", capture_output=True).returncode:
        print("installing flxtrd==0.2.9 into .bench-venv ...", file=sys.stderr)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "flxtrd==0.2.9"], check=True
        )
    return python


def make_case_old(python: Path) -> Callable[[Setup, int], float]:
    def case_old(s: Setup, n: int) -> float:
        from urllib.parse import urlsplit

        parts = urlsplit(s.url)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        key = f"{s.key}-old"
        out = subprocess.run(
            [
                str(python),
                "-c",
                OLD_SCRIPT,
                parts.hostname or "127.0.0.1",
                str(parts.port or 5672),
                s.exchange,
                s.reply_exchange,
                key,
                str(n),
            ],
            check=True,
            capture_output=True,
            text=True,
            cwd="/",
            env=env,
        )
        return float(json.loads(out.stdout.strip().splitlines()[-1])["rate"])

    return case_old


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="amqp://guest:guest@127.0.0.1:5672//")
    parser.add_argument("-n", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--skip-029", action="store_true", help="leave out flxtrd 0.2.9")
    args = parser.parse_args()

    names = ["flxtrd send_order", "kombu confirmed", "flxtrd send_orders", "kombu unconfirmed"]
    old_case = None if args.skip_029 else make_case_old(ensure_old_venv())
    if old_case is not None:
        names.append(OLD)

    setup = Setup(args.url)
    rates: dict[str, list[float]] = {name: [] for name in names}
    pairs = [(round_single, names[0], names[1]), (round_batch, names[2], names[3])]
    try:
        for r in range(args.rounds):
            steps: list[Callable[[], None]] = []
            for run, a, b in pairs:

                def step(run: Any = run, a: str = a, b: str = b) -> None:
                    setup.purge()
                    rate_a, rate_b = run(setup, args.n)
                    rates[a].append(rate_a)
                    rates[b].append(rate_b)
                    setup.expect(2 * args.n + 2, f"{a} / {b}")  # + 2 warm-ups

                steps.append(step)
            if old_case is not None:

                def step_old() -> None:
                    setup.purge()
                    rates[OLD].append(old_case(setup, args.n))
                    setup.expect(args.n + 1, OLD)

                steps.append(step_old)
            for step in steps[r % len(steps) :] + steps[: r % len(steps)]:
                step()
            print(
                f"round {r + 1}/{args.rounds}: "
                + ", ".join(f"{k} {rates[k][-1]:,.0f}/s" for k in names),
                file=sys.stderr,
            )
    finally:
        setup.close()

    med = {k: statistics.median(v) for k, v in rates.items()}
    broker = setup.url.split("@")[-1]
    print(f"\nN = {args.n} orders per run, {args.rounds} interleaved rounds, broker {broker}")
    print(f"python {sys.version.split()[0]}\n")
    print(f"| {'case':<26} | {'median msg/s':>12} | {'min - max msg/s':>19} |")
    print(f"|{'-' * 28}|{'-' * 14}|{'-' * 21}|")
    for k in names:
        lo, hi = min(rates[k]), max(rates[k])
        print(f"| {k:<26} | {med[k]:>12,.0f} | {f'{lo:,.0f} - {hi:,.0f}':>19} |")
    print()
    ratios = [
        ("flxtrd send_order", "kombu confirmed", 1.0),
        ("flxtrd send_orders", "kombu unconfirmed", 0.8),
    ]
    if OLD in med:
        ratios += [("flxtrd send_order", OLD, None), ("flxtrd send_orders", OLD, None)]
    for a, b, target in ratios:
        ratio = med[a] / med[b]
        verdict = ""
        if target is not None:
            verdict = f" (target >= {target:.1f}: {'met' if ratio >= target else 'MISSED'})"
        print(f"{a} / {b}: {ratio:.2f}x{verdict}")


if __name__ == "__main__":
    main()
