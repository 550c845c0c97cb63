# Generated from specs/openapi.yaml by openapi-python-client 0.29.1; do not edit.
# Change the spec, its generator config or a template in specs/; `make regenerate`.
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.location import Location


T = TypeVar("T", bound="LoginResponse")


@_attrs_define
class LoginResponse:
    """Generation-1 login result.

    Example:
        {'userId': '5f0c8e1a2b3c4d5e6f708192', 'locations': [{'_id': '5f0c8e1a2b3c4d5e6f7081a0', 'token':
            '3f1d2c4b-5a69-4e7f-8a9b-0c1d2e3f4a5b'}], 'token': 'eyJhbGciOiJIUzI1NiJ9.e30.sig'}

    Attributes:
        user_id (str): The user id; the AMQP username and `user_id` message property.
        locations (list[Location]):
        token (str | Unset): A bearer JWT for generation-1 REST calls such as `/deals/`.
    """

    user_id: str
    locations: list[Location]
    token: str | Unset = _attrs_field(default=UNSET, repr=False)
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        user_id = self.user_id

        locations = []
        for locations_item_data in self.locations:
            locations_item = locations_item_data.to_dict()
            locations.append(locations_item)

        token = self.token

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "userId": user_id,
                "locations": locations,
            }
        )
        if token is not UNSET:
            field_dict["token"] = token

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.location import Location  # noqa: PLC0415

        d = dict(src_dict)
        user_id = d.pop("userId")

        locations = []
        _locations = d.pop("locations")
        for locations_item_data in _locations:
            locations_item = Location.from_dict(locations_item_data)

            locations.append(locations_item)

        token = d.pop("token", UNSET)

        login_response = cls(
            user_id=user_id,
            locations=locations,
            token=token,
        )

        login_response.additional_properties = d
        return login_response

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
