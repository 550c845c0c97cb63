"""``import flxtrd`` over the project's history: this tree beside earlier commits (not a test).

Issue 13 asks that DataFrames (``flxtrd.frames``, the ``pandas`` extra) and the new commands
leave ``import flxtrd`` as fast as it was and pandas out of it. This script times
``python -c "import flxtrd"`` for:

- ``this tree``: the working tree's ``flxtrd/`` and ``generated/``;
- each ``--baseline REV`` (default: the commit before ``flxtrd/frames.py`` arrived on the
  first-parent history -- main before the DataFrames work -- and the merge base with ``main``),
  its ``flxtrd/`` and ``generated/`` taken with ``git archive`` (the repository is only read);
- ``python -c "pass"``: the interpreter's own start, the floor;
- ``import flxtrd, pandas`` (this tree): what the import would cost if it pulled pandas in.

Every tree is copied into one temporary directory and run by the same interpreter (this venv's,
so the same dependency versions) with ``PYTHONPATH=<copy>:<copy>/generated`` from a neutral
working directory; a probe checks each copy is the one imported. Each is run once to write its
bytecode, then all run interleaved in a rotating order (``_harness.rotated``) for ``--rounds``
rounds. Beside the wall time the script reports how many modules each import loads and whether
pandas is among them.

    .venv/bin/python benchmarks/bench_import.py [--rounds 30] [--baseline REV ...] [--json PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from _harness import FLXTRD, Measure, Report, add_json_option, fmt_cell, fmt_ratio, rotated

ROOT = Path(__file__).resolve().parents[1]
TREES = ("flxtrd", "generated")
PROBE = "; import sys, flxtrd; print(flxtrd.__file__, len(sys.modules), 'pandas' in sys.modules)"
"""Appended to a contender's code: where flxtrd came from, modules loaded, pandas or not."""


@dataclass
class Contender:
    """One ``python -c`` command with the tree it imports (None: no flxtrd on the path)."""

    name: str
    code: str
    tree: Path | None
    values: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    modules: int | None = None
    pandas: bool | None = None

    def env(self) -> dict[str, str]:
        """The environment: PYTHONPATH on the tree and its generated packages only."""
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        if self.tree is not None:
            env["PYTHONPATH"] = os.pathsep.join([str(self.tree), str(self.tree / "generated")])
        return env

    def run(self, code: str | None = None) -> str:
        """Run the command (or ``code``) once, from a neutral directory; its output."""
        done = subprocess.run(
            [sys.executable, "-c", code or self.code],
            env=self.env(),
            cwd=tempfile.gettempdir(),
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout

    def time_once(self) -> None:
        """One timed run: wall ms, and the child's CPU ms (user + system; steadier when shared)."""
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        self.run()
        self.values.append((time.perf_counter() - start) * 1000)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        spent = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        self.cpu.append(spent * 1000)

    def probe(self) -> None:
        """Check the copy is what gets imported; count the modules; look for pandas."""
        if self.tree is None:
            return
        where, modules, pandas = self.run(self.code + PROBE).split()
        if not Path(where).resolve().is_relative_to(self.tree.resolve()):
            raise RuntimeError(f"{self.name}: imported {where}, not the copy in {self.tree}")
        self.modules, self.pandas = int(modules), pandas == "True"


def git(*args: str) -> str:
    """Run git in the repository (read-only commands only) and return its output."""
    return subprocess.run(
        ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def default_baselines() -> list[tuple[str, str]]:
    """(label, rev): the commit before flxtrd/frames.py arrived on the first-parent history,
    and the merge base with main."""
    arrived = git(
        "log", "--first-parent", "--diff-filter=A", "--format=%H", "--", "flxtrd/frames.py"
    )
    revs = [("before frames", f"{arrived.splitlines()[-1]}^1")] if arrived else []
    with contextlib.suppress(subprocess.CalledProcessError):  # no main branch: skip it
        revs.append(("main", git("merge-base", "HEAD", "main")))
    return revs


def extract(rev: str, into: Path) -> Path:
    """``flxtrd/`` and ``generated/`` of ``rev`` in ``into`` (``git archive``, then tar)."""
    into.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", rev, *TREES],
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def copy_worktree(into: Path) -> Path:
    """This working tree's ``flxtrd/`` and ``generated/`` in ``into`` (no bytecode caches)."""
    for tree in TREES:
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        shutil.copytree(ROOT / tree, into / tree, ignore=ignore)
    return into


def build_report(contenders: list[Contender], params: dict[str, object]) -> Report:
    """The JSON report: this tree as the flxtrd contender, the rest in ``extra``."""
    report = Report("bench_import", params=params)
    report.item("import_history", "`import flxtrd` vs earlier commits (python -c, wall time)")
    mine = contenders[0]
    report.add("import_history", FLXTRD, 'python -c "import flxtrd" (this tree)', "ms",
               mine.values, higher_is_better=False)  # fmt: skip
    report.extra["contenders"] = {
        c.name: {"wall_ms": c.values, "cpu_ms": c.cpu, "modules": c.modules, "pandas": c.pandas}
        for c in contenders
    }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30, help="interleaved rounds (>= 5)")
    parser.add_argument(
        "--baseline", action="append", default=None, metavar="REV",
        help="a commit to compare with (repeatable; default: before frames, and main's base)",
    )  # fmt: skip
    add_json_option(parser)
    args = parser.parse_args()
    if args.rounds < 5:
        parser.error("--rounds must be at least 5")
    baselines = [(rev, rev) for rev in args.baseline] if args.baseline else default_baselines()

    with tempfile.TemporaryDirectory(prefix="flxtrd-bench-import-") as tmp:
        here = copy_worktree(Path(tmp) / "this")
        contenders = [Contender("this tree", "import flxtrd", here)]
        for i, (label, rev) in enumerate(baselines):
            short = git("rev-parse", "--short", rev)
            tree = extract(rev, Path(tmp) / f"base{i}")
            contenders.append(Contender(f"{label} ({short})", "import flxtrd", tree))
        contenders.append(Contender("python -c pass", "pass", None))
        contenders.append(Contender("import flxtrd, pandas", "import flxtrd, pandas", here))
        for contender in contenders:  # write bytecode, check the copies, count modules
            contender.run()
            contender.probe()
        for round_ in range(args.rounds):
            for contender in rotated(contenders, round_):
                contender.time_once()

    revs = [rev for _, rev in baselines]
    params = {"rounds": args.rounds, "baselines": revs, "python": sys.version.split()[0]}
    build_report(contenders, params).write(args.json)
    wall, cpu = statistics.median(contenders[0].values), statistics.median(contenders[0].cpu)
    print(f"python -c CODE over {args.rounds} interleaved rounds: median (min-max), ms")
    print(f"{'contender':<26} {'wall':>18} {'/this':>6} {'CPU':>18} {'/this':>6}"
          f" {'modules':>8} {'pandas':>7}")  # fmt: skip
    for c in contenders:
        cells = [fmt_cell(Measure("import_history", FLXTRD, c.name, "ms", v, False))
                 for v in (c.values, c.cpu)]  # fmt: skip
        ratios = [fmt_ratio(statistics.median(c.values) / wall),
                  fmt_ratio(statistics.median(c.cpu) / cpu)]  # fmt: skip
        modules = "-" if c.modules is None else str(c.modules)
        pandas = "-" if c.pandas is None else ("yes" if c.pandas else "no")
        print(f"{c.name:<26} {cells[0]:>18} {ratios[0]:>6} {cells[1]:>18} {ratios[1]:>6}"
              f" {modules:>8} {pandas:>7}")  # fmt: skip


if __name__ == "__main__":
    main()
