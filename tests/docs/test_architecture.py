"""docs/architecture.md names only modules that exist, and draws every layer the import test has."""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "architecture.md").read_text()
MODULE_PATH = re.compile(r"(?<![\w/.])((?:[a-z_]+/)*_[a-z_]+\.py)\b")


def test_every_module_file_the_page_names_exists() -> None:
    """Each ``_x.py`` / ``pkg/_x.py`` on the page is a file of flxtrd (or of scripts/)."""
    files = [p.relative_to(ROOT).as_posix() for p in ROOT.glob("flxtrd/**/*.py")]
    files += [p.relative_to(ROOT).as_posix() for p in ROOT.glob("scripts/*.py")]
    named = set(MODULE_PATH.findall(DOC))
    assert named, "the page names no module"
    missing = sorted(n for n in named if not any(f == n or f.endswith("/" + n) for f in files))
    assert missing == []


def test_the_page_draws_every_layer_of_the_import_test() -> None:
    """Every layer name in ``LAYERS`` of ``tests/unit/test_import_graph.py`` is on the page."""
    sys.path.insert(0, str(ROOT / "tests" / "unit"))
    try:
        from test_import_graph import LAYERS
    finally:
        sys.path.pop(0)
    assert [name for name, _ in LAYERS if name not in DOC] == []
