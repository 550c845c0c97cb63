# Generated from specs/openapi.yaml by openapi-python-client 0.29.1; do not edit.
# Change the spec, its generator config or a template in specs/; `make regenerate`.
from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.order_status import OrderStatus
from ..models.side import Side
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.order_location import OrderLocation


T = TypeVar("T", bound="Order")


@_attrs_define
class Order:
    """An order as the market holds it.

    Example:
        {'id': 42, 'side': 'buy', 'power': 2500.0, 'price': 0.25, 'delivery_start': '2026-12-01T10:00:00Z',
            'delivery_end': '2026-12-01T10:15:00Z', 'expiry_time': '2026-12-01T09:30:00Z', 'location': {'location_id': None,
            'country_code': 'DE'}, 'status': 'pending', 'filled_power': 0.0, 'created_at': '2026-11-28T09:00:00Z'}

    Attributes:
        id (int): The order's id.
        side (Side): Buy (bid) or sell (ask) flexibility.
        power (float): Power offered or wanted, W.
        price (float): Limit price, EUR/kWh.
        delivery_start (datetime.datetime): Start of delivery, ISO 8601 UTC.
        delivery_end (datetime.datetime): End of delivery, ISO 8601 UTC.
        expiry_time (datetime.datetime): When the order expires if unmatched, ISO 8601 UTC.
        location (OrderLocation): Where the flexibility is delivered. Example: {'location_id': ['loc-001'],
            'country_code': 'DE'}.
        status (OrderStatus): Lifecycle status of an order.
        filled_power (float | Unset): Power matched so far, W.
        created_at (datetime.datetime | Unset): When the market received the order, ISO 8601 UTC.
    """

    id: int
    side: Side
    power: float
    price: float
    delivery_start: datetime.datetime
    delivery_end: datetime.datetime
    expiry_time: datetime.datetime
    location: OrderLocation
    status: OrderStatus
    filled_power: float | Unset = UNSET
    created_at: datetime.datetime | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        side = self.side.value

        power = self.power

        price = self.price

        delivery_start = self.delivery_start.isoformat()

        delivery_end = self.delivery_end.isoformat()

        expiry_time = self.expiry_time.isoformat()

        location = self.location.to_dict()

        status = self.status.value

        filled_power = self.filled_power

        created_at: str | Unset = UNSET
        if not isinstance(self.created_at, Unset):
            created_at = self.created_at.isoformat()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "side": side,
                "power": power,
                "price": price,
                "delivery_start": delivery_start,
                "delivery_end": delivery_end,
                "expiry_time": expiry_time,
                "location": location,
                "status": status,
            }
        )
        if filled_power is not UNSET:
            field_dict["filled_power"] = filled_power
        if created_at is not UNSET:
            field_dict["created_at"] = created_at

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.order_location import OrderLocation  # noqa: PLC0415

        d = dict(src_dict)
        id = d.pop("id")

        side = Side(d.pop("side"))

        power = d.pop("power")

        price = d.pop("price")

        delivery_start = datetime.datetime.fromisoformat(d.pop("delivery_start"))

        delivery_end = datetime.datetime.fromisoformat(d.pop("delivery_end"))

        expiry_time = datetime.datetime.fromisoformat(d.pop("expiry_time"))

        location = OrderLocation.from_dict(d.pop("location"))

        status = OrderStatus(d.pop("status"))

        filled_power = d.pop("filled_power", UNSET)

        _created_at = d.pop("created_at", UNSET)
        created_at: datetime.datetime | Unset
        if isinstance(_created_at, Unset):
            created_at = UNSET
        else:
            created_at = datetime.datetime.fromisoformat(_created_at)

        order = cls(
            id=id,
            side=side,
            power=power,
            price=price,
            delivery_start=delivery_start,
            delivery_end=delivery_end,
            expiry_time=expiry_time,
            location=location,
            status=status,
            filled_power=filled_power,
            created_at=created_at,
        )

        order.additional_properties = d
        return order

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
