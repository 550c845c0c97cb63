"""Fixtures of the client tests: fake clock, fake market, and a sync/async client factory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from client_fakes import FakeClock, FakeMarket, make_user

from flxtrd._client._async_client import AsyncFlexAPIClient
from flxtrd._client._client import FlexAPIClient

ClientFactory = Callable[..., Any]


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock (epoch seconds) starting at 2026-11-28T09:00:00Z."""
    return FakeClock()


@pytest.fixture
def market(clock: FakeClock) -> FakeMarket:
    """The fake market REST API (every request validated against the spec)."""
    return FakeMarket(clock)


def _factory(
    flavor: str, market: FakeMarket, clock: FakeClock, created: list[Any]
) -> ClientFactory:
    def make(
        handler: Callable[[httpx.Request], httpx.Response] | None = None, **kwargs: Any
    ) -> Any:
        kwargs.setdefault("base_url", "https://market.test")
        if "user" not in kwargs and "access_token" not in kwargs:
            kwargs["user"] = make_user()
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("env", {})
        kwargs.setdefault("random", lambda: 0.5)
        if "transport" not in kwargs and "http_client" not in kwargs:
            kwargs["transport"] = httpx.MockTransport(handler or market.handler)
        if flavor == "sync":
            kwargs.setdefault("sleep", clock.sleep)
            client: Any = FlexAPIClient(**kwargs)
        else:
            kwargs.setdefault("sleep", clock.asleep)
            client = AsyncFlexAPIClient(**kwargs)
        created.append(client)
        return client

    make.flavor = flavor  # type: ignore[attr-defined]
    return make


@pytest.fixture(params=["sync", "async"])
def make_client(
    request: pytest.FixtureRequest, market: FakeMarket, clock: FakeClock
) -> Iterator[ClientFactory]:
    """Build a FlexAPIClient or an AsyncFlexAPIClient on the fake market (both flavours run)."""
    created: list[Any] = []
    yield _factory(request.param, market, clock, created)
    for client in created:
        if isinstance(client, FlexAPIClient):
            client.close()


@pytest.fixture
def make_sync_client(market: FakeMarket, clock: FakeClock) -> Iterator[ClientFactory]:
    """Build a FlexAPIClient on the fake market (for the sync-only parts: orders over AMQP)."""
    created: list[Any] = []
    yield _factory("sync", market, clock, created)
    for client in created:
        client.close()
