"""Fixtures of the sandbox contract tests: one market, embedded or served, and a check on the wire.

``market`` (module scope, parametrised ``embedded`` / ``served``) is the sandbox the tests trade
on; ``sandbox`` (per test) hands out clients on it and checks, when the test ends, everything
that crossed the wire during the test:

- every AMQP reply a client received (``MarketMessage.raw`` and its headers, plus the bodies
  that did not even decode, from ``on_invalid``) against its message in ``specs/asyncapi.yaml``;
- every WebSocket frame a stream delivered (``MarketEvent.raw``, plus skipped frames) likewise;
- every REST request the SDK sent, as it was sent, against ``specs/openapi.yaml`` (the jsonschema
  shim of ``tests/unit/client/openapi_shim.py``, run by a transport wrapped around the client's).

Payloads are checked with JSON Schema Draft 7 and its format checker, ``$ref`` s resolved against
the whole AsyncAPI document; the message is chosen by its discriminator (``msg_type`` on the
broker, ``type`` on the streams) among the messages of its channel.

``embedded`` is an `EmbeddedSandbox` in this process (REST through its in-process transport,
orders through ``memory://``) on a `ManualClock`, so expiry is a clock step, not a wait;
``served`` is ``python -m flxtrd sandbox`` (:mod:`served`) on the real RabbitMQ, on the wall clock.
Clients are `FlexAPIClient` s made as a user makes them (``base_url="sandbox://..."``, e-mail and
password), with ``env={}`` so a developer's ``FLXTRD_*`` variables cannot redirect them.
"""

from __future__ import annotations

import itertools
import json
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from glocalflex_rest.models import OrderRequest
from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7
from served import SandboxProcess, served_sandbox

from flxtrd import (
    FlexAPIClient,
    Flexibility,
    MarketOrder,
    MarketStream,
    OrderType,
    User,
)

sys.path.append(str(Path(__file__).resolve().parents[1] / "unit" / "client"))
from openapi_shim import SpecViolation, validate_request

ASYNCAPI_PATH = Path(__file__).resolve().parents[2] / "specs" / "asyncapi.yaml"
WAIT_S = 10.0
"""Longest wait for one expected message (served expiry needs the sandbox's 1 s timer)."""
QUARTER_MS = 15 * 60_000
HOUR_MS = 3_600_000
SHORT_EXPIRY_MS = 1_500
"""An order that should expire during the test expires this long after "now"."""
STREAM_CHANNELS = {"trade": "tradeStream", "ticker": "tickerStream", "orderbook": "orderbookStream"}
REPLY_CHANNEL = "marketReplies"


def wall_ms() -> int:
    """The wall clock, ms since the epoch."""
    return time.time_ns() // 1_000_000


def utc(ms: int) -> datetime:
    """Epoch ms as an aware UTC datetime."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)


def iso(ms: int) -> str:
    """Epoch ms as ISO 8601 UTC with ``Z``."""
    return utc(ms).isoformat().replace("+00:00", "Z")


def baseline(start_ms: int, end_ms: int) -> dict[str, Any]:
    """A sell order's baseline (metering data) for the window ``[start_ms, end_ms)``."""
    return {
        "metering_id": str(uuid.uuid4()),
        "created_at": iso(wall_ms() // 1000 * 1000),
        "reading_start": iso(start_ms),
        "reading_end": iso(end_ms),
        "resolution": 900,
        "direction": "production",
        "quality": "estimated",
        "energy_product": "active",
        "unit_measured": "kWh",
        "data_points": [{iso(start_ms): 0.25}],
    }


# --- the AsyncAPI document as validators ------------------------------------------------------


@dataclass(frozen=True)
class MessageSchema:
    """One message of a channel: its name and validators of its payload (and headers)."""

    name: str
    payload: Draft7Validator
    headers: Draft7Validator | None


class AsyncApiSpec:
    """The messages of every channel of ``specs/asyncapi.yaml``, by discriminator value."""

    URI = "urn:flxtrd:asyncapi"

    def __init__(self, path: Path = ASYNCAPI_PATH) -> None:
        self.document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
        resource = Resource.from_contents(self.document, default_specification=DRAFT7)
        self.registry: Registry[Any] = Registry().with_resource(self.URI, resource)
        self.channels: dict[str, dict[str, MessageSchema]] = {}
        for channel_name, channel in self.document["channels"].items():
            by_kind: dict[str, MessageSchema] = {}
            for ref in channel["messages"].values():
                message = self.resolve(ref["$ref"])
                payload_ref = message["payload"]["$ref"]
                properties = self.resolve(payload_ref).get("properties", {})
                kind = next(
                    (
                        properties[key]["const"]
                        for key in ("msg_type", "type")
                        if "const" in properties.get(key, {})
                    ),
                    None,
                )
                if kind is None:  # order lines (text): the sandbox consumes them, never emits
                    continue
                headers = message.get("headers")
                by_kind[kind] = MessageSchema(
                    message["name"],
                    self.validator(payload_ref),
                    self.validator(headers["$ref"]) if headers else None,
                )
            self.channels[channel_name] = by_kind

    def resolve(self, pointer: str) -> dict[str, Any]:
        """The node a local ``#/...`` pointer names."""
        node: Any = self.document
        for part in pointer.removeprefix("#/").split("/"):
            node = node[part]
        return dict(node)

    def validator(self, pointer: str) -> Draft7Validator:
        """A Draft 7 validator (format checker on) for the schema at ``pointer``."""
        return Draft7Validator(
            {"$ref": f"{self.URI}{pointer}"},
            registry=self.registry,
            format_checker=Draft7Validator.FORMAT_CHECKER,
        )

    def check(
        self, channel: str, raw: bytes | str, headers: dict[str, Any] | None = None
    ) -> list[str]:
        """Problems of one message on ``channel`` (empty: it conforms); its name when it does."""
        try:
            body = json.loads(raw)
        except ValueError as exc:
            return [f"{channel}: not JSON ({exc}): {raw!r:.200}"]
        kinds = self.channels[channel]
        kind = body.get("msg_type", body.get("type")) if isinstance(body, dict) else None
        schema = kinds.get(kind) if isinstance(kind, str) else None
        if schema is None:
            return [
                f"{channel}: no message {kind!r} in the spec (has {sorted(kinds)}): {raw!r:.200}"
            ]
        problems = [
            f"{channel}/{schema.name}: {'/'.join(map(str, e.path)) or '<root>'}: {e.message}"
            for e in schema.payload.iter_errors(body)
        ]
        if schema.headers is not None and headers is not None:
            problems += [
                f"{channel}/{schema.name} headers: {e.message}"
                for e in schema.headers.iter_errors(headers)
            ]
        return problems

    def kind_of(self, raw: bytes | str) -> str:
        """The discriminator value of a message."""
        body = json.loads(raw)
        return str(body.get("msg_type", body.get("type")))


@pytest.fixture(scope="session")
def asyncapi() -> AsyncApiSpec:
    """``specs/asyncapi.yaml`` as validators, by channel and discriminator."""
    return AsyncApiSpec()


# --- what crossed the wire in one test ---------------------------------------------------------


@dataclass
class Wire:
    """Everything the sandbox sent and the SDK sent during one test (checked at its end)."""

    amqp: list[tuple[bytes, dict[str, Any]]] = field(default_factory=list)
    ws: list[tuple[str, str | bytes]] = field(default_factory=list)
    rest: list[str] = field(default_factory=list)
    """Operation ids of the REST requests the SDK sent that conform to ``openapi.yaml``."""
    problems: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_invalid_amqp(self, raw: bytes, error: Exception) -> None:
        """``AmpqAPI.on_invalid``: a reply the SDK could not decode."""
        with self.lock:
            self.amqp.append((bytes(raw), {}))
            self.problems.append(f"undecodable AMQP reply ({error}): {raw!r:.200}")

    def on_invalid_ws(self, kind: str) -> Callable[[str | bytes, Exception], None]:
        """A ``MarketStream(on_invalid=...)`` hook for stream ``kind``."""

        def hook(raw: str | bytes, error: Exception) -> None:
            with self.lock:
                self.ws.append((kind, raw))
                self.problems.append(f"undecodable {kind} frame ({error}): {raw!r:.200}")

        return hook

    def check(self, spec: AsyncApiSpec) -> list[str]:
        """Every problem found: spec violations of messages and requests, undecodable frames."""
        with self.lock:
            problems = list(self.problems)
            amqp, ws = list(self.amqp), list(self.ws)
        for raw, headers in amqp:
            problems += spec.check(REPLY_CHANNEL, raw, headers)
        for kind, raw in ws:
            problems += spec.check(STREAM_CHANNELS[kind], raw)
        return problems

    def kinds(self, spec: AsyncApiSpec) -> set[str]:
        """``channel/kind`` of every message seen (AMQP replies and stream frames)."""
        seen = {f"{REPLY_CHANNEL}/{spec.kind_of(raw)}" for raw, _ in self.amqp}
        return seen | {f"{STREAM_CHANNELS[kind]}/{spec.kind_of(raw)}" for kind, raw in self.ws}


class SpecCheckingTransport(httpx.BaseTransport):
    """Checks each request against ``openapi.yaml`` before passing it on (WebSocket upgrades
    are not REST operations and pass unchecked)."""

    def __init__(self, inner: httpx.BaseTransport, wire: Wire) -> None:
        self.inner = inner
        self.wire = wire

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Record the request's operation (or its violation), then send it."""
        if request.headers.get("upgrade", "").lower() != "websocket":
            request.read()
            try:
                operation = validate_request(request)
            except SpecViolation as exc:
                with self.wire.lock:
                    self.wire.problems.append(f"REST request: {exc}")
            else:
                with self.wire.lock:
                    self.wire.rest.append(operation)
        return self.inner.handle_request(request)

    def close(self) -> None:
        """Close the wrapped transport."""
        self.inner.close()


# --- clients: a generation-1 trader and a stream watcher ---------------------------------------


class Trader:
    """A logged-in `FlexAPIClient` with its broker connection and the replies it received."""

    def __init__(self, client: FlexAPIClient, wire: Wire) -> None:
        self.client = client
        self.wire = wire
        self.messages: list[Any] = []
        client.login()
        client.trade_protocol.on_invalid = wire.on_invalid_amqp

    @property
    def user_id(self) -> str:
        """The account's ``userId``."""
        return str(self.client.user.user_id)

    @property
    def app_key(self) -> str:
        """The device's application key (its reply queue)."""
        return str(self.client.user.app_key)

    def send(self, order: MarketOrder) -> Any:
        """Send a generation-1 order as the seed does; return the broker's receipt."""
        response, err = self.client.send_order(order=order)
        assert err is None, f"send_order failed: {err!r}"
        return response.order_response

    def _record(self, message: Any) -> None:
        self.messages.append(message)
        with self.wire.lock:
            self.wire.amqp.append((bytes(message.raw), dict(message.headers)))

    def wait(self, what: str, predicate: Callable[[Any], bool], timeout: float = WAIT_S) -> Any:
        """The first reply (received before or within ``timeout``) that ``predicate`` accepts."""
        for message in self.messages:
            if predicate(message):
                return message
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            for message in self.client.market_messages(timeout=remaining):
                self._record(message)
                if predicate(message):
                    return message
        got = [dict(m) for m in self.messages]
        raise AssertionError(f"{what}: not received within {timeout:g} s; received {got}")

    def barrier(self) -> None:
        """Return once every order sent before has reached the market.

        The broker worker handles orders one at a time in arrival order, so the ``cancel`` of an
        order that expired long ago (sent now) proves the earlier ones were handled.
        """
        flexibility = Flexibility(
            wattage=1, starttime=wall_ms() + HOUR_MS, duration=1, expirationtime=1
        )
        receipt = self.send(MarketOrder(type=OrderType.BID, price=0, flexibility=flexibility))
        self.wait("barrier cancel", lambda m: m.get("message_id") == receipt.message_id)

    def publish_raw(self, body: bytes, routing_key: str) -> str:
        """Publish ``body`` to exchange ``in`` as this device would, bypassing the SDK's encoder
        and validation; return the ``message_id``."""
        from kombu import Connection

        user = self.client.user
        message_id = uuid.uuid4().hex
        with Connection(
            self.client.broker_url, userid=user.user_id, password=user.access_token
        ) as connection:
            connection.Producer().publish(
                body,
                exchange="in",
                routing_key=routing_key,
                user_id=user.user_id,
                reply_to=user.app_key,
                message_id=message_id,
                content_type="text/plain",
                headers={"sendertimestamp_in_ms": wall_ms()},
            )
        return message_id

    def drain(self) -> None:
        """Record the replies that arrived and were not waited for."""
        for message in self.client.market_messages(timeout=0):
            self._record(message)


class StreamWatch:
    """A `MarketStream` subscription read by a thread into a list of events."""

    def __init__(self, stream: MarketStream, kind: str, wire: Wire) -> None:
        self.stream = stream
        self.kind = kind
        self.wire = wire
        self.subscription = stream.stream(kind)
        self.events: list[Any] = []
        self.error: BaseException | None = None
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, name=f"watch-{kind}", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for event in self.subscription:
                with self._changed:
                    self.events.append(event)
                    with self.wire.lock:
                        self.wire.ws.append((self.kind, event.raw))
                    self._changed.notify_all()
        except BaseException as exc:  # surfaced by wait()
            with self._changed:
                self.error = exc
                self._changed.notify_all()

    def connected(self, timeout: float = WAIT_S) -> StreamWatch:
        """Return once the stream's handshake is done (the control message came)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self.subscription.stats.connects < 1:
                if self.error is not None:
                    raise AssertionError(f"{self.kind} stream failed: {self.error!r}")
                if time.monotonic() > deadline:
                    raise AssertionError(f"{self.kind} stream: no handshake in {timeout:g} s")
                self._changed.wait(0.01)
        return self

    def wait(self, what: str, predicate: Callable[[Any], bool], timeout: float = WAIT_S) -> Any:
        """The first event whose typed model ``predicate`` accepts."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for event in self.events:
                    if predicate(event.model):
                        return event.model
                if self.error is not None:
                    raise AssertionError(f"{self.kind} stream failed: {self.error!r}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    got = [e.raw for e in self.events]
                    raise AssertionError(f"{what}: not on the {self.kind} stream; got {got}")
                self._changed.wait(remaining)

    def close(self) -> None:
        """End the subscription and its thread."""
        self.subscription.close()
        self.stream.close()
        self._thread.join(5)


# --- the two markets ---------------------------------------------------------------------------


class Market:
    """A sandbox the tests trade on: how to reach it and how its time passes."""

    name: str
    market_url: str

    def __init__(self) -> None:
        self.tag = uuid.uuid4().hex[:8]
        base = (wall_ms() // QUARTER_MS + 1) * QUARTER_MS + 2 * HOUR_MS
        self._slots = (base + n * 2 * QUARTER_MS for n in itertools.count())

    def slot(self) -> int:
        """A delivery start (ms, on the quarter hour, hours ahead) no other test of this market
        uses: orders of different tests never meet."""
        return next(self._slots)

    def email(self, name: str) -> str:
        """The e-mail of account ``name`` on this market (the same in every test of it)."""
        return f"{name}-{self.tag}@contract.flxtrd.test"

    def rest_transport(self) -> httpx.BaseTransport:
        """The network edge of the REST client."""
        raise NotImplementedError

    def stream_transport(self) -> httpx.BaseTransport | None:
        """The network edge of a stream client (None: real sockets)."""
        raise NotImplementedError

    def now_ms(self) -> int:
        """The market's "now", never behind the wall clock (orders are made from it)."""
        return wall_ms()

    def pass_time_to(self, ms: int) -> None:
        """Let the market's time reach ``ms`` (or let the caller wait for it)."""

    def close(self) -> None:
        """Stop the market."""


class EmbeddedMarket(Market):
    """An `EmbeddedSandbox` on a `ManualClock`, reached through ``sandbox://``."""

    name = "embedded"
    market_url = "sandbox://"

    def __init__(self) -> None:
        super().__init__()
        from flxtrd.sandbox import (
            EmbeddedSandbox,
            ManualClock,
            SandboxMarket,
            reset_embedded_sandbox,
        )

        reset_embedded_sandbox()  # one broker worker on memory:// at a time
        self.clock = ManualClock(wall_ms())
        market = SandboxMarket(clock=self.clock, seed=uuid.uuid4().int % 2**31)
        self.sandbox = EmbeddedSandbox(market).start()

    def rest_transport(self) -> httpx.BaseTransport:
        """The embedded sandbox's in-process transport."""
        return self.sandbox.transport()

    def stream_transport(self) -> httpx.BaseTransport | None:
        """The same in-process transport (it carries WebSockets too)."""
        return self.sandbox.transport()

    def now_ms(self) -> int:
        """Bring the manual clock up to the wall clock and return it."""
        now = max(self.clock.now_ms(), wall_ms())
        self.clock.set(now)
        return now

    def pass_time_to(self, ms: int) -> None:
        """Step the clock to ``ms`` and let the market expire what is due."""
        self.clock.set(max(self.clock.now_ms(), ms))
        self.sandbox.market.advance()

    def close(self) -> None:
        """Stop the embedded sandbox."""
        self.sandbox.close()


class ServedMarket(Market):
    """``python -m flxtrd sandbox`` on RabbitMQ (``sandbox://127.0.0.1:<port>``)."""

    name = "served"

    def __init__(self, process: SandboxProcess) -> None:
        super().__init__()
        self.process = process
        self.market_url = process.market_url

    def rest_transport(self) -> httpx.BaseTransport:
        """Plain HTTP."""
        return httpx.HTTPTransport()

    def stream_transport(self) -> httpx.BaseTransport | None:
        """Real sockets."""
        return None


@pytest.fixture(scope="module")
def served(amqp_url: str) -> Iterator[SandboxProcess]:
    """``python -m flxtrd sandbox`` on the real RabbitMQ, for the tests of one module."""
    with served_sandbox(amqp_url) as process:
        yield process


@pytest.fixture(
    scope="module",
    params=["embedded", pytest.param("served", marks=pytest.mark.broker)],
)
def market(request: pytest.FixtureRequest) -> Iterator[Market]:
    """The sandbox of the module's tests: embedded in this process, or served on RabbitMQ."""
    if request.param == "embedded":
        embedded = EmbeddedMarket()
        yield embedded
        embedded.close()
    else:
        yield ServedMarket(request.getfixturevalue("served"))


class Sandbox:
    """One test's access to ``market``: clients, streams, time, orders; the wire it checks."""

    def __init__(self, market: Market, wire: Wire) -> None:
        self.market = market
        self.wire = wire
        self._traders: list[Trader] = []
        self._clients: list[FlexAPIClient] = []
        self._watches: list[StreamWatch] = []

    def client(
        self,
        name: str | None = None,
        *,
        access_token: str | None = None,
        clock: Callable[[], float] | None = None,
    ) -> FlexAPIClient:
        """A `FlexAPIClient` for account ``name`` (e-mail + password) or a device's
        ``access_token``, REST requests checked; ``clock`` is the client's own clock (epoch s),
        for a client whose clock is wrong."""
        user = (
            User(name=self.market.email(name), password="contract-password")
            if name is not None
            else User(accessToken=access_token)
        )
        client = FlexAPIClient(
            base_url=self.market.market_url,
            user=user,
            transport=SpecCheckingTransport(self.market.rest_transport(), self.wire),
            env={},
            clock=clock,
        )
        self._clients.append(client)
        return client

    def trader(self, name: str) -> Trader:
        """A logged-in generation-1 trader for account ``name``, connected to the broker."""
        trader = Trader(self.client(name), self.wire)
        self._traders.append(trader)
        trader.client.connect()
        return trader

    def watch(self, client: FlexAPIClient, kind: str) -> StreamWatch:
        """``client``'s stream ``kind`` (trade, ticker, orderbook), read in a thread, connected."""
        stream = MarketStream(
            client.base_url,
            client.auth.bearer_token,  # type: ignore[union-attr]
            transport=self.market.stream_transport(),
            on_invalid=self.wire.on_invalid_ws(kind),
        )
        watch = StreamWatch(stream, kind, self.wire)
        self._watches.append(watch)
        return watch.connected()

    def now_ms(self) -> int:
        """The market's now (see `Market.now_ms`)."""
        return self.market.now_ms()

    def slot(self) -> int:
        """A delivery start of this test's own (see `Market.slot`)."""
        return self.market.slot()

    def pass_time_to(self, ms: int) -> None:
        """Let the market reach ``ms`` (embedded: a clock step; served: the wall clock)."""
        self.market.pass_time_to(ms)

    # -- orders --

    @staticmethod
    def order(
        side: str,
        watts: float,
        price: float,
        start_ms: int,
        *,
        runtime_ms: int = QUARTER_MS,
        expiration_ms: int | None = None,
    ) -> MarketOrder:
        """A generation-1 order in the seed's spelling (expiring a minute before delivery)."""
        flexibility = Flexibility(
            wattage=watts,
            starttime=start_ms,
            duration=runtime_ms,
            expirationtime=start_ms - 60_000 if expiration_ms is None else expiration_ms,
        )
        return MarketOrder(type=OrderType(side), price=price, flexibility=flexibility)

    @staticmethod
    def place(
        client: FlexAPIClient,
        side: str,
        power_w: float,
        price: float,
        start_ms: int,
        *,
        end_ms: int | None = None,
        expiry_ms: int | None = None,
    ) -> Any:
        """Place a generation-2 order over REST; a sell carries a baseline (or it would wait for
        one in ``awaiting_baseline_data``)."""
        end = start_ms + QUARTER_MS if end_ms is None else end_ms
        expiry = start_ms - HOUR_MS if expiry_ms is None else expiry_ms
        if side == "buy":
            return client.orders.place(
                side="buy",
                power_w=power_w,
                price_eur_per_kwh=price,
                delivery_start=utc(start_ms),
                delivery_end=utc(end),
                expiry_time=utc(expiry),
            )
        request = OrderRequest.from_dict(
            {
                "side": side,
                "power": power_w,
                "price": price,
                "delivery_start": iso(start_ms),
                "delivery_end": iso(end),
                "expiry_time": iso(expiry),
                "location": {"location_id": None, "country_code": ""},
                "baseline": baseline(start_ms, end),
            }
        )
        return client.orders.place(request)

    def close(self) -> None:
        """Record the replies nobody waited for, close streams and clients."""
        for trader in self._traders:
            if not trader.client.trade_protocol.is_connected():
                continue  # never connected (the test failed there) or closed by the test
            try:
                trader.drain()
            except Exception as exc:  # a broken connection: the test has failed already
                self.wire.problems.append(f"draining {trader.app_key}: {exc!r}")
        for watch in self._watches:
            watch.close()
        for client in self._clients:
            client.close()


@pytest.fixture
def wire() -> Wire:
    """What crossed the wire in this test."""
    return Wire()


@pytest.fixture
def sandbox(market: Market, wire: Wire, asyncapi: AsyncApiSpec) -> Iterator[Sandbox]:
    """This test's clients on ``market``; at the end every message and request is checked."""
    handle = Sandbox(market, wire)
    try:
        yield handle
    finally:
        handle.close()
    problems = wire.check(asyncapi)
    assert not problems, "spec violations on the wire:\n" + "\n".join(problems)
