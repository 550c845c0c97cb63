"""Fixtures of the flxtrd 0.2.9 compatibility suite."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No FLXTRD_* variable is set (as for code that configures everything in arguments)."""
    for name in list(os.environ):
        if name.startswith("FLXTRD_"):
            monkeypatch.delenv(name)
    yield
