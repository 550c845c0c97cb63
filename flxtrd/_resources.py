"""Typed entry points: ``client.orders``, ``client.contracts`` and their raw-response twins.

Each method validates its arguments (nothing reaches the network on invalid input), sends the
call through the client (plugins, auth, retries, error mapping) and returns the generated model
(``glocalflex_rest.models``). ``client.with_raw_response.orders.place(...)`` returns a
:class:`~flxtrd.RawResponse` with the ``httpx.Response`` and the plugin data beside the model.
Errors raise the :class:`~flxtrd.FlexError` subclasses; ``err.response`` is the raw response.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import httpx
from glocalflex_rest.models import (
    Contract,
    ContractList,
    ContractStatus,
    Order,
    OrderList,
    OrderRequest,
    OrderStatus,
    Side,
)
from glocalflex_rest.types import Unset

from flxtrd._base_client import Operation, RawResponse
from flxtrd._errors import (
    FlexConnectionError,
    FlexValidationError,
    OrderPlacementInDoubtError,
    OrderPlacementTimeoutError,
)
from flxtrd._pagination import AsyncPage, AsyncPaginator, SyncPage
from flxtrd._rest import (
    cancel_order_op,
    create_order_op,
    get_contract_op,
    get_order_op,
    list_contracts_op,
    list_orders_op,
)
from flxtrd._validation import OrderSpec, order_spec_to_body

if TYPE_CHECKING:
    from glocalflex_rest.models import Baseline

__all__ = [
    "AsyncContracts",
    "AsyncOrders",
    "AsyncRawContracts",
    "AsyncRawOrders",
    "Contracts",
    "Orders",
    "RawContracts",
    "RawOrders",
    "build_place_op",
]

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 100
"""Items per request when ``pages()`` walks a list (the spec's default ``limit``)."""


class _Caller(Protocol):
    """What the sync resources need from the client."""

    def _call(self, op: Operation[T]) -> T: ...
    def _call_raw(self, op: Operation[T]) -> RawResponse[T]: ...
    def _now(self) -> datetime: ...


class _AsyncCaller(Protocol):
    """What the async resources need from the client."""

    async def _call(self, op: Operation[T]) -> T: ...
    async def _call_raw(self, op: Operation[T]) -> RawResponse[T]: ...
    def _now(self) -> datetime: ...


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


def _in_doubt(op: Operation[Any], error: FlexConnectionError) -> FlexConnectionError:
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


def _place(client: _Caller, op: Operation[T]) -> T:
    """Place with ``client._call``; a placement cut off after sending is in doubt."""
    try:
        return client._call(op)
    except FlexConnectionError as exc:
        raise _in_doubt(op, exc) from exc


def _place_raw(client: _Caller, op: Operation[T]) -> RawResponse[T]:
    """:func:`_place` with ``client._call_raw``."""
    try:
        return client._call_raw(op)
    except FlexConnectionError as exc:
        raise _in_doubt(op, exc) from exc


async def _aplace(client: _AsyncCaller, op: Operation[T]) -> T:
    """Async :func:`_place`."""
    try:
        return await client._call(op)
    except FlexConnectionError as exc:
        raise _in_doubt(op, exc) from exc


async def _aplace_raw(client: _AsyncCaller, op: Operation[T]) -> RawResponse[T]:
    """Async :func:`_place_raw`."""
    try:
        return await client._call_raw(op)
    except FlexConnectionError as exc:
        raise _in_doubt(op, exc) from exc


def _fields(
    side: str | None,
    power_w: float | None,
    price_eur_per_kwh: float | None,
    delivery_start: datetime | None,
    delivery_end: datetime | None,
    expiry_time: datetime | None,
    country_code: str | None,
    location_ids: Sequence[str | None] | None,
) -> dict[str, Any]:
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


class Orders:
    """Generation-2 orders: ``place``, ``list``, ``get``, ``cancel``, returning generated models."""

    def __init__(self, client: _Caller) -> None:
        self._client = client

    def place(
        self,
        order: OrderSpec | OrderRequest | None = None,
        *,
        side: str | None = None,
        power_w: float | None = None,
        price_eur_per_kwh: float | None = None,
        delivery_start: datetime | None = None,
        delivery_end: datetime | None = None,
        expiry_time: datetime | None = None,
        country_code: str | None = None,
        location_ids: Sequence[str | None] | None = None,
        retry: bool = False,
    ) -> Order:
        """Validate and place an order; ``retry=True`` allows retrying the POST (may duplicate)."""
        fields = _fields(
            side,
            power_w,
            price_eur_per_kwh,
            delivery_start,
            delivery_end,
            expiry_time,
            country_code,
            location_ids,
        )
        return _place(self._client, build_place_op(self._client._now(), order, fields, retry))

    def list(
        self,
        *,
        status: OrderStatus | str | None = None,
        side: Side | str | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> OrderList:
        """Your orders, newest first, optionally filtered by status and side."""
        return self._client._call(
            list_orders_op(status=status, side=side, limit=limit, offset=offset)
        )

    def pages(
        self,
        *,
        status: OrderStatus | str | None = None,
        side: Side | str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> SyncPage[Order]:
        """The first page of your orders; iterating it fetches the later pages as needed."""

        def fetch(offset: int) -> SyncPage[Order]:
            op = list_orders_op(status=status, side=side, limit=page_size, offset=offset)
            page = self._client._call(op)
            return SyncPage(
                list(page.items), total=page.total, offset=offset, limit=page_size, fetch=fetch
            )

        return fetch(0)

    def get(self, order_id: int) -> Order:
        """One of your orders."""
        return self._client._call(get_order_op(order_id))

    def cancel(self, order_id: int) -> Order:
        """Cancel an order; ConflictError when it is already filled, cancelled or expired."""
        return self._client._call(cancel_order_op(order_id))


class RawOrders:
    """:class:`Orders` returning :class:`~flxtrd.RawResponse` (model + ``httpx.Response``)."""

    def __init__(self, client: _Caller) -> None:
        self._client = client

    def place(
        self,
        order: OrderSpec | OrderRequest | None = None,
        *,
        side: str | None = None,
        power_w: float | None = None,
        price_eur_per_kwh: float | None = None,
        delivery_start: datetime | None = None,
        delivery_end: datetime | None = None,
        expiry_time: datetime | None = None,
        country_code: str | None = None,
        location_ids: Sequence[str | None] | None = None,
        retry: bool = False,
    ) -> RawResponse[Order]:
        """:meth:`Orders.place` with the raw response."""
        fields = _fields(
            side,
            power_w,
            price_eur_per_kwh,
            delivery_start,
            delivery_end,
            expiry_time,
            country_code,
            location_ids,
        )
        op = build_place_op(self._client._now(), order, fields, retry)
        return _place_raw(self._client, op)

    def list(
        self,
        *,
        status: OrderStatus | str | None = None,
        side: Side | str | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> RawResponse[OrderList]:
        """:meth:`Orders.list` with the raw response."""
        return self._client._call_raw(
            list_orders_op(status=status, side=side, limit=limit, offset=offset)
        )

    def get(self, order_id: int) -> RawResponse[Order]:
        """:meth:`Orders.get` with the raw response."""
        return self._client._call_raw(get_order_op(order_id))

    def cancel(self, order_id: int) -> RawResponse[Order]:
        """:meth:`Orders.cancel` with the raw response."""
        return self._client._call_raw(cancel_order_op(order_id))


class AsyncOrders:
    """Async :class:`Orders`."""

    def __init__(self, client: _AsyncCaller) -> None:
        self._client = client

    async def place(
        self,
        order: OrderSpec | OrderRequest | None = None,
        *,
        side: str | None = None,
        power_w: float | None = None,
        price_eur_per_kwh: float | None = None,
        delivery_start: datetime | None = None,
        delivery_end: datetime | None = None,
        expiry_time: datetime | None = None,
        country_code: str | None = None,
        location_ids: Sequence[str | None] | None = None,
        retry: bool = False,
    ) -> Order:
        """Validate and place an order; ``retry=True`` allows retrying the POST (may duplicate)."""
        fields = _fields(
            side,
            power_w,
            price_eur_per_kwh,
            delivery_start,
            delivery_end,
            expiry_time,
            country_code,
            location_ids,
        )
        op = build_place_op(self._client._now(), order, fields, retry)
        return await _aplace(self._client, op)

    async def list(
        self,
        *,
        status: OrderStatus | str | None = None,
        side: Side | str | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> OrderList:
        """Your orders, newest first, optionally filtered by status and side."""
        return await self._client._call(
            list_orders_op(status=status, side=side, limit=limit, offset=offset)
        )

    def pages(
        self,
        *,
        status: OrderStatus | str | None = None,
        side: Side | str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> AsyncPaginator[Order]:
        """Await for the first page of your orders, or ``async for`` over all of them (lazily)."""
        list_orders_op(status=status, side=side, limit=page_size)  # validate before any await

        async def fetch(offset: int) -> AsyncPage[Order]:
            op = list_orders_op(status=status, side=side, limit=page_size, offset=offset)
            page = await self._client._call(op)
            return AsyncPage(
                list(page.items), total=page.total, offset=offset, limit=page_size, fetch=fetch
            )

        return AsyncPaginator(lambda: fetch(0))

    async def get(self, order_id: int) -> Order:
        """One of your orders."""
        return await self._client._call(get_order_op(order_id))

    async def cancel(self, order_id: int) -> Order:
        """Cancel an order; ConflictError when it is already filled, cancelled or expired."""
        return await self._client._call(cancel_order_op(order_id))


class AsyncRawOrders:
    """Async :class:`RawOrders`."""

    def __init__(self, client: _AsyncCaller) -> None:
        self._client = client

    async def place(
        self,
        order: OrderSpec | OrderRequest | None = None,
        *,
        side: str | None = None,
        power_w: float | None = None,
        price_eur_per_kwh: float | None = None,
        delivery_start: datetime | None = None,
        delivery_end: datetime | None = None,
        expiry_time: datetime | None = None,
        country_code: str | None = None,
        location_ids: Sequence[str | None] | None = None,
        retry: bool = False,
    ) -> RawResponse[Order]:
        """:meth:`AsyncOrders.place` with the raw response."""
        fields = _fields(
            side,
            power_w,
            price_eur_per_kwh,
            delivery_start,
            delivery_end,
            expiry_time,
            country_code,
            location_ids,
        )
        op = build_place_op(self._client._now(), order, fields, retry)
        return await _aplace_raw(self._client, op)

    async def list(
        self,
        *,
        status: OrderStatus | str | None = None,
        side: Side | str | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> RawResponse[OrderList]:
        """:meth:`AsyncOrders.list` with the raw response."""
        return await self._client._call_raw(
            list_orders_op(status=status, side=side, limit=limit, offset=offset)
        )

    async def get(self, order_id: int) -> RawResponse[Order]:
        """:meth:`AsyncOrders.get` with the raw response."""
        return await self._client._call_raw(get_order_op(order_id))

    async def cancel(self, order_id: int) -> RawResponse[Order]:
        """:meth:`AsyncOrders.cancel` with the raw response."""
        return await self._client._call_raw(cancel_order_op(order_id))


class Contracts:
    """Generation-2 contracts (matches of your orders): ``list``, ``get``."""

    def __init__(self, client: _Caller) -> None:
        self._client = client

    def list(
        self,
        *,
        status: ContractStatus | str | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> ContractList:
        """Your contracts, newest first, optionally filtered by status."""
        return self._client._call(list_contracts_op(status=status, limit=limit, offset=offset))

    def pages(
        self, *, status: ContractStatus | str | None = None, page_size: int = DEFAULT_PAGE_SIZE
    ) -> SyncPage[Contract]:
        """The first page of your contracts; iterating it fetches the later pages as needed."""

        def fetch(offset: int) -> SyncPage[Contract]:
            page = self._client._call(
                list_contracts_op(status=status, limit=page_size, offset=offset)
            )
            return SyncPage(
                list(page.items), total=page.total, offset=offset, limit=page_size, fetch=fetch
            )

        return fetch(0)

    def get(self, contract_id: int) -> Contract:
        """One of your contracts."""
        return self._client._call(get_contract_op(contract_id))


class RawContracts:
    """:class:`Contracts` returning :class:`~flxtrd.RawResponse`."""

    def __init__(self, client: _Caller) -> None:
        self._client = client

    def list(
        self,
        *,
        status: ContractStatus | str | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> RawResponse[ContractList]:
        """:meth:`Contracts.list` with the raw response."""
        return self._client._call_raw(list_contracts_op(status=status, limit=limit, offset=offset))

    def get(self, contract_id: int) -> RawResponse[Contract]:
        """:meth:`Contracts.get` with the raw response."""
        return self._client._call_raw(get_contract_op(contract_id))


class AsyncContracts:
    """Async :class:`Contracts`."""

    def __init__(self, client: _AsyncCaller) -> None:
        self._client = client

    async def list(
        self,
        *,
        status: ContractStatus | str | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> ContractList:
        """Your contracts, newest first, optionally filtered by status."""
        return await self._client._call(
            list_contracts_op(status=status, limit=limit, offset=offset)
        )

    def pages(
        self, *, status: ContractStatus | str | None = None, page_size: int = DEFAULT_PAGE_SIZE
    ) -> AsyncPaginator[Contract]:
        """Await for the first page of your contracts, or ``async for`` over all of them."""
        list_contracts_op(status=status, limit=page_size)  # validate before any await

        async def fetch(offset: int) -> AsyncPage[Contract]:
            page = await self._client._call(
                list_contracts_op(status=status, limit=page_size, offset=offset)
            )
            return AsyncPage(
                list(page.items), total=page.total, offset=offset, limit=page_size, fetch=fetch
            )

        return AsyncPaginator(lambda: fetch(0))

    async def get(self, contract_id: int) -> Contract:
        """One of your contracts."""
        return await self._client._call(get_contract_op(contract_id))


class AsyncRawContracts:
    """Async :class:`RawContracts`."""

    def __init__(self, client: _AsyncCaller) -> None:
        self._client = client

    async def list(
        self,
        *,
        status: ContractStatus | str | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> RawResponse[ContractList]:
        """:meth:`AsyncContracts.list` with the raw response."""
        return await self._client._call_raw(
            list_contracts_op(status=status, limit=limit, offset=offset)
        )

    async def get(self, contract_id: int) -> RawResponse[Contract]:
        """:meth:`AsyncContracts.get` with the raw response."""
        return await self._client._call_raw(get_contract_op(contract_id))
