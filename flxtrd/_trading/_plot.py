"""A picture of a bot run: the market's price ticks and the devices' state over time.

matplotlib is optional (``pip install 'flxtrd[plot]'``) and imported only when a plot is drawn;
:func:`matplotlib_missing_message` says how to install it when it is absent.

The figure has two panels sharing the time axis (UTC):

- top: every market trade's price (EUR/kWh), as dots joined by a step line;
- bottom: each bot's battery state of charge (%), and on a second axis any heat pump's indoor
  temperature (°C), from the telemetry the strategies report after each step.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flxtrd._errors import ConfigurationError

if TYPE_CHECKING:
    from flxtrd._trading._runner import RunTimeline

__all__ = ["INSTALL_HINT", "matplotlib_missing_message", "plot_run"]

INSTALL_HINT = "pip install 'flxtrd[plot]'  (or: pip install matplotlib)"
"""How to get the optional plotting dependency."""


def matplotlib_missing_message() -> str | None:
    """None when matplotlib can be imported, else a sentence saying how to install it."""
    if importlib.util.find_spec("matplotlib") is not None:
        return None
    return f"plotting needs matplotlib, which is not installed; install it with: {INSTALL_HINT}"


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def plot_run(
    timeline: RunTimeline, path: str | os.PathLike[str], *, title: str | None = None
) -> Path:
    """Draw ``timeline`` (see the module doc) into ``path``; the format follows its suffix.

    Raises :class:`~flxtrd.ConfigurationError` when matplotlib is not installed.
    """
    missing = matplotlib_missing_message()
    if missing is not None:
        raise ConfigurationError(missing)
    matplotlib: Any = importlib.import_module("matplotlib")
    matplotlib.use("Agg")  # files only: no window, no display needed
    pyplot: Any = importlib.import_module("matplotlib.pyplot")

    figure, (prices, states) = pyplot.subplots(2, 1, sharex=True, figsize=(10, 6))
    try:
        prices.set_title(title or "flxtrd bot run")
        if timeline.ticks:
            times = [_time(t) for t, _ in timeline.ticks]
            values = [p for _, p in timeline.ticks]
            prices.step(times, values, where="post", color="tab:blue", linewidth=1)
            prices.plot(times, values, "o", color="tab:blue", markersize=3, label="trade price")
            prices.legend(loc="upper left")
        prices.set_ylabel("price (EUR/kWh)")
        prices.grid(True, alpha=0.3)

        temperatures = None
        for name, samples in sorted(timeline.samples.items()):
            times = [_time(t) for t, _ in samples]
            if any("soc_pct" in s for _, s in samples):
                states.plot(times, [s.get("soc_pct") for _, s in samples], label=f"{name}: SoC (%)")
            if any("t_indoor_c" in s for _, s in samples):
                if temperatures is None:
                    temperatures = states.twinx()
                    temperatures.set_ylabel("indoor temperature (°C)")
                temperatures.plot(
                    times,
                    [s.get("t_indoor_c") for _, s in samples],
                    linestyle="--",
                    label=f"{name}: indoor (°C)",
                )
        states.set_ylabel("state of charge (%)")
        states.set_xlabel("time (UTC)")
        states.grid(True, alpha=0.3)
        if states.get_legend_handles_labels()[0]:
            states.legend(loc="upper left")
        if temperatures is not None:
            temperatures.legend(loc="upper right")
        figure.autofmt_xdate()
        figure.tight_layout()
        target = Path(path)
        figure.savefig(target)
    finally:
        pyplot.close(figure)
    return target
