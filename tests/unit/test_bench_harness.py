"""The benchmark harness (benchmarks/_harness.py) and run_all's table; no timing is asserted."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def harness(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """benchmarks/_harness.py, imported as the scripts import it."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module("_harness")


@pytest.fixture
def run_all(harness: ModuleType) -> ModuleType:
    """benchmarks/run_all.py (its top level imports only the stdlib and _harness)."""
    return importlib.import_module("run_all")


def sample_report(h: ModuleType) -> object:
    """Two work items: a rate with a missing 0.2.9, a time with no raw reference."""
    report = h.Report("bench_x")
    report.item("send", "send")
    report.item("rt", "round trip")
    report.add("send", h.FLXTRD, "mine", "msg/s", [10, 30, 20])
    report.add("send", h.RAW, "bare", "msg/s", [8, 12, 10])
    report.na("send", h.OLD, "no such thing in 0.2.9")
    report.add("rt", h.FLXTRD, "mine", "ms", [1.0, 2.0, 1.5], higher_is_better=False)
    report.add("rt", h.OLD, "old", "ms", [3.0, 3.0, 3.0], higher_is_better=False)
    report.target("send", ">=", 1.5, "issue 4", h.RAW)
    report.target("rt", "<=", 2.0, "issue 5")
    return report


def test_measure_summarises_rounds(harness: ModuleType) -> None:
    """A measure's median, low and high come from its rounds."""
    m = harness.Measure("i", harness.FLXTRD, "l", "msg/s", [5.0, 1.0, 3.0, 9.0])
    assert (m.median, m.low, m.high) == (4.0, 1.0, 9.0)


def test_report_refuses_bad_input(harness: ModuleType) -> None:
    """Undeclared items, unknown contenders, empty values and unknown operators are refused."""
    report = harness.Report("s")
    with pytest.raises(KeyError):
        report.add("nope", harness.FLXTRD, "l", "u", [1])
    report.item("i", "title")
    with pytest.raises(ValueError):
        report.add("i", "someone", "l", "u", [1])
    with pytest.raises(ValueError):
        report.add("i", harness.FLXTRD, "l", "u", [])
    with pytest.raises(ValueError):
        report.target("i", ">", 1, "issue")


def test_report_survives_json(harness: ModuleType, tmp_path: Path) -> None:
    """A report written with --json reads back equal."""
    report = sample_report(harness)
    path = tmp_path / "r.json"
    report.write(path)
    json.loads(path.read_text())  # plain JSON
    assert harness.read_report(path) == report
    report.write(None)  # no path: nothing written, no error


def test_ratio_and_advantage_follow_the_unit(harness: ModuleType) -> None:
    """Ratios are of medians; advantage inverts them when lower is better."""
    report = sample_report(harness)
    send = (report.get("send", harness.FLXTRD), report.get("send", harness.RAW))
    rt = (report.get("rt", harness.FLXTRD), report.get("rt", harness.OLD))
    assert harness.ratio(*send) == 2.0
    assert harness.advantage(*send) == 2.0
    assert harness.ratio(*rt) == 0.5
    assert harness.advantage(*rt) == 2.0
    assert report.get("send", harness.OLD) is None


def test_targets_are_judged(harness: ModuleType) -> None:
    """A ratio target uses the ratio of medians, an absolute one flxtrd's median."""
    report = sample_report(harness)
    ratio_target, absolute_target = report.targets
    assert harness.target_value(report, ratio_target) == 2.0
    assert harness.target_met(2.0, ratio_target)
    assert not harness.target_met(1.4, ratio_target)
    assert harness.target_value(report, absolute_target) == 1.5
    assert harness.target_met(1.5, absolute_target)
    assert not harness.target_met(2.5, absolute_target)
    missing = harness.Target("send", ">=", 1, "issue", harness.OLD)
    assert harness.target_value(report, missing) is None
    assert absolute_target.describe() == "flxtrd <= 2"
    assert ratio_target.describe() == "flxtrd / raw >= 1.5x"


def test_rotation_and_pairing(harness: ModuleType) -> None:
    """Rounds rotate who goes first; paired ratios need equal lengths."""
    assert harness.rotated([1, 2, 3], 0) == [1, 2, 3]
    assert harness.rotated([1, 2, 3], 1) == [2, 3, 1]
    assert harness.rotated([1, 2, 3], 5) == [3, 1, 2]
    assert harness.rotated([], 3) == []
    assert harness.paired_ratios([2, 9], [1, 3]) == [2.0, 3.0]
    with pytest.raises(ValueError):
        harness.paired_ratios([1], [1, 2])


def test_formatting(harness: ModuleType) -> None:
    """Numbers, cells and ratios are formatted for the table."""
    assert harness.fmt_number(12345.6) == "12,346"
    assert harness.fmt_number(123.4) == "123"
    assert harness.fmt_number(12.34) == "12.3"
    assert harness.fmt_number(1.234) == "1.23"
    assert harness.fmt_number(0.8234) == "0.823"
    m = harness.Measure("i", harness.FLXTRD, "l", "u", [1.0, 2.0, 3.0])
    assert harness.fmt_cell(m) == "2.00 (1.00\u20133.00)"
    assert harness.fmt_cell(harness.Measure("i", harness.FLXTRD, "l", "u", [7.0])) == "7.00"
    assert harness.fmt_ratio(1.456) == "1.46\u00d7"
    assert harness.fmt_ratio(57.3) == "57.3\u00d7"
    assert harness.fmt_ratio(368.6) == "369\u00d7"


def test_machine_description_parsers(harness: ModuleType) -> None:
    """CPU model, total memory and /proc/self/status fields are read from their text."""
    assert harness.cpu_model("processor\t: 0\nmodel name\t: AMD EPYC 7B13\n") == "AMD EPYC 7B13"
    assert harness.cpu_model("processor\t: 0\n") == "unknown"
    assert harness.memory_total_kib("MemTotal:       24576000 kB\nMemFree: 1 kB\n") == 24576000
    assert harness.memory_total_kib("") is None
    status = "Name:\tpython\nVmHWM:\t  51200 kB\nVmRSS:\t  40960 kB\n"
    assert harness.status_kib("VmHWM", status) == 51200
    assert harness.status_kib("VmRSS", status) == 40960
    assert harness.status_kib("VmSwap", status) is None


def test_peak_rss_is_reported(harness: ModuleType) -> None:
    """This process has a positive peak resident memory, at least its current one."""
    peak = harness.peak_rss_kib()
    assert peak > 0
    current = harness.rss_kib()
    assert current is None or peak >= current


def test_table_shows_na_reasons_and_ratios(harness: ModuleType, run_all: ModuleType) -> None:
    """run_all's table gives each missing contender a note with its reason, and the ratios."""
    report = run_all.merged([sample_report(harness)])
    text, notes = run_all.table(report, list(report.titles))
    rows = text.splitlines()
    assert len(rows) == 4  # header, rule, two items
    send = rows[2].split(" | ")
    assert "n/a [1]" in send[3]
    assert send[-2:] == ["n/a", "2.00\u00d7 |"]
    assert notes == [
        "flxtrd 0.2.9: no such thing in 0.2.9",
        "raw library: not measured this run",
    ]
    assert "ms (lower is better)" in rows[3]
    assert "0.500\u00d7" not in rows[3] and "0.50\u00d7" in rows[3]


def test_targets_section_and_plot_data(harness: ModuleType, run_all: ModuleType) -> None:
    """Targets read met / NOT MET; the plot data says how many times better flxtrd is."""
    report = run_all.merged([sample_report(harness)])
    lines = run_all.targets_section(report)
    assert "measured 2.000x: **met**" in lines[0]
    assert "flxtrd <= 2.00 ms" in lines[1] and "**met**" in lines[1]
    assert run_all.plot_data(report) == [
        {"item": "send", "0.2.9": None, "raw": 2.0},
        {"item": "round trip", "0.2.9": 2.0, "raw": None},
    ]


def test_merged_orders_items_and_keeps_targets(harness: ModuleType, run_all: ModuleType) -> None:
    """Merged reports list work items in the runner's order, whatever the script order."""
    later = harness.Report("b")
    later.item("roundtrip", "rt")
    later.add("roundtrip", harness.FLXTRD, "l", "ms", [1], higher_is_better=False)
    earlier = harness.Report("a")
    earlier.item("amqp_per_order", "send")
    earlier.add("amqp_per_order", harness.FLXTRD, "l", "msg/s", [1])
    earlier.target("amqp_per_order", ">=", 1, "issue 4", harness.RAW)
    merged = run_all.merged([later, earlier])
    assert list(merged.titles) == ["amqp_per_order", "roundtrip"]
    assert len(merged.targets) == 1
