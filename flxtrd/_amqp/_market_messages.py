"""Market replies of the generation-1 broker: decoding and the :class:`MarketMessage` wrapper.

This is the one module of ``flxtrd`` that imports the generated message models
(``glocalflex_messages``). A reply on a device's queue is a JSON object told apart by
``msg_type`` (``tick``, ``ask_closed_order``, ``bid_closed_order``, ``cancel``); it is decoded
with msgspec straight into the generated :data:`MarketReply` union, so a message either becomes a
fully typed model or raises :class:`~flxtrd.MessageDecodeError` saying what is wrong. Unknown
fields are ignored (forward compatibility); an unknown ``msg_type`` is an error.

A :class:`MarketMessage` keeps three views of one reply:

- ``.model``: the typed model (``Tick``, ``AskClosedOrder``, ``BidClosedOrder``, ``Cancel``);
- the message itself is a read-only ``dict`` of the JSON body, so code written for flxtrd 0.2.9
  (which returned plain dicts: ``msg["msg_type"]``, ``msg.get("closed_order")``,
  ``json.dumps(msg)``) keeps working;
- ``.raw``: the body bytes as received, and ``.headers``: the AMQP headers.

``.latency_ms`` is the market-to-client latency: receive time minus the header
``sendertimestamp_in_ms`` (``None`` when the header is absent or invalid: not an integer in
``0..MAX_TIME_MS``, the end of year 9999 -- ``ReplyHeaders`` in ``specs/asyncapi.yaml``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

import msgspec
from glocalflex_messages.models import (
    AskClosedOrder,
    BidClosedOrder,
    Cancel,
    ClosedOrder,
    MarketReply,
    Tick,
)

from flxtrd._bounds import MAX_TIME_MS
from flxtrd._errors import MessageDecodeError
from flxtrd._validation import current_time_ms

__all__ = [
    "AskClosedOrder",
    "BidClosedOrder",
    "Cancel",
    "ClosedOrder",
    "MarketMessage",
    "MarketReply",
    "Tick",
    "decode_market_message",
]

#: Header the market stamps on replies, ms since epoch.
SENDER_TIMESTAMP_HEADER = "sendertimestamp_in_ms"
_MAX_ERROR_TEXT = 200

_model_decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(MarketReply)
_dict_decoder: msgspec.json.Decoder[dict[str, Any]] = msgspec.json.Decoder(dict[str, Any])


def _now_ms() -> int:
    return current_time_ms()


def _read_only(*_: object, **__: object) -> NoReturn:
    raise TypeError("MarketMessage is read-only; copy it with dict(message) to change it")


class MarketMessage(dict[str, Any]):
    """One decoded market reply: a read-only dict of the JSON body plus typed views.

    Attributes:
        model: the generated typed model of the reply.
        raw: the body bytes as received.
        headers: the AMQP application headers (empty dict when there were none).
        received_at_ms: when flxtrd decoded the message, ms since epoch.
    """

    __slots__ = ("headers", "model", "raw", "received_at_ms")

    model: Tick | AskClosedOrder | BidClosedOrder | Cancel
    raw: bytes
    headers: Mapping[str, Any]
    received_at_ms: int

    def __init__(
        self,
        body: Mapping[str, Any],
        model: Tick | AskClosedOrder | BidClosedOrder | Cancel,
        raw: bytes,
        headers: Mapping[str, Any] | None = None,
        received_at_ms: int | None = None,
    ) -> None:
        super().__init__(body)
        self.model = model
        self.raw = raw
        self.headers = dict(headers) if headers else {}
        self.received_at_ms = _now_ms() if received_at_ms is None else received_at_ms

    @property
    def msg_type(self) -> str:
        """The reply type: ``tick``, ``ask_closed_order``, ``bid_closed_order`` or ``cancel``."""
        return str(type(self.model).__struct_config__.tag)

    @property
    def sent_at_ms(self) -> int | None:
        """The header ``sendertimestamp_in_ms`` (when the market sent it), if valid.

        Valid means an integer in ``0..MAX_TIME_MS`` (the spec's ``ReplyHeaders``); anything else
        (``2**70``, a negative number, a string) is ``None``, so it never becomes a latency.
        """
        value = self.headers.get(SENDER_TIMESTAMP_HEADER)
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_TIME_MS:
            return value
        return None

    @property
    def latency_ms(self) -> int | None:
        """Market-to-client latency in ms (receive time minus ``sendertimestamp_in_ms``)."""
        sent = self.sent_at_ms
        return None if sent is None else self.received_at_ms - sent

    def __repr__(self) -> str:
        return f"MarketMessage({self.model!r}, latency_ms={self.latency_ms!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            MarketMessage,
            (dict(self), self.model, self.raw, dict(self.headers), self.received_at_ms),
        )

    def __copy__(self) -> MarketMessage:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> MarketMessage:
        return self

    # The body is read-only: a reply is a record of what the market sent.
    def __setitem__(self, key: str, value: Any) -> NoReturn:
        _read_only()

    def __delitem__(self, key: str) -> NoReturn:
        _read_only()

    def __ior__(self, other: Any) -> NoReturn:  # type: ignore[misc]
        _read_only()

    def clear(self) -> NoReturn:
        """Not supported: the message is read-only."""
        _read_only()

    def pop(self, *args: Any) -> NoReturn:
        """Not supported: the message is read-only."""
        _read_only()

    def popitem(self) -> NoReturn:
        """Not supported: the message is read-only."""
        _read_only()

    def setdefault(self, *args: Any) -> NoReturn:
        """Not supported: the message is read-only."""
        _read_only()

    def update(self, *args: Any, **kwargs: Any) -> NoReturn:
        """Not supported: the message is read-only."""
        _read_only()


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _MAX_ERROR_TEXT else text[: _MAX_ERROR_TEXT - 3] + "..."


def decode_market_message(
    raw: bytes | bytearray | memoryview | str,
    headers: Mapping[str, Any] | None = None,
    *,
    received_at_ms: int | None = None,
) -> MarketMessage:
    """Decode one reply body into a :class:`MarketMessage`.

    Raises :class:`MessageDecodeError` when the body is not JSON, not an object, has an unknown
    ``msg_type`` or a field of the wrong type; the error says where (e.g. ``at `$.price```).
    """
    if isinstance(raw, str):
        data = raw.encode("utf-8", "surrogatepass")
    elif isinstance(raw, bytes):
        data = raw
    elif isinstance(raw, (bytearray, memoryview)):
        data = bytes(raw)
    else:
        raise MessageDecodeError(f"market message body must be bytes, got {type(raw).__name__}")
    try:
        model = _model_decoder.decode(data)
        body = _dict_decoder.decode(data)
    except (msgspec.DecodeError, RecursionError, UnicodeError) as exc:
        # ValidationError is a DecodeError; hostile input also nests past the recursion limit
        # or is not UTF-8. Neither may escape: a consumer must survive any body.
        raise MessageDecodeError(f"invalid market message: {_short(str(exc))}") from None
    return MarketMessage(body, model, data, headers, received_at_ms)
