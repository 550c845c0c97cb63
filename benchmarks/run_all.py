"""Run every benchmark in this folder, one after another, and write their tables to BENCHMARKS.md.

Usage: .venv/bin/python benchmarks/run_all.py [--only NAME ...]

Each ``bench_*.py`` script measures its work items side by side (flxtrd, the raw library and,
where it applies, flxtrd 0.2.9) in interleaved rounds and prints its own table; this runner adds
the machine description and the command, so the file says where the figures come from.
The AMQP and round-trip benchmarks need RabbitMQ on 127.0.0.1:5672.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def machine() -> str:
    """One line describing the machine the figures were measured on."""
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}"
    )


def main() -> int:
    """Run the selected benchmarks and write BENCHMARKS.md; exit 1 if any benchmark failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="benchmark names, e.g. decode")
    options = parser.parse_args()
    scripts = sorted(HERE.glob("bench_*.py"))
    if options.only:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in options.only]
    sections = [
        "# Benchmarks\n",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {machine()}.",
        "Command: `make bench` (`.venv/bin/python benchmarks/run_all.py`).\n",
    ]
    failed = []
    for script in scripts:
        print(f"== {script.name}", flush=True)
        result = subprocess.run(
            [sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, check=False
        )
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr[-2000:] if result.returncode else "")
        status = "" if result.returncode == 0 else f" (FAILED, exit {result.returncode})"
        if result.returncode:
            failed.append(script.name)
        sections.append(f"## {script.stem}{status}\n\n```\n{result.stdout.rstrip()}\n```\n")
    (ROOT / "BENCHMARKS.md").write_text("\n".join(sections))
    print(f"wrote BENCHMARKS.md; failed: {', '.join(failed) or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
