"""What the sandbox's broker worker says on the wire: identities in, reply messages out.

Pure functions, no I/O, so they are tested without a broker. :mod:`flxtrd.sandbox._broker` does
the I/O.

Identity of an order (generation 1)
-----------------------------------
An order carries the AMQP property ``user_id`` (RabbitMQ refuses one that differs from the
connection's login), ``reply_to`` (the device's application key, where replies go) and, in its
line-protocol body, the tag ``applicationKey``. :func:`identify` decides who places the order:

- ``user_id`` must be present and name a known account (log in first: ``POST /users/login``);
- ``reply_to`` (or, without it, the tag) and the tag must be application keys of that account;
- a *trusted login* (by default the worker's own broker login, e.g. ``guest``: an administrator
  who can do anything on the broker anyway) may place orders for the account that owns
  ``reply_to``; this is what lets tests and tools trade for several accounts over one login.

Where a ``cancel`` for a refused order goes: to ``reply_to`` when the publisher owns it or when
it belongs to nobody; when it belongs to *another* account, to the publisher's own application
keys instead (the owner of the key is not told about orders it did not send).

Replies (``specs/asyncapi.yaml``, channel ``marketReplies``)
-------------------------------------------------------------
Published to the exchange ``ticker-out`` with the application key as routing key, JSON encoded
from the generated models (``glocalflex_messages``), content type ``application/json``, header
``sendertimestamp_in_ms`` (added when publishing). Per generation-1 event of the market:

- ``Trade``: ``ask_closed_order`` to the seller's key, ``bid_closed_order`` to the buyer's key,
  then one ``tick`` to every known application key. With ``BrokerWorker(bcc_ticks=True)`` on
  RabbitMQ those ticks are ONE message with the keys in the ``BCC`` header
  (``trade_replies(..., bcc=True)``): the broker copies it to each queue and strips the header,
  so every device still gets one tick per trade and no device sees another's key; the copies
  arrive with the routing key ``""``. It saves the worker one publish per device per trade but
  costs RabbitMQ more (measured: off by default);
- ``Rejected``: ``cancel`` with the engine's reason, the order's application key and
  ``message_id`` (a duplicate ``message_id`` is not answered: the worker drops re-sent orders);
- ``Expired`` (an order that expired unmatched while resting): ``cancel`` with reason
  ``"expired: ..."`` and its ``message_id`` (a sandbox decision: the cancel is the spec's one
  message for "the market cancelled your order").
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import msgspec
from glocalflex_messages.models import AskClosedOrder, BidClosedOrder, Cancel, ClosedOrder, Tick
from msgspec import UNSET

from flxtrd._errors import MessageDecodeError
from flxtrd._line_protocol import OrderLine, decode_order_line

from ._accounts import Account, Accounts
from ._types import ClosedOrder as EngineClosedOrder
from ._types import Event, Expired, RejectCode, Rejected, Trade

__all__ = [
    "MAX_ORDER_BYTES",
    "Identity",
    "KeyDirectory",
    "Refusal",
    "Reply",
    "cancel_reply",
    "decode_order",
    "identify",
    "replies_for_events",
    "tick_body",
    "trade_replies",
]

MAX_ORDER_BYTES = 4096
"""Longest order body the worker reads (the spec's ``maxLength`` of an order line)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True, slots=True)
class Reply:
    """One reply message: where it goes, its JSON body and its ``msg_type``."""

    routing_key: str
    body: bytes
    msg_type: str
    bcc: tuple[str, ...] = ()
    """More routing keys it goes to, in RabbitMQ's ``BCC`` header (stripped on delivery)."""

    @property
    def copies(self) -> int:
        """How many devices' replies this message is: 1 plus one per ``bcc`` key."""
        return (1 if self.routing_key else 0) + len(self.bcc)


@dataclass(frozen=True, slots=True)
class Identity:
    """Who places an order: the account's user id and the key its replies go to."""

    user_id: str
    reply_key: str


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an order's sender may not place it, and the keys the ``cancel`` goes to."""

    reason: str
    targets: tuple[str, ...]
    application_key: str | None


class KeyDirectory:
    """Application keys of the market's accounts: who owns a key, and every key to tick.

    Reads `Accounts` (thread-safe) and caches its index, rebuilt when the number of accounts
    changes (accounts are only ever added; `Accounts.count` is the cheap check, so a trade does
    not copy the account list). Keys seen on orders are remembered for ticks too; the sorted
    tick audience is rebuilt only when asked for after a change (a fleet of N devices
    connecting costs N set inserts, not N sorts).
    """

    def __init__(self, accounts: Accounts) -> None:
        self._accounts = accounts
        self._count = -1
        self._owners: dict[str, str] = {}
        self._account_keys: frozenset[str] = frozenset()
        self._seen: set[str] = set()
        self._all: tuple[str, ...] | None = ()

    def refresh(self) -> None:
        """Re-read the accounts if their number changed."""
        if self._accounts.count() == self._count:
            return
        accounts = self._accounts.all()
        owners: dict[str, str] = {}
        for account in accounts:
            for location in account.locations:
                owners.setdefault(location.id, account.user_id)
        self._owners = owners
        self._account_keys = frozenset(owners)
        self._count = len(accounts)
        self._all = None

    def owner(self, application_key: str) -> str | None:
        """The user id owning ``application_key``, or None."""
        owner = self._owners.get(application_key)
        if owner is None:
            self.refresh()
            owner = self._owners.get(application_key)
        return owner

    def account(self, user_id: str) -> Account | None:
        """The account with this user id, or None."""
        return self._accounts.by_user_id(user_id)

    def remember(self, application_key: str) -> None:
        """Add a key seen on an order to the tick audience."""
        if application_key not in self._seen:
            self._seen.add(application_key)
            if application_key not in self._account_keys:
                self._all = None

    def tick_keys(self) -> tuple[str, ...]:
        """Every application key a tick goes to (accounts' locations and keys seen), sorted."""
        self.refresh()
        keys = self._all
        if keys is None:
            keys = self._all = tuple(sorted(self._account_keys | self._seen))
        return keys


def decode_order(body: bytes, routing_key: str) -> OrderLine | str:
    """The order line of a delivered body, or why it is malformed (the ``cancel``'s reason).

    At most :data:`MAX_ORDER_BYTES` bytes, a line-protocol order whose measurement (``ask`` /
    ``bid``) equals the routing key it was published with.
    """
    if len(body) > MAX_ORDER_BYTES:
        return f"malformed order: body longer than {MAX_ORDER_BYTES} bytes"
    try:
        line = decode_order_line(body)
    except MessageDecodeError as exc:
        return f"malformed order: {exc}"
    if line.side != routing_key:
        return f"malformed order: a {line.side!r} order published with routing key {routing_key!r}"
    return line


def identify(
    directory: KeyDirectory,
    user_id: str | None,
    reply_to: str | None,
    line_key: str | None,
    trusted_logins: Collection[str] = (),
) -> Identity | Refusal:
    """Decide who places an order from its ``user_id``, ``reply_to`` and line tag (see module)."""
    reply_key = reply_to or line_key
    if not reply_key:
        return Refusal("the order has neither reply_to nor an applicationKey tag", (), None)
    keys_owner = directory.owner(reply_key)
    fallback = (reply_key,)
    if not user_id:
        return Refusal(
            "the order has no user_id property: publish with user_id=<your userId>",
            fallback,
            reply_key,
        )
    if user_id in trusted_logins:
        if keys_owner is None:
            return Refusal(
                f"application key {reply_key!r} is not a location of any account",
                fallback,
                reply_key,
            )
        acting = keys_owner
    else:
        account = directory.account(user_id)
        if account is None:
            return Refusal(
                f"unknown user {user_id!r}: log in (POST /users/login) for your userId",
                fallback,
                reply_key,
            )
        if reply_key not in account.application_keys:
            targets = fallback if keys_owner is None else tuple(sorted(account.application_keys))
            return Refusal(
                f"application key {reply_key!r} is not a location of user {user_id!r}",
                targets,
                reply_key,
            )
        acting = user_id
    if line_key is not None and line_key != reply_key and directory.owner(line_key) != acting:
        return Refusal(
            f"the order's applicationKey {line_key!r} is not a location of user {acting!r}",
            (reply_key,),
            reply_key,
        )
    return Identity(acting, reply_key)


# --- replies ----------------------------------------------------------------------------------


def _datetime(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


def _closed(record: EngineClosedOrder) -> ClosedOrder:
    return ClosedOrder(
        bid_time=record.bid_time,
        ask_time=record.ask_time,
        ask_user=record.ask_user,
        bid_user=record.bid_user,
        price=record.price,
        totalenergy=record.totalenergy,
        energy=record.energy,
        starttime=record.starttime,
        endtime=record.endtime,
        runtime=record.runtime,
        wattage=record.wattage,
        power=record.power,
        match_time=record.match_time,
    )


def tick_body(trade: Trade) -> bytes:
    """The JSON ``tick`` of a trade."""
    tick = trade.tick()
    return _encode(
        Tick(
            trade_time=_datetime(tick.trade_time_ms),
            price=tick.price,
            start_time=_datetime(tick.start_time_ms),
            energy=tick.energy,
        )
    )


def trade_replies(trade: Trade, tick_keys: Iterable[str], *, bcc: bool = False) -> list[Reply]:
    """Closed orders to the seller and the buyer, then a tick to each of ``tick_keys``.

    With ``bcc`` the ticks are one `Reply` to routing key ``""`` with the keys as ``bcc``
    (RabbitMQ copies it to each; the routing key names no device).
    """
    replies: list[Reply] = []
    if trade.sell_application_key:
        key = trade.sell_application_key
        body = _encode(
            AskClosedOrder(application_key=key, closed_order=_closed(trade.ask_closed_order()))
        )
        replies.append(Reply(key, body, "ask_closed_order"))
    if trade.buy_application_key:
        key = trade.buy_application_key
        body = _encode(
            BidClosedOrder(application_key=key, closed_order=_closed(trade.bid_closed_order()))
        )
        replies.append(Reply(key, body, "bid_closed_order"))
    tick = tick_body(trade)
    keys = tuple(tick_keys)
    if bcc and len(keys) > 1:
        replies.append(Reply("", tick, "tick", keys))
    else:
        replies.extend(Reply(key, tick, "tick") for key in keys)
    return replies


def cancel_reply(
    reason: str, targets: Iterable[str], application_key: str | None, message_id: str | None
) -> list[Reply]:
    """A ``cancel`` with ``reason`` (and the order's key and message id) to each target."""
    body = _encode(
        Cancel(
            reason=reason,
            application_key=application_key if application_key else UNSET,
            message_id=message_id if message_id else UNSET,
        )
    )
    return [Reply(key, body, "cancel") for key in targets]


def replies_for_events(
    events: Iterable[Event], directory: KeyDirectory, *, bcc: bool = False
) -> list[Reply]:
    """The replies the generation-1 events of one market update call for (see module).

    ``bcc``: each trade's ticks as one message (`trade_replies`).
    """
    replies: list[Reply] = []
    for event in events:
        if isinstance(event, Trade):
            if event.generation == 1:
                replies.extend(trade_replies(event, directory.tick_keys(), bcc=bcc))
        elif isinstance(event, Rejected):
            if event.generation == 1 and event.code is not RejectCode.DUPLICATE:
                key = event.application_key
                if key:
                    replies.extend(cancel_reply(event.reason, (key,), key, event.message_id))
        elif isinstance(event, Expired) and event.generation == 1 and event.application_key:
            key = event.application_key
            reason = (
                f"expired: order {event.order_id} was not matched before its expirationtime"
                " (or its delivery start, if that came first)"
            )
            replies.extend(cancel_reply(reason, (key,), key, event.message_id))
    return replies
