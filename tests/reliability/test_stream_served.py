"""Market streams over a real served sandbox, through the clients' own retrying HTTP pools.

The embedded sandbox's in-process transport hides what a real socket shows: the retry transport
once read (and closed) the body of every idempotent response while retries remained -- a
``101 Switching Protocols`` too, which closed the upgraded WebSocket. Here ``python -m flxtrd
sandbox`` runs as a process on RabbitMQ (``tests/contract/served.py``) and the clients keep their
default REST retries; the streams' reconnects are capped at one, so a broken upgrade fails in
well under a second instead of after the default ten reconnects.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

sys.path.append(str(Path(__file__).resolve().parents[1] / "contract"))
from served import SandboxProcess, served_sandbox

from flxtrd import (
    AsyncFlexAPIClient,
    AsyncMarketStream,
    FlexAPIClient,
    ReconnectPolicy,
    User,
)
from flxtrd._defaults import DEFAULT_MAX_RETRIES

pytestmark = pytest.mark.broker

ONE_RECONNECT = ReconnectPolicy(max_attempts=1)
RECEIVE_TIMEOUT_S = 10.0


@pytest.fixture(scope="module")
def served(amqp_url: str) -> Iterator[SandboxProcess]:
    """``python -m flxtrd sandbox`` on the real RabbitMQ for this module."""
    with served_sandbox(amqp_url) as process:
        yield process


def _order() -> dict[str, object]:
    """A generation-2 buy about two hours ahead, on the quarter hour."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = now.replace(minute=now.minute - now.minute % 15) + timedelta(hours=2)
    return {
        "side": "buy",
        "power_w": 1000.0,
        "price_eur_per_kwh": 0.30,
        "delivery_start": start,
        "delivery_end": start + timedelta(minutes=15),
        "expiry_time": start - timedelta(minutes=30),
        "country_code": "DE",
    }


def test_sync_market_stream_delivers_over_http_with_default_retries(
    served: SandboxProcess,
) -> None:
    """client.market_stream() on a served sandbox, default retries: the upgrade holds and the
    placed order's status update arrives on the trade stream."""
    user = User(name="stream-sync@reliability.flxtrd.test", password="pw")
    with FlexAPIClient(base_url=served.market_url, user=user, env={}) as client:
        assert client.retry_policy.max_retries == DEFAULT_MAX_RETRIES > 0
        client.login()
        stream = client.market_stream(receive_timeout=RECEIVE_TIMEOUT_S, reconnect=ONE_RECONNECT)
        trade = stream.stream("trade").connect()
        placed = client.orders.place(**_order())  # type: ignore[arg-type]
        event = next(iter(trade))
        assert type(event.model).__name__ == "OrderStatusUpdate"
        assert event.model.data.order_id == placed.id
        assert (trade.stats.connects, trade.stats.reconnects) == (1, 0)


async def test_async_market_stream_delivers_over_http_with_default_retries(
    served: SandboxProcess,
) -> None:
    """AsyncMarketStream on the async client's retrying pool (default retries), served sandbox:
    the upgrade holds and the placed order's status update arrives."""
    user = User(name="stream-async@reliability.flxtrd.test", password="pw")
    async with AsyncFlexAPIClient(base_url=served.market_url, user=user, env={}) as client:
        assert client.retry_policy.max_retries == DEFAULT_MAX_RETRIES > 0
        await client.login()
        auth = client.auth
        assert auth is not None
        async with AsyncMarketStream(
            client.base_url,
            auth.abearer_token,
            client=client.request_protocol.http_client,
            receive_timeout=RECEIVE_TIMEOUT_S,
            reconnect=ONE_RECONNECT,
        ) as stream:
            trade = await stream.stream("trade").connect()
            placed = await client.orders.place(**_order())  # type: ignore[arg-type]
            event = await anext(aiter(trade))
            assert type(event.model).__name__ == "OrderStatusUpdate"
            assert event.model.data.order_id == placed.id
            assert (trade.stats.connects, trade.stats.reconnects) == (1, 0)
