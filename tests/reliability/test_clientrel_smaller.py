"""Issue 14, point 8 (the client-side parts): four smaller defects.

(a) ``BrokerError`` / ``FlexConnectionError`` raised ``from`` kombu errors kept kombu's frames,
    whose locals hold the broker password (``establish_connection``'s ``opts``): a traceback
    printed with ``capture_locals=True`` showed it. Now those frames' locals are cleared.
(b) A generation-2 ``POST /api/v1/order/`` cut off after it was sent was a plain
    ``FlexConnectionError``. Now it is :class:`~flxtrd.OrderPlacementInDoubtError` (its timeout
    twin :class:`~flxtrd.OrderPlacementTimeoutError`), saying the order may have been placed,
    carrying the body sent and how to look for it; a POST that never left stays a plain error.
    The market is a real socket server that reads the request and then drops the connection.
(c) ``sendertimestamp_in_ms=2**70`` on a reply gave ``latency_ms = -1.18e21``; now a header
    beyond ``MAX_TIME_MS`` (the end of year 9999, the spec's ``ReplyHeaders``) is invalid:
    no latency.
(d) A caller-supplied ``Authorization`` header on ``/api/`` calls was silently replaced by the
    client's token; now it is honoured as given (no token fetched, no re-login on its 401).
"""

from __future__ import annotations

import json
import threading
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from client_fakes import make_user

import flxtrd
from flxtrd import FlexAPIClient, FlexConnectionError, FlexError
from flxtrd._amqp._api import AmpqAPI
from flxtrd._amqp._market_messages import decode_market_message
from flxtrd._retry import RetryPolicy

#: Never a local variable of a test: capture_locals would print the test's own frame too.
BROKER_PASSWORD = "wrong-Br0ker-Pa55word-for-clientrel"
TOKEN = {
    "access_token": "access-tok-0123456789",
    "refresh_token": "refresh-tok-0123456789",
    "expires_in": 3600,
    "token_type": "Bearer",
}


# --- (a) the broker password and chained kombu errors -----------------------------------------


def _formatted_with_locals(error: BaseException) -> str:
    """The traceback as ``traceback`` prints it with every frame's local variables."""
    return "".join(traceback.TracebackException.from_exception(error, capture_locals=True).format())


def _connect_error(api: AmpqAPI) -> FlexError:
    """What ``connect()`` raised (this frame's locals hold no password)."""
    with pytest.raises(FlexError) as caught:
        api.connect()
    return caught.value


def _free_loopback_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_broker_error_does_not_reach_the_password() -> None:
    """Connection refused: the FlexConnectionError's chain, printed with locals, has no password."""
    url = f"amqp://127.0.0.1:{_free_loopback_port()}//"
    api = AmpqAPI(url, "guest", BROKER_PASSWORD, "app-clientrel-a", retry_policy=RetryPolicy(0))
    error = _connect_error(api)
    assert isinstance(error, FlexConnectionError)
    assert error.__cause__ is not None  # the kombu error is still there, without its locals
    text = _formatted_with_locals(error)
    assert "ConnectionRefusedError" in text
    assert BROKER_PASSWORD not in text


@pytest.mark.broker
def test_a_refused_login_error_does_not_reach_the_password(amqp_url: str) -> None:
    """Wrong password on a real RabbitMQ: the BrokerError, printed with locals, has no password."""
    parts = urlsplit(amqp_url)
    url = f"amqp://{parts.hostname}:{parts.port or 5672}{parts.path or '/'}"
    api = AmpqAPI(url, "guest", BROKER_PASSWORD, "app-clientrel-a", retry_policy=RetryPolicy(0))
    error = _connect_error(api)
    assert isinstance(error, flxtrd.BrokerError)
    text = _formatted_with_locals(error)
    assert "AccessRefused" in text
    assert BROKER_PASSWORD not in text


# --- (b) a generation-2 order cut off after it was sent --------------------------------------


class _Market(BaseHTTPRequestHandler):
    """Issues tokens; reads each order POST whole, then drops the connection (or stalls)."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_POST(self) -> None:
        """Answer the token request; take an order and never answer it."""
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path.startswith("/auth/"):
            payload = json.dumps(TOKEN).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        self.server.orders.append(json.loads(body))
        if self.server.stall:
            self.server.release.wait()  # until the test is over: the client times out first
        self.close_connection = True  # dropped: no status line, no body


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, stall: bool) -> None:
        super().__init__(("127.0.0.1", 0), _Market)
        self.orders: list[dict[str, Any]] = []
        self.stall = stall
        self.release = threading.Event()


def _serve(stall: bool) -> Iterator[_Server]:
    server = _Server(stall)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def dropping() -> Iterator[_Server]:
    """A market that drops the connection after reading an order."""
    yield from _serve(stall=False)


@pytest.fixture
def stalling() -> Iterator[_Server]:
    """A market that reads an order and never answers."""
    yield from _serve(stall=True)


def _place(base_url: str, **client_options: Any) -> FlexError:
    """Place one buy order; return the error it raised."""
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=3)
    client = FlexAPIClient(base_url=base_url, user=make_user(), env={}, **client_options)
    with client, pytest.raises(FlexError) as caught:
        client.orders.place(
            side="buy",
            power_w=1500.0,
            price_eur_per_kwh=0.21,
            delivery_start=start,
            delivery_end=start + timedelta(minutes=15),
            expiry_time=start - timedelta(minutes=30),
            country_code="DE",
        )
    return caught.value


def _order_model(body: dict[str, Any]) -> Any:
    from glocalflex_rest.models import Order

    return Order.from_dict({**body, "id": 7, "status": "accepted"})


def test_a_post_cut_off_after_sending_is_in_doubt_and_says_how_to_check(
    dropping: _Server,
) -> None:
    """Dropped after the request was read: OrderPlacementInDoubtError (a FlexConnectionError)
    saying it may have been placed, with the body sent and how to look for it."""
    error = _place(f"http://127.0.0.1:{dropping.server_port}")
    assert len(dropping.orders) == 1  # the market did get the order
    assert isinstance(error, flxtrd.OrderPlacementInDoubtError)
    assert isinstance(error, FlexConnectionError)
    assert not isinstance(error, flxtrd.FlexTimeoutError)
    message = str(error)
    assert "may have been placed" in message
    assert "client.orders.list(side='buy')" in message
    assert "power=1500.0" in message and "delivery_start=" in message
    assert error.order == dropping.orders[0]  # exactly what was sent
    assert error.matches(_order_model(dropping.orders[0]))
    assert not error.matches(_order_model({**dropping.orders[0], "power": 1501.0}))


def test_a_post_whose_answer_times_out_is_in_doubt_too(stalling: _Server) -> None:
    """Read but never answered: OrderPlacementTimeoutError, both in doubt and a timeout."""
    error = _place(f"http://127.0.0.1:{stalling.server_port}", timeout=0.5)
    assert len(stalling.orders) == 1
    assert isinstance(error, flxtrd.OrderPlacementTimeoutError)
    assert isinstance(error, flxtrd.OrderPlacementInDoubtError)
    assert isinstance(error, flxtrd.FlexTimeoutError)
    assert "may have been placed" in str(error)


def test_a_post_that_never_left_is_not_in_doubt() -> None:
    """Connection refused (nothing sent): a plain FlexConnectionError, not in doubt."""

    def refuse(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/auth/"):
            return httpx.Response(200, json=TOKEN)
        raise httpx.ConnectError("connection refused", request=request)

    error = _place("https://market.test", transport=httpx.MockTransport(refuse))
    assert isinstance(error, FlexConnectionError)
    assert not isinstance(error, flxtrd.OrderPlacementInDoubtError)


# --- (c) an absurd sender timestamp ------------------------------------------------------------

TICK = b'{"msg_type": "tick", "trade_time": "2026-12-01T09:00:00Z", "price": 1.0,'
TICK += b' "start_time": "2026-12-01T10:00:00Z", "energy": 25.0}'


@pytest.mark.parametrize("sent", [2**70, 253_402_300_800_000, 2**63 - 1])
def test_a_sender_timestamp_beyond_year_9999_gives_no_latency(sent: int) -> None:
    """``sendertimestamp_in_ms`` beyond MAX_TIME_MS is invalid: no ``latency_ms``, no
    ``sent_at_ms``; the message itself is still delivered. The last valid instant still counts."""
    received = 1_796_198_400_500
    message = decode_market_message(TICK, {"sendertimestamp_in_ms": sent}, received_at_ms=received)
    assert message.msg_type == "tick"
    assert message.sent_at_ms is None
    assert message.latency_ms is None
    last = decode_market_message(
        TICK, {"sendertimestamp_in_ms": 253_402_300_799_999}, received_at_ms=received
    )
    assert last.sent_at_ms == 253_402_300_799_999


# --- (d) a caller's own Authorization header ---------------------------------------------------


def _client(market: _Recorder) -> FlexAPIClient:
    """A client on the recording market."""
    transport = httpx.MockTransport(market)
    return FlexAPIClient(
        base_url="https://market.test", user=make_user(), env={}, transport=transport
    )


class _Recorder:
    """A market that records each request's path and Authorization and answers ``status``."""

    def __init__(self, status: int) -> None:
        self.seen: list[tuple[str, str | None]] = []
        self.status = status

    def __call__(self, request: httpx.Request) -> httpx.Response:
        """Record and answer."""
        self.seen.append((request.url.path, request.headers.get("Authorization")))
        if request.url.path == "/auth/oauth/v2/token":
            return httpx.Response(200, json=TOKEN)
        return httpx.Response(self.status, json={"total": 0, "items": []})


@pytest.mark.parametrize("name", ["Authorization", "authorization"])
def test_a_callers_authorization_header_is_honoured_on_api_calls(name: str) -> None:
    """``make_request(..., headers={"Authorization": ...})`` on ``/api/`` sends the caller's
    header as given and fetches no token; calls without one still get the client's token."""
    market = _Recorder(200)
    client = FlexAPIClient(
        base_url="https://market.test",
        user=make_user(),
        env={},
        transport=httpx.MockTransport(market),
    )
    with client:
        _, err = client.make_request(
            "GET", "/api/v1/order/", headers={name: "Bearer the-callers-own-token"}
        )
        assert err is None
        assert market.seen == [("/api/v1/order/", "Bearer the-callers-own-token")]
        _, err = client.make_request("GET", "/api/v1/order/")
        assert err is None
    assert market.seen[1:] == [
        ("/auth/oauth/v2/token", None),
        ("/api/v1/order/", f"Bearer {TOKEN['access_token']}"),
    ]


def test_a_401_to_the_callers_header_is_returned_without_a_new_login() -> None:
    """The market refuses the caller's token: the 401 comes back, no login, no resend."""
    market = _Recorder(401)
    client = FlexAPIClient(
        base_url="https://market.test",
        user=make_user(),
        env={},
        transport=httpx.MockTransport(market),
    )
    with client:
        response, err = client.make_request(
            "GET", "/api/v1/order/", headers={"Authorization": "Bearer the-callers-own-token"}
        )
    assert isinstance(err, flxtrd.AuthenticationError)
    assert response.request_response is not None
    assert market.seen == [("/api/v1/order/", "Bearer the-callers-own-token")]
