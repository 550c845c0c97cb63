"""The README's Python examples run as written, against the embedded sandbox."""

from __future__ import annotations

import re
import runpy
from collections.abc import Iterator
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"

# What each python block prints, in order (one pattern per block): the five-line order, the
# httpx mocking of "Coming from flxtrd 0.2.9", then the "Write your own strategy" section's
# strategy, battery, guide-run and plugin examples, and the fleet example.
EXPECTED_OUTPUT = [
    r"^[0-9a-f]{32}$",
    r"^True app-1\n404 NotFoundError$",
    r"deals [1-9]\d*, bought [1-9]\d* Wh, paid \d+\.\d\d EUR",
    r"ask 1800 W for 15 min = 450 Wh at .*\nrefused: power_w .*\nstate of charge 10\.0%",
    r"^5000 0\.3$",
    r"^order confirmed\n[0-9a-f]{32}$",
    r"^20 confirmed\n20 devices, 20 deals, 5000 Wh$",
]


def python_blocks() -> list[str]:
    """Every ```python block of the README, in order."""
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


@pytest.fixture(autouse=True)
def _no_sandbox_left_behind() -> Iterator[None]:
    """Close the process-wide embedded sandbox a block started (its threads would outlive it)."""
    yield
    from flxtrd.sandbox import reset_embedded_sandbox

    reset_embedded_sandbox()


def test_every_python_block_has_an_expected_output() -> None:
    """Every block is run and checked (the test below cannot pass vacuously)."""
    assert len(python_blocks()) == len(EXPECTED_OUTPUT)


def test_readme_imports_only_exported_names() -> None:
    """Everything the README imports from flxtrd is in flxtrd.__all__."""
    import flxtrd

    names: set[str] = set()
    for block in python_blocks():
        for group in re.findall(r"from flxtrd import \(?([^)]*?)\)?\n\n", block, flags=re.DOTALL):
            names |= {n.strip() for n in group.replace("\n", ",").split(",") if n.strip()}
    assert names and names <= set(flxtrd.__all__)


@pytest.mark.parametrize("index", range(len(EXPECTED_OUTPUT)))
def test_readme_python_block_runs(
    index: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each README python block runs on its own to completion and prints what it promises."""
    script = tmp_path / f"readme_block_{index}.py"
    script.write_text(python_blocks()[index])
    runpy.run_path(str(script), run_name="__main__")
    out = capsys.readouterr().out.strip()
    assert re.search(EXPECTED_OUTPUT[index], out, flags=re.MULTILINE), out
