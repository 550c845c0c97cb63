"""The embedded sandbox: the sync ASGI bridge, in-process WebSockets, and the sandbox:// wiring."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from glocalflex_messages.models import Orderbook, OrderStatusUpdate, Ticker
from httpx_ws import WebSocketUpgradeError, connect_ws

import flxtrd.sandbox
from flxtrd._client._async_client import AsyncFlexAPIClient
from flxtrd._client._client import FlexAPIClient
from flxtrd._streams._stream import MarketStream
from flxtrd._types import User
from flxtrd.sandbox import EmbeddedSandbox, ManualClock, SandboxMarket
from flxtrd.sandbox._embedded import embedded_sandbox, reset_embedded_sandbox
from flxtrd.sandbox._market_time import format_datetime_ms, parse_datetime_ms
from flxtrd.sandbox._stream_hub import StreamHub

Q = 900_000
T0 = parse_datetime_ms("2026-12-01T08:00:00Z")
START = T0 + 8 * Q
CLIENT_ID = "glocalflexmarket_public_api"
BASE = "http://sandbox.flxtrd.invalid"
BASELINE = {
    "metering_id": "0b5c1a52-7e0a-4c8e-9f3f-2a6b1d4e5f60",
    "created_at": "2026-11-28T09:00:00Z",
    "reading_start": "2026-12-01T09:00:00Z",
    "reading_end": "2026-12-01T10:00:00Z",
    "resolution": 900,
    "direction": "consumption",
    "quality": "estimated",
    "energy_product": "apparent",
    "unit_measured": "kWh",
    "data_points": [{"2026-12-01T09:00:00Z": 0.62}],
}


def order(side: str = "buy", start: int = START, **overrides: Any) -> dict[str, Any]:
    """A valid buy order request body."""
    body: dict[str, Any] = {
        "side": side,
        "power": 1000.0,
        "price": 0.25,
        "delivery_start": format_datetime_ms(start),
        "delivery_end": format_datetime_ms(start + Q),
        "expiry_time": format_datetime_ms(start - 2 * Q),
        "location": {"location_id": None, "country_code": "DE"},
    }
    body.update(overrides)
    return body


@pytest.fixture
def sandbox() -> Iterator[EmbeddedSandbox]:
    """An embedded sandbox on a manual clock, without broker and expiry timer."""
    market = SandboxMarket(clock=ManualClock(T0), seed=5)
    with EmbeddedSandbox(market, broker=False, expiry_interval_s=None) as box:
        yield box


@pytest.fixture
def http(sandbox: EmbeddedSandbox) -> Iterator[httpx.Client]:
    """A sync httpx client on the sandbox's bridge."""
    with httpx.Client(transport=sandbox.transport(), base_url=BASE) as client:
        yield client


def bearer(http: httpx.Client, email: str = "a@x") -> dict[str, str]:
    """An Authorization header with a fresh access token."""
    response = http.post(
        "/auth/oauth/v2/token",
        data={"grant_type": "password", "client_id": CLIENT_ID, "username": email, "password": "p"},
    )
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_sync_bridge_serves_rest(http: httpx.Client) -> None:
    """A plain httpx.Client reaches every kind of request through the bridge: form, JSON, query."""
    login = http.post("/users/login", data={"email": "a@x", "password": "p"})
    assert login.status_code == 200 and login.json()["locations"]
    headers = bearer(http)
    placed = http.post("/api/v1/order/", json=order(), headers=headers)
    assert placed.status_code == 200 and placed.headers["content-type"] == "application/json"
    listed = http.get("/api/v1/order/", params={"side": "buy"}, headers=headers)
    assert listed.json()["total"] == 1
    assert (
        http.post(f"/api/v1/order/{placed.json()['id']}/cancel", headers=headers).status_code == 200
    )


def test_sync_bridge_serves_many_threads(http: httpx.Client, sandbox: EmbeddedSandbox) -> None:
    """Threads share the bridge's one event loop; every request is answered."""
    headers = bearer(http)
    statuses: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(10):
            code = http.post("/api/v1/order/", json=order(), headers=headers).status_code
            with lock:
                statuses.append(code)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 40
    assert sandbox.market.list_orders(sandbox.market.accounts.login("a@x", "p"))[0] == 40


def test_bridge_read_timeout(sandbox: EmbeddedSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """A request the app does not answer in the read timeout raises httpx.ReadTimeout."""
    never = asyncio.Event

    async def hang(*args: Any, **kwargs: Any) -> Any:
        await never().wait()

    monkeypatch.setattr(httpx.ASGITransport, "handle_async_request", hang)
    with (
        httpx.Client(transport=sandbox.transport(), base_url=BASE, timeout=0.05) as client,
        pytest.raises(httpx.ReadTimeout),
    ):
        client.get("/api/v1/order/")


def test_sync_websocket_over_the_bridge(http: httpx.Client, sandbox: EmbeddedSandbox) -> None:
    """httpx-ws's sync session works on the bridge: control, events, pings, 401 refusals."""
    headers = bearer(http)
    # httpx-ws adds the upgrade headers to the dict it is given: give it a copy.
    with connect_ws(f"{BASE}/api/v1/ws/orderbook/", http, headers=dict(headers)) as ws:
        assert ws.receive_json(timeout=5)["type"] == "control"
        assert ws.receive_json(timeout=5)["data"]["bids"] == []
        assert ws.ping(b"x").wait(5)
        http.post("/api/v1/order/", json=order(price=0.4), headers=headers)
        book = ws.receive_json(timeout=5)
        assert [lv["price"] for lv in book["data"]["bids"]] == [0.4]
    with (
        pytest.raises(WebSocketUpgradeError) as caught,
        connect_ws(f"{BASE}/api/v1/ws/trade/", http, headers={"Authorization": "Bearer x"}),
    ):
        pass
    assert caught.value.response.status_code == 401


def test_market_stream_client_runs_embedded(
    http: httpx.Client, sandbox: EmbeddedSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """flxtrd's MarketStream (sync) subscribes through the bridge and gets typed events."""
    subscribed = threading.Semaphore(0)
    attach = StreamHub.attach

    def spy(hub: StreamHub, kind: str, user_id: str, put: Any) -> Any:
        detach = attach(hub, kind, user_id, put)
        subscribed.release()
        return detach

    monkeypatch.setattr(StreamHub, "attach", spy)
    headers = bearer(http, "me@x")
    token = headers["Authorization"].removeprefix("Bearer ")
    with MarketStream(BASE, token, transport=sandbox.transport(), receive_timeout=5) as stream:
        book = stream.stream("orderbook")
        assert isinstance(next(book).model, Orderbook)  # sent on connect
        trade, ticker = stream.stream("trade"), stream.stream("ticker")
        got: dict[str, Any] = {}
        readers = [
            threading.Thread(target=lambda: got.update(trade=next(trade).model)),
            threading.Thread(target=lambda: got.update(ticker=next(ticker).model)),
        ]
        for reader in readers:
            reader.start()
        assert subscribed.acquire(timeout=5) and subscribed.acquire(timeout=5)
        assert subscribed.acquire(timeout=5)  # book, trade, ticker
        http.post(
            "/api/v1/order/",
            json=order("sell", price=0.1, baseline=BASELINE),
            headers=bearer(http, "s@x"),
        )
        placed = http.post("/api/v1/order/", json=order(price=0.3), headers=headers).json()
        for reader in readers:
            reader.join(5)
        assert isinstance(got["trade"], OrderStatusUpdate)
        assert got["trade"].data.order_id == placed["id"]
        assert isinstance(got["ticker"], Ticker) and got["ticker"].data.price == 0.3
        assert isinstance(next(book).model, Orderbook)


def test_concurrent_upgrades_keep_their_paths(http: httpx.Client) -> None:
    """Upgrades racing on the bridge each open their own stream (httpx-ws shares a scope slot)."""
    headers = bearer(http)
    for _ in range(20):
        barrier = threading.Barrier(2)
        kinds: dict[str, str] = {}

        def open_stream(path: str, barrier: threading.Barrier, kinds: dict[str, str]) -> None:
            barrier.wait(5)
            with connect_ws(f"{BASE}/api/v1/ws/{path}/", http, headers=dict(headers)) as ws:
                assert ws.receive_json(timeout=5)["type"] == "control"
                if path == "orderbook":  # only the order book stream sends at once
                    kinds[path] = ws.receive_json(timeout=5)["type"]

        threads = [
            threading.Thread(target=open_stream, args=(p, barrier, kinds))
            for p in ("orderbook", "trade")
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert kinds == {"orderbook": "orderbook"}


def test_close_stops_the_loop_thread() -> None:
    """Closing an embedded sandbox stops its loop thread; closing twice is harmless."""
    box = EmbeddedSandbox(
        SandboxMarket(clock=ManualClock(T0)), broker=False, expiry_interval_s=None
    )
    box.start()
    assert any(t.name == "flxtrd-sandbox-loop" for t in threading.enumerate())
    box.close()
    box.close()
    assert not any(t.name == "flxtrd-sandbox-loop" for t in threading.enumerate())


# --- the process-wide sandbox and sandbox:// ---------------------------------------------------


@pytest.fixture
def process_sandbox() -> Iterator[None]:
    """A fresh process-wide embedded sandbox for the test, closed afterwards."""
    reset_embedded_sandbox()
    yield
    reset_embedded_sandbox()


def future_start() -> int:
    """A delivery start two hours ahead on the wall clock (the process-wide sandbox's clock)."""
    return (time.time_ns() // 1_000_000 // Q + 8) * Q


def test_embedded_sandbox_is_one_per_process(process_sandbox: None) -> None:
    """embedded_sandbox() is made once, started, and replaced after a reset."""
    first = embedded_sandbox()
    assert embedded_sandbox() is first
    reset_embedded_sandbox()
    assert embedded_sandbox() is not first


def test_flex_client_with_sandbox_url(process_sandbox: None) -> None:
    """FlexAPIClient(base_url='sandbox://') places, lists and cancels orders embedded."""
    client = FlexAPIClient(base_url="sandbox://", user=User(name="me@x", password="p"), env={})
    try:
        start = future_start()
        placed = client.orders.place(
            side="buy",
            power_w=500.0,
            price_eur_per_kwh=0.2,
            delivery_start=parse_dt(start),
            delivery_end=parse_dt(start + Q),
            expiry_time=parse_dt(start - Q),
            country_code="DE",
        )
        assert client.orders.list().total == 1
        assert client.orders.cancel(placed.id).status.value == "cancelled"
        assert client.contracts.list().total == 0
        assert client.login().user_id
    finally:
        client.close()


async def test_async_flex_client_with_sandbox_url(process_sandbox: None) -> None:
    """AsyncFlexAPIClient(base_url='sandbox://') reaches the same embedded market."""
    client = AsyncFlexAPIClient(base_url="sandbox://", user=User(name="me@x", password="p"), env={})
    try:
        assert (await client.contracts.list()).total == 0
        assert (await client.orders.list()).total == 0
    finally:
        await client.aclose()


def test_embedded_gen1_trade_through_the_broker(process_sandbox: None) -> None:
    """An ask and a matching bid through sandbox:// come back as two closed orders and ticks."""
    pytest.importorskip("flxtrd.sandbox._broker")
    from flxtrd import Flexibility, MarketOrder, OrderType

    start = future_start()
    flexibility = Flexibility(wattage=2500.0, starttime=start, duration=Q, expirationtime=start - Q)
    seller = FlexAPIClient(base_url="sandbox://", user=User(name="s@x", password="p"), env={})
    buyer = FlexAPIClient(base_url="sandbox://", user=User(name="b@x", password="p"), env={})
    try:
        assert embedded_sandbox().broker is not None and embedded_sandbox().broker.running
        _, err = seller.send_order(
            order=MarketOrder(type=OrderType.ASK, price=10.0, flexibility=flexibility)
        )
        assert err is None, err
        _, err = buyer.send_order(
            order=MarketOrder(type=OrderType.BID, price=11.0, flexibility=flexibility)
        )
        assert err is None, err
        for client, closed in ((seller, "ask_closed_order"), (buyer, "bid_closed_order")):
            seen: set[str] = set()
            for message in client.market_messages(timeout=5):
                seen.add(message.msg_type)
                if {closed, "tick"} <= seen:
                    break
            assert {closed, "tick"} <= seen
    finally:
        seller.close()
        buyer.close()


def parse_dt(ms: int) -> Any:
    """Epoch ms as an aware datetime."""
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def test_import_stays_light() -> None:
    """``import flxtrd.sandbox`` loads no starlette, uvicorn, kombu or httpx-ws."""
    code = (
        "import sys, flxtrd.sandbox as s;"
        "print(sorted(m for m in ('starlette','uvicorn','kombu','httpx_ws') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert callable(flxtrd.sandbox.embedded_transport) and flxtrd.sandbox.RateLimit
    with pytest.raises(AttributeError):
        flxtrd.sandbox.no_such_name  # noqa: B018


def test_market_from_env(tmp_path: Any) -> None:
    """FLXTRD_SANDBOX_* configure the embedded market: seed, strict accounts, token lifetime."""
    from flxtrd.sandbox._embedded import market_from_env

    path = tmp_path / "accounts.toml"
    path.write_text('[[accounts]]\nemail = "a@x"\npassword = "pw"\n', encoding="utf-8")
    market = market_from_env(
        {
            "FLXTRD_SANDBOX_SEED": "9",
            "FLXTRD_SANDBOX_ACCOUNTS": str(path),
            "FLXTRD_SANDBOX_TOKEN_LIFETIME_S": "5",
        }
    )
    assert market.seed == 9 and market.accounts.strict
    assert market.issue_token("a@x", "pw").expires_in == 5
    default = market_from_env({})
    assert default.seed == 0 and not default.accounts.strict
    assert default.accounts.access_lifetime_s == 300
    with pytest.raises(ValueError, match="integers"):
        market_from_env({"FLXTRD_SANDBOX_SEED": "x"})
