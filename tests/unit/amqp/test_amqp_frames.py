"""The hand-built publish frames are byte for byte what py-amqp's frame writer sends."""

from __future__ import annotations

import amqp
from amqp.method_framing import frame_writer
from amqp.serialization import dumps
from hypothesis import given
from hypothesis import strategies as st

from flxtrd._amqp._frames import _PublishFrames

FRAME_MAX = 131_072
short_text = st.text(min_size=1, max_size=60)


class _Capture:
    """Stands in for py-amqp's connection and transport; keeps what is written."""

    frame_max = FRAME_MAX
    bytes_sent = 0

    def __init__(self) -> None:
        self.written = bytearray()

    def write(self, data: bytes | memoryview) -> None:
        self.written += bytes(data)


def py_amqp_bytes(
    channel_id: int,
    exchange: str,
    routing_key: str,
    body: bytes,
    message_id: str,
    user_id: str,
    reply_to: str,
    sent_at_ms: int,
) -> bytes:
    """What py-amqp writes for basic_publish(mandatory=True) of the same order message."""
    capture = _Capture()
    write = frame_writer(capture, capture)
    message = amqp.Message(
        body,
        content_type="text/plain",
        message_id=message_id,
        user_id=user_id,
        reply_to=reply_to,
        application_headers={"sendertimestamp_in_ms": sent_at_ms},
        delivery_mode=2,
    )
    args = dumps("Bssbb", (0, exchange, routing_key, True, False))
    write(1, channel_id, amqp.spec.Basic.Publish, args, message)
    return bytes(capture.written)


@given(
    channel_id=st.integers(min_value=1, max_value=65535),
    exchange=short_text,
    routing_key=st.sampled_from(["ask", "bid"]),
    body=st.binary(min_size=1, max_size=2000),
    message_id=short_text,
    user_id=short_text,
    reply_to=short_text,
    sent_at_ms=st.one_of(
        st.integers(min_value=0, max_value=2**63 - 1), st.integers(min_value=0, max_value=2**31)
    ),
)
def test_publish_frames_match_py_amqp(
    channel_id: int,
    exchange: str,
    routing_key: str,
    body: bytes,
    message_id: str,
    user_id: str,
    reply_to: str,
    sent_at_ms: int,
) -> None:
    """Method, content header (properties, headers table) and body frames are identical."""
    frames = _PublishFrames(channel_id, FRAME_MAX, exchange, user_id, reply_to)
    built = frames.build(body, routing_key, message_id, sent_at_ms)
    assert built == py_amqp_bytes(
        channel_id, exchange, routing_key, body, message_id, user_id, reply_to, sent_at_ms
    )


def test_big_bodies_and_other_keys_are_left_to_py_amqp() -> None:
    """A body over frame_max or an unknown routing key returns None (py-amqp splits/handles)."""
    frames = _PublishFrames(1, 4096, "in", "user", "key")
    assert frames.build(b"x" * 5000, "ask", "id", 1) is None
    assert frames.build(b"x", "other", "id", 1) is None
    assert frames.build(b"x" * 4088, "ask", "id", 1) is not None
