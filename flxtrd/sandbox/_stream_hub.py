"""One market subscription for every WebSocket stream of an app: each update is framed ONCE.

Why: with one market subscriber per connection, every market update ran S callbacks (each
re-encoding the same ticker frame and waking the event loop), and every order book change made
each of the S order book connections take its own book snapshot under the market's lock: S
snapshots per change, so a fleet placing orders in proportion to S cost O(S^2). The hub
subscribes once, builds an update's frames once (`UpdateFrames`: broadcast frames per stream
kind, trade-stream frames per user), wakes each event loop once per update, and there hands the
shared frames to the subscribers concerned: every subscriber of a broadcast kind, and only the
subscribers of the users named for the trade stream. Order book snapshots are built once per
book change and shared (`book_frame`).

Each subscriber sees exactly the updates published after it attached (a sequence number taken
under the hub's lock), in the order they were published, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from ._market import SandboxMarket
from ._market_update import MarketUpdate

__all__ = ["Put", "StreamHub", "UpdateFrames"]

Put = Callable[[str], None]
"""Hands one frame to one subscriber's queue (called in the subscriber's event loop)."""


@dataclass(slots=True)
class UpdateFrames:
    """The frames of one market update: per broadcast kind, and per user for user streams."""

    broadcast: dict[str, list[str]] = field(default_factory=dict)
    """Stream kind -> frames every subscriber of that kind gets."""
    per_user: dict[str, list[str]] = field(default_factory=dict)
    """User id -> frames of the user stream (kind `StreamHub.user_kind`) for that user."""


@dataclass(slots=True)
class _Subscriber:
    kind: str
    user_id: str
    put: Put
    since: int
    """Sequence number of the last update published before it attached."""


class _LoopSubscribers:
    """The subscribers of one event loop (touched only in that loop's thread, but attach)."""

    __slots__ = ("by_kind", "by_user")

    def __init__(self) -> None:
        self.by_kind: dict[str, dict[int, _Subscriber]] = {}
        self.by_user: dict[str, dict[int, _Subscriber]] = {}

    def empty(self) -> bool:
        return not any(self.by_kind.values())


class StreamHub:
    """Fans market updates out to stream subscribers; see the module docstring.

    ``frames`` builds an update's `UpdateFrames` (called once per update, in the publishing
    thread, with the market's lock held: it must be quick); ``snapshot`` builds the order book
    frame; ``user_kind`` is the stream whose frames are per user.
    """

    def __init__(
        self,
        market: SandboxMarket,
        frames: Callable[[MarketUpdate, frozenset[str]], UpdateFrames],
        snapshot: Callable[[SandboxMarket], str],
        book_changed: Callable[[MarketUpdate], bool],
        user_kind: str,
    ) -> None:
        self._market = market
        self._frames = frames
        self._snapshot = snapshot
        self._book_changed = book_changed
        self._user_kind = user_kind
        self._lock = threading.Lock()
        self._subscription_lock = threading.Lock()
        self._loops: dict[asyncio.AbstractEventLoop, _LoopSubscribers] = {}
        self._kinds: dict[str, int] = {}
        self._seq = 0
        self._next_id = 0
        self._unsubscribe: Callable[[], None] | None = None
        self._book_version = 0
        self._book_cache: tuple[int, object, str] | None = None

    # -- subscribers (called in their event loop) ---------------------------------------------

    def attach(self, kind: str, user_id: str, put: Put) -> Callable[[], None]:
        """Start handing ``kind`` frames (for ``user_id`` on the user stream) to ``put``.

        The hub holds one market subscription while any stream is attached.
        """
        loop = asyncio.get_running_loop()
        with self._subscription_lock:  # never taken by the publishing thread: no lock cycle
            if self._unsubscribe is None:
                self._unsubscribe = self._market.subscribe(self._on_update)
            with self._lock:
                self._next_id += 1
                key = self._next_id
                sub = _Subscriber(kind, user_id, put, self._seq)
                subs = self._loops.get(loop)
                if subs is None:
                    subs = self._loops[loop] = _LoopSubscribers()
                subs.by_kind.setdefault(kind, {})[key] = sub
                if kind == self._user_kind:
                    subs.by_user.setdefault(user_id, {})[key] = sub
                self._kinds[kind] = self._kinds.get(kind, 0) + 1
            self._market.count_stream(1)  # outside `_lock`: the market's lock is not taken

        def detach() -> None:
            with self._subscription_lock:
                with self._lock:
                    if subs.by_kind.get(kind, {}).pop(key, None) is None:
                        return
                    self._kinds[kind] -= 1
                    users = subs.by_user.get(user_id)
                    if users is not None:
                        users.pop(key, None)
                        if not users:
                            del subs.by_user[user_id]
                    if subs.empty() and self._loops.get(loop) is subs:
                        del self._loops[loop]
                    last = not any(self._kinds.values())
                self._market.count_stream(-1)
                if last and self._unsubscribe is not None:
                    unsubscribe, self._unsubscribe = self._unsubscribe, None
                    unsubscribe()

        return detach

    def book_frame(self) -> str:
        """The order book frame now: built once per book change and shared."""
        market = self._market
        version, engine = self._book_version, market.engine  # read BEFORE the snapshot
        cached = self._book_cache
        if cached is not None and cached[0] == version and cached[1] is engine:
            return cached[2]
        frame = self._snapshot(market)
        self._book_cache = (version, engine, frame)
        return frame

    # -- the market's side (any thread, market lock held) -------------------------------------

    def _on_update(self, update: MarketUpdate) -> None:
        if self._book_changed(update):
            self._book_version += 1
        with self._lock:
            self._seq += 1
            seq = self._seq
            kinds = frozenset(k for k, n in self._kinds.items() if n > 0)
            loops = list(self._loops.items())
        if not loops or not kinds:
            return
        frames = self._frames(update, kinds)
        if not frames.broadcast and not frames.per_user:
            return
        for loop, subs in loops:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody listens
                loop.call_soon_threadsafe(self._deliver, subs, frames, seq)

    def _deliver(self, subs: _LoopSubscribers, frames: UpdateFrames, seq: int) -> None:
        """In the subscribers' loop: hand the frames to those concerned."""
        for kind, kind_frames in frames.broadcast.items():
            for sub in list(subs.by_kind.get(kind, {}).values()):
                if sub.since < seq:
                    _put_all(sub.put, kind_frames)
        for user_id, user_frames in frames.per_user.items():
            for sub in list(subs.by_user.get(user_id, {}).values()):
                if sub.since < seq:
                    _put_all(sub.put, user_frames)

    def subscriber_count(self) -> int:
        """How many stream subscribers are attached (all kinds, all loops)."""
        with self._lock:
            return sum(self._kinds.values())


def _put_all(put: Put, frames: list[str]) -> None:
    for frame in frames:
        put(frame)
