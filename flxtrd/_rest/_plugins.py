"""Client plugins: hooks that run before and after every REST call and every order.

A plugin subclasses :class:`BasePlugin` and overrides what it needs (flxtrd 0.2.9's abstract
methods are now optional no-ops, so 0.2.9 plugins keep working)::

    class Timing(BasePlugin):
        def before_request(self, method=None, url=None, headers=None, params=None, data=None):
            self.t0 = time.perf_counter()

        def after_request(self, response=None):
            return {"elapsed_s": time.perf_counter() - self.t0}

What each hook receives:

- ``before_request(method, url, headers, params, data)``: for a REST call the method, the full
  URL, the request headers as a *mutable* ``dict`` (a plugin may add headers; auth does),
  the query parameters and the form data; for an order ``method`` is what the caller passed (the
  seed passes ``""``), ``url`` the routing hint (``"ask"``/``"bid"``) and ``data`` the order.
- ``after_request(response)``: for a REST call the raw ``httpx.Response`` (any status), for an
  order the :class:`~flxtrd.FlexResponse` that ``send_order`` returns (``order_response`` set).

Return values land in ``FlexResponse.plugin_data`` as ``{"<plugin>_before": ..., "<plugin>_after":
...}``, keyed by ``str(plugin)`` as in flxtrd 0.2.9. The async client awaits
:meth:`BasePlugin.abefore_request` / :meth:`BasePlugin.aafter_request`, which call the sync hooks
unless a plugin overrides them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, MutableMapping
from typing import Any, ClassVar, NamedTuple

from flxtrd._log import get_logger

__all__ = ["BasePlugin", "HookRequest", "PluginChain"]

_logger = get_logger("plugins")


class HookRequest(NamedTuple):
    """What every ``before_request`` hook receives (by keyword), gathered once per call."""

    method: str | None
    url: str | None
    headers: MutableMapping[str, str] | None
    params: Any
    data: Any


class BasePlugin:
    """Base class of client plugins; override ``before_request`` and/or ``after_request``."""

    #: Name used in log lines and as the ``plugin_data`` key prefix; defaults to the class name.
    plugin_name: ClassVar[str] = ""
    #: True for a plugin that signs the client's requests in (:class:`~flxtrd.AuthPlugin`): it
    #: runs first, is attached to the client (:meth:`attach`) and is the client's ``auth``; a
    #: client given none adds its default one.
    authenticates: ClassVar[bool] = False

    def attach(self, client: Any) -> None:
        """Bind an authenticating plugin to the client it was added to (a no-op by default)."""
        return None

    def before_request(
        self,
        method: str | None = None,
        url: str | None = None,
        headers: MutableMapping[str, str] | None = None,
        params: Any = None,
        data: Any = None,
    ) -> Any:
        """Run before a request or order is sent; the return value lands in ``plugin_data``."""
        return None

    def after_request(self, response: Any = None) -> Any:
        """Run after a response or order receipt arrived; the result lands in ``plugin_data``."""
        return None

    async def abefore_request(
        self,
        method: str | None = None,
        url: str | None = None,
        headers: MutableMapping[str, str] | None = None,
        params: Any = None,
        data: Any = None,
    ) -> Any:
        """Async :meth:`before_request`, used by the async client; calls it by default."""
        return self.before_request(
            method=method, url=url, headers=headers, params=params, data=data
        )

    async def aafter_request(self, response: Any = None) -> Any:
        """Async :meth:`after_request`, used by the async client; calls it by default."""
        return self.after_request(response)

    def __str__(self) -> str:
        return self.plugin_name or type(self).__name__

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


class PluginChain:
    """The ordered plugins of one client; copy-on-write, so hooks may run while plugins change."""

    def __init__(self, plugins: Iterable[BasePlugin] = ()) -> None:
        self._plugins: tuple[BasePlugin, ...] = ()
        self._names: dict[tuple[int, str], str] = {}
        for plugin in plugins:
            self.add(plugin)

    def _key(self, plugin: BasePlugin, suffix: str) -> str:
        """``str(plugin) + suffix``, computed once per plugin (``str()`` may be costly)."""
        key = self._names.get((id(plugin), suffix))
        if key is None:
            key = self._names[(id(plugin), suffix)] = f"{plugin}{suffix}"
        return key

    @property
    def plugins(self) -> tuple[BasePlugin, ...]:
        """The plugins in the order their hooks run."""
        return self._plugins

    def add(self, plugin: BasePlugin, *, first: bool = False) -> bool:
        """Add ``plugin`` unless one of the same type is present (as in 0.2.9); return if added."""
        for present in self._plugins:
            if type(present) is type(plugin):
                _logger.warning(
                    "Found already a plugin of type %s, plugin %s is not added",
                    type(plugin).__name__,
                    plugin,
                )
                return False
        self._plugins = (plugin, *self._plugins) if first else (*self._plugins, plugin)
        if _logger.isEnabledFor(logging.DEBUG):
            _logger.debug("Added plugin %s", plugin)
        return True

    def remove(self, plugin: BasePlugin) -> bool:
        """Remove the plugin of ``plugin``'s type (as in 0.2.9); return if one was removed."""
        for present in self._plugins:
            if type(present) is type(plugin):
                self._plugins = tuple(p for p in self._plugins if p is not present)
                self._names = {k: v for k, v in self._names.items() if k[0] != id(present)}
                if _logger.isEnabledFor(logging.DEBUG):
                    _logger.debug("Removed plugin %s", plugin)
                return True
        _logger.warning("Plugin %s not found", plugin)
        return False

    def before(self, request: HookRequest) -> dict[str, Any]:
        """Run every ``before_request`` hook on ``request``; return the plugin data collected."""
        hook = request._asdict()
        return {self._key(p, "_before"): p.before_request(**hook) for p in self._plugins}

    def after(self, response: Any, plugin_data: dict[str, Any]) -> dict[str, Any]:
        """Run every ``after_request`` hook, adding to ``plugin_data``; return it."""
        for plugin in self._plugins:
            plugin_data[self._key(plugin, "_after")] = plugin.after_request(response)
        return plugin_data

    async def abefore(self, request: HookRequest) -> dict[str, Any]:
        """Await every ``abefore_request`` hook on ``request``; return the plugin data."""
        hook = request._asdict()
        return {self._key(p, "_before"): await p.abefore_request(**hook) for p in self._plugins}

    async def aafter(self, response: Any, plugin_data: dict[str, Any]) -> dict[str, Any]:
        """Await every ``aafter_request`` hook, adding to ``plugin_data``; return it."""
        for plugin in self._plugins:
            plugin_data[self._key(plugin, "_after")] = await plugin.aafter_request(response)
        return plugin_data
