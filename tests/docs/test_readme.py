"""The README's Python examples run as written, against the embedded sandbox."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def python_blocks() -> list[str]:
    """Every ```python block of the README, in order."""
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_readme_has_python_examples() -> None:
    """The README shows at least one runnable example (so the test below cannot pass vacuously)."""
    assert python_blocks()


@pytest.mark.parametrize("index", range(len(python_blocks())))
def test_readme_python_block_runs(
    index: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each README python block runs to completion and prints the confirmed order's message id."""
    script = tmp_path / f"readme_block_{index}.py"
    script.write_text(python_blocks()[index])
    runpy.run_path(str(script), run_name="__main__")
    out = capsys.readouterr().out
    assert re.search(r"^[0-9a-f]{32}$", out, flags=re.MULTILINE), out  # the order's message_id
