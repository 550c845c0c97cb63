"""Passwords and tokens never appear in logs, reprs or exception messages of a full flow."""

from __future__ import annotations

import logging
import time
import traceback
from typing import Any

import httpx
import pytest
from client_fakes import (
    DEVICE_TOKEN,
    PASSWORD,
    SECRET_MARK,
    FakeClock,
    FakeMarket,
    make_user,
    resolve,
)
from test_rest_typed import order_fields

from flxtrd._client._async_client import AsyncFlexAPIClient
from flxtrd._client._client import FlexAPIClient
from flxtrd._errors import FlexError
from flxtrd._types import Flexibility, MarketOrder, OrderType, User


def _exception_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc) + str(exc)


def _sync_flow(market: FakeMarket, clock: FakeClock, texts: list[str]) -> None:
    """Generation 1 login + order over the real AmpqAPI (memory://) + generation 2 + errors."""
    user = make_user()
    client = FlexAPIClient(
        base_url="https://market.test",
        user=user,
        transport=httpx.MockTransport(market.handler),
        broker_url="memory://",
        clock=clock,
        sleep=clock.sleep,
        env={},
    )
    response, err = client.make_request(
        "POST", "/users/login", data={"email": user.name, "password": user.password}
    )
    assert err is None
    texts += [repr(response), repr(client), repr(client.auth), repr(user), repr(client.plugins)]
    identity = client.authenticate()
    texts.append(repr(identity))
    client.deals()
    now_ms = int(time.time() * 1000)
    order = MarketOrder(
        type=OrderType.ASK,
        price=100,
        flexibility=Flexibility(
            wattage=100,
            starttime=now_ms + 7_200_000,
            duration=900_000,
            expirationtime=now_ms + 3_600_000,
        ),
    )
    client._clock = None  # the broker order is validated against the real clock
    response, err = client.send_order(method="", endpoint="ask", verify_ssl=False, order=order)
    texts += [repr(response), repr(client.trade_protocol)]
    if err is not None:
        texts.append(_exception_text(err))
    client._clock = clock
    client.orders.place(**order_fields(clock))
    clock.advance(250)
    client.orders.list()
    market.revoke_all()
    client.contracts.list()
    texts.append(repr(client.auth))
    raw = client.with_raw_response.contracts.get(7)
    texts.append(repr(raw.plugin_data))
    client.trade_protocol.close_connection()
    client.close()

    failing = [
        FlexAPIClient(
            base_url="https://market.test",
            user=User(name=user.name, password=PASSWORD + "-wrong"),
            transport=httpx.MockTransport(market.handler),
            env={},
        ),
        FlexAPIClient(
            base_url="https://market.test",
            user=User(accessToken=DEVICE_TOKEN + "-unknown"),
            transport=httpx.MockTransport(market.handler),
            env={},
        ),
    ]
    for bad in failing:
        for call in (bad.login, bad.authenticate, bad.orders.list):
            try:
                call()
            except FlexError as exc:
                texts.append(_exception_text(exc))
        texts.append(repr(bad))

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}")

    down = FlexAPIClient(
        base_url="https://market.test",
        user=User(accessToken=DEVICE_TOKEN),
        transport=httpx.MockTransport(refuse),
        sleep=clock.sleep,
        env={},
    )
    try:
        down.authenticate()
    except FlexError as exc:
        texts.append(_exception_text(exc))
    _, err = down.make_request("GET", f"/users/mptoken/{DEVICE_TOKEN}")
    assert err is not None
    texts.append(_exception_text(err))


async def _async_flow(market: FakeMarket, clock: FakeClock, texts: list[str]) -> None:
    """The generation-2 flow on the async client."""
    async with AsyncFlexAPIClient(
        base_url="https://market.test",
        user=make_user(),
        transport=httpx.MockTransport(market.handler),
        clock=clock,
        sleep=clock.asleep,
        env={},
    ) as client:
        await client.login()
        await client.orders.place(**order_fields(clock))
        clock.advance(250)
        await client.orders.list()
        market.revoke_all()
        await client.contracts.list()
        texts += [repr(client), repr(client.auth)]


async def test_no_secret_in_logs_reprs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    """Capture every log record at DEBUG (flxtrd, httpx, kombu) of a full flow; grep secrets."""
    clock = FakeClock()
    market = FakeMarket(clock)
    texts: list[str] = []
    caplog.set_level(logging.DEBUG)
    _sync_flow(market, clock, texts)
    await _async_flow(market, clock, texts)

    logged = caplog.text
    assert "Authenticated user" in logged
    assert "Obtained an access token" in logged
    assert "HTTP Request: GET https://market.test/users/mptoken/***" in logged
    assert market.count("get_token") >= 4
    everything = logged + "\n".join(texts)
    assert SECRET_MARK not in everything, [
        line for line in everything.splitlines() if SECRET_MARK in line
    ][:5]


async def test_error_messages_name_the_call_not_the_secret(make_client: Any) -> None:
    """A failed device-token lookup names the path with the token replaced by ***."""
    client = make_client(user=User(accessToken=DEVICE_TOKEN + "-unknown"))
    with pytest.raises(FlexError) as raised:
        await resolve(client.authenticate())
    assert str(raised.value) == "GET /users/mptoken/*** -> 404 Not Found: Unknown token"
