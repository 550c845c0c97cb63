"""Typed decode of market replies with the generated msgspec models beside plain ``json.loads``.

Run: `.venv/bin/python benchmarks/bench_decode.py [--messages 20000] [--rounds 9] [--clock cpu]
[--skip-029] [--json PATH]`

The payload is what a device's AMQP reply queue carries: a seeded mix of 60 % ``tick``, 20 %
``ask_closed_order`` and 20 % ``bid_closed_order`` messages shaped like the examples in
``specs/asyncapi.yaml``, one JSON body per message, built before timing. Each contender decodes
every body one by one, as a consumer does:

- ``json.loads``: plain dicts, no types checked, date-times left as strings (the raw reference);
- ``msgspec MarketReply``: ``msgspec.json.Decoder(MarketReply)`` from ``glocalflex_messages``
  (tagged union on ``msg_type``, every field type- and bound-checked, date-times parsed);
- ``flxtrd decode_market_message``: what flxtrd's consumer runs per delivery -- the typed model
  above *plus* the 0.2.9-compatible read-only dict view, the raw bytes, headers and receive time;
- ``0.2.9 callback_on_response``: what flxtrd 0.2.9's consumer runs per delivery (``json.loads``,
  the DEBUG log line it formats even when DEBUG is off -- ``json.dumps(..., indent=4)`` -- and the
  append to its list), in ``.bench-venv``: one child process per round, timing its own CPU.

For comparison the generated REST models (``glocalflex_rest``, attrs) decode a REST mix of the
same size (60 % ``Deal``, 40 % ``Contract``, the closest REST shapes to ticks and closed orders)
with ``json.loads`` + ``Model.from_dict``, beside ``json.loads`` alone on those bodies.

Contenders run interleaved, in a rotating order, for ``--rounds`` rounds; the table shows the
median rate, the min-max over rounds, and the median of the per-round rate ratios against
``json.loads`` on the same bodies. Time is the process's CPU time by default (``--clock wall``
for elapsed time): on a shared machine other processes inflate wall time, not CPU time. It is a
script, not a test: nothing is asserted except that every contender decodes what it is given.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
from _harness import FLXTRD, OLD, RAW, Report, add_json_option, ensure_old_venv, old_env, rotated
from glocalflex_messages.models import AskClosedOrder, BidClosedOrder, MarketReply, Tick
from glocalflex_rest.models import Contract, Deal

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flxtrd._amqp._market_messages import decode_market_message

HERE = Path(__file__).resolve().parent
PLAIN = "json.loads -> dict"
TYPED = "msgspec Decoder(MarketReply)"
INBOUND = "flxtrd decode_market_message"
OLD_CALLBACK = "0.2.9 callback_on_response"

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
START_MS = 1_796_202_000_000
QUARTER_MS = 900_000
CLOCKS: dict[str, Callable[[], float]] = {"cpu": time.process_time, "wall": time.perf_counter}


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _key(rng: random.Random) -> str:
    return f"{rng.getrandbits(96):024x}"


def tick(rng: random.Random, i: int) -> dict[str, Any]:
    return {
        "msg_type": "tick",
        "trade_time": _iso(T0 + timedelta(milliseconds=137 * i)),
        "price": round(rng.uniform(5.0, 20.0), 2),
        "start_time": _iso(T0 + timedelta(hours=1, minutes=15 * rng.randrange(8))),
        "energy": round(rng.uniform(50.0, 2500.0), 1),
    }


def closed_order(rng: random.Random, i: int, side: str) -> dict[str, Any]:
    wattage = float(rng.randrange(1, 41) * 250)
    runtime = QUARTER_MS * rng.randint(1, 4)
    start = START_MS + QUARTER_MS * rng.randrange(16)
    energy = wattage * runtime / 3_600_000
    ask_ns = (START_MS - 3_600_000 + 137 * i) * 1_000_000
    return {
        "msg_type": f"{side}_closed_order",
        "application_key": _key(rng),
        "closed_order": {
            "bid_time": ask_ns + rng.randrange(10**8),
            "ask_time": ask_ns,
            "ask_user": _key(rng),
            "bid_user": _key(rng),
            "price": round(rng.uniform(5.0, 20.0), 2),
            "totalenergy": energy,
            "energy": energy,
            "starttime": start,
            "endtime": float(start + runtime),  # some deployments send a float
            "runtime": runtime,
            "wattage": wattage,
            "power": wattage,
            "match_time": ask_ns + 10**8 + rng.randrange(10**6),
        },
    }


def market_replies(count: int, seed: int) -> list[bytes]:
    """Tick / ask_closed_order / bid_closed_order bodies, 60/20/20, in a seeded order."""
    rng = random.Random(seed)
    bodies = []
    for i in range(count):
        roll = rng.random()
        if roll < 0.6:
            message = tick(rng, i)
        else:
            message = closed_order(rng, i, "ask" if roll < 0.8 else "bid")
        bodies.append(json.dumps(message).encode())
    return bodies


def rest_payloads(count: int, seed: int) -> list[tuple[Callable[[Any], Any], bytes]]:
    """Deal / Contract bodies, 60/40, each with the from_dict that parses it."""
    rng = random.Random(seed)
    payloads: list[tuple[Callable[[Any], Any], bytes]] = []
    for i in range(count):
        start = T0 + timedelta(hours=1, minutes=15 * rng.randrange(16))
        if rng.random() < 0.6:
            body: dict[str, Any] = {
                "time": _iso(T0 + timedelta(milliseconds=137 * i)),
                "starttime": START_MS + QUARTER_MS * rng.randrange(16),
                "runtime": QUARTER_MS,
                "price": round(rng.uniform(5.0, 20.0), 2),
                "totalenergy": round(rng.uniform(50.0, 2500.0), 1),
                "totalprice": round(rng.uniform(0.5, 50.0), 3),
            }
            payloads.append((Deal.from_dict, json.dumps(body).encode()))
        else:
            body = {
                "id": i + 1,
                "buy_order_id": 2 * i + 1,
                "sell_order_id": 2 * i + 2,
                "power": 2500.0,
                "price": round(rng.uniform(0.05, 0.5), 3),
                "energy": 625.0,
                "delivery_start": _iso(start),
                "delivery_end": _iso(start + timedelta(minutes=15)),
                "status": "active",
                "settlement": {"status": "awaiting_verification_completion"},
                "verification_result": {"status": "awaiting_metering_data"},
                "created_at": _iso(T0),
            }
            payloads.append((Contract.from_dict, json.dumps(body).encode()))
    return payloads


@dataclass
class Contender:
    """One way of decoding one set of bodies, and the rates it reached, one per round."""

    name: str
    group: str
    run: Callable[[], int]  # decodes every body once, returns how many it decoded
    messages: int
    rates: list[float] = field(default_factory=list)
    #: Set for a contender that times itself in another process: returns its rate.
    external: Callable[[], float] | None = None

    def time_once(self, clock: Callable[[], float]) -> None:
        """Decode every body once and record the rate."""
        if self.external is not None:
            self.rates.append(self.external())
            return
        gc.collect()
        begin = clock()
        decoded = self.run()
        elapsed = clock() - begin
        assert decoded == self.messages, f"{self.name} decoded {decoded} of {self.messages}"
        self.rates.append(self.messages / elapsed)


def old_contender(replies: Sequence[bytes], bodies_file: Path, clock: str) -> Contender:
    """flxtrd 0.2.9's reply callback, timed (CPU time) in a ``.bench-venv`` child per round."""
    python = ensure_old_venv()
    bodies_file.write_bytes(b"\n".join(replies))
    argv = [str(python), str(HERE / "_old.py"), "decode", str(bodies_file)]
    if clock != "cpu":
        raise SystemExit("the 0.2.9 contender times CPU only: use --clock cpu or --skip-029")

    def measure() -> float:
        out = subprocess.run(
            argv, capture_output=True, text=True, check=True, cwd="/", env=old_env()
        )
        return float(json.loads(out.stdout.strip().splitlines()[-1])["rate"])

    return Contender(OLD_CALLBACK, "AMQP replies", lambda: 0, len(replies), external=measure)


def contenders(count: int, seed: int) -> list[Contender]:
    replies = market_replies(count, seed)
    rest = rest_payloads(count, seed)
    rest_bodies = [body for _, body in rest]
    typed = msgspec.json.Decoder(MarketReply)
    loads = json.loads

    def plain_replies() -> int:
        return len([loads(body) for body in replies])

    def typed_replies() -> int:
        decode = typed.decode
        return len([decode(body) for body in replies])

    def inbound_replies() -> int:
        return len([decode_market_message(body) for body in replies])

    def plain_rest() -> int:
        return len([loads(body) for body in rest_bodies])

    def attrs_rest() -> int:
        return len([from_dict(loads(body)) for from_dict, body in rest])

    check(replies, typed)
    return [
        Contender(PLAIN, "AMQP replies", plain_replies, count),
        Contender(TYPED, "AMQP replies", typed_replies, count),
        Contender(INBOUND, "AMQP replies", inbound_replies, count),
        Contender(PLAIN, "REST bodies", plain_rest, count),
        Contender("json.loads + attrs from_dict", "REST bodies", attrs_rest, count),
    ]


def build_report(runners: Sequence[Contender], params: dict[str, Any]) -> Report:
    by_name = {r.name: r for r in runners if r.group == "AMQP replies"}
    report = Report("bench_decode", params=params)
    report.item("decode_inbound", "inbound reply handling, per message (AMQP reply mix)")
    report.item("decode_models", "inbound typed decode, generated models (AMQP reply mix)")
    unit = "msg/s"
    plain = by_name[PLAIN].rates
    report.add("decode_inbound", FLXTRD, "decode_market_message (typed model + dict view)", unit,
               by_name[INBOUND].rates)  # fmt: skip
    report.add("decode_inbound", RAW, "json.loads", unit, plain)
    if OLD_CALLBACK in by_name:
        report.add("decode_inbound", OLD, "AmpqAPI.callback_on_response", unit,
                   by_name[OLD_CALLBACK].rates)  # fmt: skip
    report.add("decode_models", FLXTRD, "msgspec Decoder(MarketReply)", unit, by_name[TYPED].rates)
    report.add("decode_models", RAW, "json.loads", unit, plain)
    report.na("decode_models", OLD, "0.2.9 has no typed message models (replies stay dicts)")
    report.target("decode_models", ">=", 5.0, "issue 2", RAW)
    return report


def check(replies: Sequence[bytes], typed: msgspec.json.Decoder[Any]) -> None:
    """The typed decoder reads the whole mix into the right classes, as json.loads sees it."""
    kinds = {Tick: 0, AskClosedOrder: 0, BidClosedOrder: 0}
    for body in replies:
        message = typed.decode(body)
        kinds[type(message)] += 1
        plain = json.loads(body)
        price = message.price if isinstance(message, Tick) else message.closed_order.price
        assert price == (plain.get("price") or plain["closed_order"]["price"])
    assert all(kinds.values()), f"the mix lacks a message kind: {kinds}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000, help="bodies per contender")
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds (>= 5)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--clock",
        choices=CLOCKS,
        default="cpu",
        help="cpu: this process's CPU time (steady on a shared machine); wall: elapsed time",
    )
    parser.add_argument("--skip-029", action="store_true", help="leave out flxtrd 0.2.9")
    add_json_option(parser)
    args = parser.parse_args(argv)
    if args.rounds < 5:
        parser.error("--rounds must be at least 5")

    runners = contenders(args.messages, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_029:
            replies = market_replies(args.messages, args.seed)
            runners.insert(3, old_contender(replies, Path(tmp) / "bodies.jsonl", args.clock))
        for runner in runners:  # warm-up: caches, lazy imports, branch predictors
            if runner.external is None:
                runner.run()
        for round_ in range(args.rounds):
            for runner in rotated(runners, round_):
                runner.time_once(CLOCKS[args.clock])

    params = {"messages": args.messages, "rounds": args.rounds, "clock": args.clock}
    build_report(runners, params).write(args.json)
    print(
        f"decode throughput, {args.messages} bodies per contender, {args.rounds} interleaved "
        f"rounds, {args.clock} clock, Python {platform.python_version()}, "
        f"msgspec {msgspec.__version__}"
    )
    header = (
        f"{'bodies':<13} {'decoder':<30} {'median msg/s':>13} {'min-max msg/s':>21} "
        f"{'vs json.loads':>14}"
    )
    print(header)
    print("-" * len(header))
    baselines = {r.group: r for r in runners if r.name == PLAIN}
    for runner in runners:
        base = baselines[runner.group]
        ratios = [mine / theirs for mine, theirs in zip(runner.rates, base.rates, strict=True)]
        spread = f"{min(runner.rates):>9,.0f}-{max(runner.rates):<9,.0f}"
        print(
            f"{runner.group:<13} {runner.name:<30} {statistics.median(runner.rates):>13,.0f} "
            f"{spread:>21} {statistics.median(ratios):>10.2f}x "
            f"({min(ratios):.2f}-{max(ratios):.2f})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
