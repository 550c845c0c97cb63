# Generated from specs/openapi.yaml by openapi-python-client 0.29.1; do not edit.
# Change the spec, its generator config or a template in specs/; `make regenerate`.
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.country_code import CountryCode
from ..types import UNSET, Unset

T = TypeVar("T", bound="OrderLocation")


@_attrs_define
class OrderLocation:
    """Where the flexibility is delivered.

    Example:
        {'location_id': ['loc-001'], 'country_code': 'DE'}

    Attributes:
        country_code (CountryCode): ISO 3166-1 alpha-2 country of delivery; empty for none.
        location_id (list[None | str] | None | Unset): Location ids the order may be matched in. `null`, `[]` and a list
            of only `null` items (`[null]`) mean any location; `null` items are ignored. An id holding `.*` is a pattern:
            `.*` stands for any run of characters, the rest is literal, and it must match a whole id (`loc.*` matches
            `loc1`). Two orders' locations meet when either means any location, or an id of one equals, or is matched by a
            pattern of, an id of the other.
    """

    country_code: CountryCode
    location_id: list[None | str] | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        country_code = self.country_code.value

        location_id: list[None | str] | None | Unset
        if isinstance(self.location_id, Unset):
            location_id = UNSET
        elif isinstance(self.location_id, list):
            location_id = []
            for location_id_type_0_item_data in self.location_id:
                location_id_type_0_item: None | str
                location_id_type_0_item = location_id_type_0_item_data
                location_id.append(location_id_type_0_item)

        else:
            location_id = self.location_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "country_code": country_code,
            }
        )
        if location_id is not UNSET:
            field_dict["location_id"] = location_id

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        country_code = CountryCode(d.pop("country_code"))

        def _parse_location_id(data: object) -> list[None | str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                location_id_type_0 = []
                _location_id_type_0 = data
                for location_id_type_0_item_data in _location_id_type_0:

                    def _parse_location_id_type_0_item(data: object) -> None | str:
                        if data is None:
                            return data
                        return cast(None | str, data)

                    location_id_type_0_item = _parse_location_id_type_0_item(
                        location_id_type_0_item_data
                    )

                    location_id_type_0.append(location_id_type_0_item)

                return location_id_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[None | str] | None | Unset, data)

        location_id = _parse_location_id(d.pop("location_id", UNSET))

        order_location = cls(
            country_code=country_code,
            location_id=location_id,
        )

        order_location.additional_properties = d
        return order_location

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
