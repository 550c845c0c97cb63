# Generated from specs/openapi.yaml by openapi-python-client 0.29.1; do not edit.
# Change the spec, its generator config or a template in specs/; `make regenerate`.
from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.contract_status import ContractStatus
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.settlement import Settlement
    from ..models.verification_result import VerificationResult


T = TypeVar("T", bound="Contract")


@_attrs_define
class Contract:
    """A match between a buy and a sell order.

    Example:
        {'id': 7, 'buy_order_id': 41, 'sell_order_id': 42, 'power': 2500.0, 'price': 0.25, 'energy': 625.0,
            'delivery_start': '2026-12-01T10:00:00Z', 'delivery_end': '2026-12-01T10:15:00Z', 'status': 'active',
            'settlement': {'status': 'awaiting_verification_completion'}, 'verification_result': {'status':
            'awaiting_metering_data'}, 'created_at': '2026-11-28T09:00:00Z'}

    Attributes:
        id (int): The contract's id.
        buy_order_id (int): The matched buy order.
        sell_order_id (int): The matched sell order.
        power (float): Power traded, W.
        price (float): Contract price, EUR/kWh (pay-as-bid).
        energy (float): Energy traded, Wh.
        delivery_start (datetime.datetime): Start of delivery, ISO 8601 UTC.
        delivery_end (datetime.datetime): End of delivery, ISO 8601 UTC.
        status (ContractStatus): Lifecycle status of a contract.
        settlement (Settlement): Settlement of a contract. Example: {'status': 'awaiting_verification_completion'}.
        verification_result (VerificationResult): Verification of a contract's delivery against its baseline. Example:
            {'status': 'awaiting_metering_data'}.
        created_at (datetime.datetime | Unset): When the match was made, ISO 8601 UTC.
    """

    id: int
    buy_order_id: int
    sell_order_id: int
    power: float
    price: float
    energy: float
    delivery_start: datetime.datetime
    delivery_end: datetime.datetime
    status: ContractStatus
    settlement: Settlement
    verification_result: VerificationResult
    created_at: datetime.datetime | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        buy_order_id = self.buy_order_id

        sell_order_id = self.sell_order_id

        power = self.power

        price = self.price

        energy = self.energy

        delivery_start = self.delivery_start.isoformat()

        delivery_end = self.delivery_end.isoformat()

        status = self.status.value

        settlement = self.settlement.to_dict()

        verification_result = self.verification_result.to_dict()

        created_at: str | Unset = UNSET
        if not isinstance(self.created_at, Unset):
            created_at = self.created_at.isoformat()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "buy_order_id": buy_order_id,
                "sell_order_id": sell_order_id,
                "power": power,
                "price": price,
                "energy": energy,
                "delivery_start": delivery_start,
                "delivery_end": delivery_end,
                "status": status,
                "settlement": settlement,
                "verification_result": verification_result,
            }
        )
        if created_at is not UNSET:
            field_dict["created_at"] = created_at

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.settlement import Settlement  # noqa: PLC0415
        from ..models.verification_result import VerificationResult  # noqa: PLC0415

        d = dict(src_dict)
        id = d.pop("id")

        buy_order_id = d.pop("buy_order_id")

        sell_order_id = d.pop("sell_order_id")

        power = d.pop("power")

        price = d.pop("price")

        energy = d.pop("energy")

        delivery_start = datetime.datetime.fromisoformat(d.pop("delivery_start"))

        delivery_end = datetime.datetime.fromisoformat(d.pop("delivery_end"))

        status = ContractStatus(d.pop("status"))

        settlement = Settlement.from_dict(d.pop("settlement"))

        verification_result = VerificationResult.from_dict(d.pop("verification_result"))

        _created_at = d.pop("created_at", UNSET)
        created_at: datetime.datetime | Unset
        if isinstance(_created_at, Unset):
            created_at = UNSET
        else:
            created_at = datetime.datetime.fromisoformat(_created_at)

        contract = cls(
            id=id,
            buy_order_id=buy_order_id,
            sell_order_id=sell_order_id,
            power=power,
            price=price,
            energy=energy,
            delivery_start=delivery_start,
            delivery_end=delivery_end,
            status=status,
            settlement=settlement,
            verification_result=verification_result,
            created_at=created_at,
        )

        contract.additional_properties = d
        return contract

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
