# Generated from specs/openapi.yaml by openapi-python-client 0.29.1; do not edit.
# Change the spec, its generator config or a template in specs/; `make regenerate`.
from enum import StrEnum


class BaselineUnitMeasured(StrEnum):
    KWH = "kWh"
    MWH = "MWh"
    WH = "Wh"

    def __str__(self) -> str:
        return str(self.value)

    @classmethod
    def _missing_(cls, value: object) -> "BaselineUnitMeasured | None":
        """Accept a value unknown to this client version as a pseudo-member named UNKNOWN."""
        if not isinstance(value, str):
            return None
        member = str.__new__(cls, value)
        member._name_ = "UNKNOWN"
        member._value_ = value
        return member
