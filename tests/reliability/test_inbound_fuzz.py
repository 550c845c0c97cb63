"""Inbound fuzz: 10^5 broker replies and WebSocket frames through the SDK's decoders.

The corpus (``rel_corpus.build_corpus``: hypothesis-drawn spec-valid seeds, multiplied by a
seeded ``random`` mutator whose every mutation has a known verdict) holds 50,000 broker replies
and 50,000 stream frames. They go through the real decoding paths:

- replies through :func:`flxtrd._amqp._market_messages.decode_market_message` (what ``AmpqAPI``'s
  consumer calls), and 20,000 of them also through a live consumer: an ``AmpqAPI`` on
  ``memory://`` with ``on_message`` / ``on_invalid``, fed by a kombu producer;
- frames through each stream kind's decoder (``MarketStream(...).stream(kind)``, the code its
  iterator runs on every frame), and 3,000 through a live ``MarketStream`` on a real uvicorn
  WebSocket server.

Asserted: zero crashes (anything but ``MessageDecodeError`` escaping a decoder, or a consumer
stopping), each message's outcome equals its verdict, and every rejected message is counted
(counters == number of invalid inputs). The counts are printed (``pytest -s``).

Two hostile classes need more than msgspec's own error to be rejected, and have tests of their
own at the end: nesting deeper than msgspec's recursion limit (``RecursionError``) and bytes
that are not UTF-8 / text with lone surrogates (``UnicodeDecodeError`` /
``UnicodeEncodeError``).
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from kombu import Connection
from rel_corpus import SCHEMAS, STREAM_KINDS, Item, build_corpus, crashing_inputs
from spec_models import ASYNCAPI
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from flxtrd._amqp._api import AmpqAPI
from flxtrd._amqp._market_messages import MarketMessage, decode_market_message
from flxtrd._errors import MessageDecodeError
from flxtrd._streams._settings import ReconnectPolicy
from flxtrd._streams._stream import MarketStream

N_AMQP = 50_000
N_WS = 50_000
LIVE_AMQP = 20_000
LIVE_WS = 3_000
SPEC_SAMPLE = 2_000


@pytest.fixture(scope="module")
def corpus() -> list[Item]:
    """The 10^5-message corpus (seeded)."""
    return build_corpus(N_AMQP, N_WS)


def replies(corpus: list[Item]) -> list[Item]:
    """The broker replies of the corpus."""
    return [item for item in corpus if item.channel == "amqp"]


def frames(corpus: list[Item]) -> list[Item]:
    """The stream frames of the corpus."""
    return [item for item in corpus if item.channel != "amqp"]


def test_the_corpus_verdicts_agree_with_the_spec(corpus: list[Item]) -> None:
    """A sample of strict-JSON messages: each built verdict is the JSON Schema's verdict."""
    reply = ASYNCAPI.validator(SCHEMAS + "MarketReply")
    event = ASYNCAPI.validator(SCHEMAS + "StreamEvent")
    parsed = [item for item in corpus if item.value is not ...]
    sample = random.Random(3).sample(parsed, SPEC_SAMPLE)
    wrong = []
    for item in sample:
        if item.channel == "amqp":
            spec_ok, ours = reply.is_valid(item.value), item.verdict == "valid"
        else:
            carried = STREAM_KINDS[item.channel] | {"control"}
            spec_ok = event.is_valid(item.value) and item.value.get("type") in carried
            ours = item.verdict in ("event", "control")
        if spec_ok != ours:
            wrong.append((item.mutation, item.channel, item.raw[:200]))
    kinds = Counter(item.verdict for item in sample)
    print(f"\nspec cross-check: {len(sample)} sampled ({dict(kinds)}), disagreements {len(wrong)}")
    assert not wrong, wrong[:5]


def test_1e5_replies_and_frames_through_the_sdk_decoders(corpus: list[Item]) -> None:
    """10^5 messages: outcome == verdict for each, no crash, every rejection counted."""
    crashes: list[tuple[str, str]] = []
    mismatches: list[tuple[str, str, Any]] = []
    reply_items = replies(corpus)
    rejected_replies = 0
    for item in reply_items:
        try:
            message = decode_market_message(item.raw, item.headers)
        except MessageDecodeError:
            rejected_replies += 1
            outcome = "invalid"
        except Exception as exc:
            crashes.append((item.mutation, repr(exc)))
            continue
        else:
            outcome = "valid"
            assert message.msg_type == item.value["msg_type"]
            _ = message.latency_ms  # any header value: never raises
        if outcome != item.verdict:
            mismatches.append((item.mutation, outcome, item.raw[:200]))

    frame_items = frames(corpus)
    hooked: Counter[str] = Counter()
    stream = MarketStream(
        "https://market.test",
        "token",
        on_invalid=lambda raw, error: hooked.update(["rejected"]),
        on_control=lambda control: hooked.update(["control"]),
    )
    cores = {kind: stream.stream(kind)._core for kind in STREAM_KINDS}  # type: ignore[arg-type]
    for item in frame_items:
        core = cores[item.channel]
        before = core.stats.rejected
        try:
            event = core.decode(item.raw)
        except Exception as exc:
            crashes.append((item.mutation, repr(exc)))
            continue
        if event is not None:
            outcome = "event"
            assert event.model.__struct_config__.tag == item.value["type"]
        else:
            outcome = "invalid" if core.stats.rejected > before else "control"
        if outcome != item.verdict:
            mismatches.append((item.mutation, outcome, item.raw[:200]))
    stream.close()

    expected = Counter(item.verdict for item in corpus)
    stats = [core.stats for core in cores.values()]
    rejected_frames = sum(s.rejected for s in stats)
    unknown = sum(s.unknown for s in stats)
    print(
        f"\nfuzzed {len(corpus)} messages: replies {len(reply_items)} (valid"
        f" {expected['valid']}, rejected {rejected_replies}), frames {len(frame_items)} (events"
        f" {sum(s.delivered for s in stats)}, controls {sum(s.controls for s in stats)},"
        f" rejected {rejected_frames} of which unknown type {unknown}); crashes {len(crashes)}"
    )
    print("mutations:", dict(Counter(item.mutation.split(";")[0] for item in corpus)))
    assert crashes == [], crashes[:5]
    assert mismatches == [], mismatches[:5]
    assert rejected_replies == expected["invalid"] - sum(
        1 for item in frame_items if item.verdict == "invalid"
    )
    assert rejected_frames == sum(1 for item in frame_items if item.verdict == "invalid")
    assert hooked["rejected"] == rejected_frames
    assert sum(s.delivered for s in stats) == expected["event"]
    assert sum(s.controls for s in stats) == expected["control"] == hooked["control"]
    assert sum(s.received for s in stats) == len(frame_items)


# --- live consumers --------------------------------------------------------------------------


@pytest.fixture
def memory_device() -> Iterator[dict[str, Any]]:
    """An AmpqAPI on memory:// collecting valid and invalid replies, and a raw producer."""
    tag = uuid.uuid4().hex[:10]
    valid: list[MarketMessage] = []
    invalid: list[tuple[bytes, MessageDecodeError]] = []
    api = AmpqAPI(
        "memory://",
        None,
        None,
        f"fuzz-{tag}",
        exchange=f"fuzz-in-{tag}",
        reply_exchange=f"fuzz-out-{tag}",
        on_message=valid.append,
        on_invalid=lambda raw, error: invalid.append((raw, error)),
    )
    api.connect()
    with Connection("memory://") as conn:
        producer = conn.Producer()

        def publish(body: bytes, headers: dict[str, Any] | None) -> None:
            producer.publish(
                body,
                exchange=api.reply_exchange,
                routing_key=api.application_key,
                headers=headers or {},
                content_type="application/octet-stream",
                content_encoding="binary",
            )

        yield {"api": api, "valid": valid, "invalid": invalid, "publish": publish}
    api.close_connection()


def consume(api: AmpqAPI, target: int, timeout: float = 60.0) -> None:
    """Read replies until ``target`` have been received (or fail after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while api.stats.received < target:
        assert time.monotonic() < deadline, f"{api.stats.received} of {target} replies arrived"
        api.sleep(0.01)


def test_live_memory_consumer_takes_20000_fuzzed_replies(
    corpus: list[Item], memory_device: dict[str, Any]
) -> None:
    """20,000 fuzzed replies through a live AmpqAPI consumer: in order, all counted, no stop."""
    api: AmpqAPI = memory_device["api"]
    items = replies(corpus)[:LIVE_AMQP]
    for item in items:
        memory_device["publish"](item.raw, item.headers)
    consume(api, len(items))
    stats = api.stats
    want_valid = [item.raw for item in items if item.verdict == "valid"]
    want_invalid = [item.raw for item in items if item.verdict == "invalid"]
    print(
        f"\nlive memory:// consumer: received {stats.received}, valid"
        f" {len(memory_device['valid'])}, rejected {stats.rejected_inbound}, callback errors"
        f" {stats.callback_errors}, connection losses {stats.connection_losses}"
    )
    assert [m.raw for m in memory_device["valid"]] == want_valid
    assert [raw for raw, _ in memory_device["invalid"]] == want_invalid
    assert stats.rejected_inbound == len(want_invalid)
    assert stats.callback_errors == 0 and stats.connection_losses == 0 and api.is_connected()


def test_live_memory_consumer_survives_the_inputs_that_crash_the_decoder(
    memory_device: dict[str, Any],
) -> None:
    """Deep nesting and bad UTF-8 reach the consumer as rejections, and it keeps consuming."""
    api: AmpqAPI = memory_device["api"]
    hostile = [raw for _, _, raw in crashing_inputs() if isinstance(raw, bytes)]
    good = b'{"msg_type":"cancel","reason":"still alive"}'
    for raw in [*hostile, good]:
        memory_device["publish"](raw, None)
    consume(api, len(hostile) + 1)
    assert api.stats.rejected_inbound == len(hostile)
    assert [m["reason"] for m in memory_device["valid"]] == ["still alive"]
    assert all(isinstance(e, MessageDecodeError) for _, e in memory_device["invalid"])


class _Server(uvicorn.Server):
    """uvicorn that says when it serves."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start, then signal readiness."""
        await super().startup(sockets)
        self.ready.set()


SENTINEL = '{"type":"ticker","data":{"price":1,"power":1,"energy":1,"delivery_start":"2026-01-01T10:00:00Z","delivery_end":"2026-01-01T10:15:00Z","trade_time":"2026-01-01T09:00:00Z","country_code":"END"}}'  # noqa: E501
CONTROL_OK = '{"type":"control","status":"success","data":{"message":"connected"}}'


@contextlib.contextmanager
def frame_server(frames_by_kind: dict[str, list[bytes | str]]) -> Iterator[str]:
    """A uvicorn WebSocket server sending, on each stream, a control message, the frames and a
    ticker from country "END" (the end marker); yields its base URL."""

    async def endpoint(ws: WebSocket) -> None:
        kind = ws.url.path.rstrip("/").rsplit("/", 1)[1]
        await ws.accept()
        await ws.send_text(CONTROL_OK)
        for frame in frames_by_kind.get(kind, []):
            if isinstance(frame, bytes):
                await ws.send_bytes(frame)
            else:
                await ws.send_text(frame)
        await ws.send_text(SENTINEL)
        with contextlib.suppress(Exception):
            while (await ws.receive())["type"] != "websocket.disconnect":
                pass

    app = Starlette(routes=[WebSocketRoute(f"/api/v1/ws/{k}/", endpoint) for k in STREAM_KINDS])
    sock = socket.create_server(("127.0.0.1", 0))
    server = _Server(uvicorn.Config(app, lifespan="off", ws="wsproto", log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        assert server.ready.wait(10) and server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_live_websocket_stream_takes_3000_fuzzed_frames(corpus: list[Item]) -> None:
    """3,000 fuzzed frames over a real WebSocket: each event delivered, each reject counted."""
    items = [item for item in frames(corpus) if item.channel == "ticker"][:LIVE_WS]
    rejected: list[Any] = []
    with frame_server({"ticker": [item.raw for item in items]}) as url:
        stream = MarketStream(
            url,
            "token",
            on_invalid=lambda raw, e: rejected.append(raw),
            receive_timeout=30,
            reconnect=ReconnectPolicy(max_attempts=0),
        )
        with stream:
            subscription = stream.stream("ticker")
            events = []
            for event in subscription:
                if event.model.data.country_code == "END":
                    break
                events.append(event)
            stats = subscription.stats
    expected = Counter(item.verdict for item in items)
    print(
        f"\nlive WebSocket stream: frames {len(items)}, events {len(events)}, controls"
        f" {stats.controls}, rejected {stats.rejected} (unknown type {stats.unknown}),"
        f" reconnects {stats.reconnects}"
    )
    assert [e.raw for e in events] == [i.raw for i in items if i.verdict == "event"]
    assert stats.rejected == len(rejected) == expected["invalid"]
    assert stats.controls == expected["control"]
    assert stats.reconnects == 0


# --- hostile input beyond msgspec.DecodeError ----------------------------------------------


@pytest.mark.parametrize(
    ("name", "channel", "raw"), crashing_inputs(), ids=[name for name, _, _ in crashing_inputs()]
)
def test_hostile_nesting_and_bad_utf8_are_rejected_not_raised(
    name: str, channel: str, raw: bytes | str
) -> None:
    """The decoders turn these into a counted rejection (MessageDecodeError), never a crash."""
    if channel in ("amqp", "both"):
        with pytest.raises(MessageDecodeError):
            decode_market_message(raw)
    if channel in ("ws", "both"):
        stream = MarketStream("https://market.test", "token")
        core = stream.stream("ticker")._core
        try:
            assert core.decode(raw) is None
            assert core.stats.rejected == 1
        finally:
            stream.close()


def test_live_stream_skips_a_deeply_nested_frame() -> None:
    """A deeply nested frame between two events is skipped; both events are delivered."""
    (deep,) = [raw for name, _, raw in crashing_inputs() if name.startswith("stream frame")]
    event = SENTINEL.replace('"END"', '"DE"')
    with frame_server({"ticker": [event, deep, event]}) as url:
        stream = MarketStream(
            url, "token", receive_timeout=10, reconnect=ReconnectPolicy(max_attempts=0)
        )
        with stream:
            subscription = stream.stream("ticker")
            got = []
            for item in subscription:
                if item.model.data.country_code == "END":
                    break
                got.append(item)
    assert len(got) == 2 and subscription.stats.rejected == 1


def test_a_date_time_without_an_offset_is_rejected() -> None:
    """ "2026-01-01T00:00:00" (no offset) is not an RFC 3339 date-time: the reply is refused."""
    tick = (
        b'{"msg_type":"tick","trade_time":"2026-01-01T00:00:00","price":1,'
        b'"start_time":"2026-01-01T00:00:00Z","energy":1}'
    )
    assert not ASYNCAPI.is_valid(SCHEMAS + "MarketReply", json.loads(tick))
    try:
        message = decode_market_message(tick)
    except MessageDecodeError:
        return
    raise AssertionError(f"accepted, with trade_time={message.model.trade_time!r}")  # type: ignore[union-attr]
