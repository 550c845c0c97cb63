"""What `SandboxMarket` publishes: each engine event with its audience, one update per call.

Split from `_market` so the servers (REST streams, broker worker) depend on the update's shape
only, not on the market object that makes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ._types import ContractCreated, ContractStatusChanged, Event, OrderStatusChanged, Trade

__all__ = ["MarketUpdate", "SandboxEvent", "Subscriber", "audience"]


@dataclass(frozen=True, slots=True)
class SandboxEvent:
    """One engine event and who it concerns."""

    event: Event
    """The engine's event (`OrderStatusChanged`/`Expired`, `Trade`, `ContractCreated`, ...)."""
    users: frozenset[str]
    """The user ids it concerns: the owner; buyer and seller of a trade or contract."""
    broadcast: bool
    """Whether everyone may see it (trades: gen-1 ticks, gen-2 ticker entries)."""

    @property
    def generation(self) -> int:
        """The market generation of the event (contracts are generation 2)."""
        event = self.event
        if isinstance(event, (ContractCreated, ContractStatusChanged)):
            return 2
        return event.generation


@dataclass(frozen=True, slots=True)
class MarketUpdate:
    """Everything one market call caused, in order; what `subscribe` callbacks receive."""

    events: tuple[SandboxEvent, ...]
    time_ms: int
    """Market time of the call, ms since the epoch."""
    received_ns: int | None = None
    """When the broker received the generation-1 order that caused this update, if one did."""

    def book_changed(self, generation: int | None = None) -> bool:
        """Whether the book (of ``generation``, if given) may have changed."""
        return any(
            isinstance(e.event, (OrderStatusChanged, Trade))
            and (generation is None or e.generation == generation)
            for e in self.events
        )

    def for_user(self, user_id: str) -> list[SandboxEvent]:
        """The events concerning ``user_id``."""
        return [e for e in self.events if user_id in e.users]


Subscriber = Callable[[MarketUpdate], None]


def audience(event: Event) -> SandboxEvent:
    """``event`` with the users it concerns and whether everyone may see it."""
    if isinstance(event, Trade):
        return SandboxEvent(event, frozenset((event.buyer_id, event.seller_id)), True)
    if isinstance(event, (ContractCreated, ContractStatusChanged)):
        c = event.contract
        return SandboxEvent(event, frozenset((c.buyer_id, c.seller_id)), False)
    return SandboxEvent(event, frozenset((event.owner,)), False)
