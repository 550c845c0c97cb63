"""Reading the servers' order inputs for `SandboxMarket`: gen-1 order lines, gen-2 requests.

Split from `_market`: these helpers only look at the shape of what the wire handed over
(either line model, an `OrderRequest` or a mapping) and never touch the engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from ._accounts import Account

__all__ = [
    "LineLike",
    "OrderInputError",
    "expiry_not_after_start",
    "is_number",
    "line_key",
    "line_side",
    "request_dict",
    "user_id_of",
]


class OrderInputError(ValueError):
    """A generation-2 order request the market cannot read; ``loc`` is the failing field path."""

    def __init__(self, loc: tuple[str, ...], msg: str, type_: str = "value_error") -> None:
        super().__init__(f"{'.'.join(loc)}: {msg}")
        self.loc = loc
        self.msg = msg
        self.type = type_


class LineLike(Protocol):
    """What `submit_gen1` reads off an order line (either line model)."""

    @property
    def starttime(self) -> int:
        """Delivery start, ms."""

    @property
    def wattage(self) -> float:
        """Power, W."""

    @property
    def runtime(self) -> int:
        """Delivery duration, ms."""

    @property
    def price(self) -> float:
        """Limit price."""

    @property
    def expirationtime(self) -> int:
        """Expiry, ms."""


def line_side(line: Any) -> str:
    side = line.side
    return str(getattr(side, "value", side))


def line_key(line: Any) -> str | None:
    key = getattr(line, "application_key", None)
    if key is None:
        key = getattr(line, "applicationKey", None)
    return key if isinstance(key, str) else None


def request_dict(request: Any) -> Mapping[str, Any]:
    if isinstance(request, Mapping):
        return request
    to_dict = getattr(request, "to_dict", None)
    if callable(to_dict):
        result = to_dict()
        if isinstance(result, Mapping):
            return result
    raise TypeError(f"expected an OrderRequest or a mapping, got {type(request).__name__}")


def user_id_of(user: Account | str) -> str:
    return user if isinstance(user, str) else user.user_id


def expiry_not_after_start(expiry_time_ms: int, delivery_start_ms: int) -> str | None:
    """Rule of `specs/openapi.yaml` (`OrderRequest`): the expiry is at or before delivery start.

    Returns the reason an order breaks it, or None.
    """
    if expiry_time_ms > delivery_start_ms:
        return "expiry_time must be at or before delivery_start"
    return None


def is_number(value: object) -> bool:
    """An int or a float, not a bool (infinite and NaN included: the rules refuse those)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)
