"""Retries: count, backoff bounds, Retry-After, idempotency, and the log line saying why."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from client_fakes import FakeClock, FakeMarket, resolve

from flxtrd._errors import FlexConnectionError, RateLimitError, ServerError
from flxtrd._retry import RetryPolicy, decide_retry


def _script(*steps: int | Exception) -> tuple[Callable[[httpx.Request], httpx.Response], list[str]]:
    """A handler answering each request with the next status (or raising the next error)."""
    seen: list[str] = []
    queue = list(steps)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        step = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(step, Exception):
            raise step
        return httpx.Response(step, json={"detail": f"status {step}"})

    return handler, seen


@pytest.mark.parametrize("retry_index", [0, 1, 2, 3, 4, 5])
def test_backoff_bounds(retry_index: int) -> None:
    """Backoff doubles from 0.5 s, caps at 8 s, and jitter shortens it by at most 25 %."""
    policy = RetryPolicy()
    base = min(0.5 * 2**retry_index, 8.0)
    assert policy.backoff_bounds_s(retry_index) == (base * 0.75, base)
    for fraction in (0.0, 0.3, 0.999999):
        delay = policy.backoff_s(retry_index, fraction)
        assert base * 0.75 <= delay <= base


async def test_get_is_retried_with_backoff(make_client: Any, clock: FakeClock) -> None:
    """A GET answered 503, 503, 200 is tried 3 times, sleeping within the backoff bounds."""
    handler, seen = _script(503, 502, 200)
    client = make_client(handler, random=lambda: 0.5)
    response, err = await resolve(client.make_request("GET", "/x"))
    assert err is None
    assert response.request_response.status_code == 200
    assert len(seen) == 3
    policy = RetryPolicy()
    assert clock.sleeps == [policy.backoff_s(0, 0.5), policy.backoff_s(1, 0.5)]
    for i, delay in enumerate(clock.sleeps):
        low, high = policy.backoff_bounds_s(i)
        assert low <= delay <= high


async def test_retries_stop_at_max_retries(make_client: Any, clock: FakeClock) -> None:
    """After max_retries the last error is returned: 1 + max_retries attempts in all."""
    handler, seen = _script(503)
    client = make_client(handler, max_retries=4)
    _, err = await resolve(client.make_request("GET", "/x"))
    assert isinstance(err, ServerError)
    assert len(seen) == 5
    assert len(clock.sleeps) == 4
    assert clock.sleeps == sorted(clock.sleeps)


async def test_no_retries_when_disabled(make_client: Any, clock: FakeClock) -> None:
    """max_retries=0 sends once and never sleeps."""
    handler, seen = _script(503)
    client = make_client(handler, max_retries=0)
    await resolve(client.make_request("GET", "/x"))
    assert len(seen) == 1
    assert clock.sleeps == []


async def test_retry_after_seconds_is_honoured(make_client: Any, clock: FakeClock) -> None:
    """A 429 with Retry-After: 3 waits exactly 3 s before the retry."""
    answers = [httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(200)]
    client = make_client(lambda r: answers.pop(0))
    _, err = await resolve(client.make_request("GET", "/x"))
    assert err is None
    assert clock.sleeps == [3.0]


async def test_retry_after_http_date_uses_the_clock(make_client: Any, clock: FakeClock) -> None:
    """A Retry-After HTTP date is measured against the injected clock."""
    when = clock.datetime() + timedelta(seconds=12)
    answers = [
        httpx.Response(503, headers={"Retry-After": format_datetime(when, usegmt=True)}),
        httpx.Response(200),
    ]
    client = make_client(lambda r: answers.pop(0))
    await resolve(client.make_request("GET", "/x"))
    assert clock.sleeps == [12.0]


async def test_long_retry_after_is_not_waited_for(make_client: Any, clock: FakeClock) -> None:
    """A Retry-After above the 60 s cap ends the retries; the error carries retry_after."""
    seen: list[str] = []
    client = make_client(
        lambda r: seen.append("x") or httpx.Response(429, headers={"Retry-After": "600"})
    )
    _, err = await resolve(client.make_request("GET", "/x"))
    assert isinstance(err, RateLimitError)
    assert err.retry_after == 600.0
    assert seen == ["x"]
    assert clock.sleeps == []


async def test_post_is_not_retried(make_client: Any, clock: FakeClock) -> None:
    """A non-idempotent POST is sent once on 503, read errors and read timeouts."""
    for failure in (503, httpx.ReadError("reset"), httpx.ReadTimeout("slow")):
        handler, seen = _script(failure, 200)
        client = make_client(handler)
        _, err = await resolve(client.make_request("POST", "/x", json={}))
        assert err is not None
        assert seen == ["POST"]
    assert clock.sleeps == []


async def test_post_is_retried_when_opted_in(make_client: Any) -> None:
    """make_request(retry=True) lets a POST be retried."""
    handler, seen = _script(503, httpx.ReadError("reset"), 200)
    client = make_client(handler)
    _, err = await resolve(client.make_request("POST", "/x", json={}, retry=True))
    assert err is None
    assert seen == ["POST", "POST", "POST"]


async def test_connect_errors_are_retried_for_every_method(make_client: Any) -> None:
    """A connection that could not be opened is retried even for a POST: nothing was sent."""
    handler, seen = _script(httpx.ConnectError("refused"), httpx.ConnectTimeout("slow"), 200)
    client = make_client(handler)
    _, err = await resolve(client.make_request("POST", "/x", json={}))
    assert err is None
    assert seen == ["POST", "POST", "POST"]


async def test_read_errors_are_retried_for_get(make_client: Any) -> None:
    """Read errors and timeouts are retried for idempotent methods; exhausted, they surface."""
    handler, seen = _script(httpx.ReadError("reset"))
    client = make_client(handler, max_retries=2)
    _, err = await resolve(client.make_request("GET", "/x"))
    assert isinstance(err, FlexConnectionError)
    assert seen == ["GET", "GET", "GET"]


async def test_order_placement_retries_only_when_opted_in(
    make_client: Any, market: FakeMarket, clock: FakeClock
) -> None:
    """orders.place is not retried on 503 unless retry=True."""
    from test_rest_typed import order_fields

    client = make_client()
    market.push("create_order", httpx.Response(503, json={"detail": "busy"}))
    with pytest.raises(ServerError):
        await resolve(client.orders.place(**order_fields(clock)))
    assert market.count("create_order") == 1
    market.push("create_order", httpx.Response(503, json={"detail": "busy"}))
    order = await resolve(client.orders.place(**order_fields(clock), retry=True))
    assert order.id == 1
    assert market.count("create_order") == 3


async def test_auth_requests_are_retried(make_client: Any, market: FakeMarket) -> None:
    """The token POST is side-effect free and is retried on 503."""
    client = make_client()
    market.push("get_token", httpx.Response(503, json={"detail": "busy"}))
    await resolve(client.contracts.list())
    assert market.count("get_token") == 2


async def test_retry_reason_is_logged(make_client: Any, caplog: pytest.LogCaptureFixture) -> None:
    """Each retry logs why (status or error), which retry it is and how long it waits."""
    handler, _ = _script(503, httpx.ConnectError("refused"), 200)
    client = make_client(handler)
    with caplog.at_level(logging.DEBUG, logger="flxtrd"):
        await resolve(client.make_request("GET", "/x"))
    messages = [r.getMessage() for r in caplog.records if r.name == "flxtrd.retry"]
    assert messages[0].startswith("Retrying GET /x: status 503; retry 1 of 2 in 0.438 s (backoff)")
    assert "ConnectError (the connection was not opened); retry 2 of 2" in messages[1]


async def test_not_retrying_a_post_is_logged(
    make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Declining to retry a POST is logged at DEBUG with the reason."""
    handler, _ = _script(503)
    client = make_client(handler)
    with caplog.at_level(logging.DEBUG, logger="flxtrd"):
        await resolve(client.make_request("POST", "/x", json={}))
    assert any(
        "POST is not idempotent and retries were not opted in" in r.getMessage()
        for r in caplog.records
    )


def test_decide_retry_unit() -> None:
    """decide_retry: statuses outside the set and non-transport errors are never retried."""
    policy = RetryPolicy()
    get = httpx.Request("GET", "https://m.test/x")
    assert not decide_retry(policy, get, 0, response=httpx.Response(500)).retry
    assert not decide_retry(policy, get, 0, response=httpx.Response(404)).retry
    assert not decide_retry(policy, get, 0, error=ValueError("x")).retry
    decision = decide_retry(policy, get, 1, response=httpx.Response(503), random_fraction=0.0)
    assert decision.retry
    assert decision.delay_s == 1.0
    opted = httpx.Request(
        "POST", "https://m.test/x", extensions={"flxtrd_retry_non_idempotent": True}
    )
    assert decide_retry(policy, opted, 0, response=httpx.Response(503)).retry
    everyone = RetryPolicy(retry_non_idempotent=True)
    post = httpx.Request("POST", "https://m.test/x")
    assert decide_retry(everyone, post, 0, response=httpx.Response(503)).retry
    assert not decide_retry(policy, post, 0, response=httpx.Response(503)).retry


def test_retry_policy_is_validated() -> None:
    """Negative retries, jitter outside [0, 1] and negative delays are refused."""
    from flxtrd._errors import FlexValidationError

    for kwargs in ({"max_retries": -1}, {"jitter": 1.5}, {"initial_delay_s": -1.0}):
        with pytest.raises(FlexValidationError):
            RetryPolicy(**kwargs)


def test_utc_helpers_are_consistent(clock: FakeClock) -> None:
    """The fake clock's datetime is the 2026-11-28T09:00Z start (sanity of the fixture)."""
    assert clock.datetime() == datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


class _WatchedStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body that records whether anyone read or closed it."""

    def __init__(self) -> None:
        self.touched: list[str] = []

    def __iter__(self) -> Any:
        self.touched.append("read")
        yield b""

    async def __aiter__(self) -> Any:
        self.touched.append("read")
        yield b""

    def close(self) -> None:
        self.touched.append("close")

    async def aclose(self) -> None:
        self.touched.append("close")


@pytest.mark.parametrize(("method", "status"), [("GET", 101), ("GET", 103), ("CONNECT", 200)])
async def test_upgrades_are_passed_on_unread(method: str, status: int) -> None:
    """A 101 (any 1xx, a 2xx to CONNECT) hands the socket over: never read, closed or retried."""
    from flxtrd._rest._async_transport import AsyncRetryTransport
    from flxtrd._rest._transport import RetryTransport

    for is_async in (False, True):
        body = _WatchedStream()
        calls: list[str] = []

        def handler(
            request: httpx.Request, body: _WatchedStream = body, calls: list[str] = calls
        ) -> httpx.Response:
            calls.append(request.method)
            return httpx.Response(status, stream=body)

        request = httpx.Request(method, "http://market.test/api/v1/ws/trade/")
        if is_async:
            transport = AsyncRetryTransport(httpx.MockTransport(handler))
            response = await transport.handle_async_request(request)
        else:
            response = RetryTransport(httpx.MockTransport(handler)).handle_request(request)
        assert (response.status_code, body.touched, calls) == (status, [], [method])
