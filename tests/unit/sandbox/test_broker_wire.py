"""The broker worker's wire rules: who places an order, and which replies an event calls for."""

from __future__ import annotations

import json

import pytest

from flxtrd._amqp._market_messages import decode_market_message
from flxtrd.sandbox._accounts import Account, Accounts, Location
from flxtrd.sandbox._broker_wire import (
    Identity,
    KeyDirectory,
    Refusal,
    cancel_reply,
    identify,
    replies_for_events,
    tick_body,
    trade_replies,
)
from flxtrd.sandbox._types import (
    Event,
    Expired,
    OrderStatus,
    RejectCode,
    Rejected,
    Side,
    Trade,
)

START_MS = 1_796_202_000_000


@pytest.fixture
def directory() -> KeyDirectory:
    """Accounts alice (keys a1, a2) and bob (key b1)."""
    accounts = Accounts(
        accounts=[
            Account("alice@example.com", "alice", (Location("a1", "ta1"), Location("a2", "ta2"))),
            Account("bob@example.com", "bob", (Location("b1", "tb1"),)),
        ]
    )
    return KeyDirectory(accounts)


def trade(generation: int = 1, buy_key: str | None = "b1", sell_key: str | None = "a1") -> Trade:
    """A trade of 2500 W for 15 minutes at 12.0 between alice (sells) and bob (buys)."""
    return Trade(
        trade_id=3, generation=generation, time_ms=START_MS - 3_600_000, price=12.0, power=2500.0,
        energy=625.0, delivery_start_ms=START_MS, delivery_end_ms=START_MS + 900_000,
        country_code="", buy_order_id=2, sell_order_id=1, buyer_id="bob", seller_id="alice",
        buy_application_key=buy_key, sell_application_key=sell_key, buy_message_id="mb",
        sell_message_id="ma", buy_power=2500.0, sell_power=2500.0, buy_energy=625.0,
        sell_energy=625.0, buy_time_ms=START_MS - 3_600_001, sell_time_ms=START_MS - 3_600_002,
        contract_id=None,
    )  # fmt: skip


def test_the_owner_of_reply_to_places_the_order(directory: KeyDirectory) -> None:
    """user_id owning reply_to and the line's key: the order is that user's, replies to the key."""
    assert identify(directory, "alice", "a2", "a2") == Identity("alice", "a2")
    assert identify(directory, "alice", None, "a1") == Identity("alice", "a1")


def test_a_line_key_of_the_same_user_is_allowed(directory: KeyDirectory) -> None:
    """The line may name another location of the same account; replies go to reply_to."""
    assert identify(directory, "alice", "a1", "a2") == Identity("alice", "a1")


def test_someone_elses_reply_to_is_refused_and_the_sender_is_told(directory: KeyDirectory) -> None:
    """bob claiming alice's key: refused, the cancel goes to bob's own keys only."""
    who = identify(directory, "bob", "a1", "a1")
    assert isinstance(who, Refusal)
    assert who.targets == ("b1",) and who.application_key == "a1"
    assert "not a location of user 'bob'" in who.reason


def test_an_unowned_reply_to_is_answered_there(directory: KeyDirectory) -> None:
    """A key nobody owns: the cancel goes to reply_to (nobody else can be confused)."""
    who = identify(directory, "bob", "zz", "zz")
    assert isinstance(who, Refusal) and who.targets == ("zz",)


def test_someone_elses_line_key_is_refused(directory: KeyDirectory) -> None:
    """reply_to is bob's but the line names alice's key: refused, told on reply_to."""
    who = identify(directory, "bob", "b1", "a1")
    assert isinstance(who, Refusal) and who.targets == ("b1",)
    assert "applicationKey 'a1'" in who.reason


@pytest.mark.parametrize(
    ("user_id", "reason"),
    [(None, "no user_id"), ("", "no user_id"), ("mallory", "unknown user 'mallory'")],
)
def test_missing_or_unknown_users_are_refused(
    directory: KeyDirectory, user_id: str | None, reason: str
) -> None:
    """Without a known user_id nothing is placed; the cancel goes to reply_to."""
    who = identify(directory, user_id, "a1", "a1")
    assert isinstance(who, Refusal) and reason in who.reason and who.targets == ("a1",)


def test_an_order_without_any_key_cannot_be_answered(directory: KeyDirectory) -> None:
    """No reply_to and no line key: refused with nowhere to send the cancel."""
    who = identify(directory, "alice", None, None)
    assert isinstance(who, Refusal) and who.targets == () and who.application_key is None


def test_a_trusted_login_acts_for_the_keys_owner(directory: KeyDirectory) -> None:
    """A trusted login places the order for the owner of reply_to, or is refused if none."""
    assert identify(directory, "guest", "b1", "b1", {"guest"}) == Identity("bob", "b1")
    who = identify(directory, "guest", "zz", "zz", {"guest"})
    assert isinstance(who, Refusal) and "any account" in who.reason
    mixed = identify(directory, "guest", "b1", "a1", {"guest"})
    assert isinstance(mixed, Refusal)


def test_the_directory_follows_new_accounts_and_seen_keys() -> None:
    """Accounts made after the directory and keys seen on orders get ticks."""
    accounts = Accounts(seed=1)
    directory = KeyDirectory(accounts)
    assert directory.tick_keys() == ()
    account = accounts.login("carol@example.com", "pw")
    key = account.locations[0].id
    assert directory.owner(key) == account.user_id
    directory.remember("listener-key")
    assert set(directory.tick_keys()) == {key, "listener-key"}
    assert list(directory.tick_keys()) == sorted(directory.tick_keys())


def test_a_trade_answers_seller_then_buyer_then_ticks_everyone() -> None:
    """Closed orders to both owners first, then one tick per key, in that order."""
    replies = trade_replies(trade(), ["a1", "b1", "c1"])
    assert [(r.msg_type, r.routing_key) for r in replies] == [
        ("ask_closed_order", "a1"),
        ("bid_closed_order", "b1"),
        ("tick", "a1"),
        ("tick", "b1"),
        ("tick", "c1"),
    ]
    ask = json.loads(replies[0].body)
    assert ask["application_key"] == "a1"
    assert ask["closed_order"]["ask_time"] == (START_MS - 3_600_002) * 1_000_000
    assert ask["closed_order"]["runtime"] == 900_000


def test_replies_decode_with_the_clients_decoder() -> None:
    """Every reply body is a valid MarketReply for flxtrd's own client."""
    replies = trade_replies(trade(), ["a1"]) + cancel_reply("why", ["a1"], "a1", "m1")
    for reply in replies:
        message = decode_market_message(reply.body, {"sendertimestamp_in_ms": 1})
        assert message.msg_type == reply.msg_type


def test_tick_times_are_iso_8601_utc() -> None:
    """trade_time and start_time are RFC 3339 in UTC with a Z."""
    tick = json.loads(tick_body(trade()))
    assert tick == {
        "msg_type": "tick",
        "trade_time": "2026-12-02T08:00:00Z",
        "price": 12.0,
        "start_time": "2026-12-02T09:00:00Z",
        "energy": 625.0,
    }


def test_a_cancel_leaves_out_what_it_does_not_know() -> None:
    """Without a message id or key the cancel carries only msg_type and reason."""
    (reply,) = cancel_reply("no", ["k"], None, None)
    assert json.loads(reply.body) == {"msg_type": "cancel", "reason": "no"}


def _rejected(code: RejectCode, generation: int = 1, key: str | None = "a1") -> Rejected:
    return Rejected(generation, "ask", "alice", code, "because", None, 0, key, "m1")


def _expired(generation: int = 1) -> Expired:
    return Expired(
        order_id=9, generation=generation, side=Side.SELL, owner="alice",
        previous=OrderStatus.MATCHING_ACTIVE, status=OrderStatus.EXPIRED, power=1.0,
        filled_power=0.0, time_ms=5, application_key="a1", message_id="m9",
    )  # fmt: skip


def test_events_map_to_replies(directory: KeyDirectory) -> None:
    """Gen-1 trades, rejections and expiries are answered; gen-2 events and duplicates not."""
    events: list[Event] = [
        trade(generation=2),
        _rejected(RejectCode.DUPLICATE),
        _rejected(RejectCode.INVALID, generation=2),
        _rejected(RejectCode.INVALID, key=None),
        _expired(generation=2),
        _rejected(RejectCode.EXPIRED_AT_ARRIVAL),
        _expired(),
        trade(),
    ]
    replies = replies_for_events(events, directory)
    kinds = [(r.msg_type, r.routing_key) for r in replies]
    assert kinds[:2] == [("cancel", "a1"), ("cancel", "a1")]
    assert json.loads(replies[0].body) == {
        "msg_type": "cancel", "reason": "because", "application_key": "a1", "message_id": "m1",
    }  # fmt: skip
    expired = json.loads(replies[1].body)
    assert expired["message_id"] == "m9" and expired["reason"].startswith("expired:")
    assert kinds[2:] == [
        ("ask_closed_order", "a1"),
        ("bid_closed_order", "b1"),
        ("tick", "a1"),
        ("tick", "a2"),
        ("tick", "b1"),
    ]


def test_with_bcc_a_trades_ticks_are_one_reply_naming_every_key() -> None:
    """Closed orders stay; the ticks become one reply to "" with the keys as BCC."""
    plain = trade_replies(trade(), ("a1", "b1", "c1"))
    merged = trade_replies(trade(), ("a1", "b1", "c1"), bcc=True)
    assert [(r.msg_type, r.routing_key, r.bcc) for r in merged] == [
        ("ask_closed_order", "a1", ()),
        ("bid_closed_order", "b1", ()),
        ("tick", "", ("a1", "b1", "c1")),
    ]
    assert merged[2].body == plain[2].body and merged[:2] == plain[:2]
    assert sum(r.copies for r in merged) == len(plain) == 5
    alone = trade_replies(trade(), ("a1",), bcc=True)  # one key: an ordinary reply
    assert [(r.routing_key, r.bcc) for r in alone][-1] == ("a1", ())


def test_tick_keys_are_rebuilt_only_after_a_change(directory: KeyDirectory) -> None:
    """The sorted audience is one tuple until a key or an account is added."""
    first = directory.tick_keys()
    assert directory.tick_keys() is first
    directory.remember("zz-new-key")
    second = directory.tick_keys()
    assert second is not first and "zz-new-key" in second and list(second) == sorted(second)
