"""REST faults injected under the client: bounded retries, the right typed error, no hang.

Each case of :data:`CASES` injects faults (``rel_faults.FaultTransport``) in front of the fake
market of the client unit tests and makes one typed call -- ``orders.list()`` (a GET, idempotent)
or ``orders.place(...)`` (a POST, retried only when it provably did not reach the server, or with
``retry=True``) -- through the sync and the async client. It checks the outcome (a model or the
named error), the number of attempts that reached the transport and the waits the client asked
for (an injected sleep: nothing sleeps, and the virtual time spent is the sum of the waits,
bounded by the policy). The counts are printed (``pytest -s``).

Real timeouts need real sockets: :func:`silent_server` accepts connections and never answers (or
answers the headers and stalls in the body), and the client's tiny timeout must end each attempt
on time, retries included.

The default policy (``flxtrd._defaults``): 2 retries (3 attempts), backoff 0.5 s doubling with
at most 25 % jitter (the tests fix the jitter draw at 0.5), ``Retry-After`` honoured up to 60 s,
retried statuses 408/429/502/503/504.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from client_fakes import FakeClock, FakeMarket, make_user
from rel_faults import (
    Fault,
    FaultTransport,
    after_server,
    answer,
    body_breaks,
    connect_refused,
    connect_timeout,
    connection_reset,
    peer_closed,
    raise_,
    read_timeout,
)
from rel_tls import serve_app

from flxtrd._client._async_client import AsyncFlexAPIClient
from flxtrd._client._client import FlexAPIClient
from flxtrd._errors import (
    AuthenticationError,
    FlexConnectionError,
    FlexError,
    FlexTimeoutError,
    MessageDecodeError,
    OrderPlacementInDoubtError,
    OrderPlacementTimeoutError,
    RateLimitError,
    ServerError,
)
from flxtrd._retry import RetryPolicy

ORDERS = "/api/v1/order/"
TOKEN = "/auth/oauth/v2/token"
POLICY = RetryPolicy()
JITTER_DRAW = 0.5


def backoff(n: int) -> list[float]:
    """The first ``n`` backoff waits of the default policy at the fixed jitter draw."""
    return [POLICY.backoff_s(i, JITTER_DRAW) for i in range(n)]


async def resolve(value: Any) -> Any:
    """Await ``value`` if it is awaitable (one test body drives both clients)."""
    return await value if inspect.isawaitable(value) else value


def make_client(flavor: str, transport: FaultTransport, clock: FakeClock, **kwargs: Any) -> Any:
    """A sync or async client on ``transport`` with the fake clock, sleep and jitter."""
    kwargs.setdefault("user", make_user())
    common = dict(
        base_url="https://market.test",
        transport=transport,
        clock=clock,
        random=lambda: JITTER_DRAW,
        env={},
        **kwargs,
    )
    if flavor == "sync":
        return FlexAPIClient(sleep=clock.sleep, **common)
    return AsyncFlexAPIClient(sleep=clock.asleep, **common)


def place(client: Any, now: datetime, *, retry: bool = False) -> Any:
    """``orders.place`` of a valid buy order delivering about two hours after ``now``."""
    start = (now + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    return client.orders.place(
        side="buy",
        power_w=2500.0,
        price_eur_per_kwh=0.25,
        delivery_start=start,
        delivery_end=start + timedelta(minutes=15),
        expiry_time=start - timedelta(minutes=30),
        retry=retry,
    )


# --- the fault matrix ------------------------------------------------------------------------


HTML = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
TRUNCATED = b'{"total": 1, "items": [{"id": 1, "side": "bu'


def _lost_after_server(request: httpx.Request, response: httpx.Response) -> httpx.Response:
    raise connection_reset(request)


def _truncate(request: httpx.Request, response: httpx.Response) -> httpx.Response:
    body = response.content[: len(response.content) // 2]
    return httpx.Response(200, content=body, headers={"content-type": "application/json"})


@dataclass(frozen=True)
class Case:
    """One injected fault pattern and what the client must do about it."""

    name: str
    call: str  # "list" (GET), "place" (POST), "place_retry" (POST with retry=True)
    faults: tuple[Fault, ...]
    error: type[FlexError] | None  # None: the call succeeds
    attempts: int
    sleeps: tuple[float, ...] = ()
    repeat_last: bool = False
    orders_created: int | None = None
    check: Callable[[BaseException | None], None] | None = field(default=None, compare=False)


def _retry_after(value: float | None) -> Callable[[BaseException | None], None]:
    def check(error: BaseException | None) -> None:
        assert isinstance(error, RateLimitError) and error.retry_after == value

    return check


def _mentions(*words: str) -> Callable[[BaseException | None], None]:
    def check(error: BaseException | None) -> None:
        text = str(error)
        assert all(word in text for word in words), text

    return check


CASES = [
    # timeouts
    Case("read timeout, GET", "list", (raise_(read_timeout),), FlexTimeoutError, 3,
         tuple(backoff(2)), repeat_last=True),
    # A POST lost after it was sent is in doubt: it may have been placed (issue 14, point 8).
    Case("read timeout, POST", "place", (raise_(read_timeout),), OrderPlacementTimeoutError, 1,
         repeat_last=True),
    Case("read timeout, POST retry=True", "place_retry", (raise_(read_timeout),),
         OrderPlacementTimeoutError, 3, tuple(backoff(2)), repeat_last=True),
    Case("connect timeout, POST (never sent)", "place", (raise_(connect_timeout),),
         FlexTimeoutError, 3, tuple(backoff(2)), repeat_last=True),
    Case("read timeout once, GET", "list", (raise_(read_timeout),), None, 2, tuple(backoff(1))),
    # connection resets and refusals
    Case("connection refused twice, POST", "place", (raise_(connect_refused),) * 2, None, 3,
         tuple(backoff(2)), orders_created=1),
    Case("connection reset once, GET", "list", (raise_(connection_reset),), None, 2,
         tuple(backoff(1))),
    Case("connection reset, POST", "place", (raise_(connection_reset),),
         OrderPlacementInDoubtError, 1, check=_mentions("POST", ORDERS, "ReadError")),
    Case("reset after the server took the POST", "place", (after_server(_lost_after_server),),
         OrderPlacementInDoubtError, 1, orders_created=1),
    Case("reset after the server took the POST, retry=True (duplicates!)", "place_retry",
         (after_server(_lost_after_server),), None, 2, tuple(backoff(1)), orders_created=2),
    Case("peer closed mid-body, GET", "list", (body_breaks(b'{"total": 1', peer_closed),),
         None, 2, tuple(backoff(1))),
    Case("read timeout mid-body, GET", "list", (body_breaks(b'{"tot', read_timeout),),
         FlexTimeoutError, 3, tuple(backoff(2)), repeat_last=True),
    Case("peer closed mid-body, POST", "place", (body_breaks(b'{"id": 1', peer_closed),),
         OrderPlacementInDoubtError, 1),
    # 429
    Case("429 with Retry-After: 7, GET", "list",
         (answer(429, json={"detail": "slow down"}, headers={"Retry-After": "7"}),), None, 2,
         (7.0,)),
    Case("429 without Retry-After, GET", "list", (answer(429, json={"detail": "slow"}),),
         RateLimitError, 3, tuple(backoff(2)), repeat_last=True, check=_retry_after(None)),
    Case("429 with Retry-After: 3600, GET (not waited for)", "list",
         (answer(429, json={"detail": "quota"}, headers={"Retry-After": "3600"}),),
         RateLimitError, 1, repeat_last=True, check=_retry_after(3600.0)),
    Case("429 with Retry-After: 2, POST", "place",
         (answer(429, json={"detail": "slow"}, headers={"Retry-After": "2"}),), RateLimitError, 1,
         repeat_last=True, check=_retry_after(2.0)),
    # 5xx bursts
    Case("500 burst, GET (500 is not retried)", "list",
         (answer(500, json={"detail": "boom"}),), ServerError, 1, repeat_last=True,
         check=_mentions("500", "boom")),
    Case("502, 502 then ok, GET", "list", (answer(502, content=HTML),) * 2, None, 3,
         tuple(backoff(2))),
    Case("503 burst, GET", "list", (answer(503, json={"detail": "maintenance"}),), ServerError,
         3, tuple(backoff(2)), repeat_last=True, check=_mentions("503")),
    Case("503 with Retry-After: 1 then ok, GET", "list",
         (answer(503, json={"detail": "x"}, headers={"Retry-After": "1"}),), None, 2, (1.0,)),
    Case("502/503 burst, POST", "place",
         (answer(502, content=HTML), answer(503, json={"detail": "x"})), ServerError, 1),
    # bodies
    Case("truncated JSON body, GET", "list", (after_server(_truncate),), MessageDecodeError, 1,
         check=_mentions("list_orders")),
    Case("non-JSON 200 body, GET", "list",
         (answer(200, content=HTML, headers={"content-type": "text/html"}),),
         MessageDecodeError, 1),
    Case("HTML 502 burst, GET", "list", (answer(502, content=HTML),), ServerError, 3,
         tuple(backoff(2)), repeat_last=True, check=_mentions("502")),
    Case("truncated JSON 200 body, POST", "place",
         (answer(200, content=TRUNCATED, headers={"content-type": "application/json"}),),
         MessageDecodeError, 1),
]  # fmt: skip


@pytest.mark.parametrize("flavor", ["sync", "async"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_injected_fault(
    case: Case, flavor: str, market: FakeMarket, clock: FakeClock
) -> None:
    """The call ends as the case says after exactly the expected attempts and waits."""
    transport = FaultTransport(httpx.MockTransport(market.handler))
    client = make_client(flavor, transport, clock)
    await resolve(client.orders.list())  # authenticate first: the token call is not the subject
    method = "GET" if case.call == "list" else "POST"
    before = transport.count(method, ORDERS)
    orders_before = len(market.orders)
    transport.inject(method, ORDERS, *case.faults, repeat_last=case.repeat_last)
    started, wall = clock(), time.monotonic()
    error: BaseException | None = None
    try:
        if case.call == "list":
            await resolve(client.orders.list())
        else:
            await resolve(place(client, clock.datetime(), retry=case.call == "place_retry"))
    except FlexError as exc:
        error = exc
    attempts = transport.count(method, ORDERS) - before
    print(
        f"\n[{flavor}] {case.name}: attempts={attempts} waits={clock.sleeps}"
        f" -> {type(error).__name__ if error else 'ok'}"
    )
    if case.error is None:
        assert error is None, f"unexpected {error!r}"
    else:
        assert type(error) is case.error, f"got {error!r}"
        assert error.__cause__ is not None or type(error) in (RateLimitError, ServerError)
    assert attempts == case.attempts
    assert clock.sleeps == pytest.approx(list(case.sleeps))
    assert clock() - started == pytest.approx(sum(case.sleeps))  # virtual time: the waits only
    assert time.monotonic() - wall < 2.0  # and no real waiting
    if case.orders_created is not None:
        assert len(market.orders) - orders_before == case.orders_created
    if case.check is not None:
        case.check(error)
    if flavor == "sync":
        client.close()
    else:
        await client.aclose()


# --- a token that expires mid-run ------------------------------------------------------------


@pytest.mark.parametrize("flavor", ["sync", "async"])
async def test_tokens_expire_and_get_revoked_during_a_long_run(
    flavor: str, market: FakeMarket, clock: FakeClock
) -> None:
    """60 calls over 2 h of virtual time: refreshes, a revocation, a flaky token endpoint."""
    transport = FaultTransport(httpx.MockTransport(market.handler))
    client = make_client(flavor, transport, clock)
    calls = 60
    statuses: list[int] = []
    for i in range(calls):
        if i == 21:  # (even calls refresh first, so an odd one meets the revocation)
            market.revoke_all()  # the server forgets every token: our next call gets a 401
        if i == 40:  # the token endpoint fails twice during the next refresh
            transport.inject(
                "POST", TOKEN, answer(503, json={"detail": "x"}), raise_(connect_refused)
            )
        page = await resolve(client.orders.list())
        statuses.append(page.total)
        clock.advance(120.0)  # tokens live 300 s and are refreshed 60 s before expiry
    grants = [r.content.decode() for r in market.requests if r.url.path == TOKEN]
    password = sum("grant_type=password" in g for g in grants)
    refresh = sum("grant_type=refresh_token" in g for g in grants)
    unauthorized = market.operations.count("list_orders") - calls
    print(
        f"\n[{flavor}] token run: calls={calls} list attempts={transport.count('GET', ORDERS)}"
        f" 401s={unauthorized} token requests={transport.count('POST', TOKEN)}"
        f" (password={password}, refresh={refresh}) waits={clock.sleeps}"
    )
    assert len(statuses) == calls
    assert unauthorized == 1  # only the call right after the revocation, resent once
    assert password == 2  # the first login and the re-login after the 401
    # every other token came from a refresh, ~one per 2 calls (240 s of the 300 s lifetime)
    assert refresh == (len(grants) - password)
    assert 25 <= refresh <= 35
    assert transport.count("POST", TOKEN) == len(grants) + 2  # the 2 injected failures
    assert clock.sleeps == pytest.approx(backoff(2))  # the flaky token endpoint's two retries


@pytest.mark.parametrize("flavor", ["sync", "async"])
async def test_a_token_refused_again_after_relogin_is_raised_not_looped(
    flavor: str, market: FakeMarket, clock: FakeClock
) -> None:
    """A server that answers 401 to every token: one re-login, one resend, AuthenticationError."""
    transport = FaultTransport(httpx.MockTransport(market.handler))
    client = make_client(flavor, transport, clock)
    await resolve(client.orders.list())
    transport.inject("GET", ORDERS, answer(401, json={"detail": "Token expired"}), repeat_last=True)
    before_get, before_token = transport.count("GET", ORDERS), transport.count("POST", TOKEN)
    with pytest.raises(AuthenticationError, match="Token expired"):
        await resolve(client.orders.list())
    assert transport.count("GET", ORDERS) - before_get == 2
    assert transport.count("POST", TOKEN) - before_token == 1
    assert clock.sleeps == []


# --- the embedded sandbox behind the faults ---------------------------------------------------


@pytest.fixture
def embedded() -> Iterator[Any]:
    """An embedded sandbox (REST only, no broker, no expiry timer)."""
    from flxtrd.sandbox import EmbeddedSandbox

    sandbox = EmbeddedSandbox(broker=False, expiry_interval_s=None, seed=5)
    sandbox.start()
    try:
        yield sandbox
    finally:
        sandbox.close()


def test_lost_answers_of_the_real_sandbox(embedded: Any, clock: FakeClock) -> None:
    """Sandbox answers lost in transit: GETs recover; a POST is never duplicated by default."""
    transport = FaultTransport(embedded.transport())
    client = FlexAPIClient(
        base_url="sandbox://",
        user=make_user(),
        transport=transport,
        sleep=clock.sleep,
        random=lambda: JITTER_DRAW,
        env={},
    )
    assert client.orders.list().total == 0
    transport.inject("GET", ORDERS, answer(503, content=HTML), body_breaks(b'{"to', peer_closed))
    transport.inject("POST", ORDERS, after_server(_lost_after_server))
    with pytest.raises(FlexConnectionError):
        place(client, datetime.now(UTC))  # the sandbox took it; the answer was lost
    page = client.orders.list()  # 503, then a broken body: retried until it is read
    print(
        f"\nsandbox: GET attempts={transport.count('GET', ORDERS)}"
        f" POST attempts={transport.count('POST', ORDERS)} orders={page.total}"
        f" waits={clock.sleeps}"
    )
    assert page.total == 1  # the lost POST was placed once: reconcile by listing, not re-posting
    assert transport.count("POST", ORDERS) == 1
    assert transport.count("GET", ORDERS) == 1 + 3
    client.close()


# --- bodies read inside the retry loop, over real HTTP ----------------------------------------


class PreReading(httpx.BaseTransport):
    """A wrapping transport that reads each response body before passing it on (as logging or
    spec-checking wrappers do)."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Forward, read the body, return the (read) response."""
        response = self.inner.handle_request(request)
        response.read()
        return response

    def close(self) -> None:
        """Close the wrapped transport."""
        self.inner.close()


def _gzip_app() -> Any:
    import gzip

    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    body = gzip.compress(json.dumps({"total": 0, "items": []}).encode())

    async def orders(request: Any) -> Response:
        headers = {"content-encoding": "gzip", "content-type": "application/json"}
        return Response(body, headers=headers)

    return Starlette(routes=[Route("/status", orders)])


@pytest.mark.parametrize("wrapped", [False, True], ids=["plain", "pre-reading wrapper"])
def test_retryable_bodies_read_in_the_loop_stay_intact(wrapped: bool) -> None:
    """Over real HTTP: a gzip body decodes, elapsed is set, a pre-read body is not read again."""
    with serve_app(_gzip_app()) as port:
        inner: httpx.BaseTransport = httpx.HTTPTransport()
        client = FlexAPIClient(
            base_url=f"http://127.0.0.1:{port}",
            user=make_user(),
            transport=PreReading(inner) if wrapped else inner,
            env={},
        )
        results: list[Any] = []
        worker = threading.Thread(
            target=lambda: results.append(client.make_request("GET", "/status")), daemon=True
        )
        worker.start()
        worker.join(10)
        assert not worker.is_alive(), "the GET never returned"
        client.close()
    ((response, err),) = results
    assert err is None
    assert response.request_response.json() == {"total": 0, "items": []}
    if not wrapped:  # (httpx sets elapsed only for bodies it reads itself)
        assert response.request_response.elapsed.total_seconds() >= 0


# --- real sockets, tiny timeouts -------------------------------------------------------------


@contextlib.contextmanager
def silent_server(mode: str) -> Iterator[tuple[str, list[socket.socket]]]:
    """A local TCP server that reads requests and then stays silent (``mode="silent"``) or
    sends the status line and headers and stalls in the body (``mode="stall_body"``).

    Yields the base URL and the list of accepted connections (one per attempt).
    """
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(conn)
            conn.settimeout(5)
            with contextlib.suppress(OSError):
                conn.recv(65536)
                if mode == "stall_body":
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                        b'content-length: 100\r\n\r\n{"total": '
                    )

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", accepted
    finally:
        stop.set()
        with contextlib.suppress(OSError):  # wake the blocked accept()
            socket.create_connection(listener.getsockname(), 1).close()
        thread.join(5)
        listener.close()
        for conn in accepted:
            conn.close()


@pytest.mark.parametrize(
    ("mode", "method", "attempts"),
    [("silent", "GET", 3), ("silent", "POST", 1), ("stall_body", "GET", 3)],
)
def test_real_timeouts_end_each_attempt_on_time(mode: str, method: str, attempts: int) -> None:
    """A server that never answers (or stalls mid-body): each attempt ends at the 0.2 s timeout."""
    timeout = 0.2
    with silent_server(mode) as (url, accepted):
        client = FlexAPIClient(
            base_url=url, user=make_user(), timeout=timeout, sleep=lambda s: None, env={}
        )
        started = time.monotonic()
        _, err = client.make_request(method, "/status", json={} if method == "POST" else None)
        elapsed = time.monotonic() - started
        connections = len(accepted)
        client.close()
    print(f"\n{mode} {method}: attempts={connections} elapsed={elapsed:.3f} s -> {err!r}")
    assert isinstance(err, FlexTimeoutError)
    assert connections == attempts
    assert attempts * timeout <= elapsed < attempts * timeout + 1.5
