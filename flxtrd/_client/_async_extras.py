"""The base of :class:`~flxtrd.AsyncFlexAPIClient`: what the async client adds to the shared core.

Nothing yet: orders over AMQP and the WebSocket streams belong to the sync client
(``flxtrd._client._sync_extras``, the base ``scripts/unasync.py`` puts under the sync client). This
class is where an async-only addition would go.
"""

from __future__ import annotations

from flxtrd._rest._base_client import BaseFlexAPIClient

__all__ = ["_AsyncClientExtras"]


class _AsyncClientExtras(BaseFlexAPIClient):
    """The async client's own part: nothing to open, nothing to close beside the REST pool."""

    async def _aclose_extras(self) -> None:
        """Close what the client opened beside its REST pool (nothing, for the async client)."""
        return None
