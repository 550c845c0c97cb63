"""flxtrd 0.2.9's ``flxtrd.core.plugins.base``: ``BasePlugin``."""

from flxtrd._rest._plugins import BasePlugin

__all__ = ["BasePlugin"]
