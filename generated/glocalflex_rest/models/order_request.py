# Generated from specs/openapi.yaml by openapi-python-client 0.29.1; do not edit.
# Change the spec, its generator config or a template in specs/; `make regenerate`.
from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.side import Side
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.baseline import Baseline
    from ..models.order_location import OrderLocation


T = TypeVar("T", bound="OrderRequest")


@_attrs_define
class OrderRequest:
    """A generation-2 order. Delivery times are on the quarter hour; the expiry is at or before the delivery start. The
    bounds (power, price, a delivery of at most 366 days, times up to the end of year 9999) are the same as generation
    1's `OrderLine` in asyncapi.yaml.

        Example:
            {'side': 'buy', 'power': 2500.0, 'price': 0.25, 'delivery_start': '2026-12-01T10:00:00Z', 'delivery_end':
                '2026-12-01T10:15:00Z', 'expiry_time': '2026-12-01T09:30:00Z', 'location': {'location_id': None, 'country_code':
                'DE'}, 'baseline': None}

        Attributes:
            side (Side): Buy (bid) or sell (ask) flexibility.
            power (float): Power offered or wanted, W, at most 1e9 W (1 GW).
            price (float): Limit price, EUR/kWh, at most 1e6.
            delivery_start (datetime.datetime): Start of delivery, ISO 8601 UTC, on the quarter hour.
            delivery_end (datetime.datetime): End of delivery, ISO 8601 UTC, on the quarter hour, after `delivery_start` and
                at most 366 days (31 622 400 000 ms) after it.
            expiry_time (datetime.datetime): When the order expires if unmatched, ISO 8601 UTC, at or before
                `delivery_start`.
            location (OrderLocation): Where the flexibility is delivered. Example: {'location_id': ['loc-001'],
                'country_code': 'DE'}.
            baseline (Baseline | None | Unset): Baseline data of a sell order; null or absent to send it later.
    """

    side: Side
    power: float
    price: float
    delivery_start: datetime.datetime
    delivery_end: datetime.datetime
    expiry_time: datetime.datetime
    location: OrderLocation
    baseline: Baseline | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.baseline import Baseline  # noqa: PLC0415

        side = self.side.value

        power = self.power

        price = self.price

        delivery_start = self.delivery_start.isoformat()

        delivery_end = self.delivery_end.isoformat()

        expiry_time = self.expiry_time.isoformat()

        location = self.location.to_dict()

        baseline: dict[str, Any] | None | Unset
        if isinstance(self.baseline, Unset):
            baseline = UNSET
        elif isinstance(self.baseline, Baseline):
            baseline = self.baseline.to_dict()
        else:
            baseline = self.baseline

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "side": side,
                "power": power,
                "price": price,
                "delivery_start": delivery_start,
                "delivery_end": delivery_end,
                "expiry_time": expiry_time,
                "location": location,
            }
        )
        if baseline is not UNSET:
            field_dict["baseline"] = baseline

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.baseline import Baseline  # noqa: PLC0415
        from ..models.order_location import OrderLocation  # noqa: PLC0415

        d = dict(src_dict)
        side = Side(d.pop("side"))

        power = d.pop("power")

        price = d.pop("price")

        delivery_start = datetime.datetime.fromisoformat(d.pop("delivery_start"))

        delivery_end = datetime.datetime.fromisoformat(d.pop("delivery_end"))

        expiry_time = datetime.datetime.fromisoformat(d.pop("expiry_time"))

        location = OrderLocation.from_dict(d.pop("location"))

        def _parse_baseline(data: object) -> Baseline | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                baseline_type_0 = Baseline.from_dict(data)

                return baseline_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(Baseline | None | Unset, data)

        baseline = _parse_baseline(d.pop("baseline", UNSET))

        order_request = cls(
            side=side,
            power=power,
            price=price,
            delivery_start=delivery_start,
            delivery_end=delivery_end,
            expiry_time=expiry_time,
            location=location,
            baseline=baseline,
        )

        order_request.additional_properties = d
        return order_request

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
