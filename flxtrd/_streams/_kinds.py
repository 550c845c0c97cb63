"""The stream kinds: the path of each market stream, the models it carries and their decoders.

One table (:data:`_SPECS`) says what the ``trade``, ``ticker`` and ``orderbook`` streams are, so
URL building, decoding and the "unknown ``type``" count all read the same facts.
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, cast

import msgspec
from glocalflex_messages.models import (
    ContractStatusUpdate,
    Control,
    Orderbook,
    OrderStatusUpdate,
    Ticker,
)

from flxtrd._errors import FlexValidationError

__all__ = [
    "STREAM_PATHS",
    "_CONTROL_DECODER",
    "_SPECS",
    "MarketModel",
    "StreamKind",
    "TradeModel",
    "_StreamSpec",
    "_check_kind",
]

StreamKind: TypeAlias = Literal["trade", "ticker", "orderbook"]
#: The models the ``trade`` stream yields.
TradeModel: TypeAlias = OrderStatusUpdate | ContractStatusUpdate
#: Any model a stream yields (``Control`` messages are never yielded).
MarketModel: TypeAlias = OrderStatusUpdate | ContractStatusUpdate | Ticker | Orderbook


@dataclass(frozen=True)
class _StreamSpec:
    """What one stream kind is: its path, the models it carries and their ``type`` tags."""

    kind: str
    path: str
    decoder: msgspec.json.Decoder[Any]
    tags: frozenset[str]


def _spec(kind: str, *models: type[msgspec.Struct]) -> _StreamSpec:
    """Build the spec of a stream that carries ``Control`` and ``models``."""
    classes: tuple[type[msgspec.Struct], ...] = (Control, *models)
    union: Any = functools.reduce(operator.or_, classes)
    tags = frozenset(cast(str, m.__struct_config__.tag) for m in classes)
    return _StreamSpec(kind, f"/api/v1/ws/{kind}/", msgspec.json.Decoder(union), tags)


_SPECS: dict[str, _StreamSpec] = {
    "trade": _spec("trade", OrderStatusUpdate, ContractStatusUpdate),
    "ticker": _spec("ticker", Ticker),
    "orderbook": _spec("orderbook", Orderbook),
}
#: The URL path of each stream kind.
STREAM_PATHS: dict[str, str] = {kind: spec.path for kind, spec in _SPECS.items()}
_CONTROL_DECODER = msgspec.json.Decoder(Control)


def _check_kind(kind: str) -> _StreamSpec:
    """The spec of ``kind``; a validation error naming the known kinds otherwise."""
    spec = _SPECS.get(kind)
    if spec is None:
        raise FlexValidationError("kind", f"must be one of {sorted(_SPECS)}", kind)
    return spec
