"""Issue 14, point 3: every timeout, wait and duration refuses NaN, infinity and negatives.

Before, ``market_messages(timeout=nan)``, ``client.sleep(nan)`` and ``AmpqAPI.sleep(nan)``
blocked forever (``deadline - now`` is NaN, never ``<= 0``), ``market_stream(receive_timeout=nan)``
was accepted (``nan <= 0`` is False), and the CLI took ``--wait nan``. Now each argument raises
:class:`~flxtrd.FlexValidationError` naming the argument and the rule ("must be a finite number
>= 0", or "> 0"), before anything is sent or connected; ``None`` still means "wait forever"
where it did. A CLI flag's ``nan`` is an argparse usage error (exit 2).

The clients here have spies for edges: a REST transport and a trading protocol that record every
call, and an ``AmpqAPI`` backend factory that records every connection attempt.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from client_fakes import FakeClock, make_user

from flxtrd import FlexValidationError, ReconnectPolicy
from flxtrd._amqp._api import AmpqAPI
from flxtrd._amqp._backend import _BackendContext
from flxtrd._cli._main import build_parser
from flxtrd._client._client import FlexAPIClient
from flxtrd._rest._auth import AuthPlugin
from flxtrd._retry import RetryPolicy
from flxtrd._streams._async_stream import AsyncMarketStream
from flxtrd._streams._stream import MarketStream
from flxtrd._trading._bot import Bot
from flxtrd._trading._connections import Gen1Connection, Gen2Connection
from flxtrd._trading._simulation import SandboxSimulation
from flxtrd._trading._strategies import TickFollowingBuyer
from flxtrd._types import Flexibility, MarketOrder, OrderType

BAD = [math.nan, math.inf, -math.inf, -1.0]
START_MS = 1_900_000_800_000


class RecordingTransport(httpx.BaseTransport):
    """Records every request and answers 500: nothing may reach it."""

    def __init__(self) -> None:
        self.requests: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Record the request."""
        self.requests.append(f"{request.method} {request.url.path}")
        return httpx.Response(500)


class TradeSpy:
    """A trading protocol that records every call and returns nothing."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Callable[..., Any]:
        def record(*args: Any, **kwargs: Any) -> list[Any]:
            self.calls.append(name)
            return []

        return record

    def send_order(self, *args: Any, **kwargs: Any) -> None:
        """Record an order."""
        self.calls.append("send_order")


class BackendSpy:
    """An ``AmpqAPI`` backend factory that counts connection attempts and refuses them."""

    def __init__(self) -> None:
        self.opened = 0

    def __call__(self, ctx: _BackendContext) -> Any:
        """Count the attempt and refuse it."""
        self.opened += 1
        raise AssertionError("AmpqAPI tried to connect")


@dataclass
class Edges:
    """Everything a case could touch; all of it must stay untouched."""

    transport: RecordingTransport
    trade: TradeSpy
    backend: BackendSpy
    sleeps: list[float]
    http: httpx.Client

    def client(self) -> FlexAPIClient:
        """A generation-1/2 client on the spies."""
        return FlexAPIClient(
            base_url="https://market.test",
            user=make_user(),
            transport=self.transport,
            trade_protocol=self.trade,
            clock=FakeClock(),
            sleep=self.sleeps.append,
            env={},
            retry_policy=RetryPolicy(max_retries=0),
        )

    def amqp(self, **kwargs: Any) -> AmpqAPI:
        """An ``AmpqAPI`` whose connection attempts go to the backend spy."""
        api = AmpqAPI(
            "memory://",
            "user",
            "token",
            "app-key",
            retry_policy=RetryPolicy(max_retries=0),
            **kwargs,
        )
        api._backend_factory = self.backend
        api._sleep = self.sleeps.append
        return api

    def untouched(self) -> None:
        """Nothing was sent, connected or slept."""
        assert self.transport.requests == []
        assert self.trade.calls == []
        assert self.backend.opened == 0
        assert self.sleeps == []


@pytest.fixture
def edges() -> Any:
    """Fresh spies (and an HTTP client for the streams, closed afterwards)."""
    http = httpx.Client(transport=RecordingTransport())
    yield Edges(RecordingTransport(), TradeSpy(), BackendSpy(), [], http)
    http.close()


def _order() -> MarketOrder:
    flex = Flexibility(wattage=1000.0, starttime=START_MS, duration=900_000)
    return MarketOrder(type=OrderType.ASK, price=0.2, flexibility=flex)


def _simulation_run_for(edges: Edges, value: float) -> None:
    sim = SandboxSimulation({})
    try:
        sim.run_for(value)  # type: ignore[arg-type]
    finally:
        sim.close()


class _Quiet:
    """A bot connection with nothing to deliver."""

    generation = 1
    published = 0

    def poll(self, timeout: float, now_ms: int) -> list[Any]:
        """Nothing arrived."""
        return []


#: (argument, field named in the error, positive-only, call with the bad value)
CASES: list[tuple[str, str, bool, Callable[[Edges, Any], object]]] = [
    (
        "client.market_messages(timeout=)",
        "timeout",
        False,
        lambda e, v: e.client().market_messages(timeout=v),
    ),
    ("client.sleep()", "seconds", False, lambda e, v: e.client().sleep(v)),
    (
        "client.market_stream(receive_timeout=)",
        "receive_timeout",
        True,
        lambda e, v: e.client().market_stream(receive_timeout=v),
    ),
    (
        "FlexAPIClient(timeout=)",
        "timeout",
        True,
        lambda e, v: FlexAPIClient(base_url="https://m.test", user=make_user(), env={}, timeout=v),
    ),
    (
        "FlexAPIClient(timeout=httpx.Timeout(read=))",
        "timeout.read",
        True,
        lambda e, v: FlexAPIClient(
            base_url="https://m.test", user=make_user(), env={}, timeout=httpx.Timeout(5.0, read=v)
        ),
    ),
    (
        "client.make_request(timeout=)",
        "timeout",
        True,
        lambda e, v: _raise_err(e.client().make_request("GET", "/deals/", timeout=v)),
    ),
    ("AmpqAPI(confirm_timeout=)", "confirm_timeout", True, lambda e, v: e.amqp(confirm_timeout=v)),
    ("AmpqAPI(connect_timeout=)", "connect_timeout", True, lambda e, v: e.amqp(connect_timeout=v)),
    ("AmpqAPI(heartbeat=)", "heartbeat", False, lambda e, v: e.amqp(heartbeat=v)),
    (
        "AmpqAPI.send_order(timeout=)",
        "timeout",
        False,
        lambda e, v: e.amqp().send_order(_order(), timeout=v),
    ),
    (
        "AmpqAPI.send_orders(timeout=)",
        "timeout",
        False,
        lambda e, v: e.amqp().send_orders([_order()], timeout=v),
    ),
    (
        "AmpqAPI.market_messages(timeout=)",
        "timeout",
        False,
        lambda e, v: e.amqp().market_messages(timeout=v),
    ),
    ("AmpqAPI.sleep()", "seconds", False, lambda e, v: e.amqp().sleep(v)),
    (
        "MarketStream(connect_timeout=)",
        "connect_timeout",
        True,
        lambda e, v: MarketStream("https://m.test", "tok", connect_timeout=v),
    ),
    (
        "MarketStream(receive_timeout=)",
        "receive_timeout",
        True,
        lambda e, v: MarketStream("https://m.test", "tok", client=e.http, receive_timeout=v),
    ),
    (
        "MarketStream(handshake_timeout=)",
        "handshake_timeout",
        True,
        lambda e, v: MarketStream("https://m.test", "tok", client=e.http, handshake_timeout=v),
    ),
    (
        "MarketStream(keepalive_interval=)",
        "keepalive_interval",
        True,
        lambda e, v: MarketStream("https://m.test", "tok", client=e.http, keepalive_interval=v),
    ),
    (
        "MarketStream(keepalive_timeout=)",
        "keepalive_timeout",
        True,
        lambda e, v: MarketStream("https://m.test", "tok", client=e.http, keepalive_timeout=v),
    ),
    (
        "AsyncMarketStream(receive_timeout=)",
        "receive_timeout",
        True,
        lambda e, v: AsyncMarketStream("https://m.test", "tok", receive_timeout=v),
    ),
    (
        "AsyncMarketStream(connect_timeout=)",
        "connect_timeout",
        True,
        lambda e, v: AsyncMarketStream("https://m.test", "tok", connect_timeout=v),
    ),
    (
        "ReconnectPolicy(initial_delay=)",
        "initial_delay",
        False,
        lambda e, v: ReconnectPolicy(initial_delay=v, max_delay=math.inf),
    ),
    ("ReconnectPolicy(max_delay=)", "max_delay", False, lambda e, v: ReconnectPolicy(max_delay=v)),
    (
        "ReconnectPolicy(stable_after=)",
        "stable_after",
        False,
        lambda e, v: ReconnectPolicy(stable_after=v),
    ),
    (
        "RetryPolicy(initial_delay_s=)",
        "initial_delay_s",
        False,
        lambda e, v: RetryPolicy(initial_delay_s=v),
    ),
    ("RetryPolicy(max_delay_s=)", "max_delay_s", False, lambda e, v: RetryPolicy(max_delay_s=v)),
    (
        "RetryPolicy(max_retry_after_s=)",
        "max_retry_after_s",
        False,
        lambda e, v: RetryPolicy(max_retry_after_s=v),
    ),
    (
        "AuthPlugin(refresh_margin_s=)",
        "refresh_margin_s",
        False,
        lambda e, v: AuthPlugin(refresh_margin_s=v),
    ),
    (
        "Gen1Connection.poll(timeout)",
        "timeout",
        False,
        lambda e, v: Gen1Connection(e.client()).poll(v, START_MS),
    ),
    (
        "Gen2Connection(connect_timeout_s=)",
        "connect_timeout_s",
        True,
        lambda e, v: Gen2Connection(e.client(), connect_timeout_s=v),
    ),
    (
        "Gen2Connection.poll(timeout)",
        "timeout",
        False,
        lambda e, v: Gen2Connection(e.client()).poll(v, START_MS),
    ),
    (
        "Bot.poll(timeout)",
        "timeout",
        False,
        lambda e, v: Bot("me", TickFollowingBuyer(1000), _Quiet()).poll(v),
    ),  # type: ignore[arg-type]
    ("SandboxSimulation(step_ms=)", "step_ms", True, lambda e, v: SandboxSimulation({}, step_ms=v)),
    ("SandboxSimulation.run_for(duration_ms)", "duration_ms", False, _simulation_run_for),
]


#: How long a refused call may take: it should be immediate; before the fix, some never
#: returned (``run_for(inf)`` advanced the clock forever). A guard, not a timing assertion.
DEADLINE_S = 30.0


def _raised(call: Callable[[], object]) -> BaseException | None:
    """What ``call()`` raised (None if it returned), run in a daemon thread so that a call that
    blocks forever fails the test instead of hanging the suite."""
    done = threading.Event()
    box: list[BaseException] = []

    def run() -> None:
        try:
            call()
        except BaseException as exc:
            box.append(exc)
        finally:
            done.set()

    threading.Thread(target=run, daemon=True, name="clientrel-wait-case").start()
    assert done.wait(DEADLINE_S), "the call is still waiting: a NaN/inf wait blocks forever"
    return box[0] if box else None


def _raise_err(result: tuple[Any, BaseException | None]) -> None:
    """Raise the ``err`` of a ``(FlexResponse, err)`` pair."""
    if result[1] is not None:
        raise result[1]


@pytest.mark.parametrize("value", BAD, ids=repr)
@pytest.mark.parametrize(
    ("argument", "field", "positive", "call"), CASES, ids=[c[0] for c in CASES]
)
def test_bad_wait_is_refused_naming_the_argument_and_the_rule(
    edges: Edges, argument: str, field: str, positive: bool, call: Any, value: float
) -> None:
    """NaN, +-inf and -1 raise FlexValidationError(field, "must be a finite number ...")."""
    err = _raised(lambda: call(edges, value))
    assert isinstance(err, FlexValidationError), f"{argument}: got {err!r}"
    rule = "must be a finite number > 0" if positive else "must be a finite number >= 0"
    if field.endswith("_ms") or field == "step_ms":
        rule = "ms"  # durations in ms: "must be a finite number of ms >= 0" or "<= ... ms"
    assert err.field == field, str(err)
    assert rule in err.rule, str(err)
    assert str(err).startswith(f"{field} ")
    edges.untouched()


POSITIVE_CASES = [(argument, field, call) for argument, field, positive, call in CASES if positive]


@pytest.mark.parametrize(
    ("argument", "field", "call"), POSITIVE_CASES, ids=[c[0] for c in POSITIVE_CASES]
)
def test_zero_is_refused_where_a_wait_must_be_positive(
    edges: Edges, argument: str, field: str, call: Any
) -> None:
    """A timeout that must be > 0 refuses 0 with the rule "must be a finite number > 0"."""
    err = _raised(lambda: call(edges, 0))
    assert isinstance(err, FlexValidationError), f"{argument}: got {err!r}"
    assert err.field == field
    assert err.rule.startswith("must be a finite number > 0") or "ms > 0" in err.rule, str(err)
    edges.untouched()


def test_none_still_waits_forever_and_the_rule_says_so(edges: Edges) -> None:
    """``timeout=None`` (wait forever) stays accepted, and the rule of a refused ``nan`` says
    "..., or None (wait forever)"."""
    client = edges.client()
    assert client.market_messages(timeout=None) == []  # the spy's answer, passed through
    assert edges.trade.calls == ["connect", "market_messages"]
    client.market_stream(receive_timeout=None).close()
    client.close()
    api = AmpqAPI("memory://", "user", "token", "app-key")
    with pytest.raises(FlexValidationError) as caught:
        api.market_messages(timeout=math.nan)
    assert caught.value.rule == "must be a finite number >= 0, or None (wait forever)"


def test_a_wait_longer_than_the_platform_allows_is_refused(edges: Edges) -> None:
    """A wait time.sleep / Event.wait cannot take (10**400 s) is refused, not an OverflowError."""
    with pytest.raises(FlexValidationError) as caught:
        edges.client().sleep(10**400)
    assert caught.value.field == "seconds"
    assert "longest wait" in caught.value.rule
    edges.untouched()


@pytest.mark.parametrize(
    "argv",
    [
        ["order", "ask", "--power", "1000", "--price", "0.2", "--wait", "nan"],
        ["order", "bid", "--power", "1000", "--price", "0.2", "--wait", "-1"],
        ["demo", "--timeout", "nan"],
        ["demo", "--timeout", "inf"],
        ["listen", "--duration", "nan"],
        ["bot", "--sandbox", "--duration", "nan"],
        ["bot", "--sandbox", "--speed", "nan"],
        ["bot", "--sandbox", "--speed", "0"],
    ],
    ids=" ".join,
)
def test_cli_duration_flags_refuse_nan_as_a_usage_error(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """``--wait nan`` and friends: argparse usage error (exit 2) naming the flag and the rule."""
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(argv)
    assert caught.value.code == 2
    err = capsys.readouterr().err
    flag = next(
        a for a in argv if a.startswith("--") and a not in ("--power", "--price", "--sandbox")
    )
    assert f"argument {flag}: must be a finite number" in err
