"""The sandbox REST app's generation-2 trading routes: orders and the contracts they make.

``/api/v1/order/...`` (place, list, get, cancel) and ``/api/v1/contract/...`` (list, get) all
take a bearer access token and show only the caller's own orders and contracts; both listings
are one helper (`OrderHandlers._listing`: filters, paging, answer). The engine's refusals
become 422 items here (`_rejection`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from glocalflex_rest import models as rest
from starlette.requests import Request
from starlette.responses import Response

from ._accounts import Account
from ._app_request import json_body, last, page, param, user
from ._app_response import detail, dt, invalid, json_response
from ._app_schema import SCHEMAS, Failure, validate
from ._market import SandboxMarket
from ._market_input import OrderInputError
from ._types import ActionError, Contract, ContractStatus, OrderStatus, OrderView, Rejected, Side

__all__ = ["OrderHandlers"]

_REJECT_LOC: dict[str, tuple[str, ...]] = {
    "country_code": ("body", "location", "country_code"),
    "location_id": ("body", "location", "location_id"),
}

_Filters = Mapping[str, tuple[str, Callable[[Any], Any]]]
"""A listing's query filters: parameter name -> (spec schema, the market's value of it)."""
_ORDER_FILTERS: _Filters = {"status": ("OrderStatus", OrderStatus), "side": ("Side", Side)}
_CONTRACT_FILTERS: _Filters = {"status": ("ContractStatus", ContractStatus)}


class OrderHandlers:
    """The order and contract handlers over one market."""

    def __init__(self, market: SandboxMarket) -> None:
        self.market = market

    def _listing(
        self,
        request: Request,
        filters: _Filters,
        list_items: Callable[..., tuple[int, list[Any]]],
        page_model: Callable[..., Any],
        item: Callable[[Any], Any],
    ) -> Response:
        """A listing route: the caller's ``list_items`` by the query's filters and page.

        The answer is ``page_model(total=..., items=[item(x) ...])``, or the 401/422 refusal.
        """
        account = user(self.market, request)
        if isinstance(account, Response):
            return account
        failures: list[Failure] = []
        values: dict[str, Any] = {}
        for name, (schema, convert) in filters.items():
            raw = param(last(request, name), schema, ("query", name), failures)
            values[name] = convert(raw) if raw is not None else None
        limit, offset = page(request, failures)
        if failures:
            return invalid(failures)
        total, found = list_items(account, **values, limit=limit, offset=offset)
        return json_response(page_model(total=total, items=[item(x) for x in found]))

    def _target(self, request: Request, name: str, schema: str) -> tuple[Account, Any] | Response:
        """The caller and path parameter ``name`` of a one-item route, or the 401/422 refusal."""
        account = user(self.market, request)
        if isinstance(account, Response):
            return account
        failures: list[Failure] = []
        value = param(request.path_params[name], schema, ("path", name), failures)
        return invalid(failures) if failures else (account, value)

    def _item(
        self,
        request: Request,
        name: str,
        schema: str,
        find: Callable[[Account, Any], Any | None],
        noun: str,
        render: Callable[[Any], Any],
    ) -> Response:
        """A one-item route: the caller's ``find`` by path parameter ``name``, or 401/404/422."""
        target = self._target(request, name, schema)
        if isinstance(target, Response):
            return target
        account, item_id = target
        found = find(account, item_id)
        if found is None:
            return detail(404, f"No {noun} {item_id}")
        return json_response(render(found))

    async def create_order(self, request: Request) -> Response:
        """``POST /api/v1/order/``."""
        account = user(self.market, request)
        if isinstance(account, Response):
            return account
        body, failures = await json_body(request)
        if not failures:
            failures = validate(body, SCHEMAS["OrderRequest"], ("body",))
        if failures:
            return invalid(failures)
        try:
            result = self.market.place_order(account, body)
        except OrderInputError as exc:
            return invalid([Failure(exc.loc, exc.msg, exc.type)])
        if result.rejected is not None:
            return invalid([_rejection(result.rejected)])
        assert result.order_id is not None
        view = self.market.get_order(account, result.order_id)
        assert view is not None
        return json_response(_order(view))

    async def list_orders(self, request: Request) -> Response:
        """``GET /api/v1/order/``."""
        return self._listing(
            request, _ORDER_FILTERS, self.market.list_orders, rest.OrderList, _order
        )

    async def get_order(self, request: Request) -> Response:
        """``GET /api/v1/order/{order_id}``."""
        return self._item(request, "order_id", "OrderId", self.market.get_order, "order", _order)

    async def cancel_order(self, request: Request) -> Response:
        """``POST /api/v1/order/{order_id}/cancel``."""
        target = self._target(request, "order_id", "OrderId")
        if isinstance(target, Response):
            return target
        account, order_id = target
        result = self.market.cancel_order(account, order_id)
        if result.error in (ActionError.NOT_FOUND, ActionError.NOT_OWNER):
            return detail(404, f"No order {order_id}")
        if result.error is not None:
            return detail(409, result.reason or f"Order {order_id} cannot be cancelled")
        view = self.market.get_order(account, order_id)
        assert view is not None
        return json_response(_order(view))

    async def list_contracts(self, request: Request) -> Response:
        """``GET /api/v1/contract/``."""
        return self._listing(
            request, _CONTRACT_FILTERS, self.market.list_contracts, rest.ContractList, _contract
        )

    async def get_contract(self, request: Request) -> Response:
        """``GET /api/v1/contract/{contract_id}``."""
        return self._item(
            request, "contract_id", "contract_id", self.market.get_contract, "contract", _contract
        )


def _rejection(rejected: Rejected) -> Failure:
    """The 422 item for an order the engine refused."""
    field = rejected.field
    loc = _REJECT_LOC.get(field or "", ("body", field) if field else ("body",))
    kinds = {"invalid": "value_error", "expired_at_arrival": "expired", "duplicate": "duplicate"}
    return Failure(loc, rejected.reason, kinds.get(rejected.code.value, "value_error"))


def _order(view: OrderView) -> rest.Order:
    return rest.Order(
        id=view.order_id,
        side=rest.Side(view.side.value),
        power=view.power,
        price=view.price,
        delivery_start=dt(view.delivery_start_ms),
        delivery_end=dt(view.delivery_end_ms),
        expiry_time=dt(view.expiry_time_ms),
        location=rest.OrderLocation(
            country_code=rest.CountryCode(view.country_code),
            location_id=list(view.location_ids) if view.location_ids else None,
        ),
        status=rest.OrderStatus(view.status.value),
        filled_power=view.filled_power,
        created_at=dt(view.created_ms),
    )


def _contract(c: Contract) -> rest.Contract:
    return rest.Contract(
        id=c.contract_id,
        buy_order_id=c.buy_order_id,
        sell_order_id=c.sell_order_id,
        power=c.power,
        price=c.price,
        energy=c.energy,
        delivery_start=dt(c.delivery_start_ms),
        delivery_end=dt(c.delivery_end_ms),
        status=rest.ContractStatus(c.status.value),
        settlement=rest.Settlement(status=rest.SettlementStatus(c.settlement_status.value)),
        verification_result=rest.VerificationResult(
            status=rest.VerificationStatus(c.verification_status.value)
        ),
        created_at=dt(c.created_ms),
    )
