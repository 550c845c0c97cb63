"""docs/market_data_notebook.py runs as a script: frames of a sandbox run and a PNG plot."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

NOTEBOOK = Path(__file__).resolve().parents[2] / "docs" / "market_data_notebook.py"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def shapes(output: str) -> dict[str, tuple[int, int]]:
    """The ``name (rows, columns)`` lines the notebook prints."""
    found = re.findall(r"^(deals|ticks|states|slots) (\(\d+, \d+\))$", output, flags=re.M)
    return {name: ast.literal_eval(shape) for name, shape in found}


def test_the_notebook_is_in_percent_format() -> None:
    """Cells are marked ``# %%``, with markdown cells among them (jupytext's percent format)."""
    text = NOTEBOOK.read_text()
    assert text.count("\n# %%\n") >= 4 and text.count("# %% [markdown]") >= 3


def test_the_notebook_runs_and_saves_the_price_and_soc_plot(tmp_path: Path) -> None:
    """Run as a script into a temp dir: deals and ticks frames match, states exist, PNG saved."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLXTRD_", "MPLBACKEND"))}
    result = subprocess.run(
        [sys.executable, str(NOTEBOOK), str(tmp_path)],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    got = shapes(result.stdout)
    assert set(got) == {"deals", "ticks", "states", "slots"}, result.stdout
    (deal_rows, deal_cols), (tick_rows, tick_cols) = got["deals"], got["ticks"]
    assert deal_rows > 0 and deal_cols == 6 and tick_cols == 6
    assert tick_rows == deal_rows  # the observer got a tick for every deal
    assert got["states"][0] > 0 and got["states"][1] >= 2  # bot + soc_pct at least
    assert 0 < got["slots"][0] <= deal_rows and got["slots"][1] == 3
    png = tmp_path / "market_data.png"
    assert f"plot {png}" in result.stdout
    data = png.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 10_000
