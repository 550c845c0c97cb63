"""The sandbox emits what `asyncapi.yaml` says; the SDK sends what `openapi.yaml` says.

Every test that uses the ``sandbox`` fixture (here and in ``test_e2e_trades.py``) has each AMQP
reply and WebSocket frame it received, and each REST request its clients sent, checked against
the specs when it ends. The tests here make sure that check is neither empty nor blind:

- a tour makes the sandbox send every message of the reply channel and of the three stream
  channels at least once (the streams read raw with httpx-ws, so the ``control`` message each
  stream opens with is seen too), and requires that each kind was seen and conforms;
- the SDK sends every operation of ``openapi.yaml``, each checked as it goes out;
- the message check refuses messages that break the spec (a negative control).
"""

from __future__ import annotations

import json
import queue
import time
from typing import Any

import httpx
import pytest
from httpx_ws import connect_ws

WAIT_S = 10.0


def kinds_of(asyncapi: Any, *channels: str) -> set[str]:
    """``channel/kind`` of every message the spec defines on ``channels``."""
    return {f"{channel}/{kind}" for channel in channels for kind in asyncapi.channels[channel]}


class RawStream:
    """One WebSocket stream read with httpx-ws directly: every frame, the first one included."""

    def __init__(self, sandbox: Any, client: Any, kind: str) -> None:
        self.kind = kind
        self.wire = sandbox.wire
        self.http = httpx.Client(transport=sandbox.market.stream_transport())
        self._session = connect_ws(
            f"{client.base_url}/api/v1/ws/{kind}/",
            self.http,
            headers={"Authorization": f"Bearer {client.auth.bearer_token()}"},
        )
        self.ws = self._session.__enter__()
        self.frames: list[dict[str, Any]] = []

    def read_until(self, what: str, predicate: Any, timeout: float = WAIT_S) -> dict[str, Any]:
        """Read frames (recording each) until one satisfies ``predicate``; return it."""
        for frame in self.frames:
            if predicate(frame):
                return frame
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                raw = self.ws.receive_text(timeout=remaining)
            except queue.Empty:
                break
            with self.wire.lock:
                self.wire.ws.append((self.kind, raw))
            frame = json.loads(raw)
            self.frames.append(frame)
            if predicate(frame):
                return frame
        raise AssertionError(f"{what}: not on the {self.kind} stream; got {self.frames}")

    def close(self) -> None:
        """Close the WebSocket and its HTTP client."""
        self._session.__exit__(None, None, None)
        self.http.close()


def of_type(kind: str) -> Any:
    """Predicate: a stream frame of ``type`` ``kind``."""
    return lambda frame: frame.get("type") == kind


def test_stream_messages_conform_to_asyncapi(sandbox: Any, wire: Any, asyncapi: Any) -> None:
    """Every message of the three stream channels is emitted and conforms (control first)."""
    buyer, seller = sandbox.client("tour-buyer"), sandbox.client("tour-seller")
    streams = {kind: RawStream(sandbox, buyer, kind) for kind in ("trade", "ticker", "orderbook")}
    try:
        for stream in streams.values():
            first = stream.read_until("the control message", lambda frame: True)
            assert first == {
                "type": "control",
                "status": "success",
                "data": {"message": "Connected to the WebSocket API"},
            }
        streams["orderbook"].read_until("the snapshot on connect", of_type("orderbook"))
        start = sandbox.slot()
        buy = sandbox.place(buyer, "buy", 2000, 0.30, start)
        sandbox.place(seller, "sell", 500, 0.20, start)

        streams["trade"].read_until(
            "partial_filled",
            lambda f: (
                f["type"] == "order_status_update"
                and (f["data"]["order_id"], f["data"]["status"]) == (buy.id, "partial_filled")
            ),
        )
        streams["trade"].read_until("the contract", of_type("contract_status_update"))
        streams["ticker"].read_until("the ticker entry", of_type("ticker"))
        streams["orderbook"].read_until(
            "the book with the rest of the buy",
            lambda f: (
                f["type"] == "orderbook"
                and any(level["power"] == 1500 for level in f["data"]["bids"])
            ),
        )
    finally:
        for stream in streams.values():
            stream.close()

    channels = ("tradeStream", "tickerStream", "orderbookStream")
    assert wire.kinds(asyncapi) == kinds_of(asyncapi, *channels)
    assert wire.check(asyncapi) == []


def test_broker_replies_conform_to_asyncapi(sandbox: Any, wire: Any, asyncapi: Any) -> None:
    """Every reply kind of the device queue is emitted and conforms, payload and headers."""
    seller, buyer = sandbox.trader("tour-seller"), sandbox.trader("tour-buyer")
    start = sandbox.slot()
    seller.send(sandbox.order("ask", 750, 10, start))
    buyer.send(sandbox.order("bid", 750, 11, start))
    for trader, kind in ((seller, "ask_closed_order"), (buyer, "bid_closed_order")):
        trader.wait(kind, lambda m, kind=kind: m["msg_type"] == kind)
        trader.wait("the tick", lambda m: m["msg_type"] == "tick")
    refused = buyer.send(sandbox.order("bid", 750, 11, sandbox.slot(), expiration_ms=60_000))
    buyer.wait("the cancel", lambda m: m.get("message_id") == refused.message_id)

    assert wire.kinds(asyncapi) == kinds_of(asyncapi, "marketReplies")
    assert all("sendertimestamp_in_ms" in headers for _, headers in wire.amqp)
    assert wire.check(asyncapi) == []


def test_every_rest_operation_the_sdk_sends_conforms_to_openapi(sandbox: Any, wire: Any) -> None:
    """The SDK sends each operation of openapi.yaml once or more; every request conforms."""
    buyer, seller = sandbox.client("tour-buyer"), sandbox.client("tour-seller")
    start = sandbox.slot()
    buy = sandbox.place(buyer, "buy", 900, 0.30, start)  # get_token, create_order
    sandbox.place(seller, "sell", 900, 0.25, start)
    assert [o.id for o in buyer.orders.list(status="filled", side="buy", limit=50).items]
    assert buyer.orders.get(buy.id).id == buy.id
    contract = buyer.contracts.list(limit=10).items[0]
    assert buyer.contracts.get(contract.id).id == contract.id
    spare = sandbox.place(buyer, "buy", 100, 0.01, sandbox.slot())
    buyer.orders.cancel(spare.id)

    login = buyer.login()  # login_user
    device = sandbox.client(access_token=login.locations[0].token)
    assert device.authenticate().user_id == login.user_id  # get_user_by_mptoken
    first = buyer.with_raw_response.deals("1h")  # list_deals
    assert buyer.deals("1h", if_none_match=first.headers["etag"]) is None  # 304

    operations = {
        "login_user",
        "get_user_by_mptoken",
        "list_deals",
        "get_token",
        "create_order",
        "list_orders",
        "get_order",
        "cancel_order",
        "list_contracts",
        "get_contract",
    }
    assert set(wire.rest) == operations
    assert wire.problems == []


@pytest.mark.parametrize(
    ("channel", "message", "headers"),
    [
        ("marketReplies", {"msg_type": "tick", "trade_time": "2026-12-01T09:00:00Z"}, None),
        (
            "marketReplies",
            {
                "msg_type": "tick",
                "trade_time": "yesterday",
                "price": 1.0,
                "start_time": "2026-12-01T10:00:00Z",
                "energy": 1.0,
            },
            None,
        ),
        ("marketReplies", {"msg_type": "cancel", "reason": 42}, None),
        ("marketReplies", {"msg_type": "cancel", "reason": "x"}, {"sendertimestamp_in_ms": -1}),
        ("marketReplies", {"msg_type": "deal", "reason": "x"}, None),
        ("tradeStream", {"type": "control", "status": "maybe", "data": {"message": ""}}, None),
        ("tickerStream", {"type": "order_status_update", "data": {}}, None),
    ],
    ids=[
        "missing-fields",
        "bad-date-time",
        "wrong-type",
        "bad-header",
        "unknown-msg_type",
        "bad-enum",
        "wrong-channel",
    ],
)
def test_the_message_check_refuses_what_breaks_the_spec(
    asyncapi: Any, channel: str, message: dict[str, Any], headers: dict[str, Any] | None
) -> None:
    """The check the tests rely on finds spec violations (payload, formats, headers, kinds)."""
    assert asyncapi.check(channel, json.dumps(message), headers) != []
