"""The generation-2 fleet: many locations of one account, and many accounts, over REST.

On generation 2 a device is a *location* of an account: orders go over REST with the account's
OAuth2 token and ``location.location_id = [<the device's location>]``, events come from the
account's ``trade`` and ``ticker`` WebSocket streams. So the cost is per **account**, not per
device: one REST client and one :class:`~flxtrd.Gen2Connection` (its two stream readers) per
account, however many locations it has. Events are routed to the device that placed the order
they name (order id -> device).

:meth:`Gen2Fleet.place` places a batch across the accounts at once (``concurrency`` accounts in
parallel, each account's orders in turn, as the market's rate limit is per account); every order
ends placed (the market's order in ``receipt``) or with its error. Validation is the client's
own (:class:`~flxtrd.OrderSpec`): nothing is checked twice, or differently.
"""

from __future__ import annotations

import dataclasses
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flxtrd._errors import FlexError, FlexValidationError
from flxtrd._trading._bot import count_fill
from flxtrd._trading._connections import Gen2Connection, _baseline
from flxtrd._trading._strategy import Fill, PlaceOrder
from flxtrd._types import OrderType
from flxtrd._validation import OrderSpec, current_time_ms

from ._model import DeviceStats, FleetOutcome, FleetStats, check_device_ids

if TYPE_CHECKING:
    from flxtrd._client._client import FlexAPIClient

__all__ = ["Gen2Device", "Gen2Fleet"]


@dataclass(frozen=True)
class Gen2Device:
    """One generation-2 device: a location of an account.

    Attributes:
        device_id: the fleet's name for it (unique in the fleet).
        account: the key of its account's client in ``Gen2Fleet(accounts=...)``.
        location_id: the location its orders are for.
        country_code: the location's country (``""``: any).
    """

    device_id: str
    account: str
    location_id: str
    country_code: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)


class Gen2Fleet:
    """Devices (locations) of one or many generation-2 accounts (see the module).

    Args:
        accounts: account key -> a :class:`~flxtrd.FlexAPIClient` logged in as that account.
        devices: the devices; ids unique, each naming one of ``accounts``.
        concurrency: accounts placing orders at the same time.
        streams: read each account's ``trade``/``ticker`` streams (events, fills).
        baseline: give sells placed as :class:`~flxtrd.PlaceOrder` an estimated baseline (the
            sandbox matches a generation-2 sell only once it has one), as ``flxtrd bot`` does.
    """

    def __init__(
        self,
        accounts: Mapping[str, FlexAPIClient],
        devices: Iterable[Gen2Device],
        *,
        concurrency: int = 8,
        streams: bool = True,
        baseline: bool = True,
    ) -> None:
        devices = list(devices)
        check_device_ids(d.device_id for d in devices)
        for d in devices:
            if d.account not in accounts:
                raise FlexValidationError(
                    "account", f"must name an account of the fleet (device {d.device_id!r})",
                    d.account,
                )  # fmt: skip
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise FlexValidationError("concurrency", "must be an integer >= 1", concurrency)
        self.accounts = dict(accounts)
        self.devices = {d.device_id: d for d in devices}
        self.concurrency = concurrency
        self._stats = {d.device_id: DeviceStats(d.device_id) for d in devices}
        self._owner: dict[int, str] = {}
        self._connections: dict[str, Gen2Connection] = {}
        self._streams = streams
        self._baseline = baseline

    @property
    def stats(self) -> FleetStats:
        """Fleet totals."""
        return FleetStats.of(list(self._stats.values()))

    def device(self, device_id: str) -> DeviceStats:
        """The totals of one device."""
        return self._stats[device_id]

    def connect(self) -> dict[str, FlexError]:
        """Open each account's streams (one connection per account); errors by account."""
        errors: dict[str, FlexError] = {}
        for name, client in self.accounts.items():
            if not self._streams or name in self._connections:
                continue
            connection = Gen2Connection(client, baseline=False)
            try:
                connection.open()
            except FlexError as exc:
                errors[name] = exc
                for d in self.devices.values():
                    if d.account == name:
                        self._stats[d.device_id].error = exc
                continue
            self._connections[name] = connection
        for d in self.devices.values():
            self._stats[d.device_id].connected = self._stats[d.device_id].error is None
        return errors

    def close(self) -> None:
        """Close the streams and the account clients."""
        for connection in self._connections.values():
            connection.close()
        self._connections.clear()
        for client in self.accounts.values():
            client.close()

    def __enter__(self) -> Gen2Fleet:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, device: Gen2Device, order: OrderSpec | PlaceOrder) -> Any:
        """The order for ``device``'s location (a sell from a PlaceOrder with its baseline)."""
        action = order if isinstance(order, PlaceOrder) else None
        if action is not None:
            order = action.to_order_spec(country_code=device.country_code)
        if not isinstance(order, OrderSpec):
            raise FlexValidationError("order", "must be an OrderSpec or a PlaceOrder", order)
        spec = dataclasses.replace(order, location_ids=[device.location_id])
        if action is None or action.side is not OrderType.ASK or not self._baseline:
            return spec
        from glocalflex_rest.models import OrderRequest

        spec.validate()
        body = spec.to_body()
        body["baseline"] = _baseline(action, current_time_ms())
        return OrderRequest.from_dict(body)

    def place(self, orders: Iterable[tuple[str, OrderSpec | PlaceOrder]]) -> list[FleetOutcome]:
        """Place ``(device_id, order)`` pairs across the accounts; one outcome per pair."""
        items = list(orders)
        outcomes: list[FleetOutcome | None] = [None] * len(items)
        by_account: dict[str, list[int]] = defaultdict(list)
        for index, (device_id, order) in enumerate(items):
            device = self.devices.get(device_id)
            if device is None:
                error = FlexValidationError(
                    "device_id", "must name a device of the fleet", device_id
                )
                outcomes[index] = FleetOutcome(str(device_id), "", order, None, error)
                continue
            by_account[device.account].append(index)

        def run(account: str) -> None:
            client = self.accounts[account]
            connection = self._connections.get(account)
            for index in by_account[account]:
                device_id, order = items[index]
                stats = self._stats[device_id]
                t0 = time.perf_counter()
                try:
                    request = self._request(self.devices[device_id], order)
                    stats.orders += 1
                    placed = client.orders.place(request)
                except FlexError as exc:
                    stats.failed += 1
                    outcomes[index] = FleetOutcome(device_id, "", order, None, exc)
                    continue
                latency = (time.perf_counter() - t0) * 1000.0
                stats.confirmed += 1
                stats.latencies_ms.append(latency)
                self._owner[placed.id] = device_id
                if connection is not None:
                    side = OrderType.ASK if str(placed.side) == "sell" else OrderType.BID
                    connection._mine[placed.id] = side
                outcomes[index] = FleetOutcome(
                    device_id, str(placed.id), order, placed, None, latency
                )

        workers = max(1, min(self.concurrency, len(by_account)))
        with ThreadPoolExecutor(workers, thread_name_prefix="flxtrd-fleet-gen2") as pool:
            list(pool.map(run, list(by_account)))
        return [o for o in outcomes if o is not None]

    def poll(self, timeout: float = 0.0) -> int:
        """Route the stream events that arrived to their devices; how many were routed."""
        routed = 0
        now = current_time_ms()
        for connection in self._connections.values():
            for item in connection.poll(timeout, now):
                device_id = self._owner.get(int(item.market_id)) if item.market_id else None
                if device_id is None:
                    continue
                stats = self._stats[device_id]
                stats.replies += 1
                routed += 1
                event = item.event
                if isinstance(event, Fill):
                    count_fill(stats, event)
            timeout = 0.0
        return routed
