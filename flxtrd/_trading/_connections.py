"""The two market connections a bot trades on, one per API generation.

A :class:`MarketConnection` is what a :class:`~flxtrd.Bot` needs of the market: place, cancel,
poll, close. :class:`Gen1Connection` sends orders over AMQP (``FlexAPIClient.send_order``) and
reads replies from ``market_messages``; :class:`Gen2Connection` places orders over REST
(``client.orders``) and reads the ``trade`` and ``ticker`` WebSocket streams, looking each new
contract up once (``contracts.get``) to turn it into a :class:`~flxtrd.Fill`. Both translate
what they read with :mod:`flxtrd._trading._events`.

Retries: REST calls retry inside the client and the AMQP connection reconnects by itself; a
connection error while polling reaches the bot, which counts it and polls again next step.
``sandbox://`` streams go through the embedded sandbox's in-process transport, found by the same
helper the REST clients use (``_rest_core.sandbox_transport``).
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from flxtrd._errors import FlexConnectionError, FlexError
from flxtrd._rest._api_core import sandbox_transport
from flxtrd._trading._events import EPOCH, Incoming, epoch_ms, gen1_events, gen2_events
from flxtrd._trading._strategy import QUARTER_HOUR_MS, ContractUpdate, Fill, PlaceOrder
from flxtrd._types import OrderType
from flxtrd._validation import current_time_ms, require_wait

if TYPE_CHECKING:
    from flxtrd._amqp._market_messages import MarketMessage
    from flxtrd._client._client import FlexAPIClient
    from flxtrd._streams._stream import MarketStream

__all__ = ["Gen1Connection", "Gen2Connection", "MarketConnection"]


class MarketConnection(Protocol):
    """What a :class:`Bot` needs of the market: place, cancel, poll, and a count of orders."""

    generation: int
    published: int
    """Orders handed to the market so far."""

    def open(self) -> None:
        """Authenticate and connect."""

    def place(self, order: PlaceOrder) -> str:
        """Send ``order``; return its market id; raise a FlexError when it was not taken."""

    def cancel(self, market_id: str) -> bool:
        """Cancel an order; False when this generation cannot cancel."""

    def poll(self, timeout: float, now_ms: int) -> list[Incoming]:
        """What arrived, waiting at most ``timeout`` s for the first message."""

    def close(self) -> None:
        """Disconnect."""


class Gen1Connection:
    """Generation 1: orders over AMQP (``send_order``), replies from ``market_messages``.

    ``on_reply`` sees every raw :class:`~flxtrd.MarketMessage` (an audit log, say).
    """

    generation = 1

    def __init__(
        self, client: FlexAPIClient, *, on_reply: Callable[[MarketMessage], None] | None = None
    ) -> None:
        self.client = client
        self.published = 0
        self._on_reply = on_reply

    def open(self) -> None:
        """Log in and connect to the broker."""
        self.client.connect()

    def place(self, order: PlaceOrder) -> str:
        """Send the order; return its message id once the broker has confirmed it."""
        response, err = self.client.send_order(order=order.to_market_order())
        if err is not None:
            raise err
        self.published += 1
        return str(response.order_response.message_id)

    def cancel(self, market_id: str) -> bool:
        """Generation 1 has no cancel: the order stays until it trades or expires."""
        return False

    def poll(self, timeout: float, now_ms: int) -> list[Incoming]:
        """The replies that arrived (waiting up to ``timeout`` s for the first)."""
        timeout = require_wait("timeout", timeout)
        messages: list[MarketMessage] = []
        for message in self.client.market_messages(timeout=timeout):
            messages.append(message)
            break
        if messages:
            messages.extend(self.client.market_messages(timeout=0))
        events: list[Incoming] = []
        for message in messages:
            if self._on_reply is not None:
                self._on_reply(message)
            events.extend(gen1_events(message, now_ms))
        return events

    def close(self) -> None:
        """Close the broker connection and the REST pool."""
        self.client.close()


def _baseline(order: PlaceOrder, now_ms: int) -> dict[str, Any]:
    """A sell order's baseline: the metering data of its window (an estimate, 15-min steps).

    The sandbox waits for a baseline before it matches a generation-2 sell; a real device
    sends its own metering data instead.
    """
    import uuid

    def iso(ms: int) -> str:
        return (EPOCH + timedelta(milliseconds=ms)).strftime("%Y-%m-%dT%H:%M:%SZ")

    return {
        "metering_id": str(uuid.uuid4()),
        "created_at": iso(now_ms // 1000 * 1000),
        "reading_start": iso(order.start_ms),
        "reading_end": iso(order.end_ms),
        "resolution": 900,
        "direction": "production",
        "quality": "estimated",
        "energy_product": "active",
        "unit_measured": "kWh",
        "data_points": [
            {iso(t): round(order.power_w / 4000.0, 6)}
            for t in range(order.start_ms, order.end_ms, QUARTER_HOUR_MS)
        ],
    }


class Gen2Connection:
    """Generation 2: orders over REST, events from the ``trade`` and ``ticker`` streams.

    The streams are read by two daemon threads into a queue; ``poll`` drains it. A contract
    status update of a contract not seen before is looked up (``contracts.get``) and becomes a
    :class:`~flxtrd.Fill` for each of your orders in it. Sell orders carry a baseline built from
    the order (:func:`_baseline`) unless ``baseline=False``.
    """

    generation = 2

    def __init__(
        self,
        client: FlexAPIClient,
        *,
        stream_url: str | None = None,
        stream_transport: Any = None,
        country_code: str = "",
        baseline: bool = True,
        clock: Callable[[], int] = current_time_ms,
        connect_timeout_s: float = 10.0,
    ) -> None:
        self.client = client
        self._connect_timeout_s = require_wait(
            "connect_timeout_s", connect_timeout_s, positive=True
        )
        self.published = 0
        self._stream_url = stream_url
        self._stream_transport = stream_transport
        self._country = country_code
        self._baseline = baseline
        self._clock = clock
        self._queue: queue.Queue[Any] = queue.Queue()
        self._mine: dict[int, OrderType] = {}
        self._contracts: set[int] = set()
        self.tickers_received = 0
        """Ticker events read from the stream so far (read by another thread)."""
        self.contracts_received: set[int] = set()
        """Ids of the contracts whose status updates the stream has brought."""
        self._stream: MarketStream | None = None
        self._subscriptions: list[Any] = []
        self._threads: list[threading.Thread] = []

    def open(self) -> None:
        """Get a token and start reading the trade and ticker streams."""
        from flxtrd._streams._stream import MarketStream

        auth = self.client.auth
        if auth is None:
            raise FlexConnectionError("generation 2 needs the client's AuthPlugin for its token")
        auth.bearer_token()
        transport = self._stream_transport
        if transport is None and self.client.endpoint.sandbox:  # sandbox://: in this process
            transport = sandbox_transport("embedded_transport")
        stream = MarketStream(
            self._stream_url or self.client.base_url, auth.bearer_token, transport=transport
        )
        self._stream = stream
        # One stream at a time: each connects before the next starts (the embedded sandbox's
        # in-process transport mixes up WebSocket upgrades made at the same moment).
        deadline = time.monotonic() + self._connect_timeout_s
        pause = threading.Event()
        for kind in ("trade", "ticker"):
            subscription = stream.stream(kind)
            self._subscriptions.append(subscription)
            thread = threading.Thread(
                target=self._read, args=(subscription,), name=f"flxtrd-bot-{kind}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
            # Events of orders placed before the stream is connected would be lost.
            while subscription.stats.connects < 1:
                if not thread.is_alive() or time.monotonic() > deadline:
                    self.close()
                    raise FlexConnectionError(f"the {kind} stream did not connect")
                pause.wait(0.005)

    def _read(self, subscription: Iterator[Any]) -> None:
        from glocalflex_messages.models import ContractStatusUpdate, Ticker

        try:
            for event in subscription:
                model = event.model
                self._queue.put(model)
                if isinstance(model, Ticker):
                    self.tickers_received += 1
                elif isinstance(model, ContractStatusUpdate):
                    self.contracts_received.add(model.data.contract_id)
        except FlexError as exc:
            self._queue.put(exc)

    @property
    def order_ids(self) -> frozenset[int]:
        """The ids of the orders this connection placed."""
        return frozenset(self._mine)

    def place(self, order: PlaceOrder) -> str:
        """Place the order over REST; return its order id."""
        from glocalflex_rest.models import OrderRequest

        spec = order.to_order_spec(country_code=self._country)
        if order.side is OrderType.ASK and self._baseline:
            body = spec.to_body()
            body["baseline"] = _baseline(order, self._clock())
            placed = self.client.orders.place(OrderRequest.from_dict(body))
        else:
            placed = self.client.orders.place(spec)
        self._mine[placed.id] = order.side
        self.published += 1
        return str(placed.id)

    def cancel(self, market_id: str) -> bool:
        """Cancel the order over REST."""
        self.client.orders.cancel(int(market_id))
        return True

    def poll(self, timeout: float, now_ms: int) -> list[Incoming]:
        """The stream events that arrived (waiting up to ``timeout`` s for the first)."""
        timeout = require_wait("timeout", timeout)
        models: list[Any] = []
        with contextlib.suppress(queue.Empty):
            models.append(
                self._queue.get(timeout=timeout) if timeout > 0 else self._queue.get_nowait()
            )
            while True:
                models.append(self._queue.get_nowait())
        events: list[Incoming] = []
        for model in models:
            if isinstance(model, FlexError):
                raise model
            events.extend(self._contract_events(model, now_ms))
            events.extend(gen2_events(model, now_ms))
        return events

    def _contract_events(self, model: Any, now_ms: int) -> list[Incoming]:
        from glocalflex_messages.models import ContractStatusUpdate

        if not isinstance(model, ContractStatusUpdate):
            return []
        data = model.data
        events: list[Incoming] = []
        if data.contract_id not in self._contracts:
            self._contracts.add(data.contract_id)
            contract = self.client.contracts.get(data.contract_id)
            for order_id in (contract.buy_order_id, contract.sell_order_id):
                side = self._mine.get(order_id)
                if side is None:
                    continue
                fill = Fill(
                    ref=None,
                    side=side,
                    price=contract.price,
                    power_w=contract.power,
                    start_ms=epoch_ms(contract.delivery_start),
                    end_ms=epoch_ms(contract.delivery_end),
                    time_ms=epoch_ms(data.timestamp),
                    generation=2,
                    contract_id=contract.id,
                )
                events.append(Incoming(fill, market_id=str(order_id)))
        update = ContractUpdate(
            contract_id=data.contract_id,
            status=str(data.status),
            settlement_status=str(data.settlement_status),
            verification_status=str(data.verification_status),
            time_ms=epoch_ms(data.timestamp),
        )
        ids = [getattr(data, "buy_order_id", None), getattr(data, "sell_order_id", None)]
        mine = next((str(i) for i in ids if isinstance(i, int) and i in self._mine), None)
        events.append(Incoming(update, market_id=mine))
        return events

    def close(self) -> None:
        """Close the streams and the client."""
        if self._stream is not None:
            self._stream.close()
        for thread in self._threads:
            thread.join(5)
        self.client.close()
