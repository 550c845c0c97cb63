# Generated from specs/openapi.yaml by openapi-python-client 0.29.1; do not edit.
# Change the spec, its generator config or a template in specs/; `make regenerate`.
"""Contains all the data models used in inputs/outputs"""

from .baseline import Baseline
from .baseline_direction import BaselineDirection
from .baseline_energy_product import BaselineEnergyProduct
from .baseline_quality import BaselineQuality
from .baseline_unit_measured import BaselineUnitMeasured
from .contract import Contract
from .contract_list import ContractList
from .contract_status import ContractStatus
from .country_code import CountryCode
from .data_point import DataPoint
from .deal import Deal
from .error_detail import ErrorDetail
from .http_validation_error import HTTPValidationError
from .location import Location
from .login_form import LoginForm
from .login_response import LoginResponse
from .mptoken_response import MptokenResponse
from .o_auth_error import OAuthError
from .order import Order
from .order_list import OrderList
from .order_location import OrderLocation
from .order_request import OrderRequest
from .order_status import OrderStatus
from .settlement import Settlement
from .settlement_status import SettlementStatus
from .side import Side
from .token_request import TokenRequest
from .token_request_grant_type import TokenRequestGrantType
from .token_response import TokenResponse
from .validation_error_item import ValidationErrorItem
from .verification_result import VerificationResult
from .verification_status import VerificationStatus

__all__ = (
    "Baseline",
    "BaselineDirection",
    "BaselineEnergyProduct",
    "BaselineQuality",
    "BaselineUnitMeasured",
    "Contract",
    "ContractList",
    "ContractStatus",
    "CountryCode",
    "DataPoint",
    "Deal",
    "ErrorDetail",
    "HTTPValidationError",
    "Location",
    "LoginForm",
    "LoginResponse",
    "MptokenResponse",
    "OAuthError",
    "Order",
    "OrderList",
    "OrderLocation",
    "OrderRequest",
    "OrderStatus",
    "Settlement",
    "SettlementStatus",
    "Side",
    "TokenRequest",
    "TokenRequestGrantType",
    "TokenResponse",
    "ValidationErrorItem",
    "VerificationResult",
    "VerificationStatus",
)
