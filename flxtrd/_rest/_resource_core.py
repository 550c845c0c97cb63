"""What the typed resources decide without I/O: order validation and "is this placement in doubt".

``_rest._async_resources`` (and the sync ``_rest._resources`` generated from it) only send;
the order in all three of its forms (an :class:`~flxtrd.OrderSpec`, a generated ``OrderRequest``
or keyword fields) is validated here before anything is sent, and a placement whose connection
failed after the POST went out becomes :class:`~flxtrd.OrderPlacementInDoubtError` here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
from glocalflex_rest.models import Order, OrderRequest, Side
from glocalflex_rest.types import Unset

from flxtrd._errors import (
    FlexConnectionError,
    FlexValidationError,
    OrderPlacementInDoubtError,
    OrderPlacementTimeoutError,
)
from flxtrd._rest._http import Operation
from flxtrd._rest._operations import create_order_op
from flxtrd._validation import OrderSpec, order_spec_to_body

if TYPE_CHECKING:
    from glocalflex_rest.models import Baseline

__all__ = ["build_place_op", "in_doubt", "order_fields"]


def _spec_from_request(order: OrderRequest) -> tuple[OrderSpec, Baseline | None]:
    """An OrderSpec (for validation) from a generated OrderRequest, and its baseline."""
    location = order.location
    ids = location.location_id
    spec = OrderSpec(
        side=order.side.value if isinstance(order.side, Side) else order.side,
        power_w=order.power,
        price_eur_per_kwh=order.price,
        delivery_start=order.delivery_start,
        delivery_end=order.delivery_end,
        expiry_time=order.expiry_time,
        country_code=location.country_code.value,
        location_ids=None if ids is None or isinstance(ids, Unset) else list(ids),
    )
    baseline = order.baseline if not isinstance(order.baseline, Unset) else None
    return spec, baseline


def build_place_op(
    now: datetime,
    order: OrderSpec | OrderRequest | None,
    fields: dict[str, Any],
    retry: bool,
) -> Operation[Order]:
    """Validate an order (spec, generated request or keyword fields) and build its operation."""
    given = {k: v for k, v in fields.items() if v is not None}
    baseline: Baseline | None = None
    if order is not None:
        if given:
            raise TypeError("pass an order or keyword fields, not both")
        if isinstance(order, OrderSpec):
            spec = order
        elif isinstance(order, OrderRequest):
            spec, baseline = _spec_from_request(order)
        else:
            raise FlexValidationError("order", "must be an OrderSpec or an OrderRequest", order)
    else:
        missing = [
            name
            for name in (
                "side",
                "power_w",
                "price_eur_per_kwh",
                "delivery_start",
                "delivery_end",
                "expiry_time",
            )
            if name not in given
        ]
        if missing:
            raise TypeError(f"orders.place() is missing {', '.join(missing)}")
        spec = OrderSpec(**given)
    spec.validate(now)
    body = order_spec_to_body(spec)
    if baseline is not None:
        body["baseline"] = baseline.to_dict()
    return create_order_op(body, retry=retry)


# httpx errors raised after the request started to go out: the market may have the order.
# (Connect and pool errors happen before anything is sent: those stay FlexConnectionError.)
_SENT_ERRORS = (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)
_SENT_TIMEOUTS = (httpx.ReadTimeout, httpx.WriteTimeout)


def in_doubt(op: Operation[Any], error: FlexConnectionError) -> FlexConnectionError:
    """The error of a failed placement: :class:`OrderPlacementInDoubtError` (or its timeout
    twin) when the POST was sent before the connection failed, else ``error`` itself."""
    cause = error.__cause__
    body = op.json if isinstance(op.json, dict) else {}
    if not isinstance(cause, (*_SENT_TIMEOUTS, *_SENT_ERRORS)):
        return error
    detail = f"{type(cause).__name__}: {cause}" if str(cause) else type(cause).__name__
    if isinstance(cause, _SENT_TIMEOUTS):
        return OrderPlacementTimeoutError(body, f"its answer did not come in time ({detail})")
    return OrderPlacementInDoubtError(body, f"the connection failed before its answer ({detail})")


def order_fields(
    side: str | None,
    power_w: float | None,
    price_eur_per_kwh: float | None,
    delivery_start: datetime | None,
    delivery_end: datetime | None,
    expiry_time: datetime | None,
    country_code: str | None,
    location_ids: Sequence[str | None] | None,
) -> dict[str, Any]:
    """The keyword fields of ``orders.place()`` by name, for :func:`build_place_op`."""
    return {
        "side": side,
        "power_w": power_w,
        "price_eur_per_kwh": price_eur_per_kwh,
        "delivery_start": delivery_start,
        "delivery_end": delivery_end,
        "expiry_time": expiry_time,
        "country_code": country_code,
        "location_ids": location_ids,
    }
