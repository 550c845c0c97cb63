"""flxtrd 0.2.9's ``flxtrd.core.plugins.auth``: ``AuthPlugin`` and ``AuthResponse``."""

from flxtrd._compat._auth import AuthResponse
from flxtrd._compat._console import log
from flxtrd._rest._auth import AuthPlugin
from flxtrd._rest._plugins import BasePlugin
from flxtrd._types import FlexMarket, FlexResponse, FlexUser

__all__ = [
    "AuthPlugin",
    "AuthResponse",
    "BasePlugin",
    "FlexMarket",
    "FlexResponse",
    "FlexUser",
    "log",
]
