"""A run as text: the one-line progress and the summary table ``flxtrd bot`` prints.

Kept apart from the runner so the runner has no presentation in it and the command line
(:mod:`flxtrd._cli._bot`) and notebooks format a run the same way.
"""

from __future__ import annotations

from datetime import timedelta

from flxtrd._trading._events import EPOCH
from flxtrd._trading._runner import BotRunner

__all__ = ["format_progress", "format_summary"]


def _kwh(wh: float) -> str:
    return f"{wh / 1000:.2f}"


def _clock_text(ms: int) -> str:
    return (EPOCH + timedelta(milliseconds=ms)).strftime("%H:%M")


def format_progress(runner: BotRunner, *, you: str | None = None) -> str:
    """One progress line: the market time, your bot's counts and P&L, and the market's trades."""
    now = runner.now_ms if runner.now_ms is not None else runner.clock()
    bots = [b for b in runner.bots if you is None or b.name == you] or runner.bots
    sent = sum(b.stats.orders_sent for b in bots)
    deals = sum(b.stats.deals for b in bots)
    sold = sum(b.stats.energy_sold_wh for b in bots)
    bought = sum(b.stats.energy_bought_wh for b in bots)
    pnl = sum(b.stats.pnl_eur for b in bots)
    ticks = runner.timeline.ticks
    last = f"{ticks[-1][1]:.4f}" if ticks else "-"
    line = (
        f"{_clock_text(now)} UTC | orders {sent} | deals {deals} | sold {_kwh(sold)} kWh"
        f" | bought {_kwh(bought)} kWh | P&L {pnl:+.2f} EUR | market trades {len(ticks)},"
        f" last {last} EUR/kWh"
    )
    if len(bots) == 1:
        soc = bots[0].strategy.telemetry().get("soc_pct")
        if soc is not None:
            line += f" | SoC {soc:.1f}%"
    return line


def format_summary(runner: BotRunner) -> str:
    """A table: per bot its strategy, orders, deals, energy and P&L; then the market's trades."""
    header = (
        "bot", "strategy", "orders", "rejected", "deals", "sold kWh", "bought kWh", "P&L EUR"
    )  # fmt: skip
    rows = [header]
    for bot in runner.bots:
        s = bot.stats
        strategy = bot.strategy.name or type(bot.strategy).__name__
        rows.append(
            (
                bot.name,
                strategy,
                str(s.orders_sent),
                str(s.orders_rejected),
                str(s.deals),
                _kwh(s.energy_sold_wh),
                _kwh(s.energy_bought_wh),
                f"{s.pnl_eur:+.2f}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    ticks = runner.timeline.ticks
    if ticks:
        prices = [p for _, p in ticks]
        lines.append(
            f"\nmarket: {len(ticks)} trades, price {min(prices):.4f}..{max(prices):.4f}"
            f" EUR/kWh, last {prices[-1]:.4f}"
        )
    else:
        lines.append("\nmarket: no trades")
    return "\n".join(line.rstrip() for line in lines)
