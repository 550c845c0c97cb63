"""Bots trading in the embedded sandbox on its injected clock: a simulated hour, no sleeping."""

from __future__ import annotations

import argparse
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from flxtrd._cli._bot import add_bot_parser, run_bot
from flxtrd._rest._audit_plugin import AuditLogPlugin
from flxtrd._trading._devices import Battery
from flxtrd._trading._simulation import SandboxSimulation
from flxtrd._trading._strategies import FixedMarginSeller, TickFollowingBuyer
from flxtrd._trading._strategy import QUARTER_HOUR_MS
from flxtrd._types import OrderType

HOUR_MS = 3_600_000
T0 = 1_900_000_800_000  # on the quarter hour, far from the wall clock: only the injected clock
MS_PER_HOUR = 3_600_000


@pytest.fixture(autouse=True)
def _no_sandbox_left_behind() -> Iterator[None]:
    """Close the process-wide embedded sandbox a test started (its threads would outlive it)."""
    yield
    from flxtrd.sandbox import reset_embedded_sandbox

    reset_embedded_sandbox()


def overlap_h(start_ms: int, end_ms: int, a_ms: int, b_ms: int) -> float:
    """Hours of [start_ms, end_ms) inside [a_ms, b_ms)."""
    return max(0, min(end_ms, b_ms) - max(start_ms, a_ms)) / MS_PER_HOUR


@pytest.mark.parametrize("generation", [1, 2])
def test_battery_seller_and_tick_buyer_trade_for_an_hour_and_the_soc_matches_the_deals(
    generation: int,
) -> None:
    """After a simulated hour the battery's SoC and the closed orders agree to the Wh."""
    lead = 5 * 60_000 if generation == 1 else 20 * 60_000  # gen 2 expires 15 min before start
    battery = Battery(5_000, soc=0.5, min_soc=0.1, max_discharge_w=2_000, round_trip_efficiency=0.9)
    soc0 = battery.soc_wh
    seller = FixedMarginSeller(battery, margin_per_kwh=0.05, expiry_lead_ms=lead)
    buyer = TickFollowingBuyer(3_000, initial_price=0.20, expiry_lead_ms=lead)
    with SandboxSimulation(
        {"seller": seller, "buyer": buyer}, start_ms=T0, generation=generation
    ) as sim:
        sim.run_for(HOUR_MS)
        end = sim.now_ms
        account = sim.market.accounts.by_email("seller@sandbox.flxtrd")
        assert account is not None
        deals = [
            t
            for t in sim.market.last_trades(10**6, generation=generation)
            if t.seller_id == account.user_id
        ]
        seller_bot, buyer_bot = sim.bots
    assert end == T0 + HOUR_MS
    assert len(deals) >= 2, "the two bots should trade"
    delivered_wh = sum(
        t.power * overlap_h(t.delivery_start_ms, t.delivery_end_ms, T0, end) for t in deals
    )
    owed_wh = sum(
        t.power * overlap_h(t.delivery_start_ms, t.delivery_end_ms, end, 2**62) for t in deals
    )
    assert delivered_wh > 0, "some deals should be delivered within the hour"
    # The closed orders / contracts the seller received are exactly the market's deals.
    assert seller_bot.stats.deals == len(deals)
    assert seller_bot.stats.energy_sold_wh == pytest.approx(sum(t.energy for t in deals), abs=1e-6)
    assert buyer_bot.stats.energy_bought_wh == pytest.approx(seller_bot.stats.energy_sold_wh)
    assert seller_bot.stats.pnl_eur == pytest.approx(-buyer_bot.stats.pnl_eur)
    # The battery agrees with the deals to the watt-hour.
    assert abs(battery.exported_wh - delivered_wh) < 1.0
    assert abs(battery.soc_wh - (soc0 - delivered_wh / battery.discharge_efficiency)) < 1.0
    assert abs(battery.pending_energy_wh(OrderType.ASK, committed_only=True) - owed_wh) < 1.0
    # It never sold more than it held: what is owed still fits above min_soc.
    assert battery.soc_wh - owed_wh / battery.discharge_efficiency >= battery.min_soc_wh - 1e-6
    prices = [p for _, p in sim.runner.timeline.ticks]
    assert len(prices) == len(deals) and len(set(prices)) >= 2, "the price should move"


def test_the_simulation_refuses_to_oversell_a_small_battery_all_hour() -> None:
    """A battery with 600 Wh to spare sells at most that, however much the buyer wants."""
    battery = Battery(2_000, soc=0.4, min_soc=0.1, max_discharge_w=3_000, round_trip_efficiency=1.0)
    seller = FixedMarginSeller(battery, margin_per_kwh=0.01, horizon_slots=4)
    buyer = TickFollowingBuyer(5_000, initial_price=0.30, undercut_per_kwh=0.0, horizon_slots=4)
    with SandboxSimulation({"seller": seller, "buyer": buyer}, start_ms=T0) as sim:
        sim.run_for(HOUR_MS)
        seller_bot = sim.bots[0]
    assert seller_bot.stats.energy_sold_wh == pytest.approx(600.0, abs=1.0)
    committed = battery.pending_energy_wh(OrderType.ASK, committed_only=True)
    assert battery.soc_wh - committed >= battery.min_soc_wh - 1e-6
    assert (
        battery.offer(OrderType.ASK, T0 + 2 * HOUR_MS, T0 + 2 * HOUR_MS + QUARTER_HOUR_MS) is None
    )


def test_the_audit_plugin_logs_every_order_and_reply_of_a_simulation(tmp_path: Path) -> None:
    """On the bots' clients, the audit log has every order, its confirm and the replies."""
    path = tmp_path / "audit.jsonl"
    audit = AuditLogPlugin(path)
    seller = FixedMarginSeller(Battery(5_000), horizon_slots=1)
    buyer = TickFollowingBuyer(3_000, horizon_slots=1)
    with SandboxSimulation({"seller": seller, "buyer": buyer}, start_ms=T0, audit=audit) as sim:
        sim.run_for(20 * 60_000)
        sent = sum(bot.stats.orders_sent for bot in sim.bots)
    records = [json.loads(line) for line in path.read_text().splitlines()]
    orders = [r for r in records if r["kind"] == "order"]
    assert len(orders) == sent >= 2
    assert all(r["outcome"] == "confirmed" and len(r["message_id"]) == 32 for r in orders)
    assert {r["side"] for r in orders} == {"ask", "bid"}
    replies = {r["msg_type"] for r in records if r["kind"] == "reply"}
    assert {"ask_closed_order", "bid_closed_order", "tick"} <= replies
    assert '"password"' not in path.read_text()


def bot_args(*argv: str) -> argparse.Namespace:
    """Parsed ``bot`` arguments."""
    parser = argparse.ArgumentParser()
    add_bot_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["bot", *argv])


def test_bot_command_in_the_sandbox_shows_progress_and_a_summary(tmp_path: Path) -> None:
    """``bot --sandbox`` trades among other bots with progress lines and a summary table."""
    fake = [0.0]

    def wait(seconds: float) -> None:
        """Let fake time pass (ten times faster than asked: fewer loops)."""
        fake[0] += seconds * 10

    out = io.StringIO()
    args = bot_args("--sandbox", "--strategy", "tick-buyer", "--duration", "60", "--crowd", "4",
                    "--audit", str(tmp_path / "audit.jsonl"))  # fmt: skip
    assert run_bot(args, out=out, monotonic=lambda: fake[0], wait=wait) == 0
    text = out.getvalue()
    progress = [line for line in text.splitlines() if " UTC | orders " in line]
    assert len(progress) >= 10
    assert "deals" in progress[-1] and "P&L" in progress[-1]
    summary = text[text.index("\nbot ") :]
    for name in ("you", "battery", "buyer", "random-1", "heat-pump"):
        assert f"\n{name} " in summary
    assert "market: " in summary and "market: no trades" not in summary
    assert (tmp_path / "audit.jsonl").read_text().count('"kind": "order"') >= 5


def test_bot_command_plots_the_run_when_matplotlib_is_installed(tmp_path: Path) -> None:
    """``--plot FILE`` writes the picture of the run (skipped without matplotlib)."""
    pytest.importorskip("matplotlib")
    fake = [0.0]
    target = tmp_path / "run.png"
    args = bot_args("--sandbox", "--duration", "20", "--crowd", "2", "--plot", str(target))
    out = io.StringIO()
    code = run_bot(
        args,
        out=out,
        monotonic=lambda: fake[0],
        wait=lambda s: fake.__setitem__(0, fake[0] + s * 10),
    )
    assert code == 0 and target.stat().st_size > 0


class PatientBuyer(TickFollowingBuyer):
    """A tick-following buyer whose bids expire 20 minutes ahead (generation 2 needs 15)."""

    def __init__(self) -> None:
        super().__init__(1_000, expiry_lead_ms=20 * 60_000, horizon_slots=1)


@pytest.mark.parametrize("generation", ["1", "2"])
def test_bot_command_on_a_market_url_trades_in_real_time_on_either_generation(
    generation: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``bot --market URL --generation N`` logs in from the environment and places orders."""
    monkeypatch.setenv("FLXTRD_USERNAME", f"bot-gen{generation}@example.com")
    monkeypatch.setenv("FLXTRD_PASSWORD", "pw")
    fake = [0.0]

    def wait(seconds: float) -> None:
        """Let fake time pass."""
        fake[0] += seconds

    out = io.StringIO()
    args = bot_args("--market", "sandbox://", "--generation", generation, "--duration", "2",
                    "--strategy", f"{__name__}:PatientBuyer")  # fmt: skip
    assert run_bot(args, out=out, monotonic=lambda: fake[0], wait=wait) == 0
    text = out.getvalue()
    assert f"(generation {generation})" in text
    (you,) = [line.split() for line in text.splitlines() if line.startswith("you ")]
    assert you[1] == "tick-buyer" and int(you[2]) >= 1 and you[3] == "0"  # sent, none rejected
