"""``scripts/regenerate --check`` (``make check-generated``) catches drift; regeneration is stable.

Each test runs the real generators (a few seconds per regeneration), so there are few of them:
the committed tree passes; a one-character edit in a copy of ``generated/`` fails; a changed field
in a copy of each spec fails (``--specs``); two regenerations are byte-identical (``--output``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "regenerate"
GENERATED = ROOT / "generated"
SPECS = ROOT / "specs"
PACKAGES = ("glocalflex_rest", "glocalflex_messages")
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc")


def regenerate(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run scripts/regenerate with this interpreter (its generators live beside it)."""
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def tree(root: Path) -> dict[str, bytes]:
    """Relative path -> bytes of every file of the generated packages under root."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for package in PACKAGES
        for path in sorted((root / package).rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def copy_generated(destination: Path) -> Path:
    """A copy of the committed generated/ tree (without bytecode caches)."""
    shutil.copytree(GENERATED, destination, ignore=IGNORE)
    return destination


def test_check_passes_on_the_committed_tree() -> None:
    """--check exits 0 when generated/ is what specs/ produce."""
    result = regenerate("--check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_fails_after_a_one_character_edit(tmp_path: Path) -> None:
    """--check exits 1 and names the file when one character of a generated file changes."""
    copy = copy_generated(tmp_path / "generated")
    target = copy / "glocalflex_messages" / "models.py"
    text = target.read_text()
    position = text.index("class Tick(") + len("class T")
    target.write_text(text[:position] + "o" + text[position + 1 :])  # Tick -> Tock
    assert target.read_text() != (GENERATED / "glocalflex_messages" / "models.py").read_text()

    result = regenerate("--check", "--against", copy)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "differs: glocalflex_messages/models.py" in result.stdout


# (spec file, text of one field as the spec has it, the same field changed, a file it regenerates)
SPEC_EDITS = [
    pytest.param(
        "openapi.yaml",
        "        totalprice:\n          type: number\n",
        "        totalprice:\n          type: integer\n",
        "glocalflex_rest/models/deal.py",
        id="openapi-field-type",
    ),
    pytest.param(
        "asyncapi.yaml",
        "        endtime:\n          type: number\n",
        "        endtime:\n          type: integer\n",
        "glocalflex_messages/models.py",
        id="asyncapi-field-type",
    ),
]


@pytest.mark.parametrize(("spec", "field", "changed", "affected"), SPEC_EDITS)
def test_check_fails_after_a_spec_field_changes(
    tmp_path: Path, spec: str, field: str, changed: str, affected: str
) -> None:
    """--check --specs <copy> exits 1 and names the regenerated file when a spec field changes."""
    specs = tmp_path / "specs"
    shutil.copytree(SPECS, specs, ignore=IGNORE)
    text = (specs / spec).read_text()
    assert text.count(field) == 1, f"the edit must hit exactly one place in {spec}"
    (specs / spec).write_text(text.replace(field, changed))

    result = regenerate("--check", "--specs", specs)

    assert result.returncode == 1, result.stdout + result.stderr
    assert f"differs: {affected}" in result.stdout


def test_two_regenerations_are_byte_identical(tmp_path: Path) -> None:
    """Two regenerations into fresh directories write the same files, byte for byte."""
    first, second = tmp_path / "first", tmp_path / "second"
    for out in (first, second):
        result = regenerate("--output", out)
        assert result.returncode == 0, result.stdout + result.stderr

    files, again = tree(first), tree(second)
    assert files, "regenerate --output wrote nothing"
    assert sorted(files.keys() ^ again.keys()) == []
    assert [name for name in files if files[name] != again[name]] == []
