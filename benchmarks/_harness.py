"""Shared pieces of the benchmark scripts (standard library only: 0.2.9's venv imports it too).

Each ``bench_*.py`` script prints its own detailed table and, with ``--json PATH``, writes a
:class:`Report`: one :class:`Measure` per (work item, contender) with the value of every round,
the contenders that have no equivalent (with the reason) and the targets the issues set.
``run_all.py`` reads those files and prints the one side-by-side table.

The three contenders of every work item:

- ``flxtrd``: this project;
- ``0.2.9``: flxtrd 0.2.9 from PyPI, installed into ``.bench-venv`` (never a project dependency);
- ``raw``: the bare library a user could call instead (kombu, httpx, ``json.loads``, a linear
  scan), the reference the issues' ratios are taken against.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH_VENV = ROOT / ".bench-venv"
OLD_VERSION = "0.2.9"
#: What ``.bench-venv`` holds: flxtrd 0.2.9 (it brings pika) and requests (its REST client).
OLD_REQUIREMENTS = (f"flxtrd=={OLD_VERSION}", "requests")

FLXTRD = "flxtrd"
OLD = OLD_VERSION
RAW = "raw"
CONTENDERS = (FLXTRD, OLD, RAW)
EN_DASH = "\u2013"
TIMES = "\u00d7"


# --- results --------------------------------------------------------------------------------


@dataclass
class Measure:
    """One contender's values for one work item, one value per round (or per run)."""

    item: str
    contender: str
    label: str
    unit: str
    values: list[float]
    higher_is_better: bool = True
    note: str = ""

    @property
    def median(self) -> float:
        """The median over rounds."""
        return statistics.median(self.values)

    @property
    def low(self) -> float:
        """The smallest value over rounds."""
        return min(self.values)

    @property
    def high(self) -> float:
        """The largest value over rounds."""
        return max(self.values)


@dataclass
class Target:
    """A goal from the issues: ``flxtrd / other  op  threshold``, or ``flxtrd  op  threshold``.

    ``other`` is a contender name for a ratio of medians, or ``None`` for an absolute value.
    """

    item: str
    op: str
    threshold: float
    source: str
    other: str | None = None

    def describe(self) -> str:
        """The goal as a sentence fragment, e.g. ``flxtrd / raw >= 0.9x``."""
        if self.other is None:
            return f"flxtrd {self.op} {self.threshold:g}"
        return f"flxtrd / {self.other} {self.op} {self.threshold:g}x"


@dataclass
class Report:
    """What one benchmark script measured; written as JSON for ``run_all.py``."""

    script: str
    titles: dict[str, str] = field(default_factory=dict)
    measures: list[Measure] = field(default_factory=list)
    unavailable: dict[str, dict[str, str]] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def item(self, key: str, title: str) -> None:
        """Declare a work item (table order follows declaration order)."""
        self.titles[key] = title

    def add(
        self,
        item: str,
        contender: str,
        label: str,
        unit: str,
        values: Iterable[float],
        *,
        higher_is_better: bool = True,
        note: str = "",
    ) -> Measure:
        """Record a contender's values for ``item``."""
        if item not in self.titles:
            raise KeyError(f"declare work item {item!r} first")
        if contender not in CONTENDERS:
            raise ValueError(f"unknown contender {contender!r}")
        values = [float(v) for v in values]
        if not values:
            raise ValueError(f"{item}/{contender}: no values")
        measure = Measure(item, contender, label, unit, values, higher_is_better, note)
        self.measures.append(measure)
        return measure

    def na(self, item: str, contender: str, reason: str) -> None:
        """Record that ``contender`` has no equivalent of ``item``, and why."""
        self.unavailable.setdefault(item, {})[contender] = reason

    def target(
        self, item: str, op: str, threshold: float, source: str, other: str | None = None
    ) -> None:
        """Record a goal for ``item`` (see :class:`Target`)."""
        if op not in (">=", "<="):
            raise ValueError(f"op must be >= or <=, not {op!r}")
        self.targets.append(Target(item, op, threshold, source, other))

    def get(self, item: str, contender: str) -> Measure | None:
        """The measure of ``contender`` for ``item``, if any."""
        for m in self.measures:
            if m.item == item and m.contender == contender:
                return m
        return None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Report:
        """The inverse of :meth:`to_json`."""
        return cls(
            script=data["script"],
            titles=dict(data.get("titles", {})),
            measures=[Measure(**m) for m in data.get("measures", [])],
            unavailable={k: dict(v) for k, v in data.get("unavailable", {}).items()},
            targets=[Target(**t) for t in data.get("targets", [])],
            params=dict(data.get("params", {})),
            extra=dict(data.get("extra", {})),
        )

    def write(self, path: str | os.PathLike[str] | None) -> None:
        """Write the report to ``path`` (nothing when ``path`` is None)."""
        if path is None:
            return
        Path(path).write_text(json.dumps(self.to_json(), indent=2) + "\n")


def read_report(path: str | os.PathLike[str]) -> Report:
    """Read a report written by :meth:`Report.write`."""
    return Report.from_json(json.loads(Path(path).read_text()))


def add_json_option(parser: argparse.ArgumentParser) -> None:
    """The ``--json PATH`` option every script takes."""
    parser.add_argument(
        "--json", metavar="PATH", default=None, help="also write the results as JSON to PATH"
    )


# --- arithmetic -----------------------------------------------------------------------------


def ratio(a: Measure, b: Measure) -> float:
    """Ratio of the medians, ``a / b`` (value ratio: for ms, below 1 means ``a`` is faster)."""
    return a.median / b.median


def advantage(a: Measure, b: Measure) -> float:
    """How many times better ``a`` is than ``b`` (> 1: ``a`` better), whatever the unit."""
    r = ratio(a, b)
    return r if a.higher_is_better else 1 / r


def target_value(report: Report, target: Target) -> float | None:
    """The measured quantity the target is about (``None`` if a side is missing)."""
    mine = report.get(target.item, FLXTRD)
    if mine is None:
        return None
    if target.other is None:
        return mine.median
    other = report.get(target.item, target.other)
    return None if other is None else ratio(mine, other)


def target_met(value: float, target: Target) -> bool:
    """Whether ``value`` meets ``target``."""
    return value >= target.threshold if target.op == ">=" else value <= target.threshold


def paired_ratios(a: Sequence[float], b: Sequence[float]) -> list[float]:
    """Per-round ratios ``a[i] / b[i]``."""
    if len(a) != len(b):
        raise ValueError("paired ratios need as many values on both sides")
    return [x / y for x, y in zip(a, b, strict=True)]


def rotated(items: Sequence[Any], round_index: int) -> list[Any]:
    """``items`` rotated by ``round_index`` (interleaving: who goes first changes each round)."""
    if not items:
        return []
    shift = round_index % len(items)
    return list(items[shift:]) + list(items[:shift])


# --- formatting -----------------------------------------------------------------------------


def fmt_number(value: float) -> str:
    """A number with a sensible precision for a table cell."""
    size = abs(value)
    if size >= 1000:
        return f"{value:,.0f}"
    if size >= 100:
        return f"{value:.0f}"
    if size >= 10:
        return f"{value:.1f}"
    if size >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def fmt_cell(m: Measure) -> str:
    """``median (min-max)`` (an en dash between min and max)."""
    if len(m.values) == 1:
        return fmt_number(m.median)
    return f"{fmt_number(m.median)} ({fmt_number(m.low)}{EN_DASH}{fmt_number(m.high)})"


def fmt_ratio(value: float) -> str:
    """A ratio such as ``1.46x`` (with a multiplication sign)."""
    if value >= 100:
        return f"{value:,.0f}{TIMES}"
    if value >= 10:
        return f"{value:.1f}{TIMES}"
    return f"{value:.2f}{TIMES}"


# --- the machine ----------------------------------------------------------------------------


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def cpu_model(cpuinfo: str | None = None) -> str:
    """The CPU model name from ``/proc/cpuinfo`` (or ``unknown``)."""
    text = _read("/proc/cpuinfo") if cpuinfo is None else cpuinfo
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and value.strip():
            return value.strip()
    return "unknown"


def memory_total_kib(meminfo: str | None = None) -> int | None:
    """``MemTotal`` from ``/proc/meminfo`` in KiB."""
    text = _read("/proc/meminfo") if meminfo is None else meminfo
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1])
    return None


def status_kib(field_name: str, status: str | None = None) -> int | None:
    """A ``kB`` field (``VmRSS``, ``VmHWM``, ...) of ``/proc/self/status``, in KiB."""
    text = _read("/proc/self/status") if status is None else status
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key == field_name:
            parts = value.split()
            if parts and parts[0].isdigit():
                return int(parts[0])
    return None


def peak_rss_kib() -> int:
    """Peak resident memory of this process (``VmHWM``; else ``ru_maxrss``), KiB."""
    peak = status_kib("VmHWM")
    if peak is not None:
        return peak
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux


def rss_kib() -> int | None:
    """Current resident memory of this process (``VmRSS``), KiB."""
    return status_kib("VmRSS")


# --- flxtrd 0.2.9 ---------------------------------------------------------------------------


def old_python() -> Path:
    """The interpreter of ``.bench-venv``."""
    return BENCH_VENV / "bin" / "python"


def ensure_old_venv() -> Path:
    """``.bench-venv`` with flxtrd 0.2.9 (and its pika) and requests; made when missing."""
    python = old_python()
    probe = (
        "import importlib.metadata as m, pika, requests; "
        f"assert m.version('flxtrd') == {OLD_VERSION!r}"
    )
    ok = python.exists() and (
        subprocess.run(
            [str(python), "-c", probe], capture_output=True, cwd=tempfile.gettempdir()
        ).returncode
        == 0
    )
    if not ok:
        if not python.exists():
            print("creating .bench-venv ...", file=sys.stderr, flush=True)
            subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)], check=True)
        print(f"installing {' '.join(OLD_REQUIREMENTS)} into .bench-venv ...", file=sys.stderr)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", *OLD_REQUIREMENTS], check=True
        )
    return python


def old_env() -> dict[str, str]:
    """Environment for a ``.bench-venv`` child: no PYTHONPATH, so it imports 0.2.9."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
