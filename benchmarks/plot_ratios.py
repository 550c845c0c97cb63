"""Draw the benchmark ratios as a bar chart (run by ``run_all.py`` with benchmarks/.plot-venv).

    benchmarks/.plot-venv/bin/python benchmarks/plot_ratios.py RATIOS.json OUT.png

RATIOS.json: ``{"subtitle": str, "rows": [{"item": str, "0.2.9": float | null,
"raw": float | null}, ...]}`` where each number says how many times better flxtrd is than that
contender on the work item (> 1: flxtrd better; for times and memory the inverse ratio), as
``run_all.plot_data`` computes it. Needs matplotlib, which is not a project dependency.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt

SERIES = (("0.2.9", "vs flxtrd 0.2.9", "tab:orange"), ("raw", "vs the raw library", "tab:blue"))


def draw(data: dict[str, Any], out: str) -> None:
    """One horizontal bar pair per work item, log scale, a line at 1x."""
    rows = data["rows"][::-1]  # first item on top
    height = 0.38
    fig, ax = plt.subplots(figsize=(11, 0.62 * len(rows) + 1.8))
    values = [r[k] for r in rows for k, _, _ in SERIES if r.get(k)]
    low = min([*values, 0.5]) / 2.2
    high = max([*values, 2.0]) * 2.2
    for offset, (key, label, color) in zip((height / 2, -height / 2), SERIES, strict=True):
        ys = [i + offset for i, r in enumerate(rows) if r.get(key)]
        xs = [r[key] for r in rows if r.get(key)]
        # Bars grow from 1x: right when flxtrd is better, left when it is worse.
        ax.barh(ys, [x - 1 for x in xs], height=height, color=color, label=label, left=1)
        for y, x in zip(ys, xs, strict=True):
            text = f"{x:.2f}x" if x < 10 else f"{x:.0f}x"
            if x >= 1:
                ax.text(x * 1.06, y, text, va="center", ha="left", fontsize=8)
            else:
                ax.text(x / 1.06, y, text, va="center", ha="right", fontsize=8)
        for i, r in enumerate(rows):
            if not r.get(key):
                ax.text(1.06, i + offset, "n/a", va="center", fontsize=8, color="grey")
    ax.set_xscale("log")
    ax.set_xlim(low, high)
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_yticks(range(len(rows)), [r["item"] for r in rows], fontsize=9)
    ax.set_xlabel("times better than the other (> 1: flxtrd is better; log scale)")
    ax.set_title(f"flxtrd vs flxtrd 0.2.9 and the raw library\n{data['subtitle']}", fontsize=11)
    ax.grid(axis="x", which="both", alpha=0.25)
    ax.legend(loc="lower right", fontsize=9)
    if not math.isfinite(high):
        raise SystemExit("bad ratios")
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        draw(json.load(f), sys.argv[2])
