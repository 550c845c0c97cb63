"""Deal history with ETag reuse: ``client.deals()`` asks the market only "has anything changed?".

``GET /deals/`` answers with an ``ETag``. :class:`DealsCache` keeps, per ``relative_time``, the
last ETag and the deals parsed from that answer; the next ``client.deals(relative_time)`` sends
``If-None-Match: <that ETag>`` and, on ``304 Not Modified``, returns the cached deals without
reading or parsing a body. A 200 replaces the entry. The cache is per client, bounded
(:data:`MAX_ENTRIES` windows, least recently used dropped first) and thread-safe.

Passing ``if_none_match=`` yourself bypasses the cache (flxtrd's earlier behaviour: ``None`` on
a 304); ``cache=False`` asks without If-None-Match and stores nothing.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from flxtrd._rest._operations import list_deals_op

if TYPE_CHECKING:
    import httpx
    from glocalflex_rest.models import Deal

    from flxtrd._rest._http import Operation, RawResponse

__all__ = ["MAX_ENTRIES", "DealsCache"]

MAX_ENTRIES = 16
"""How many ``relative_time`` windows one client remembers."""

NOT_MODIFIED = 304


class DealsCache:
    """The last ETag and deals of each ``relative_time`` window (see the module doc)."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._entries: OrderedDict[str, tuple[str, list[Deal]]] = OrderedDict()
        self._max = max_entries
        self._lock = threading.Lock()

    def etag(self, relative_time: str) -> str | None:
        """The ETag remembered for ``relative_time``, if any."""
        with self._lock:
            entry = self._entries.get(relative_time)
        return entry[0] if entry is not None else None

    def operation(self, relative_time: str, *, cache: bool = True) -> Operation[list[Deal] | None]:
        """The ``GET /deals/`` call: with If-None-Match when a cached answer exists.

        A 304 is answered without touching the generated parser (nothing to parse).
        """
        tag = self.etag(relative_time) if cache else None
        op = list_deals_op(relative_time, if_none_match=tag)
        parse = op.parse

        def parse_unless_not_modified(response: httpx.Response) -> Any:
            if response.status_code == NOT_MODIFIED:
                return None
            return parse(response)

        return replace(op, parse=parse_unless_not_modified)

    def resolve(
        self, relative_time: str, raw: RawResponse[list[Deal] | None], *, cache: bool = True
    ) -> list[Deal] | None:
        """The deals of an answer: the cached ones on a 304, else the parsed ones (stored).

        ``None`` only when the market answered 304 to a request that carried no ETag of ours
        (the caller then asks again without If-None-Match).
        """
        if raw.status_code == NOT_MODIFIED:
            with self._lock:
                entry = self._entries.get(relative_time)
                if entry is not None:
                    self._entries.move_to_end(relative_time)
            return list(entry[1]) if entry is not None else None
        deals = list(raw.parsed or [])
        etag = raw.headers.get("etag")
        if cache and etag:
            with self._lock:
                self._entries[relative_time] = (etag, deals)
                self._entries.move_to_end(relative_time)
                while len(self._entries) > self._max:
                    self._entries.popitem(last=False)
        return list(deals)

    def clear(self) -> None:
        """Forget every remembered answer."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
