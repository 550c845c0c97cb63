# Generated from specs/openapi.yaml by openapi-python-client 0.29.1; do not edit.
# Change the spec, its generator config or a template in specs/; `make regenerate`.
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="Location")


@_attrs_define
class Location:
    """A location (device, metering point) of a user. Its `_id` is the application key, its `token` the device access
    token.

        Example:
            {'_id': '5f0c8e1a2b3c4d5e6f7081a0', 'token': '3f1d2c4b-5a69-4e7f-8a9b-0c1d2e3f4a5b', 'name': 'Home battery'}

        Attributes:
            field_id (str): The application key of this location; also the name of its AMQP reply queue.
            token (str | Unset): The device access token; the AMQP password of this location.
            name (str | Unset): Display name of the location.
    """

    field_id: str
    token: str | Unset = _attrs_field(default=UNSET, repr=False)
    name: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        field_id = self.field_id

        token = self.token

        name = self.name

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "_id": field_id,
            }
        )
        if token is not UNSET:
            field_dict["token"] = token
        if name is not UNSET:
            field_dict["name"] = name

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        field_id = d.pop("_id")

        token = d.pop("token", UNSET)

        name = d.pop("name", UNSET)

        location = cls(
            field_id=field_id,
            token=token,
            name=name,
        )

        location.additional_properties = d
        return location

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
