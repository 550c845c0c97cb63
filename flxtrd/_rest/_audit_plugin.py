"""An example client plugin: an audit log of every order and request, and what came back.

Register it like any plugin::

    audit = AuditLogPlugin("audit.jsonl")      # or AuditLogPlugin() to keep records in memory
    client.add_plugin(audit)
    client.send_order(order=order)            # one record: the order and the broker's confirm
    for message in client.market_messages(timeout=1):
        audit.record_reply(message)           # market replies do not pass through plugins
    audit.close()

Each record is one JSON object (one line in the file, and a dict in :attr:`records`):

- ``{"kind": "order", "side", "power_w", "price", "start", "runtime_ms", "expiration",
  "outcome": "confirmed" | "not sent", "message_id"}`` for ``send_order``;
- ``{"kind": "orders", "count", "confirmed", "failed"}`` for ``send_orders``;
- ``{"kind": "request", "method", "path", "status"}`` for a REST call (the path as
  :func:`~flxtrd._log.redact_url` shows it: no query values, no device token);
- ``{"kind": "reply", "msg_type", "body"}`` for a market reply given to :meth:`record_reply`;

each with ``"time"`` (ISO 8601 UTC from ``clock``). Request headers and bodies are never
recorded: they carry passwords and tokens.

How hooks pair up: a client runs ``before_request``, sends, then ``after_request`` in the same
thread, so the plugin keeps the pending record per thread. An ``after_request`` with no pending
record (an order refused before it was sent) is recorded on its own.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from datetime import UTC, datetime
from typing import IO, Any

from flxtrd._log import redact_url
from flxtrd._rest._plugins import BasePlugin

__all__ = ["AuditLogPlugin"]


def _iso_s(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, tz=UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def _iso_ms(epoch_ms: int) -> str:
    return _iso_s(epoch_ms / 1000)


def _describe_order(order: Any) -> dict[str, Any]:
    """The audit fields of a :class:`~flxtrd.MarketOrder` (anything else: its type name)."""
    flex = getattr(order, "resource", None)
    side = getattr(order, "order_type", None)
    if flex is None or side is None:
        return {"order": type(order).__name__}
    return {
        "side": str(getattr(side, "value", side)),
        "power_w": flex.power_w,
        "price": order.price_eur,
        "start": _iso_ms(flex.start_ms),
        "runtime_ms": flex.runtime_ms,
        "expiration": _iso_ms(flex.expiration_ms),
    }


class AuditLogPlugin(BasePlugin):
    """Records every order and REST call a client sends and its outcome (see the module doc).

    Args:
        path: a file to append JSON lines to (opened on the first record); None: memory only.
        stream: a text stream to write the lines to instead of a file.
        max_records: how many records :attr:`records` keeps (oldest dropped first).
        clock: epoch seconds for the ``"time"`` field.
    """

    plugin_name = "AuditLogPlugin"

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        stream: IO[str] | None = None,
        max_records: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if path is not None and stream is not None:
            raise TypeError("pass path= or stream=, not both")
        self.path = path
        self.records: deque[dict[str, Any]] = deque(maxlen=max_records)
        """The latest records, oldest first."""
        self._stream = stream
        self._owns_stream = False
        self._clock = clock
        self._lock = threading.Lock()
        self._pending = threading.local()

    # -- hooks ------------------------------------------------------------------------------------

    def before_request(
        self,
        method: str | None = None,
        url: str | None = None,
        headers: MutableMapping[str, str] | None = None,
        params: Any = None,
        data: Any = None,
    ) -> None:
        """Start the record of an order, a batch of orders or a REST call."""
        record: dict[str, Any] = {"time": _iso_s(self._clock())}
        if headers is None and isinstance(data, list):  # send_orders: no headers, a list
            record.update(kind="orders", count=len(data))
        elif headers is None:  # send_order: no headers, the order as data
            record.update(kind="order", **_describe_order(data))
        else:
            record.update(
                kind="request",
                method=(method or "").upper(),
                path=redact_url(url or "", path_only=True),
            )
        self._pending.record = record

    def after_request(self, response: Any = None) -> None:
        """Complete the pending record with the outcome, and write it."""
        record: dict[str, Any] | None = getattr(self._pending, "record", None)
        self._pending.record = None
        if record is None:
            record = {"time": _iso_s(self._clock()), "kind": "order"}
        kind = record["kind"]
        if kind == "order":
            receipt = getattr(response, "order_response", None)
            message_id = getattr(receipt, "message_id", None)
            record["outcome"] = "confirmed" if message_id is not None else "not sent"
            record["message_id"] = message_id
        elif kind == "orders":
            outcomes = list(response) if isinstance(response, Iterable) else []
            confirmed = sum(1 for outcome in outcomes if getattr(outcome, "ok", False))
            record.update(confirmed=confirmed, failed=len(outcomes) - confirmed)
        else:
            record["status"] = getattr(response, "status_code", None)
        self._write(record)

    # -- market replies -----------------------------------------------------------------------

    def record_reply(self, message: Mapping[str, Any]) -> None:
        """Record a market reply (a :class:`~flxtrd.MarketMessage` or its JSON body)."""
        msg_type = getattr(message, "msg_type", None) or message.get("msg_type")
        self._write(
            {
                "time": _iso_s(self._clock()),
                "kind": "reply",
                "msg_type": msg_type,
                "body": dict(message),
            }
        )

    # -- output -------------------------------------------------------------------------------

    def _write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, default=str, sort_keys=True)
        with self._lock:
            self.records.append(record)
            if self._stream is None and self.path is not None:
                self._stream = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open
                self._owns_stream = True
            if self._stream is not None:
                self._stream.write(line + "\n")
                self._stream.flush()

    def close(self) -> None:
        """Close the file the plugin opened (records stay in memory)."""
        with self._lock:
            stream, self._stream = self._stream, None
            if stream is not None and self._owns_stream:
                stream.close()
            self._owns_stream = False
