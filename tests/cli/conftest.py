"""Fixtures of the command-line tests (``tests/cli/``): a served sandbox and a baseline file.

The served sandbox is :class:`flxtrd.sandbox._served.ServedSandbox` (uvicorn on 127.0.0.1, a
port of its own, the broker worker on ``memory://``), started in this process by the
reliability suite's ``rel_served.served``: ``python -m flxtrd`` subprocesses reach it over real
sockets as ``sandbox://127.0.0.1:<port>``, and state (orders, contracts, deals) outlives each
process, which the embedded sandbox (new in every process) cannot offer.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
for folder in (TESTS / "reliability", TESTS / "frames"):
    if str(folder) not in sys.path:
        sys.path.append(str(folder))

from cli_harness import BASELINE  # noqa: E402 - a sibling module
from rel_served import served  # noqa: E402 - needs the path above

from flxtrd.sandbox._served import ServedSandbox  # noqa: E402


@pytest.fixture(scope="module")
def served_sandbox() -> Iterator[ServedSandbox]:
    """A served sandbox for the module (REST + WebSocket over HTTP)."""
    with served() as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def market_url(served_sandbox: ServedSandbox) -> str:
    """``FLXTRD_MARKET_URL`` of the served sandbox: ``sandbox://127.0.0.1:<port>``."""
    return "sandbox://" + served_sandbox.http_url.removeprefix("http://")


@pytest.fixture
def baseline_file(tmp_path: Path) -> Path:
    """A JSON file with a sell order's baseline (for ``orders place sell --baseline``)."""
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps(BASELINE))
    return path
