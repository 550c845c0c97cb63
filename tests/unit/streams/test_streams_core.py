"""The I/O-free core of the WebSocket streams: URLs, policy, tokens, decoding, configuration."""

from __future__ import annotations

import json
import math
import warnings
from typing import Any

import pytest
from glocalflex_messages.models import Ticker
from hypothesis import given
from hypothesis import strategies as st

from flxtrd._errors import (
    ConfigurationError,
    FlexValidationError,
    MessageDecodeError,
    StreamHandshakeError,
)
from flxtrd._streams._async_stream import AsyncMarketStream
from flxtrd._streams._core import MarketEvent, _SubscriptionCore
from flxtrd._streams._kinds import _SPECS, STREAM_PATHS
from flxtrd._streams._settings import ReconnectPolicy, _StreamConfig, _ws_url
from flxtrd._streams._stream import MarketStream
from flxtrd._streams._tokens import TokenSource, _Tokens

TICKER = json.dumps(
    {
        "type": "ticker",
        "data": {
            "price": 0.2,
            "power": 100.0,
            "energy": 25.0,
            "delivery_start": "2026-01-01T10:00:00Z",
            "delivery_end": "2026-01-01T10:15:00Z",
            "trade_time": "2026-01-01T09:00:00Z",
        },
    }
)


def core(kind: str = "ticker", **options: Any) -> _SubscriptionCore:
    """A subscription core with defaults and a fixed wall clock."""
    settings: dict[str, Any] = {
        "policy": ReconnectPolicy(),
        "receive_timeout": None,
        "handshake_timeout": 1.0,
        "keepalive_interval": None,
        "keepalive_timeout": None,
        "queue_size": 8,
        "on_invalid": None,
        "on_control": None,
        "clock": lambda: 0.0,
        "wall_clock": lambda: 1_767_261_600.0,
        "random": lambda: 0.5,
    }
    settings.update(options)
    config = _StreamConfig(base_url="https://m.test", tokens=_Tokens("tok"), **settings)
    return _SubscriptionCore(config, _SPECS[kind])


# --- URLs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("https://test.glocalflexmarket.com", "wss://test.glocalflexmarket.com/api/v1/ws/ticker/"),
        ("http://127.0.0.1:8000/", "ws://127.0.0.1:8000/api/v1/ws/ticker/"),
        ("https://m.test/prefix/", "wss://m.test/prefix/api/v1/ws/ticker/"),
        ("wss://m.test?x=1#frag", "wss://m.test/api/v1/ws/ticker/"),
    ],
)
def test_ws_url_maps_scheme_and_keeps_the_prefix(base: str, expected: str) -> None:
    """https becomes wss, http becomes ws, a path prefix stays, query and fragment go."""
    assert _ws_url(base, STREAM_PATHS["ticker"]) == expected


@pytest.mark.parametrize("base", ["ftp://m.test", "m.test", "https://", "sandbox://x"])
def test_bad_base_url_is_a_configuration_error(base: str) -> None:
    """A base URL without an http(s)/ws(s) scheme and host is refused when the stream is made."""
    with pytest.raises(ConfigurationError, match="base_url"):
        MarketStream(base, "tok")


def test_stream_paths() -> None:
    """The three documented stream paths."""
    assert STREAM_PATHS == {
        "trade": "/api/v1/ws/trade/",
        "ticker": "/api/v1/ws/ticker/",
        "orderbook": "/api/v1/ws/orderbook/",
    }


# --- Reconnect policy ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_attempts", -1),
        ("initial_delay", -0.1),
        ("max_delay", 0.1),
        ("multiplier", 0.5),
        ("jitter", 1.5),
        ("stable_after", -1.0),
    ],
)
def test_policy_validation_names_the_field(field: str, value: float) -> None:
    """Each bad policy value raises FlexValidationError naming its field."""
    with pytest.raises(FlexValidationError) as caught:
        ReconnectPolicy(**{field: value})
    assert caught.value.field == field


@given(
    attempt=st.integers(1, 10_000),
    fraction=st.floats(0.0, 1.0, exclude_max=True),
    initial=st.floats(0.0, 5.0),
    extra=st.floats(0.0, 100.0),
    jitter=st.floats(0.0, 1.0),
)
def test_policy_delay_is_within_bounds_and_capped(
    attempt: int, fraction: float, initial: float, extra: float, jitter: float
) -> None:
    """Every delay lies in bounds(attempt), never above max_delay, even for huge attempts."""
    policy = ReconnectPolicy(initial_delay=initial, max_delay=initial + extra, jitter=jitter)
    low, high = policy.bounds(attempt)
    delay = policy.delay(attempt, fraction)
    assert low <= delay <= high <= policy.max_delay
    assert math.isfinite(delay)


def test_policy_bounds_grow_exponentially_to_the_cap() -> None:
    """Upper bounds double until max_delay."""
    policy = ReconnectPolicy(initial_delay=0.5, max_delay=3.0, jitter=0.25)
    assert [policy.bounds(n)[1] for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert policy.bounds(1)[0] == 0.375


def test_core_gives_up_after_max_attempts() -> None:
    """The core plans max_attempts retries after a failure, then raises."""
    sub = core(policy=ReconnectPolicy(max_attempts=2, initial_delay=1.0, max_delay=8.0))
    assert sub.plan().delay == 0.0
    delays = []
    for _ in range(2):
        sub.on_connect_failure(OSError("refused"))
        delays.append(sub.plan().delay)
    sub.on_connect_failure(OSError("refused"))
    with pytest.raises(Exception, match="gave up after 2 reconnect attempts: OSError: refused"):
        sub.plan()
    assert delays == [0.875, 1.75]  # rng 0.5, jitter 0.25


# --- Decoding --------------------------------------------------------------------------------


def test_decode_returns_a_market_event_with_utc_time() -> None:
    """A valid frame becomes a MarketEvent; the raw frame stays out of its repr."""
    event = core().decode(TICKER)
    assert isinstance(event, MarketEvent) and isinstance(event.model, Ticker)
    assert event.received_at.isoformat() == "2026-01-01T10:00:00+00:00"
    assert "raw=" not in repr(event)


def test_handshake_error_excerpt_is_short() -> None:
    """A wrong first message is quoted shortened in the handshake error."""
    with pytest.raises(StreamHandshakeError) as caught:
        core().check_handshake("x" * 10_000)
    assert len(str(caught.value)) < 400


@given(
    frames=st.lists(
        st.one_of(
            st.text(),
            st.binary(),
            st.just(TICKER).flatmap(lambda f: st.integers(0, len(f)).map(lambda n: f[:n])),
            st.recursive(
                st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
                lambda inner: (
                    st.lists(inner, max_size=3)
                    | st.dictionaries(st.sampled_from(["type", "data", "price"]), inner, max_size=3)
                ),
                max_leaves=8,
            ).map(json.dumps),
        ),
        max_size=30,
    )
)
def test_decode_never_raises(frames: list[str | bytes]) -> None:
    """Arbitrary frames decode to an event or are rejected and counted, never raised."""
    seen: list[MessageDecodeError] = []
    sub = core(on_invalid=lambda raw, err: seen.append(err))
    for frame in frames:
        sub.decode(frame)
    stats = sub.stats
    assert stats.received == len(frames)
    assert stats.delivered + stats.rejected + stats.controls == len(frames)
    assert len(seen) == stats.rejected and stats.unknown <= stats.rejected


# --- Configuration and tokens ----------------------------------------------------------------


def test_unknown_kind_is_a_validation_error() -> None:
    """stream() refuses a kind it does not know, naming the parameter."""
    with (
        MarketStream("https://m.test", "tok") as market,
        pytest.raises(FlexValidationError) as caught,
    ):
        market.stream("weather")
    assert caught.value.field == "kind"


def test_client_and_transport_together_are_refused() -> None:
    """Passing both client= and transport= is a configuration error."""
    import httpx

    with httpx.Client() as client, pytest.raises(ConfigurationError):
        MarketStream("https://m.test", "tok", client=client, transport=httpx.HTTPTransport())


@pytest.mark.parametrize("provider", [None, 42, object()])
def test_unusable_token_provider_is_refused(provider: object) -> None:
    """A token provider that is neither a string, a TokenSource nor a callable is refused."""
    with pytest.raises(ConfigurationError, match="token_provider"):
        MarketStream("https://m.test", provider)  # type: ignore[arg-type]


@pytest.mark.parametrize("token", ["", "   "])
def test_empty_static_token_is_refused(token: str) -> None:
    """An empty token string is refused when the stream is made."""
    with pytest.raises(ConfigurationError, match="no token"):
        MarketStream("https://m.test", token)


def test_sync_stream_refuses_an_async_token_source_without_warnings() -> None:
    """An async token() given to MarketStream is a clear error; its coroutine is closed."""

    class AsyncTokens:
        async def token(self) -> str:
            return "tok"

        async def refresh(self) -> str:
            return "tok"

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with MarketStream("https://m.test", AsyncTokens()) as market:  # type: ignore[arg-type]
            sub = market.stream("ticker")
            with pytest.raises(ConfigurationError, match="AsyncMarketStream"):
                next(sub)
    assert sub.closed


def test_a_provider_returning_no_token_raises_on_iteration() -> None:
    """A callable that returns None raises ConfigurationError, not a retry loop."""

    def provider() -> Any:
        return None

    with (
        MarketStream("https://m.test", provider) as market,
        pytest.raises(ConfigurationError, match="no token"),
    ):
        next(market.stream("ticker"))


def test_token_source_protocol_is_runtime_checkable() -> None:
    """An object with token() and refresh() is a TokenSource."""

    class Tokens:
        def token(self) -> str:
            return "a"

        def refresh(self) -> str:
            return "b"

    assert isinstance(Tokens(), TokenSource)


def test_reprs_hide_credentials() -> None:
    """Stream and subscription reprs show the redacted URL only."""
    with MarketStream("https://user:pw-secret@m.test", "tok-secret") as market:
        text = repr(market) + repr(market.stream("orderbook"))
    assert "pw-secret" not in text and "tok-secret" not in text
    assert "wss://user:***@m.test/api/v1/ws/orderbook/" in text


async def test_async_stream_closes_without_use() -> None:
    """An AsyncMarketStream that never connected closes cleanly (its own client too)."""
    async with AsyncMarketStream("https://m.test", "tok") as market:
        sub = market.stream("trade")
    assert sub.closed and market._client.is_closed
