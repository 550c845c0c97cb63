"""Run every benchmark side by side and write one table to BENCHMARKS.md (``make bench``).

Usage: .venv/bin/python benchmarks/run_all.py [--only NAME ...] [--no-plot] [--out PATH] [--quick]

``fleet`` (``bench_fleet.py``: 10, 100 and 1,000 devices on a RabbitMQ node of its own) is not a
three-contender script: its own "## Fleets" section goes into BENCHMARKS.md, and ``--only fleet``
replaces that section alone, leaving the rest of the file as it was.

Each ``bench_*.py`` script measures its work items in interleaved rounds for three contenders
(flxtrd, flxtrd 0.2.9 from PyPI in ``.bench-venv``, and the raw library) and writes its results
with ``--json``; this runner runs them one after another, reads those files and prints ONE table:
per work item the median with min-max of each contender and the ratios of medians, then the
peak-memory figures and the issues' targets, met or not. BENCHMARKS.md gets the same plus the
machine description, the command, the runtime and every script's own detailed output;
``docs/benchmarks.png`` plots the ratios (matplotlib from a benchmark-only virtualenv,
``benchmarks/.plot-venv``, made here when missing; never a project dependency).

Needs RabbitMQ on 127.0.0.1:5672 (guest/guest) for the AMQP, round-trip and memory benchmarks;
``bench_sandbox_scale.py`` starts a RabbitMQ node of its own on port 5674 (``rabbitmq-server``
must be installed) and writes the "Sandbox at fleet scale" section and ``docs/sandbox_scale.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _harness import (
    CONTENDERS,
    FLXTRD,
    OLD,
    RAW,
    Measure,
    Report,
    advantage,
    cpu_model,
    ensure_old_venv,
    fmt_cell,
    fmt_number,
    fmt_ratio,
    memory_total_kib,
    ratio,
    read_report,
    target_met,
    target_value,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PLOT_VENV = HERE / ".plot-venv"
PLOT_PNG = ROOT / "docs" / "benchmarks.png"
COMMAND = "make bench"
RUNS = ".venv/bin/python benchmarks/run_all.py"
#: Scripts in running order (the table follows the work items' order below).
SCRIPTS = ("amqp", "rest", "decode", "matching", "roundtrip", "memory", "sandbox_scale")
FLEET = "fleet"
FLEET_QUICK = ["--sizes", "10", "--orders", "500"]
FLEET_HEADING = "## Fleets"
FLEET_PNG = ROOT / "docs" / "fleet.png"
#: ``--quick``: tiny sizes, to check the plumbing in seconds (the figures mean nothing).
QUICK = {
    "amqp": ["-n", "500"],
    "rest": ["--n-http", "50", "--n-https", "30", "--batches", "2", "--n-029-http", "20",
             "--n-029-https", "5", "--import-rounds", "5"],
    "decode": ["--messages", "2000", "--rounds", "5"],
    "matching": ["--orders", "1000", "--reference-seconds", "0.05", "--sizes", "0,1000"],
    "roundtrip": ["-n", "200", "--warmup", "10"],
    "memory": ["--count", "20000"],
    "sandbox_scale": ["--resting", "10,100", "--orders", "500", "--connections", "10",
                      "--subscribers", "10", "--trades", "2", "--no-plot"],
}  # fmt: skip
ITEM_ORDER = (
    "amqp_per_order",
    "amqp_batch",
    "amqp_ceiling",
    "rest_http",
    "rest_https",
    "import",
    "decode_inbound",
    "decode_models",
    "matching",
    "roundtrip",
    "sbx_matching",
    "sbx_devices",
    "sbx_fanout",
    "memory_peak",
)
MEMORY_ITEMS = ("memory_peak",)
HEADINGS = {FLXTRD: "flxtrd", OLD: "flxtrd 0.2.9", RAW: "raw library"}


# --- the machine ----------------------------------------------------------------------------


def rabbitmq_version(url: str) -> str:
    """The broker's version, from its AMQP server properties."""
    try:
        from kombu import Connection

        with Connection(url, connect_timeout=5) as conn:
            conn.connect()
            version = conn.connection.server_properties.get("version", "?")
            product = conn.connection.server_properties.get("product", "RabbitMQ")
    except Exception as exc:
        return f"unreachable ({type(exc).__name__})"
    decode = lambda v: v.decode() if isinstance(v, bytes) else str(v)  # noqa: E731
    return f"{decode(product)} {decode(version)}"


def machine(url: str) -> dict[str, Any]:
    """What the figures were measured on."""
    ram = memory_total_kib()
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": None if ram is None else round(ram / 1024 / 1024, 1),
        "os": f"{platform.system()} {platform.release()} {platform.machine()}",
        "python": platform.python_version(),
        "rabbitmq": rabbitmq_version(url),
    }


def load_average() -> str:
    """The 1, 5 and 15 minute load averages."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


# --- running the scripts --------------------------------------------------------------------


def run_script(name: str, json_path: Path, extra: list[str]) -> tuple[int, str, float]:
    """Run ``bench_<name>.py --json json_path``; echo its output live; (exit code, stdout, s)."""
    script = HERE / f"bench_{name}.py"
    print(f"\n== {script.name}", flush=True)
    began = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(script), "--json", str(json_path), *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        bufsize=1,
    )  # stderr (progress) goes straight to the terminal
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        sys.stdout.write(line)
        lines.append(line)
    code = proc.wait()
    return code, "".join(lines), time.perf_counter() - began


def run_fleet(quick: bool, no_plot: bool) -> tuple[int, str, float, str]:
    """Run ``bench_fleet.py``; (exit code, its output, seconds, its BENCHMARKS.md section)."""
    with tempfile.TemporaryDirectory() as tmp:
        section = Path(tmp) / "fleet.md"
        extra = ["--markdown", str(section)] + ([] if no_plot else ["--plot", str(FLEET_PNG)])
        code, output, seconds = run_script(
            FLEET, Path(tmp) / "fleet.json", (FLEET_QUICK if quick else []) + extra
        )
        text = section.read_text() if section.exists() else ""
    return code, output, seconds, text


def splice_fleet(doc: str, section: str) -> str:
    """``doc`` with its "## Fleets" section replaced (or added before "## Per script")."""
    if FLEET_HEADING in doc:
        head, rest = doc.split(FLEET_HEADING, 1)
        tail = rest[rest.index("\n## ") + 1 :] if "\n## " in rest else ""
        return head + section.rstrip("\n") + "\n\n" + tail
    if "## Per script" in doc:
        head, tail = doc.split("## Per script", 1)
        return head + section.rstrip("\n") + "\n\n## Per script" + tail
    return doc.rstrip("\n") + "\n\n" + section


# --- the table ------------------------------------------------------------------------------


def merged(reports: list[Report]) -> Report:
    """All reports as one (items in ITEM_ORDER, then any others in the order met)."""
    out = Report("all")
    titles: dict[str, str] = {}
    for report in reports:
        titles.update(report.titles)
        out.measures += report.measures
        out.targets += report.targets
        for item, reasons in report.unavailable.items():
            out.unavailable.setdefault(item, {}).update(reasons)
    order = [i for i in ITEM_ORDER if i in titles] + [i for i in titles if i not in ITEM_ORDER]
    out.titles = {i: titles[i] for i in order}
    return out


def _unit(m: Measure) -> str:
    return m.unit if m.higher_is_better else f"{m.unit} (lower is better)"


def table(report: Report, items: list[str]) -> tuple[str, list[str]]:
    """The markdown table of ``items`` and its numbered notes (n/a reasons, caveats)."""
    notes: list[str] = []

    def note(text: str) -> str:
        if text not in notes:
            notes.append(text)
        return f"[{notes.index(text) + 1}]"

    head = (
        "| work item | unit | flxtrd | flxtrd 0.2.9 | raw library | raw reference"
        " | flxtrd / 0.2.9 | flxtrd / raw |"
    )
    lines = [head, "|---|---|--:|--:|--:|---|--:|--:|"]
    for item in items:
        cells: dict[str, str] = {}
        measures = {c: report.get(item, c) for c in CONTENDERS}
        any_measure = next(m for m in measures.values() if m is not None)
        for contender, m in measures.items():
            if m is None:
                reason = report.unavailable.get(item, {}).get(contender, "not measured this run")
                cells[contender] = f"n/a {note(f'{HEADINGS[contender]}: {reason}')}"
            else:
                cells[contender] = fmt_cell(m) + (f" {note(m.note)}" if m.note else "")
        raw_label = measures[RAW].label if measures[RAW] is not None else ""
        mine = measures[FLXTRD]
        ratios = []
        for other in (OLD, RAW):
            theirs = measures[other]
            ratios.append(
                fmt_ratio(ratio(mine, theirs)) if mine is not None and theirs is not None else "n/a"
            )
        lines.append(
            f"| {report.titles[item]} | {_unit(any_measure)} | {cells[FLXTRD]} | {cells[OLD]}"
            f" | {cells[RAW]} | {raw_label} | {ratios[0]} | {ratios[1]} |"
        )
    return "\n".join(lines), notes


def what_ran(report: Report, items: list[str]) -> list[str]:
    """Per work item, what each contender ran."""
    lines = []
    for item in items:
        parts = []
        for contender in CONTENDERS:
            m = report.get(item, contender)
            if m is not None:
                parts.append(f"{HEADINGS[contender]}: {m.label}")
        lines.append(f"- {report.titles[item]}: " + "; ".join(parts))
    return lines


def targets_section(report: Report) -> list[str]:
    """One line per target: what, measured, met or not."""
    lines = []
    for t in report.targets:
        value = target_value(report, t)
        title = report.titles.get(t.item, t.item)
        if value is None:
            lines.append(f"- {title}: {t.describe()} ({t.source}): not measured")
            continue
        measure = report.get(t.item, FLXTRD)
        unit = f" {measure.unit}" if measure is not None else ""
        if t.other is not None:
            goal = f"flxtrd / {HEADINGS[t.other]} {t.op} {t.threshold:g}x"
            shown = f"{value:.3f}x" if value < 10 else f"{value:.1f}x"
        else:
            goal = f"flxtrd {t.op} {fmt_number(t.threshold)}{unit}"
            shown = f"{fmt_number(value)}{unit}"
        verdict = "**met**" if target_met(value, t) else "**NOT MET**"
        lines.append(f"- {title}: {goal} ({t.source}) - measured {shown}: {verdict}")
    return lines


def memory_lines(reports: list[Report]) -> list[str]:
    """Start and peak RSS of each memory client, and its RSS as the ticks arrived."""
    lines = []
    for report in reports:
        runs = report.extra.get("runs")
        if report.script != "bench_memory" or not runs:
            continue
        for contender, run in runs.items():
            curve = ", ".join(f"{n // 1000:,}k: {rss / 1024:.0f}" for n, rss in run["samples"])
            lines.append(
                f"- {HEADINGS[contender]}: peak RSS **{run['peak_rss_kib'] / 1024:.1f} MiB**"
                f" (RSS {run['start_rss_kib'] / 1024:.1f} MiB when connected); received"
                f" {run['received']:,}, still buffered {run['buffered']:,}; RSS (MiB) by ticks"
                f" received: {curve}"
            )
    return lines


# --- the plot -------------------------------------------------------------------------------


def sandbox_section(reports: list[Report]) -> list[str]:
    """The "Sandbox at fleet scale" section from bench_sandbox_scale's report (or nothing)."""
    for report in reports:
        if report.script != "bench_sandbox_scale":
            continue
        lines = ["## Sandbox at fleet scale", "", report.extra.get("intro", ""), ""]
        plot_path = report.extra.get("plot")
        if plot_path:
            rel = os.path.relpath(plot_path, ROOT)
            lines += [f"![sandbox cost curves]({rel})", ""]
        lines += [report.extra.get("markdown", ""), "", report.extra.get("findings", ""), ""]
        return lines
    return []


def plot_data(report: Report) -> list[dict[str, Any]]:
    """Per work item: how many times better flxtrd is than 0.2.9 and than the raw library."""
    rows = []
    for item, title in report.titles.items():
        mine = report.get(item, FLXTRD)
        if mine is None:
            continue
        row: dict[str, Any] = {"item": title}
        for other in (OLD, RAW):
            theirs = report.get(item, other)
            row[other] = None if theirs is None else advantage(mine, theirs)
        rows.append(row)
    return rows


def ensure_plot_venv() -> Path:
    """``benchmarks/.plot-venv`` with matplotlib (benchmark-only; made when missing)."""
    python = PLOT_VENV / "bin" / "python"
    if (
        python.exists()
        and subprocess.run([str(python), "-c", "import matplotlib"], capture_output=True).returncode
        == 0
    ):
        return python
    print("creating benchmarks/.plot-venv with matplotlib ...", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(PLOT_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "matplotlib"], check=True)
    return python


def plot(report: Report, subtitle: str) -> str | None:
    """Draw docs/benchmarks.png; an error message, or None when it worked."""
    try:
        python = ensure_plot_venv()
    except (OSError, subprocess.CalledProcessError) as exc:
        return f"no plot: could not make benchmarks/.plot-venv ({exc})"
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"rows": plot_data(report), "subtitle": subtitle}, f)
    try:
        PLOT_PNG.parent.mkdir(exist_ok=True)
        done = subprocess.run(
            [str(python), str(HERE / "plot_ratios.py"), f.name, str(PLOT_PNG)],
            capture_output=True,
            text=True,
        )
    finally:
        os.unlink(f.name)
    return None if done.returncode == 0 else f"no plot: {done.stderr[-500:]}"


# --- main -----------------------------------------------------------------------------------


def main() -> int:
    """Run the benchmarks, print the table, write BENCHMARKS.md; exit 1 if a script failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", nargs="*", default=None, help=f"some of: {' '.join(SCRIPTS)} {FLEET}"
    )
    parser.add_argument("--no-plot", action="store_true", help="leave docs/benchmarks.png alone")
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"), help="the report file")
    parser.add_argument("--url", default="amqp://guest:guest@127.0.0.1:5672//")
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes: checks the plumbing, figures mean nothing"
    )
    options = parser.parse_args()
    scripts = [s for s in SCRIPTS if not options.only or s in options.only]
    with_fleet = not options.only or FLEET in options.only
    if options.only == [FLEET]:  # the fleet section alone, the rest of the file kept
        code, _, seconds, section = run_fleet(options.quick, options.no_plot)
        if code == 0 and section:
            out = Path(options.out)
            out.write_text(splice_fleet(out.read_text() if out.exists() else "", section))
            print(f"updated the fleet section of {out} ({seconds:.0f} s)")
        return 1 if code or not section else 0

    began = time.perf_counter()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load_before = load_average()
    host = machine(options.url)
    ensure_old_venv()

    reports: list[Report] = []
    outputs: dict[str, tuple[int, str, float]] = {}
    failed = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in scripts:
            json_path = Path(tmp) / f"{name}.json"
            extra = QUICK[name] if options.quick else []
            code, output, seconds = run_script(name, json_path, extra)
            outputs[name] = (code, output, seconds)
            if code != 0 or not json_path.exists():
                failed.append(name)
                continue
            reports.append(read_report(json_path))

    fleet_section = ""
    if with_fleet:
        code, output, seconds, fleet_section = run_fleet(options.quick, options.no_plot)
        outputs[FLEET] = (code, output, seconds)
        if code != 0 or not fleet_section:
            failed.append(FLEET)

    report = merged(reports)
    timed = [i for i in report.titles if i not in MEMORY_ITEMS]
    main_table, main_notes = table(report, timed)
    memory_items = [i for i in report.titles if i in MEMORY_ITEMS]
    mem_table, mem_notes = table(report, memory_items) if memory_items else ("", [])
    targets = targets_section(report)
    mem_details = memory_lines(reports)

    plot_error = None
    if not options.no_plot and report.measures:
        plot_error = plot(report, f"{host['cpu']}, {host['cores']} cores; {started}")
    elapsed = time.perf_counter() - began
    load_after = load_average()

    summary = [
        "Medians of >= 5 interleaved rounds, (min-max) over rounds; ratios are ratios of"
        " medians, flxtrd / other (for a time in ms below 1x means flxtrd is faster).",
        "",
        main_table,
        "",
        *[f"[{i + 1}] {text}" for i, text in enumerate(main_notes)],
        "",
        "What each cell ran:",
        "",
        *what_ran(report, timed),
    ]
    if mem_table:
        summary += [
            "",
            "Memory (one run per client; the buffer is never emptied):",
            "",
            mem_table,
            "",
            *[f"[{i + 1}] {text}" for i, text in enumerate(mem_notes)],
            *([""] if mem_notes else []),
            *mem_details,
        ]
    summary += ["", "Targets from the issues:", "", *targets]
    print("\n" + "=" * 100)
    print("\n".join(summary))
    print(f"\n{RUNS}: {elapsed / 60:.1f} min; failed: {', '.join(failed) or 'none'}")

    doc = [
        "# Benchmarks",
        "",
        "flxtrd side by side with flxtrd 0.2.9 (from PyPI, in the benchmark's own virtualenv"
        " `.bench-venv`, never a project dependency) and with the raw library each work item"
        " is built on. Scripts in `benchmarks/`; nothing here is a test and no test asserts a"
        " time.",
        "",
        f"- Command: `{COMMAND}` (it runs `{RUNS}`; `--only NAME ...` runs some of:"
        f" {', '.join(SCRIPTS)}; each `benchmarks/bench_NAME.py` also runs on its own)",
        f"- Measured: {started}; the whole run took {elapsed / 60:.1f} min"
        + (f"; failed: {', '.join(failed)}" if failed else ""),
        f"- Machine: {host['cpu']}, {host['cores']} cores, {host['ram_gib']} GiB RAM,"
        f" {host['os']}; Python {host['python']}; {host['rabbitmq']} on 127.0.0.1:5672",
        f"- Load average (1, 5, 15 min) before: {load_before}; after: {load_after}"
        " (a shared machine: other work runs beside the benchmarks, which is why every"
        " contender runs interleaved with the others)",
        "",
        "![flxtrd against 0.2.9 and the raw library](docs/benchmarks.png)",
        "",
        "## Results",
        "",
        *summary,
        "",
        *sandbox_section(reports),
        "## Per script",
        "",
        "Each script's own output (more cases and percentiles than the table above).",
    ]
    if plot_error:
        doc[doc.index("![flxtrd against 0.2.9 and the raw library](docs/benchmarks.png)")] = (
            f"({plot_error})"
        )
    for name, (code, output, seconds) in outputs.items():
        status = f"exit {code}, " if code else ""
        doc += [
            "",
            f"### bench_{name}.py ({status}{seconds:.0f} s)",
            "",
            "```",
            output.strip(),
            "```",
        ]
    text = "\n".join(doc) + "\n"
    if fleet_section:
        text = splice_fleet(text, fleet_section)
    Path(options.out).write_text(text)
    written = os.path.relpath(options.out, ROOT)
    print(f"wrote {written}" + ("" if plot_error else f" and {PLOT_PNG.relative_to(ROOT)}"))
    if plot_error:
        print(plot_error, file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
