"""flxtrd 0.2.9's ``flxtrd.protocols.rest``: ``RestAPI`` (httpx)."""

from flxtrd._compat._console import log
from flxtrd._compat._protocols import BaseAPI
from flxtrd._rest._api import RestAPI

__all__ = ["BaseAPI", "RestAPI", "log"]
