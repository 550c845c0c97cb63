# Generated from specs/openapi.yaml by openapi-python-client 0.29.1; do not edit.
# Change the spec, its generator config or a template in specs/; `make regenerate`.
from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.baseline_direction import BaselineDirection
from ..models.baseline_energy_product import BaselineEnergyProduct
from ..models.baseline_quality import BaselineQuality
from ..models.baseline_unit_measured import BaselineUnitMeasured

if TYPE_CHECKING:
    from ..models.data_point import DataPoint


T = TypeVar("T", bound="Baseline")


@_attrs_define
class Baseline:
    """Baseline metering data of a sell order, against which delivery is verified.

    Example:
        {'metering_id': '0b5c1a52-7e0a-4c8e-9f3f-2a6b1d4e5f60', 'created_at': '2026-11-28T09:00:00Z', 'reading_start':
            '2026-12-01T09:00:00Z', 'reading_end': '2026-12-01T10:00:00Z', 'resolution': 900, 'direction': 'consumption',
            'quality': 'estimated', 'energy_product': 'apparent', 'unit_measured': 'kWh', 'data_points':
            [{'2026-12-01T09:00:00Z': 0.62}]}

    Attributes:
        metering_id (UUID): The metering point's id.
        created_at (datetime.datetime): When the baseline was made, ISO 8601 UTC.
        reading_start (datetime.datetime): Start of the readings, ISO 8601 UTC.
        reading_end (datetime.datetime): End of the readings, ISO 8601 UTC.
        resolution (int): Time between readings, s.
        direction (BaselineDirection): Energy flow direction measured.
        quality (BaselineQuality): How the readings were obtained.
        energy_product (BaselineEnergyProduct): Which energy product was measured.
        unit_measured (BaselineUnitMeasured): Unit of the data point values.
        data_points (list[DataPoint]):
    """

    metering_id: UUID
    created_at: datetime.datetime
    reading_start: datetime.datetime
    reading_end: datetime.datetime
    resolution: int
    direction: BaselineDirection
    quality: BaselineQuality
    energy_product: BaselineEnergyProduct
    unit_measured: BaselineUnitMeasured
    data_points: list[DataPoint]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        metering_id = str(self.metering_id)

        created_at = self.created_at.isoformat()

        reading_start = self.reading_start.isoformat()

        reading_end = self.reading_end.isoformat()

        resolution = self.resolution

        direction = self.direction.value

        quality = self.quality.value

        energy_product = self.energy_product.value

        unit_measured = self.unit_measured.value

        data_points = []
        for data_points_item_data in self.data_points:
            data_points_item = data_points_item_data.to_dict()
            data_points.append(data_points_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "metering_id": metering_id,
                "created_at": created_at,
                "reading_start": reading_start,
                "reading_end": reading_end,
                "resolution": resolution,
                "direction": direction,
                "quality": quality,
                "energy_product": energy_product,
                "unit_measured": unit_measured,
                "data_points": data_points,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.data_point import DataPoint  # noqa: PLC0415

        d = dict(src_dict)
        metering_id = UUID(d.pop("metering_id"))

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        reading_start = datetime.datetime.fromisoformat(d.pop("reading_start"))

        reading_end = datetime.datetime.fromisoformat(d.pop("reading_end"))

        resolution = d.pop("resolution")

        direction = BaselineDirection(d.pop("direction"))

        quality = BaselineQuality(d.pop("quality"))

        energy_product = BaselineEnergyProduct(d.pop("energy_product"))

        unit_measured = BaselineUnitMeasured(d.pop("unit_measured"))

        data_points = []
        _data_points = d.pop("data_points")
        for data_points_item_data in _data_points:
            data_points_item = DataPoint.from_dict(data_points_item_data)

            data_points.append(data_points_item)

        baseline = cls(
            metering_id=metering_id,
            created_at=created_at,
            reading_start=reading_start,
            reading_end=reading_end,
            resolution=resolution,
            direction=direction,
            quality=quality,
            energy_product=energy_product,
            unit_measured=unit_measured,
            data_points=data_points,
        )

        baseline.additional_properties = d
        return baseline

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
