# Generated from specs/openapi.yaml by openapi-python-client 0.29.1; do not edit.
# Change the spec, its generator config or a template in specs/; `make regenerate`.
from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

T = TypeVar("T", bound="Deal")


@_attrs_define
class Deal:
    """A generation-1 deal (older deployment).

    Example:
        {'time': '2026-11-28T09:00:00Z', 'starttime': 1796202000000, 'runtime': 900000, 'price': 12.5, 'totalenergy':
            250.0, 'totalprice': 3.125}

    Attributes:
        time (datetime.datetime): When the deal was made, ISO 8601 UTC.
        starttime (int): Delivery start, ms since epoch.
        runtime (int): Delivery duration, ms.
        price (float): Deal price, the generation-1 price unit (EUR/kWh on current deployments).
        totalenergy (float): Energy traded, Wh.
        totalprice (float): Total price of the deal, EUR (price x totalenergy / 1000).
    """

    time: datetime.datetime
    starttime: int
    runtime: int
    price: float
    totalenergy: float
    totalprice: float
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        time = self.time.isoformat()

        starttime = self.starttime

        runtime = self.runtime

        price = self.price

        totalenergy = self.totalenergy

        totalprice = self.totalprice

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "time": time,
                "starttime": starttime,
                "runtime": runtime,
                "price": price,
                "totalenergy": totalenergy,
                "totalprice": totalprice,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        time = datetime.datetime.fromisoformat(d.pop("time"))

        starttime = d.pop("starttime")

        runtime = d.pop("runtime")

        price = d.pop("price")

        totalenergy = d.pop("totalenergy")

        totalprice = d.pop("totalprice")

        deal = cls(
            time=time,
            starttime=starttime,
            runtime=runtime,
            price=price,
            totalenergy=totalenergy,
            totalprice=totalprice,
        )

        deal.additional_properties = d
        return deal

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
