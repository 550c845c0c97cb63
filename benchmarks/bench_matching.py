"""Matching throughput of the sandbox engine beside a naive linear-scan matcher.

Run: `.venv/bin/python benchmarks/bench_matching.py [--orders 10000] [--rounds 5] [--seed 1]
[--json PATH]`

For each generation and each book size (0, 1k, 10k resting orders) the book is preloaded with
orders that do not cross (buys below 0.20, sells above 0.30, random quarter-hour windows over
one day), then a stream of orders is submitted and timed: half of them passive (they rest, like
the preload) and half aggressive (a sell at 0.05-0.15 over one quarter hour, or a buy at
0.35-0.45 over an hour), so the book stays near its size while trades happen. Orders are built
before timing; the clock is a `ManualClock`, so nothing expires. The same stream goes to the
`ReferenceMatcher` of `tests/unit/sandbox/reference_matcher.py` (same rules, one list scanned
per order), for as many orders as fit in `--reference-seconds`. Rates are orders per second of
CPU time of this process (`time.process_time`), so other work on a shared machine does not
distort them much.
"matched" counts the timed orders that traded (last round). Rounds are interleaved: each round
runs every (generation, book size) in a rotating order, engine and reference alternating who goes
first, each on a fresh book; the table shows the median and min-max over rounds. flxtrd 0.2.9 has
no sandbox and no matching engine, so it has no column here. It is a script, not a test: nothing
is asserted.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from _harness import FLXTRD, OLD, RAW, Report, add_json_option, rotated

from flxtrd.sandbox import Gen1Order, Gen2Order, ManualClock, MatchingEngine

# The linear-scan oracle lives beside its tests (it does not ship in the wheel).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "unit" / "sandbox"))
from reference_matcher import ReferenceMatcher  # needs the path above

Q = 900_000
T0 = 1_796_202_000_000
DAY0 = T0 + 8 * Q
SLOTS = 96  # quarter hours in the delivery day
BASELINE = {"metering_id": "0b5c1a52-7e0a-4c8e-9f3f-2a6b1d4e5f60"}
Order = Gen1Order | Gen2Order


def gen2_order(rng: random.Random, aggressive: bool) -> Gen2Order:
    side = rng.choice(("buy", "sell"))
    slot = rng.randrange(SLOTS - 4)
    if aggressive:
        quarters = 4 if side == "buy" else 1
        price = rng.uniform(0.35, 0.45) if side == "buy" else rng.uniform(0.05, 0.15)
    else:
        quarters = rng.randint(1, 4)
        price = rng.uniform(0.10, 0.20) if side == "buy" else rng.uniform(0.30, 0.40)
    start = DAY0 + slot * Q
    return Gen2Order(
        side=side,
        owner=f"user-{rng.randrange(50)}",
        power=float(rng.randrange(1, 21) * 100),
        price=round(price, 3),
        delivery_start_ms=start,
        delivery_end_ms=start + quarters * Q,
        expiry_time_ms=start - 2 * Q,
        country_code="DE" if rng.random() < 0.9 else "FR",
        location_ids=None if rng.random() < 0.8 else (f"loc-{rng.randrange(3)}",),
        baseline=BASELINE if side == "sell" else None,
    )


def gen1_order(rng: random.Random, aggressive: bool) -> Gen1Order:
    side = rng.choice(("ask", "bid"))
    if aggressive:
        price = rng.uniform(35, 45) if side == "bid" else rng.uniform(5, 15)
    else:
        price = rng.uniform(10, 20) if side == "bid" else rng.uniform(30, 40)
    start = DAY0 + rng.randrange(SLOTS) * Q
    user = f"user-{rng.randrange(50)}"
    return Gen1Order(
        side=side,
        application_key=f"key-{user}",
        user=user,
        wattage=float(rng.randrange(1, 21) * 100),
        starttime=start,
        runtime=Q,
        price=round(price, 2),
        expirationtime=start - Q,
    )


def build(
    make: Callable[[random.Random, bool], Order], resting: int, incoming: int, seed: int
) -> tuple[list[Order], list[Order]]:
    rng = random.Random(seed)
    preload = [make(rng, False) for _ in range(resting)]
    stream = [make(rng, rng.random() < 0.5) for _ in range(incoming)]
    return preload, stream


def time_engine(preload: Sequence[Order], stream: Sequence[Order]) -> tuple[float, int, int]:
    engine = MatchingEngine(ManualClock(T0), seed=1)
    for order in preload:
        engine.submit(order)
    gc.collect()
    trades = 0
    submit = engine.submit
    began = time.process_time()
    for order in stream:
        result = submit(order)
        trades += result.status is not None and result.status.value in ("filled", "partial_filled")
    elapsed = time.process_time() - began
    return len(stream) / elapsed, trades, engine.resting_count()


def time_reference(
    preload: Sequence[Order], stream: Sequence[Order], budget_s: float
) -> tuple[float, int]:
    ref = ReferenceMatcher()
    for order in preload:
        ref.rest(order, T0)
    gc.collect()
    done = 0
    began = time.process_time()
    for order in stream:
        ref.submit(order, T0)
        done += 1
        if done >= 50 and time.process_time() - began > budget_s:
            break
    return done / (time.process_time() - began), done


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--orders", type=int, default=10_000, help="incoming orders timed")
    parser.add_argument("--sizes", default="0,1000,10000", help="resting book sizes")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reference-seconds", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (>= 5)")
    add_json_option(parser)
    args = parser.parse_args(argv)
    if args.rounds < 5:
        parser.error("--rounds must be at least 5")
    sizes = [int(s) for s in args.sizes.split(",")]

    configs = []
    for name, make in (("gen2", gen2_order), ("gen1", gen1_order)):
        for size in sizes:
            preload, stream = build(make, size, args.orders, args.seed)
            configs.append((name, size, preload, stream))
    engine: dict[tuple[str, int], list[float]] = {(c[0], c[1]): [] for c in configs}
    reference: dict[tuple[str, int], list[float]] = {(c[0], c[1]): [] for c in configs}
    last: dict[tuple[str, int], tuple[int, int]] = {}
    for r in range(args.rounds):
        for name, size, preload, stream in rotated(configs, r):
            key = (name, size)
            for which in rotated(["engine", "reference"], r):
                if which == "engine":
                    rate, matched, after = time_engine(preload, stream)
                    engine[key].append(rate)
                    last[key] = (matched, after)
                else:
                    ref_rate, _ = time_reference(preload, stream, args.reference_seconds)
                    reference[key].append(ref_rate)
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)

    report = Report("bench_matching", params=vars(args) | {"json": None})
    biggest = max(sizes)
    report.item("matching", f"sandbox matching, {biggest:,} resting (gen2)")
    report.add("matching", FLXTRD, "sandbox MatchingEngine.submit", "orders/s",
               engine[("gen2", biggest)])  # fmt: skip
    report.add("matching", RAW, "linear-scan ReferenceMatcher", "orders/s",
               reference[("gen2", biggest)])  # fmt: skip
    report.na("matching", OLD, "0.2.9 has no sandbox and no matching engine")
    report.target("matching", ">=", 20_000, "issue 5")
    report.extra["all"] = [
        {"market": n, "resting": s, "engine": engine[(n, s)], "reference": reference[(n, s)]}
        for n, s, _, _ in configs
    ]
    report.write(args.json)

    print(
        f"matching throughput, {args.orders:,} incoming orders (half crossing), orders per CPU "
        f"second, median (min-max) of {args.rounds} interleaved rounds, "
        f"Python {sys.version.split()[0]}"
    )
    header = (
        f"{'market':<8}{'resting':>9}{'engine ord/s':>24}{'reference ord/s':>20}"
        f"{'speed-up':>10}{'matched':>9}{'resting after':>15}"
    )
    print(header)
    print("-" * len(header))
    for name, size, _, _ in configs:
        rates, refs = engine[(name, size)], reference[(name, size)]
        med, ref_med = statistics.median(rates), statistics.median(refs)
        spread = f"{med:,.0f} ({min(rates):,.0f}-{max(rates):,.0f})"
        ref_spread = f"{ref_med:,.0f} ({min(refs):,.0f}-{max(refs):,.0f})"
        matched, after = last[(name, size)]
        print(
            f"{name:<8}{size:>9,}{spread:>24}{ref_spread:>20}{med / ref_med:>9.1f}x"
            f"{matched:>9,}{after:>15,}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
