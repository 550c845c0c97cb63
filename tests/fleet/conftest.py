"""Fixtures of the fleet suite (``tests/fleet/``): the served sandbox helper, accounts files.

Real-broker tests take the root ``amqp_url`` fixture (a failure under ``CI=true``, a skip
elsewhere when no broker is reachable); the served sandbox is ``tests/contract/served.py``'s
``python -m flxtrd sandbox`` process, so its folder is put on ``sys.path`` here.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

CONTRACT = Path(__file__).resolve().parents[1] / "contract"
if str(CONTRACT) not in sys.path:
    sys.path.append(str(CONTRACT))


@pytest.fixture
def accounts_file(tmp_path: Path) -> Path:
    """Where a test writes its accounts file."""
    return tmp_path / "accounts.json"
