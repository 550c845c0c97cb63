"""Deal history: ETag reuse against the embedded and a served sandbox, sync and async."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from glocalflex_rest.models import Deal
from local_market import served_app, trade_gen1

from flxtrd import BasePlugin, User
from flxtrd._client._async_client import AsyncFlexAPIClient
from flxtrd._client._client import FlexAPIClient
from flxtrd._errors import FlexValidationError
from flxtrd.sandbox import EmbeddedSandbox, SandboxMarket


class StatusLog(BasePlugin):
    """Records each deals request's If-None-Match header and each response's status."""

    def __init__(self) -> None:
        self.sent: list[str | None] = []
        self.statuses: list[int] = []

    def before_request(self, method: Any = None, url: Any = None, headers: Any = None,
                       params: Any = None, data: Any = None) -> None:  # fmt: skip
        """Note the If-None-Match of deal requests."""
        if url is not None and "/deals/" in str(url):
            self.sent.append((headers or {}).get("If-None-Match"))

    def after_request(self, response: Any = None) -> None:
        """Note the status of deal responses."""
        if isinstance(response, httpx.Response) and "/deals/" in str(response.request.url):
            self.statuses.append(response.status_code)


class Parses:
    """Counts Deal.from_dict calls: every parsed deal goes through it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        original = Deal.from_dict.__func__  # type: ignore[attr-defined]

        def counting(cls: type[Deal], src: Any) -> Deal:
            self.count += 1
            return original(cls, src)  # type: ignore[no-any-return]

        monkeypatch.setattr(Deal, "from_dict", classmethod(counting))


@pytest.fixture(params=["embedded", "served"])
def where(request: pytest.FixtureRequest) -> Iterator[tuple[SandboxMarket, dict[str, Any]]]:
    """A sandbox market and the client arguments that reach it: in-process or over HTTP."""
    market = SandboxMarket(seed=11)
    if request.param == "embedded":
        sandbox = EmbeddedSandbox(market, broker=False, expiry_interval_s=None).start()
        try:
            yield market, {"base_url": "sandbox://", "sandbox": sandbox}
        finally:
            sandbox.close()
    else:
        with served_app(market) as url:
            yield market, {"base_url": url}


async def make_and_call(flavor: str, where: dict[str, Any], calls: Any) -> Any:
    """Build a sync or async client on ``where``, run ``calls(client)`` and close it."""
    kwargs: dict[str, Any] = {
        "base_url": where["base_url"],
        "user": User(name="analyst@x.test", password="pw"),
        "env": {},
    }
    sandbox = where.get("sandbox")
    if flavor == "sync":
        if sandbox is not None:
            kwargs["transport"] = sandbox.transport()
        with FlexAPIClient(**kwargs) as client:
            return await calls(client)
    if sandbox is not None:
        kwargs["transport"] = sandbox.async_transport()
    async with AsyncFlexAPIClient(**kwargs) as aclient:
        return await calls(aclient)


async def call(client: Any, method: str, *args: Any, **kwargs: Any) -> Any:
    """Call a client method and await what it returns when that is awaitable (async client)."""
    result = getattr(client, method)(*args, **kwargs)
    return await result if inspect.isawaitable(result) else result


@pytest.mark.parametrize("flavor", ["sync", "async"])
async def test_a_repeat_call_sends_the_etag_and_returns_the_cached_deals_unparsed(
    where: tuple[SandboxMarket, dict[str, Any]], flavor: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Second deals(): If-None-Match goes out, the market says 304, cached deals, zero parses."""
    market, place = where
    trade_gen1(market, price=0.21)
    log = StatusLog()
    parses = Parses(monkeypatch)

    async def calls(client: Any) -> tuple[list[Deal], list[Deal], int]:
        client.add_plugin(log)
        first = await call(client, "deals", "1h")
        parsed_before = parses.count
        second = await call(client, "deals", "1h")
        return first, second, parsed_before

    first, second, parsed_before = await make_and_call(flavor, place, calls)
    assert [d.price for d in first] == [0.21]
    assert parsed_before == 1
    assert parses.count == 1  # the 304 parsed nothing
    assert log.statuses == [200, 304]
    assert log.sent[0] is None and log.sent[1] is not None and log.sent[1].startswith('"')
    assert second == first
    assert all(a is b for a, b in zip(first, second, strict=True))  # the very objects cached


@pytest.mark.parametrize("flavor", ["sync", "async"])
async def test_a_new_deal_changes_the_etag_and_is_parsed(
    where: tuple[SandboxMarket, dict[str, Any]], flavor: str
) -> None:
    """After a new trade the market answers 200 with a new ETag; the new list comes back."""
    market, place = where
    trade_gen1(market, price=0.21)
    log = StatusLog()

    async def calls(client: Any) -> tuple[list[Deal], list[Deal]]:
        client.add_plugin(log)
        first = await call(client, "deals", "1h")
        trade_gen1(market, price=0.23, slot=5)
        return first, await call(client, "deals", "1h")

    first, second = await make_and_call(flavor, place, calls)
    assert [d.price for d in first] == [0.21]
    assert [d.price for d in second] == [0.21, 0.23]
    assert log.statuses == [200, 200]
    assert log.sent[1] is not None  # it asked with the old ETag, which no longer matched


@pytest.mark.parametrize("flavor", ["sync", "async"])
async def test_cache_false_and_an_explicit_etag_bypass_the_cache(
    where: tuple[SandboxMarket, dict[str, Any]], flavor: str
) -> None:
    """cache=False sends no If-None-Match; an explicit if_none_match still returns None on 304."""
    market, place = where
    trade_gen1(market)
    log = StatusLog()

    async def calls(client: Any) -> tuple[Any, Any, Any]:
        client.add_plugin(log)
        fresh = await call(client, "deals", "1h", cache=False)
        raw = await call(client.with_raw_response, "deals", "1h")
        explicit = await call(client, "deals", "1h", if_none_match=raw.headers["etag"])
        return fresh, explicit, client._deals_cache.etag("1h")

    fresh, explicit, remembered = await make_and_call(flavor, place, calls)
    assert len(fresh) == 1
    assert explicit is None
    assert remembered is None  # neither cache=False nor the explicit ETag stored anything
    assert log.sent == [None, None, log.sent[2]] and log.sent[2] is not None
    assert log.statuses == [200, 200, 304]


def test_each_window_has_its_own_etag_and_the_cache_is_bounded() -> None:
    """The cache keys on relative_time and keeps at most MAX_ENTRIES windows (LRU)."""
    from flxtrd._rest._history import DealsCache
    from flxtrd._rest._http import RawResponse

    cache = DealsCache(max_entries=2)

    def answer(tag: str) -> RawResponse[list[Deal] | None]:
        request = httpx.Request("GET", "https://m.test/deals/")
        return RawResponse(httpx.Response(200, headers={"ETag": tag}, request=request), [])

    for window in ("1h", "2h", "3h"):
        cache.resolve(window, answer(f'"{window}"'))
    assert (cache.etag("1h"), cache.etag("2h"), cache.etag("3h")) == (None, '"2h"', '"3h"')
    assert len(cache) == 2


def test_an_invalid_window_is_refused_before_sending() -> None:
    """deals('1 hour') names relative_time and sends nothing, with the cache too."""
    sent: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda r: sent.append(r) or httpx.Response(500))
    client = FlexAPIClient(base_url="https://m.test", access_token="t", transport=transport, env={})
    with client, pytest.raises(FlexValidationError, match="relative_time"):
        client.deals("1 hour")
    assert sent == []
