"""sandbox:// mounts flxtrd.sandbox's embedded transports (faked here) and the memory:// broker."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import httpx
import pytest
from client_fakes import FakeMarket, make_user, resolve

import flxtrd.sandbox
from flxtrd._client._async_client import AsyncFlexAPIClient
from flxtrd._client._client import FlexAPIClient
from flxtrd._errors import ConfigurationError


@pytest.fixture
def embedded(monkeypatch: pytest.MonkeyPatch, market: FakeMarket) -> list[str]:
    """Fake flxtrd.sandbox.embedded_transport()/embedded_async_transport(); record the calls."""
    calls: list[str] = []

    def embedded_transport() -> httpx.BaseTransport:
        calls.append("sync")
        return httpx.MockTransport(market.handler)

    def embedded_async_transport() -> httpx.AsyncBaseTransport:
        calls.append("async")
        return httpx.MockTransport(market.handler)

    monkeypatch.setattr(flxtrd.sandbox, "embedded_transport", embedded_transport, raising=False)
    monkeypatch.setattr(
        flxtrd.sandbox, "embedded_async_transport", embedded_async_transport, raising=False
    )
    return calls


@pytest.mark.parametrize("client_class", [FlexAPIClient, AsyncFlexAPIClient])
async def test_sandbox_url_uses_the_embedded_transport(
    embedded: list[str], market: FakeMarket, client_class: Any
) -> None:
    """sandbox:// gets its REST transport from flxtrd.sandbox and its broker is memory://."""
    client = client_class(base_url="sandbox://", user=make_user(), env={})
    assert client.endpoint.sandbox
    assert client.broker_url == "memory://"
    page = await resolve(client.contracts.list())
    assert page.total == 1
    assert embedded == ["sync" if client_class is FlexAPIClient else "async"]
    assert market.operations == ["get_token", "list_contracts"]
    assert str(market.requests[0].url).startswith("http://sandbox.flxtrd.invalid/")


def test_sandbox_from_environment(embedded: list[str]) -> None:
    """FLXTRD_MARKET_URL=sandbox:// selects the sandbox too."""
    client = FlexAPIClient(user=make_user(), env={"FLXTRD_MARKET_URL": "sandbox://"})
    assert client.broker_url == "memory://"
    assert embedded == ["sync"]
    client.close()


def test_explicit_transport_wins_over_the_sandbox(embedded: list[str], market: FakeMarket) -> None:
    """An injected transport is used even for sandbox:// (every edge stays injectable)."""
    client = FlexAPIClient(
        base_url="sandbox://",
        user=make_user(),
        env={},
        transport=httpx.MockTransport(market.handler),
    )
    assert embedded == []
    client.close()


def test_missing_sandbox_hook_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without flxtrd.sandbox.embedded_transport the client says what is missing."""
    monkeypatch.delattr(flxtrd.sandbox, "embedded_transport", raising=False)
    with pytest.raises(ConfigurationError, match="embedded_transport"):
        FlexAPIClient(base_url="sandbox://", user=make_user(), env={})


def test_sandbox_is_imported_only_for_sandbox_urls() -> None:
    """A client for a real market never imports flxtrd.sandbox."""
    code = (
        "import sys; from flxtrd import FlexAPIClient, User;"
        "c = FlexAPIClient(base_url='localhost', user=User(), env={}); c.close();"
        "assert 'flxtrd.sandbox' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
