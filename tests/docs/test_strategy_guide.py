"""The "Write your own strategy" guide's Python examples run as written, against the sandbox."""

from __future__ import annotations

import re
import runpy
from collections.abc import Iterator
from pathlib import Path

import pytest

import flxtrd

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "write-your-own-strategy.md"

# Where each public name the guide imports lives, for as long as flxtrd/__init__.py does not
# export it yet (test_guide_names_are_exported says when that is done).
PENDING_EXPORTS = {
    "AuditLogPlugin": "flxtrd._audit_plugin",
    "Battery": "flxtrd._energy",
    "EnergyManagement": "flxtrd._energy",
    "FixedMarginSeller": "flxtrd._strategies",
    "Fill": "flxtrd._strategy",
    "FlexOffer": "flxtrd._energy",
    "MarketTick": "flxtrd._strategy",
    "OversellError": "flxtrd._energy",
    "PlaceOrder": "flxtrd._strategy",
    "SandboxSimulation": "flxtrd._bot",
    "TickFollowingBuyer": "flxtrd._strategies",
    "Timer": "flxtrd._strategy",
    "TradingStrategy": "flxtrd._strategy",
}

# What each block prints, in order (one pattern per block).
EXPECTED_OUTPUT = [
    r"deals [1-9]\d*, bought [1-9]\d* Wh, paid \d+\.\d\d EUR",
    r"ask 1800 W for 15 min = 450 Wh at .*\nrefused: power_w .*\nstate of charge 10\.0%",
    r"^5000 0\.3$",
    r"^order confirmed\n[0-9a-f]{32}$",
]


def python_blocks() -> list[str]:
    """Every ```python block of the guide, in order."""
    return re.findall(r"```python\n(.*?)```", GUIDE.read_text(), flags=re.DOTALL)


def imported_names() -> set[str]:
    """The names the guide's blocks import from flxtrd."""
    names: set[str] = set()
    for block in python_blocks():
        for group in re.findall(r"from flxtrd import \(?([^)]*?)\)?\n\n", block, flags=re.DOTALL):
            names |= {n.strip() for n in group.replace("\n", ",").split(",") if n.strip()}
    return names


@pytest.fixture(autouse=True)
def _no_sandbox_left_behind() -> Iterator[None]:
    """Close the process-wide embedded sandbox a test started (its threads would outlive it)."""
    yield
    from flxtrd.sandbox import reset_embedded_sandbox

    reset_embedded_sandbox()


@pytest.fixture
def exported(monkeypatch: pytest.MonkeyPatch) -> None:
    """flxtrd with every name the guide imports (pending exports taken from their modules)."""
    import importlib

    for name, module in PENDING_EXPORTS.items():
        if name not in flxtrd.__all__:
            value = getattr(importlib.import_module(module), name)
            monkeypatch.setattr(flxtrd, name, value, raising=False)


def test_guide_has_one_expected_output_per_python_block() -> None:
    """Every block is run and checked (the test below cannot pass vacuously)."""
    assert len(python_blocks()) == len(EXPECTED_OUTPUT) >= 3


@pytest.mark.parametrize("index", range(len(EXPECTED_OUTPUT)))
@pytest.mark.usefixtures("exported")
def test_guide_python_block_runs(
    index: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each python block runs on its own to completion and prints what the guide says."""
    script = tmp_path / f"guide_block_{index}.py"
    script.write_text(python_blocks()[index])
    runpy.run_path(str(script), run_name="__main__")
    out = capsys.readouterr().out.strip()
    assert re.search(EXPECTED_OUTPUT[index], out, flags=re.MULTILINE), out


def test_guide_imports_only_names_it_knows() -> None:
    """Every name the guide imports from flxtrd is exported or listed as a pending export."""
    assert imported_names() - set(flxtrd.__all__) - set(PENDING_EXPORTS) == set()


@pytest.mark.xfail(strict=True, reason="flxtrd/__init__.py does not export them yet (issue 6)")
def test_guide_names_are_exported() -> None:
    """The guide's names are public; when this passes, drop PENDING_EXPORTS and this marker."""
    assert imported_names() <= set(flxtrd.__all__)
