"""pandas stays optional: not a default dependency, never imported by flxtrd or its commands."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def name(requirement: str) -> str:
    """The distribution name of a requirement string (``pandas>=2.2`` -> ``pandas``)."""
    return re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower()


def test_pandas_is_an_extra_not_a_default_dependency() -> None:
    """pyproject: pandas (and matplotlib) only in extras; the pandas extra brings pandas."""
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    defaults = {name(r) for r in project["dependencies"]}
    assert defaults and not defaults & {"pandas", "matplotlib", "numpy"}
    extras = project["optional-dependencies"]
    assert "pandas" in {name(r) for r in extras["pandas"]}
    assert "matplotlib" in {name(r) for r in extras["plot"]}


def test_import_flxtrd_loads_no_pandas_nor_numpy() -> None:
    """A fresh ``import flxtrd`` (and flxtrd.frames) leaves pandas and numpy unloaded."""
    code = (
        "import sys, flxtrd, flxtrd.frames, flxtrd._cli._rest; "
        "print(sorted(m for m in ('pandas', 'numpy', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_commands_run_without_importing_pandas() -> None:
    """``python -X importtime -m flxtrd`` --help and orders list: no pandas among the imports."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLXTRD_")}
    env |= {"FLXTRD_MARKET_URL": "sandbox://", "FLXTRD_USERNAME": "np@x.test",
            "FLXTRD_PASSWORD": "pw"}  # fmt: skip
    for args in (["--help"], ["orders", "list", "--json"], ["deals"]):
        run = subprocess.run([sys.executable, "-X", "importtime", "-m", "flxtrd", *args],
                             capture_output=True, text=True, env=env, timeout=120)  # fmt: skip
        assert run.returncode == 0, run.stderr[-2000:]
        imported = {line.rsplit("|", 1)[-1].strip() for line in run.stderr.splitlines()}
        assert "flxtrd._cli._main" in imported and "flxtrd._cli._rest" in imported
        assert not {m for m in imported if m.split(".")[0] in ("pandas", "numpy")}
