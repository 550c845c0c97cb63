# Generated from flxtrd/_rest/_async_resources.py by scripts/unasync.py; do not edit.
# Change the async source and run `make regenerate`.
"""Typed entry points: ``client.orders``, ``client.contracts`` and their raw-response views.

Each method validates its arguments (nothing reaches the network on invalid input), sends the
call through the client (plugins, auth, retries, error mapping) and returns the generated model
(``glocalflex_rest.models``). ``client.with_raw_response.orders.place(...)`` is the same method
wrapped by ``flxtrd._rest._raw_response``: it returns a :class:`~flxtrd.RawResponse` with the
``httpx.Response`` and the plugin data beside the model. Errors raise the
:class:`~flxtrd.FlexError` subclasses; ``err.response`` is the raw response. Validation and the
in-doubt rule of a placement live in ``flxtrd._rest._resource_core``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, TypeVar

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

from flxtrd._defaults import DEFAULT_PAGE_SIZE
from flxtrd._errors import FlexConnectionError
from flxtrd._rest._http import Operation
from flxtrd._rest._operations import (
    cancel_order_op,
    get_contract_op,
    get_order_op,
    list_contracts_op,
    list_orders_op,
)
from flxtrd._rest._pagination import SyncPage, paginate
from flxtrd._rest._raw_response import to_raw_response_wrapper
from flxtrd._rest._resource_core import build_place_op, in_doubt, order_fields
from flxtrd._validation import OrderSpec

__all__ = [
    "Contracts",
    "ContractsWithRawResponse",
    "Orders",
    "OrdersWithRawResponse",
]

T = TypeVar("T")


class _Caller(Protocol):
    """What the resources need from the client."""

    def _call(self, op: Operation[T]) -> T: ...
    def _now(self) -> datetime: ...


def _place(client: _Caller, op: Operation[T]) -> T:
    """Place with ``client._call``; a placement cut off after sending is in doubt."""
    try:
        return client._call(op)
    except FlexConnectionError as exc:
        raise in_doubt(op, exc) from exc


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
        fields = order_fields(
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
        return _place(self._client, op)

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
        """The first page of your orders (an awaitable, in the asyncio client); iterating it
        yields all of them, fetching the later pages as needed."""
        list_orders_op(status=status, side=side, limit=page_size)  # validate before any call

        def fetch(offset: int) -> SyncPage[Order]:
            op = list_orders_op(status=status, side=side, limit=page_size, offset=offset)
            page = self._client._call(op)
            return SyncPage(
                list(page.items), total=page.total, offset=offset, limit=page_size, fetch=fetch
            )

        return paginate(fetch)

    def get(self, order_id: int) -> Order:
        """One of your orders."""
        return self._client._call(get_order_op(order_id))

    def cancel(self, order_id: int) -> Order:
        """Cancel an order; ConflictError when it is already filled, cancelled or expired."""
        return self._client._call(cancel_order_op(order_id))


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
        """The first page of your contracts (an awaitable, in the asyncio client); iterating it
        yields all of them, fetching the later pages as needed."""
        list_contracts_op(status=status, limit=page_size)  # validate before any call

        def fetch(offset: int) -> SyncPage[Contract]:
            page = self._client._call(
                list_contracts_op(status=status, limit=page_size, offset=offset)
            )
            return SyncPage(
                list(page.items), total=page.total, offset=offset, limit=page_size, fetch=fetch
            )

        return paginate(fetch)

    def get(self, contract_id: int) -> Contract:
        """One of your contracts."""
        return self._client._call(get_contract_op(contract_id))


class OrdersWithRawResponse:
    """:class:`Orders` whose calls return :class:`~flxtrd.RawResponse` (model + response)."""

    def __init__(self, orders: Orders) -> None:
        self.place = to_raw_response_wrapper(orders.place)
        self.list = to_raw_response_wrapper(orders.list)
        self.get = to_raw_response_wrapper(orders.get)
        self.cancel = to_raw_response_wrapper(orders.cancel)


class ContractsWithRawResponse:
    """:class:`Contracts` whose calls return :class:`~flxtrd.RawResponse`."""

    def __init__(self, contracts: Contracts) -> None:
        self.list = to_raw_response_wrapper(contracts.list)
        self.get = to_raw_response_wrapper(contracts.get)
