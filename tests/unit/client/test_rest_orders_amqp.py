"""FlexAPIClient's order methods delegate to the trading protocol (AmpqAPI) as contracted."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from client_fakes import APP_KEY, DEVICE_TOKEN, USER_ID, FakeClock, FakeMarket

from flxtrd._errors import FlexError, FlexValidationError, OrderUnroutableError
from flxtrd._rest._plugins import BasePlugin
from flxtrd._types import Flexibility, FlexResponse, MarketOrder, OrderType, User


class FakeTradeProtocol:
    """Stands in for flxtrd._amqp._api.AmpqAPI; records what the client asks of it."""

    instances: ClassVar[list[FakeTradeProtocol]] = []

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.calls: list[tuple[str, Any]] = []
        self.fail_with: FlexError | None = None
        self.buffer: list[Any] = []
        FakeTradeProtocol.instances.append(self)

    def connect(self) -> None:
        """Record the connect."""
        self.calls.append(("connect", None))

    def send_order(self, order: Any, *, routing_hint: str | None) -> dict[str, Any]:
        """Record the order; return a receipt or raise ``fail_with``."""
        self.calls.append(("send_order", (order, routing_hint)))
        if self.fail_with is not None:
            raise self.fail_with
        return {"message_id": f"m{len(self.calls)}", "routing_key": order.order_type.value}

    def send_orders(self, orders: list[Any]) -> list[str]:
        """Record the batch; every order succeeds."""
        self.calls.append(("send_orders", orders))
        return ["ok" for _ in orders]

    def check_market_responses(self) -> list[Any]:
        """The buffered messages."""
        return list(self.buffer)

    def empty_market_responses(self) -> None:
        """Clear the buffer."""
        self.buffer.clear()

    def market_messages(self, timeout: float | None) -> Iterator[Any]:
        """Iterate the buffer."""
        self.calls.append(("market_messages", timeout))
        return iter(self.buffer)

    def close_connection(self) -> None:
        """Record the close."""
        self.calls.append(("close_connection", None))

    def sleep(self, seconds: float) -> None:
        """Record the sleep."""
        self.calls.append(("sleep", seconds))


@pytest.fixture(autouse=True)
def _reset_fakes() -> None:
    FakeTradeProtocol.instances.clear()


def make_order(clock: FakeClock, *, order_type: OrderType = OrderType.ASK) -> MarketOrder:
    """A valid generation-1 order (seed spelling): 100 W for 15 min starting in 2 h."""
    now_ms = int(clock() * 1000)
    flexibility = Flexibility(
        wattage=100.0,
        starttime=now_ms + 2 * 3_600_000,
        duration=900_000,
        expirationtime=now_ms + 3_600_000,
    )
    return MarketOrder(type=order_type, price=100, flexibility=flexibility)


def test_send_order_creates_the_protocol_lazily(
    make_sync_client: Any, market: FakeMarket, clock: FakeClock
) -> None:
    """The first order authenticates once, builds AmpqAPI with the contract kwargs, connects."""
    client = make_sync_client(user=User(accessToken=DEVICE_TOKEN), trade_protocol=FakeTradeProtocol)
    assert FakeTradeProtocol.instances == []
    order = make_order(clock)
    response, err = client.send_order(method="", endpoint="ask", verify_ssl=False, order=order)
    assert err is None
    assert isinstance(response, FlexResponse)
    assert response.order_response == {"message_id": "m2", "routing_key": "ask"}
    response, err = client.send_order(market_order=make_order(clock, order_type=OrderType.BID))
    assert err is None
    (protocol,) = FakeTradeProtocol.instances
    assert protocol.kwargs == {
        "broker_url": "amqps://market.test:5671//",
        "user_id": USER_ID,
        "access_token": DEVICE_TOKEN,
        "application_key": APP_KEY,
        "verify_ssl": False,
        "ca_bundle": None,
    }
    assert [c[0] for c in protocol.calls] == ["connect", "send_order", "send_order"]
    assert protocol.calls[1][1] == (order, "ask")
    assert market.operations == ["get_user_by_mptoken"]
    assert client.trade_protocol is protocol


def test_verify_ssl_false_is_honoured_after_the_property_made_the_protocol(
    make_sync_client: Any, clock: FakeClock
) -> None:
    """A protocol made early by the trade_protocol property is remade for verify_ssl=False."""
    client = make_sync_client(user=User(accessToken=DEVICE_TOKEN), trade_protocol=FakeTradeProtocol)
    client.authenticate()
    early = client.trade_protocol
    assert early.kwargs["verify_ssl"] is True
    _, err = client.send_order(method="", endpoint="ask", verify_ssl=False, order=make_order(clock))
    assert err is None
    assert client.trade_protocol is not early
    assert client.trade_protocol.kwargs["verify_ssl"] is False
    assert early.calls == []


def test_injected_protocol_instance(make_sync_client: Any, clock: FakeClock) -> None:
    """trade_protocol=<instance> is used as is (the hook for tests and custom transports)."""
    fake = FakeTradeProtocol()
    client = make_sync_client(trade_protocol=fake)
    _, err = client.send_order(order=make_order(clock), endpoint="bi")
    assert err is None
    assert client.trade_protocol is fake
    assert fake.calls[1][1][1] == "bi"


def test_plugins_run_for_orders(make_sync_client: Any, clock: FakeClock) -> None:
    """before_request and after_request (never run for orders by 0.2.9) run around send_order."""
    calls: list[tuple[str, Any]] = []

    class Watch(BasePlugin):
        def before_request(self, method=None, url=None, headers=None, params=None, data=None):  # type: ignore[no-untyped-def]
            calls.append(("before", (method, url, data)))
            return "b"

        def after_request(self, response=None):  # type: ignore[no-untyped-def]
            calls.append(("after", response))
            return "a"

    client = make_sync_client(trade_protocol=FakeTradeProtocol(), plugins=[Watch()])
    order = make_order(clock)
    response, err = client.send_order(method="", endpoint="ask", order=order)
    assert err is None
    assert calls[0] == ("before", ("", "ask", order))
    assert calls[1] == ("after", response)
    assert response.plugin_data["Watch_before"] == "b"
    assert response.plugin_data["Watch_after"] == "a"


def test_protocol_errors_are_returned(make_sync_client: Any, clock: FakeClock) -> None:
    """A FlexError from the protocol is err; order_response is None; after hooks still ran."""
    fake = FakeTradeProtocol()
    fake.fail_with = OrderUnroutableError(
        exchange="in", routing_key="ask", reply_code=312, reply_text="NO_ROUTE"
    )
    client = make_sync_client(trade_protocol=fake)
    response, err = client.send_order(order=make_order(clock))
    assert isinstance(err, OrderUnroutableError)
    assert response.order_response is None
    assert response.plugin_data is not None
    assert "AuthPlugin_after" in response.plugin_data


def test_invalid_orders_are_not_sent(
    make_sync_client: Any, market: FakeMarket, clock: FakeClock
) -> None:
    """An order whose expiration has passed is refused before auth or broker are touched."""
    client = make_sync_client(trade_protocol=FakeTradeProtocol)
    order = make_order(clock)
    clock.advance(2 * 3600)
    _, err = client.send_order(order=order)
    assert isinstance(err, FlexValidationError)
    assert "in the future" in str(err)
    assert FakeTradeProtocol.instances == []
    assert market.operations == []
    _, err = client.send_order()
    assert isinstance(err, FlexValidationError)
    assert err.field == "order"


def test_close_connection_before_any_order_is_a_noop(
    make_sync_client: Any, market: FakeMarket
) -> None:
    """trade_protocol.close_connection() works before the first order and touches nothing."""
    client = make_sync_client(trade_protocol=FakeTradeProtocol)
    client.trade_protocol.close_connection()
    assert client.trade_protocol.is_connected() is False
    client.disconnect()
    assert FakeTradeProtocol.instances == []
    assert market.operations == []


def test_broker_url_from_environment(make_sync_client: Any, clock: FakeClock) -> None:
    """FLXTRD_BROKER_URL reaches AmpqAPI(broker_url=...)."""
    client = make_sync_client(
        trade_protocol=FakeTradeProtocol, env={"FLXTRD_BROKER_URL": "amqp://127.0.0.1:5672//"}
    )
    client.send_order(order=make_order(clock))
    assert FakeTradeProtocol.instances[0].kwargs["broker_url"] == "amqp://127.0.0.1:5672//"


def test_buffer_and_batch_methods_delegate(make_sync_client: Any, clock: FakeClock) -> None:
    """send_orders, check/empty_market_responses, market_messages, sleep and disconnect delegate."""
    fake = FakeTradeProtocol()
    client = make_sync_client(trade_protocol=fake)
    assert client.check_market_responses() is None
    fake.buffer.append({"msg_type": "tick"})
    assert client.check_market_responses() == [{"msg_type": "tick"}]
    assert list(client.market_messages(timeout=1.5)) == [{"msg_type": "tick"}]
    client.empty_market_responses()
    assert client.check_market_responses() is None
    orders = [make_order(clock), make_order(clock, order_type=OrderType.BID)]
    assert client.send_orders(orders) == ["ok", "ok"]
    client.sleep(0.25)
    client.disconnect()
    names = [c[0] for c in fake.calls]
    assert names == ["connect", "market_messages", "send_orders", "sleep", "close_connection"]


def test_real_ampq_api_is_built_with_the_contract_kwargs(make_sync_client: Any) -> None:
    """The default protocol is flxtrd._amqp._api.AmpqAPI, built from the identity (memory://)."""
    from flxtrd._amqp._api import AmpqAPI

    client = make_sync_client(user=User(accessToken=DEVICE_TOKEN), broker_url="memory://")
    client.authenticate()
    protocol = client.trade_protocol
    assert isinstance(protocol, AmpqAPI)
    assert protocol.application_key == APP_KEY
    protocol.close_connection()


def test_import_does_not_load_kombu_or_the_sandbox() -> None:
    """Importing flxtrd and its client does not import kombu or flxtrd.sandbox."""
    code = (
        "import sys, flxtrd, flxtrd._client._client, flxtrd._client._async_client;"
        "mods = ('kombu', 'amqp', 'flxtrd.sandbox', 'flxtrd._amqp');"
        "bad = [m for m in mods if m in sys.modules];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
