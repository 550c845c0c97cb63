"""Fixtures of the fault and bad-input suite (``tests/reliability/``).

The suite reuses the client test doubles of ``tests/unit/client`` (``client_fakes``: the fake
market REST API, every request checked against ``specs/openapi.yaml``, and the fake clock) and
the spec-driven hypothesis strategies of ``tests/property`` (``schema_strategies``,
``spec_models``), so both folders are put on ``sys.path`` here, as ``tests/contract`` does.
Tests that need RabbitMQ take the root ``amqp_url`` fixture (a failure under ``CI=true``, a
skip elsewhere when no broker is reachable).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
for folder in (TESTS / "unit" / "client", TESTS / "property"):
    if str(folder) not in sys.path:
        sys.path.append(str(folder))

from client_fakes import FakeClock, FakeMarket  # noqa: E402 - needs the path above


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock (epoch seconds, 2026-11-28T09:00:00Z); its ``sleep`` only records."""
    return FakeClock()


@pytest.fixture
def market(clock: FakeClock) -> FakeMarket:
    """The fake market REST API of the client unit tests (spec-validated requests)."""
    return FakeMarket(clock)
