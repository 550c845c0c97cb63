"""flxtrd 0.2.9's ``flxtrd.protocols.base``: ``BaseAPI``."""

from flxtrd._compat._protocols import BaseAPI

__all__ = ["BaseAPI"]
