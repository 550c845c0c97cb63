"""Fixtures for the AMQP unit tests: a ``memory://`` broker with the market test double."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "contract"))

from market_double import NO_RETRY, MarketDouble

from flxtrd._amqp._api import AmpqAPI


@pytest.fixture
def names() -> dict[str, str]:
    """Unique exchange names and application key for one test."""
    tag = uuid.uuid4().hex[:10]
    return {"exchange": f"in-{tag}", "reply_exchange": f"out-{tag}", "key": f"dev-{tag}"}


@pytest.fixture
def make_api(names: dict[str, str]) -> Iterator[Callable[..., AmpqAPI]]:
    """Build ``memory://`` clients on the test's exchanges; all are closed afterwards."""
    made: list[AmpqAPI] = []

    def factory(key: str | None = None, **kwargs: Any) -> AmpqAPI:
        kwargs.setdefault("exchange", names["exchange"])
        kwargs.setdefault("reply_exchange", names["reply_exchange"])
        kwargs.setdefault("retry_policy", NO_RETRY)
        api = AmpqAPI("memory://", "user-1", "token-1", key or names["key"], **kwargs)
        made.append(api)
        return api

    yield factory
    for api in made:
        api.close_connection()


@pytest.fixture
def market(names: dict[str, str]) -> Iterator[MarketDouble]:
    """The market test double on ``memory://``, pumped by the test."""
    double = MarketDouble(
        "memory://", exchange=names["exchange"], reply_exchange=names["reply_exchange"]
    )
    yield double
    double.close()
