"""Plugins: hook arguments, plugin data in FlexResponse, header changes, add/remove semantics."""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any

import httpx
import pytest
from client_fakes import FakeMarket, resolve

from flxtrd._errors import FlexError
from flxtrd._rest._auth import AuthPlugin
from flxtrd._rest._plugins import BasePlugin


class Recorder(BasePlugin):
    """Records every hook call; adds a header; returns data for plugin_data."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def before_request(
        self,
        method: str | None = None,
        url: str | None = None,
        headers: MutableMapping[str, str] | None = None,
        params: Any = None,
        data: Any = None,
    ) -> Any:
        """Record; add X-Trace."""
        self.calls.append(("before", (method, url, params, data)))
        if headers is not None:
            headers["X-Trace"] = "t-1"
        return {"seen": url}

    def after_request(self, response: Any = None) -> Any:
        """Record; return the status."""
        self.calls.append(("after", response))
        return {"status": response.status_code}


class OldStylePlugin(BasePlugin):
    """A plugin written for flxtrd 0.2.9's abstract BasePlugin (all three methods)."""

    def before_request(self, method=None, url=None, headers=None, params=None, data=None):  # type: ignore[no-untyped-def]
        """Return a marker."""
        return "before"

    def after_request(self, response=None):  # type: ignore[no-untyped-def]
        """Return a marker."""
        return "after"

    def __str__(self) -> str:
        return "OldStylePlugin"


async def test_hooks_run_around_rest_calls(make_client: Any) -> None:
    """before gets method, URL, params, data; after gets the httpx.Response; data is kept."""
    seen: list[httpx.Request] = []
    recorder = Recorder()
    client = make_client(lambda r: seen.append(r) or httpx.Response(201), plugins=[recorder])
    response, err = await resolve(
        client.make_request("POST", "/things", params={"a": "1"}, data={"k": "v"})
    )
    assert err is None
    assert recorder.calls[0] == (
        "before",
        ("POST", "https://market.test/things", {"a": "1"}, {"k": "v"}),
    )
    assert recorder.calls[1][0] == "after"
    assert recorder.calls[1][1] is response.request_response
    assert seen[0].headers["x-trace"] == "t-1"
    assert response.plugin_data == {
        "AuthPlugin_before": None,
        "Recorder_before": {"seen": "https://market.test/things"},
        "AuthPlugin_after": None,
        "Recorder_after": {"status": 201},
    }


async def test_hooks_run_for_typed_calls(make_client: Any) -> None:
    """Typed calls run the plugins too; the raw view exposes their data."""
    recorder = Recorder()
    client = make_client(plugins=[recorder])
    raw = await resolve(client.with_raw_response.contracts.get(7))
    assert raw.plugin_data["Recorder_after"] == {"status": 200}
    assert [c[0] for c in recorder.calls] == ["before", "after"]


async def test_old_style_plugins_work(make_client: Any) -> None:
    """A 0.2.9 plugin (abstract methods implemented, 0.2.9 signatures) runs unchanged."""
    client = make_client(lambda r: httpx.Response(200), plugins=[OldStylePlugin()])
    response, _ = await resolve(client.make_request("GET", "/x"))
    assert response.plugin_data["OldStylePlugin_before"] == "before"
    assert response.plugin_data["OldStylePlugin_after"] == "after"


async def test_async_hooks_are_awaited(make_client: Any) -> None:
    """The async client awaits abefore_request; the sync client calls before_request."""

    class Both(BasePlugin):
        async def abefore_request(
            self, method=None, url=None, headers=None, params=None, data=None
        ):  # type: ignore[no-untyped-def]
            return "async"

        def before_request(self, method=None, url=None, headers=None, params=None, data=None):  # type: ignore[no-untyped-def]
            return "sync"

    client = make_client(lambda r: httpx.Response(200), plugins=[Both()])
    response, _ = await resolve(client.make_request("GET", "/x"))
    assert response.plugin_data["Both_before"] == make_client.flavor


async def test_add_and_remove_plugins(make_client: Any, caplog: pytest.LogCaptureFixture) -> None:
    """add_plugin refuses a second plugin of one type (warning); remove_plugin removes by type."""
    client = make_client(lambda r: httpx.Response(200))
    first = Recorder()
    client.add_plugin(first)
    with caplog.at_level(logging.WARNING, logger="flxtrd"):
        client.add_plugin(Recorder())
    assert "is not added" in caplog.text
    assert [type(p) for p in client.plugins] == [AuthPlugin, Recorder]
    client.remove_plugin(Recorder())
    assert [type(p) for p in client.plugins] == [AuthPlugin]
    with caplog.at_level(logging.WARNING, logger="flxtrd"):
        client.remove_plugin(Recorder())
    assert "not found" in caplog.text
    with pytest.raises(FlexError):
        client.add_plugin(object())


async def test_plugin_errors_become_err(make_client: Any) -> None:
    """A FlexError raised by a plugin is make_request's err; nothing is sent."""
    seen: list[httpx.Request] = []

    class Gate(BasePlugin):
        def before_request(self, method=None, url=None, headers=None, params=None, data=None):  # type: ignore[no-untyped-def]
            raise FlexError("market closed")

    client = make_client(lambda r: seen.append(r) or httpx.Response(200), plugins=[Gate()])
    response, err = await resolve(client.make_request("GET", "/x"))
    assert str(err) == "market closed"
    assert response.request_response is None
    assert seen == []


async def test_auth_plugin_runs_first(make_client: Any, market: FakeMarket) -> None:
    """The AuthPlugin is placed first so other plugins see the request with its token."""
    seen_headers: list[str | None] = []

    class Peek(BasePlugin):
        def before_request(self, method=None, url=None, headers=None, params=None, data=None):  # type: ignore[no-untyped-def]
            seen_headers.append(headers.get("Authorization") if headers else None)

    client = make_client(plugins=[Peek()])
    await resolve(client.contracts.list())
    assert seen_headers == ["Bearer at-S3cr3t-1"]
