# Generated from specs/openapi.yaml by openapi-python-client 0.29.1; do not edit.
# Change the spec, its generator config or a template in specs/; `make regenerate`.
from enum import StrEnum


class OrderStatus(StrEnum):
    ACCEPTED = "accepted"
    AWAITING_BASELINE_DATA = "awaiting_baseline_data"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    FILLED = "filled"
    MATCHING_ACTIVE = "matching_active"
    PARTIAL_FILLED = "partial_filled"
    PENDING = "pending"
    SELECTED_FOR_BASELINE_ACTIVATION = "selected_for_baseline_activation"

    def __str__(self) -> str:
        return str(self.value)

    @classmethod
    def _missing_(cls, value: object) -> "OrderStatus | None":
        """Accept a value unknown to this client version as a pseudo-member named UNKNOWN."""
        if not isinstance(value, str):
            return None
        member = str.__new__(cls, value)
        member._name_ = "UNKNOWN"
        member._value_ = value
        return member
