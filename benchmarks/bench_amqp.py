"""Side-by-side AMQP publish benchmark against a real RabbitMQ (not a test; run it as a script).

Cases, each publishing N orders (the same line-protocol order, fresh message_id and
``sendertimestamp_in_ms`` per message, ``mandatory``, properties ``user_id`` / ``reply_to``):

- ``flxtrd send_order``: ``AmpqAPI.send_order`` per order, each confirmed before the next;
- ``kombu confirmed``: raw ``kombu.Producer.publish`` with ``confirm_publish=True`` (the
  baseline for per-order confirmed sends, target ratio >= 1.0);
- ``flxtrd send_orders``: ``AmpqAPI.send_orders`` on all N, pipelined confirms, all confirmed;
- ``py-amqp pipelined confirms``: the raw way to confirm a batch -- ``confirm_select`` on the
  py-amqp channel under kombu, publish the chunk, drain ``basic_ack`` events until every tag is
  acknowledged (RabbitMQ confirms in order; the baseline for batch confirmed sends);
- ``kombu unconfirmed``: raw ``kombu.Producer.publish`` without confirms (the ceiling; target
  ratio of ``send_orders`` >= 0.8);
- ``flxtrd 0.2.9 send_order``: ``FlexAPIClient.send_order`` of flxtrd 0.2.9 (pika, no confirms:
  its only mode, so it is also an unconfirmed figure), in ``.bench-venv``; its forced TLS is
  patched off in the benchmark only (``_old.py``).

Each flxtrd case runs side by side with its baselines on open connections, in alternating chunks
(250 orders for the per-order pair, N/5 for the batch trio; who goes first rotates), so load that
comes and goes on the machine hits all alike. Rounds are interleaved (the step order rotates each
round); every run's messages are counted in the sink queue afterwards. The table shows the median
rate, the min-max range over rounds and the ratios of medians.

    .venv/bin/python benchmarks/bench_amqp.py [--url amqp://guest:guest@127.0.0.1:5672//]
        [-n 5000] [--rounds 5] [--skip-029] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
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
    rotated,
)
from kombu import Connection, Exchange, Producer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flxtrd._amqp._api import AmpqAPI
from flxtrd._line_protocol import encode_order_line
from flxtrd._types import Flexibility, MarketOrder, OrderType

HERE = Path(__file__).resolve().parent
SINGLE = "flxtrd send_order"
KOMBU_CONFIRMED = "kombu confirmed"
BATCH = "flxtrd send_orders"
PIPELINED = "py-amqp pipelined confirms"
UNCONFIRMED = "kombu unconfirmed"
OLD_CASE = "flxtrd 0.2.9 send_order"


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


def _publish_kwargs(s: Setup) -> dict[str, Any]:
    return {
        "mandatory": True,
        "content_type": "text/plain",
        "content_encoding": "utf-8",
        "user_id": "guest",
        "reply_to": s.key,
    }


def kombu_runner(s: Setup, conn: Connection) -> Runner:
    """``Producer.publish`` per order (confirmed one by one when the connection says so)."""
    body = encode_order_line(make_order().to_order_line(s.key))
    producer = Producer(
        conn.channel(),
        exchange=Exchange(s.exchange, "direct", durable=True),
        routing_key="ask",
        auto_declare=False,
    )
    kwargs = _publish_kwargs(s)

    def publish() -> None:
        producer.publish(
            body,
            message_id=uuid.uuid4().hex,
            headers={"sendertimestamp_in_ms": time.time_ns() // 1_000_000},
            **kwargs,
        )

    publish()  # warm-up

    def run(k: int) -> None:
        for _ in range(k):
            publish()

    return run


def pipelined_runner(s: Setup, conn: Connection) -> Runner:
    """Raw pipelined confirms on the py-amqp channel under kombu: publish k, drain the acks."""
    body = encode_order_line(make_order().to_order_line(s.key))
    channel = conn.channel()  # kombu's pyamqp Channel is a py-amqp Channel
    channel.confirm_select()
    state = {"published": 0, "acked": 0}

    def on_ack(delivery_tag: int, multiple: bool) -> None:
        state["acked"] = max(state["acked"], delivery_tag)

    def on_nack(delivery_tag: int, multiple: bool) -> None:
        raise SystemExit(f"{PIPELINED}: the broker nacked tag {delivery_tag}")

    channel.events["basic_ack"].add(on_ack)
    channel.events["basic_nack"].add(on_nack)
    properties = {"user_id": "guest", "reply_to": s.key}

    def run(k: int) -> None:
        for _ in range(k):
            message = channel.prepare_message(
                body,
                content_type="text/plain",
                content_encoding="utf-8",
                headers={"sendertimestamp_in_ms": time.time_ns() // 1_000_000},
                properties=dict(properties, message_id=uuid.uuid4().hex),
            )
            channel.basic_publish(message, s.exchange, "ask", mandatory=True)
        state["published"] += k
        while state["acked"] < state["published"]:
            conn.drain_events(timeout=30)

    run(1)  # warm-up
    return run


def interleaved(runners: Sequence[Runner], n: int, chunk: int) -> list[float]:
    """Run n orders through every runner in alternating chunks (who goes first rotates).

    Load that comes and goes on the machine then hits all alike; returns each one's rate.
    """
    spent = [0.0] * len(runners)
    done = 0
    turn = 0
    indexed = list(enumerate(runners))
    while done < n:
        k = min(chunk, n - done)
        for index, runner in rotated(indexed, turn):
            t0 = time.perf_counter()
            runner(k)
            spent[index] += time.perf_counter() - t0
        done += k
        turn += 1
    return [n / t for t in spent]


def round_single(s: Setup, n: int) -> list[float]:
    """flxtrd send_order vs kombu Producer.publish(confirm_publish=True), chunks of 250."""
    with (
        flxtrd_api(s) as api,
        Connection(s.url, transport_options={"confirm_publish": True}) as conn,
    ):
        return interleaved([flxtrd_single(api), kombu_runner(s, conn)], n, 250)


def round_batch(s: Setup, n: int) -> list[float]:
    """flxtrd send_orders vs raw pipelined confirms vs kombu unconfirmed, chunks of N/5."""
    with flxtrd_api(s) as api, Connection(s.url) as confirm_conn, Connection(s.url) as conn:
        runners = [flxtrd_batch(api), pipelined_runner(s, confirm_conn), kombu_runner(s, conn)]
        return interleaved(runners, n, max(n // 5, 1))


def run_old(python: Path, s: Setup, n: int) -> float:
    """flxtrd 0.2.9's send_order, n times, in ``.bench-venv``; its rate."""
    parts = urlsplit(s.url)
    host, port = parts.hostname or "127.0.0.1", str(parts.port or 5672)
    argv = [str(python), str(HERE / "_old.py"), "amqp-send", host, port, s.exchange,
            s.reply_exchange, f"{s.key}-old", str(n)]  # fmt: skip
    out = subprocess.run(argv, check=True, capture_output=True, text=True, cwd="/", env=old_env())
    return float(json.loads(out.stdout.strip().splitlines()[-1])["rate"])


def build_report(rates: dict[str, list[float]], n: int, rounds: int) -> Report:
    report = Report("bench_amqp", params={"n": n, "rounds": rounds})
    report.item("amqp_per_order", "per-order confirmed send")
    report.item("amqp_batch", f"batch confirmed send ({n:,} orders)")
    report.item("amqp_ceiling", "unconfirmed ceiling")
    unit = "orders/s"
    report.add("amqp_per_order", FLXTRD, "AmpqAPI.send_order", unit, rates[SINGLE])
    report.add("amqp_per_order", RAW, "kombu publish, confirm_publish=True", unit,
               rates[KOMBU_CONFIRMED])  # fmt: skip
    report.add("amqp_batch", FLXTRD, "AmpqAPI.send_orders", unit, rates[BATCH])
    report.add("amqp_batch", RAW, "py-amqp confirm_select, publish, drain acks", unit,
               rates[PIPELINED])  # fmt: skip
    report.na("amqp_batch", OLD, "0.2.9 has no batch send and no publisher confirms")
    report.add("amqp_ceiling", FLXTRD, "AmpqAPI.send_orders (every order confirmed)", unit,
               rates[BATCH])  # fmt: skip
    report.add("amqp_ceiling", RAW, "kombu publish, no confirms", unit, rates[UNCONFIRMED])
    if OLD_CASE in rates:
        old_label = "FlexAPIClient.send_order (pika, unconfirmed: 0.2.9 has no confirms)"
        report.add("amqp_per_order", OLD, old_label, unit, rates[OLD_CASE])
        report.add("amqp_ceiling", OLD, "FlexAPIClient.send_order (unconfirmed)", unit,
                   rates[OLD_CASE])  # fmt: skip
    report.target("amqp_per_order", ">=", 1.0, "issue 4", RAW)
    report.target("amqp_ceiling", ">=", 0.8, "issue 4", RAW)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default="amqp://guest:guest@127.0.0.1:5672//")
    parser.add_argument("-n", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--skip-029", action="store_true", help="leave out flxtrd 0.2.9")
    add_json_option(parser)
    args = parser.parse_args()

    names = [SINGLE, KOMBU_CONFIRMED, BATCH, PIPELINED, UNCONFIRMED]
    old_python = None if args.skip_029 else ensure_old_venv()
    if old_python is not None:
        names.append(OLD_CASE)

    setup = Setup(args.url)
    rates: dict[str, list[float]] = {name: [] for name in names}
    groups: list[tuple[Callable[[Setup, int], list[float]], list[str]]] = [
        (round_single, [SINGLE, KOMBU_CONFIRMED]),
        (round_batch, [BATCH, PIPELINED, UNCONFIRMED]),
    ]
    try:
        for r in range(args.rounds):
            steps: list[Callable[[], None]] = []
            for run, cases in groups:

                def step(run: Any = run, cases: list[str] = cases) -> None:
                    setup.purge()
                    for case, rate in zip(cases, run(setup, args.n), strict=True):
                        rates[case].append(rate)
                    setup.expect(len(cases) * (args.n + 1), " / ".join(cases))  # + warm-ups

                steps.append(step)
            if old_python is not None:

                def step_old(python: Path = old_python) -> None:
                    setup.purge()
                    rates[OLD_CASE].append(run_old(python, setup, args.n))
                    setup.expect(args.n + 1, OLD_CASE)

                steps.append(step_old)
            for step_ in rotated(steps, r):
                step_()
            print(
                f"round {r + 1}/{args.rounds}: "
                + ", ".join(f"{k} {rates[k][-1]:,.0f}/s" for k in names),
                file=sys.stderr,
                flush=True,
            )
    finally:
        setup.close()

    build_report(rates, args.n, args.rounds).write(args.json)
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
    ratios: list[tuple[str, str, float | None]] = [
        (SINGLE, KOMBU_CONFIRMED, 1.0),
        (BATCH, UNCONFIRMED, 0.8),
        (BATCH, PIPELINED, None),
    ]
    if OLD_CASE in med:
        ratios += [(SINGLE, OLD_CASE, None), (BATCH, OLD_CASE, None)]
    for a, b, target in ratios:
        ratio = med[a] / med[b]
        verdict = ""
        if target is not None:
            verdict = f" (target >= {target:.1f}: {'met' if ratio >= target else 'MISSED'})"
        print(f"{a} / {b}: {ratio:.2f}x{verdict}")


if __name__ == "__main__":
    main()
