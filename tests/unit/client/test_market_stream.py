"""FlexAPIClient.market_stream(): typed WebSocket events, signed in by the client (sandbox)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from flxtrd import FlexAPIClient, OrderSpec, User
from flxtrd._errors import ConfigurationError


@pytest.fixture(autouse=True)
def _fresh_sandbox() -> Iterator[None]:
    """Each test trades in a sandbox of its own (the embedded one is process-wide)."""
    from flxtrd.sandbox import reset_embedded_sandbox

    reset_embedded_sandbox()
    yield
    reset_embedded_sandbox()


def _window() -> tuple[datetime, datetime, datetime]:
    """A delivery window on the quarter hour about two hours ahead, and an expiry before it."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = now.replace(minute=now.minute - now.minute % 15) + timedelta(hours=2)
    return start, start + timedelta(minutes=15), start - timedelta(minutes=30)


def _baseline(start: datetime, end: datetime) -> dict[str, object]:
    """The seller's metering baseline for the window (the sandbox matches a sell only with one)."""
    iso = "%Y-%m-%dT%H:%M:%SZ"
    return {
        "metering_id": "0b5c1a52-7e0a-4c8e-9f3f-2a6b1d4e5f60",
        "created_at": datetime.now(UTC).strftime(iso),
        "reading_start": start.strftime(iso),
        "reading_end": end.strftime(iso),
        "resolution": 900,
        "direction": "production",
        "quality": "estimated",
        "energy_product": "active",
        "unit_measured": "kWh",
        "data_points": [{start.strftime(iso): 0.5}],
    }


def test_ticker_and_trade_streams_deliver_typed_events_for_a_match() -> None:
    """A buy and a matching sell show up as a Ticker event and as the buyer's order update."""
    buyer = FlexAPIClient(base_url="sandbox://", user=User(name="b@example.com", password="pw"))
    seller = FlexAPIClient(base_url="sandbox://", user=User(name="s@example.com", password="pw"))
    start, end, expiry = _window()
    order = {"power_w": 2000.0, "delivery_start": start, "delivery_end": end, "expiry_time": expiry,
             "country_code": "DE"}  # fmt: skip
    with buyer, seller:
        ticker = buyer.market_stream(receive_timeout=5).stream("ticker").connect()
        trade = buyer.market_stream(receive_timeout=5).stream("trade").connect()
        placed = buyer.orders.place(side="buy", price_eur_per_kwh=0.30, **order)
        sell = OrderSpec(
            side="sell", price_eur_per_kwh=0.20, baseline=_baseline(start, end), **order
        )
        seller.orders.place(sell)
        tick = next(iter(ticker))
        assert (tick.kind, tick.model.data.price, tick.model.data.power) == ("ticker", 0.30, 2000.0)
        statuses = []
        for event in trade:
            if type(event.model).__name__ == "OrderStatusUpdate":
                assert event.model.data.order_id == placed.id
                statuses.append(event.model.data.status)
                if statuses[-1] == "filled":
                    break
        assert statuses[-1] == "filled"


def test_market_stream_needs_the_auth_plugin() -> None:
    """Without an AuthPlugin there is no token to open a stream with: a clear error."""
    client = FlexAPIClient(base_url="sandbox://", user=User(name="a@example.com", password="pw"))
    client.remove_plugin(client.auth)  # type: ignore[arg-type]
    with client, pytest.raises(ConfigurationError, match="AuthPlugin"):
        client.market_stream()
