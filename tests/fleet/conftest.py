"""Fixtures of the fleet suite (``tests/fleet/``): the served sandbox helper and account files.

Real-broker tests take the root ``amqp_url`` fixture (a failure under ``CI=true``, a skip
elsewhere when no broker is reachable); the served sandbox is ``tests/contract/served.py``'s
``python -m flxtrd sandbox`` process, so its folder is put on ``sys.path`` here.
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

import pytest

CONTRACT = Path(__file__).resolve().parents[1] / "contract"
if str(CONTRACT) not in sys.path:
    sys.path.append(str(CONTRACT))


def write_accounts(path: Path, count: int, prefix: str | None = None) -> list[str]:
    """An accounts file of ``count`` accounts; returns their e-mails (the device ids)."""
    prefix = prefix or f"fleet{uuid.uuid4().hex[:8]}"
    accounts = [
        {"email": f"{prefix}-{i:03d}@example.com", "password": f"pw-{i}-{uuid.uuid4().hex[:6]}"}
        for i in range(count)
    ]
    path.write_text(json.dumps({"accounts": accounts}), encoding="utf-8")
    return [a["email"] for a in accounts]


@pytest.fixture
def accounts_file(tmp_path: Path) -> Path:
    """Where a test writes its accounts file."""
    return tmp_path / "accounts.json"
