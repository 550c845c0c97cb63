"""SandboxMarket: the servers' API over engine, accounts and clock, and its event hub."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from flxtrd._line_protocol import OrderLine
from flxtrd.sandbox import (
    ActionError,
    ContractCreated,
    ContractStatus,
    ContractStatusChanged,
    Expired,
    ManualClock,
    MarketUpdate,
    OrderInputError,
    OrderStatus,
    OrderStatusChanged,
    Rejected,
    SandboxMarket,
    Side,
    Trade,
)
from flxtrd.sandbox._accounts import Account, Accounts, Location
from flxtrd.sandbox._market_time import format_datetime_ms, parse_datetime_ms, relative_time_ms

Q = 900_000
T0 = parse_datetime_ms("2026-12-01T08:00:00Z")
START = T0 + 8 * Q


def order(side: str = "buy", **overrides: Any) -> dict[str, Any]:
    """A valid generation-2 order request (JSON form) delivering two hours after T0."""
    body: dict[str, Any] = {
        "side": side,
        "power": 1000.0,
        "price": 0.25,
        "delivery_start": format_datetime_ms(START),
        "delivery_end": format_datetime_ms(START + Q),
        "expiry_time": format_datetime_ms(START - 2 * Q),
        "location": {"location_id": None, "country_code": "DE"},
        "baseline": {"metering_id": "x"} if side == "sell" else None,
    }
    body.update(overrides)
    return body


def line(side: str, key: str, **overrides: Any) -> OrderLine:
    """A valid generation-1 order line for device ``key``."""
    fields: dict[str, Any] = {
        "side": side,
        "application_key": key,
        "starttime": START,
        "wattage": 100.0,
        "runtime": Q,
        "totalenergy": 25.0,
        "price": 1.0,
        "expirationtime": START - Q,
    }
    fields.update(overrides)
    return OrderLine(**fields)


@pytest.fixture
def clock() -> ManualClock:
    """The market clock, at T0."""
    return ManualClock(T0)


@pytest.fixture
def market(clock: ManualClock) -> SandboxMarket:
    """A permissive market on the manual clock."""
    return SandboxMarket(clock=clock, seed=3)


@pytest.fixture
def updates(market: SandboxMarket) -> list[MarketUpdate]:
    """Every update the market publishes."""
    got: list[MarketUpdate] = []
    market.subscribe(got.append)
    return got


def test_gen2_match_publishes_one_update_with_audiences(
    market: SandboxMarket, updates: list[MarketUpdate]
) -> None:
    """A match is one update: statuses to their owners, trade broadcast, contract to both."""
    seller, buyer = market.login("s@x", "p"), market.login("b@x", "p")
    market.place_order(seller, order("sell"))
    updates.clear()
    result = market.place_order(buyer, order("buy", price=0.3))
    assert result.status is OrderStatus.FILLED
    (update,) = updates
    assert update.time_ms == T0
    assert [type(e.event) for e in update.events] == [
        OrderStatusChanged,
        OrderStatusChanged,
        OrderStatusChanged,
        Trade,
        ContractCreated,
        OrderStatusChanged,
        OrderStatusChanged,
    ]
    both = {seller.user_id, buyer.user_id}
    trade = next(e for e in update.events if isinstance(e.event, Trade))
    assert trade.users == both and trade.broadcast and trade.generation == 2
    contract = next(e for e in update.events if isinstance(e.event, ContractCreated))
    assert contract.users == both and not contract.broadcast and contract.generation == 2
    statuses = [e for e in update.events if isinstance(e.event, OrderStatusChanged)]
    assert all(len(e.users) == 1 and not e.broadcast for e in statuses)
    assert update.book_changed() and update.book_changed(2) and not update.book_changed(1)
    assert len(update.for_user(seller.user_id)) == 3  # trade, contract, the sell's fill


def test_unsubscribe_and_failing_subscriber(market: SandboxMarket) -> None:
    """A raising subscriber does not stop the others; an unsubscribed one hears nothing."""
    heard: list[MarketUpdate] = []

    def broken(update: MarketUpdate) -> None:
        raise RuntimeError("boom")

    market.subscribe(broken)
    unsubscribe = market.subscribe(heard.append)
    market.place_order("u1", order())
    assert len(heard) == 1
    unsubscribe()
    market.place_order("u1", order())
    assert len(heard) == 1


def test_updates_keep_engine_order_across_threads(market: SandboxMarket) -> None:
    """Updates from many threads arrive one per call, with order ids increasing."""
    seen: list[int] = []
    market.subscribe(lambda u: seen.extend(e.event.order_id for e in u.events[:1]))  # type: ignore[union-attr]
    threads = [
        threading.Thread(target=lambda: [market.place_order("t", order()) for _ in range(20)])
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 80 and seen == sorted(seen)


def test_place_order_reads_the_generated_model(market: SandboxMarket) -> None:
    """An OrderRequest model (attrs) is read like its JSON body."""
    from glocalflex_rest.models import OrderRequest

    request = OrderRequest.from_dict(order())
    result = market.place_order("u", request)
    view = market.get_order("u", result.order_id or 0)
    assert view is not None and view.delivery_start_ms == START and view.country_code == "DE"


@pytest.mark.parametrize(
    ("overrides", "loc", "kind"),
    [
        ({"delivery_start": "2026-12-01 10:00"}, ("body", "delivery_start"), "datetime_parsing"),
        ({"expiry_time": format_datetime_ms(START + Q)}, ("body", "expiry_time"), "value_error"),
        ({"location": "DE"}, ("body", "location"), "dict_type"),
        ({"location": {"location_id": "a", "country_code": "DE"}}, None, "list_type"),
        ({"power": "big"}, ("body", "power"), "type_error"),
    ],
)
def test_unreadable_requests_raise_input_errors(
    market: SandboxMarket, updates: list[MarketUpdate], overrides: Any, loc: Any, kind: str
) -> None:
    """What the market cannot read raises OrderInputError naming the field; nothing is stored."""
    with pytest.raises(OrderInputError) as caught:
        market.place_order("u", order(**overrides))
    assert caught.value.type == kind
    if loc is not None:
        assert caught.value.loc == loc
    assert updates == [] and market.list_orders("u") == (0, [])


def test_engine_refusals_come_back_rejected(
    market: SandboxMarket, updates: list[MarketUpdate]
) -> None:
    """Quarter-hour and arrival-expiry refusals are Rejected results, published to the owner."""
    off_grid = market.place_order("u", order(delivery_start=format_datetime_ms(START + 60_000)))
    assert off_grid.rejected is not None and off_grid.rejected.field == "delivery_start"
    late = market.place_order("u", order(expiry_time=format_datetime_ms(T0)))
    assert late.rejected is not None and late.rejected.field == "expiry_time"
    assert [type(u.events[-1].event) for u in updates] == [Rejected, Rejected]


def test_orders_and_contracts_are_private_and_generation_2(market: SandboxMarket) -> None:
    """Listing, reading and cancelling see only the caller's generation-2 orders."""
    a, b = market.login("a@x", "p"), market.login("b@x", "p")
    mine = market.place_order(a, order()).order_id or 0
    gen1 = market.submit_gen1(line("bid", a.locations[0].id), user_id=a.user_id).order_id or 0
    assert market.list_orders(a)[0] == 1
    assert market.get_order(b, mine) is None and market.get_order(a, gen1) is None
    assert market.cancel_order(b, mine).error is ActionError.NOT_FOUND
    assert market.cancel_order(a, gen1).error is ActionError.NOT_FOUND
    cancelled = market.cancel_order(a, mine)
    assert cancelled.ok and cancelled.status is OrderStatus.CANCELLED
    again = market.cancel_order(a, mine)
    assert again.error is ActionError.WRONG_STATUS


def test_list_filters_and_pages(market: SandboxMarket) -> None:
    """list_orders filters by status and side and pages newest first; totals count all."""
    ids = [market.place_order("u", order(price=0.1 + i / 100)).order_id for i in range(5)]
    market.place_order("u", order("sell", price=5.0))
    total, page = market.list_orders("u", side=Side.BUY, limit=2, offset=1)
    assert total == 5 and [v.order_id for v in page] == [ids[3], ids[2]]
    total, _ = market.list_orders("u", status=OrderStatus.MATCHING_ACTIVE)
    assert total == 6
    market.place_order("v", order("sell", price=0.0))
    total, contracts = market.list_contracts("u", limit=1)
    assert total == 1 and market.get_contract("u", contracts[0].contract_id) == contracts[0]
    assert market.get_contract("nobody", contracts[0].contract_id) is None
    assert market.list_contracts("u", status=ContractStatus.SETTLED) == (0, [])


def test_update_contract_publishes(market: SandboxMarket, updates: list[MarketUpdate]) -> None:
    """An operator's contract move is published as a ContractStatusChanged to both parties."""
    market.place_order("s", order("sell"))
    market.place_order("b", order())
    (contract,) = market.engine.contracts()
    update = market.update_contract(contract.contract_id, status=ContractStatus.SETTLED)
    (event,) = update.events
    assert isinstance(event.event, ContractStatusChanged) and event.users == {"s", "b"}
    assert updates[-1] == update


def test_advance_publishes_expiries(
    market: SandboxMarket, clock: ManualClock, updates: list[MarketUpdate]
) -> None:
    """advance() expires due orders on the clock and publishes them."""
    market.place_order("u", order())
    updates.clear()
    assert market.advance().events == ()
    assert updates == []
    clock.set(START - 2 * Q)
    update = market.advance()
    assert [type(e.event) for e in update.events] == [Expired]
    assert updates == [update]


def test_expiry_timer_thread_drives_advance(market: SandboxMarket) -> None:
    """start_expiry_timer calls advance periodically until stopped (idempotent start/stop)."""
    ticked = threading.Event()
    market.advance = lambda now_ms=None: ticked.set()  # type: ignore[assignment,method-assign,misc,return-value]
    market.start_expiry_timer(0.001)
    market.start_expiry_timer(0.001)
    assert ticked.wait(5)
    market.stop_expiry_timer()
    market.stop_expiry_timer()


def test_gen1_orders_match_and_show_as_deals(
    market: SandboxMarket, clock: ManualClock, updates: list[MarketUpdate]
) -> None:
    """Gen-1 lines from either line model trade; deals lists them within the window."""
    from glocalflex_messages.models import OrderLine as WireLine
    from glocalflex_messages.models import OrderSide

    a, b = market.login("a@x", "p"), market.login("b@x", "p")
    market.submit_gen1(line("ask", a.locations[0].id), user_id=a.user_id, message_id="m1")
    wire = WireLine(
        side=OrderSide.bid,
        applicationKey=b.locations[0].id,
        version="1",
        starttime=START,
        wattage=100.0,
        runtime=Q,
        totalenergy=25.0,
        price=1.0,
        expirationtime=START - Q,
    )
    result = market.submit_gen1(wire, user_id=b.user_id, received_ns=123)
    assert result.status is OrderStatus.FILLED
    assert updates[-1].received_ns == 123
    trade = next(e.event for e in updates[-1].events if isinstance(e.event, Trade))
    assert trade.generation == 1 and trade.buy_application_key == b.locations[0].id
    assert market.deals(60_000) == [trade]
    clock.advance(61_000)
    assert market.deals(60_000) == []
    assert market.last_trades(5) == [trade]


def test_strict_market_refuses_foreign_identities() -> None:
    """Strict accounts: an unknown user or someone else's application key is rejected."""
    alice = Account("a@x", "alice", (Location("key-a", "tok-a"),), "pw")
    market = SandboxMarket(accounts=Accounts(strict=True, accounts=[alice]), clock=ManualClock(T0))
    unknown = market.submit_gen1(line("bid", "key-a"), user_id="mallory")
    assert unknown.rejected is not None and "unknown user" in unknown.rejected.reason
    foreign = market.submit_gen1(line("bid", "key-b"), user_id="alice")
    assert foreign.rejected is not None and "not a location" in foreign.rejected.reason
    assert market.submit_gen1(line("bid", "key-a"), user_id="alice").accepted


def test_reset_starts_over_with_the_same_ids(market: SandboxMarket) -> None:
    """reset() empties the book; the next ids are those of a fresh market with the seed."""
    first = market.place_order("u", order()).order_id
    market.reset()
    assert market.list_orders("u") == (0, [])
    assert market.place_order("u", order()).order_id == first


def test_same_seed_same_story(clock: ManualClock) -> None:
    """Two markets with one seed and token key give the same ids, accounts and events."""

    def run() -> list[Any]:
        m = SandboxMarket(clock=ManualClock(T0), seed=11, token_key=b"k" * 32)
        a = m.login("a@x", "p")
        out: list[Any] = [a.user_id, a.locations]
        for side, price in (("sell", 0.2), ("buy", 0.3), ("buy", 0.1)):
            out.append(m.place_order(a, order(side, price=price)).events)
        return out

    assert run() == run()


def test_book_snapshot_is_generation_2_by_default(market: SandboxMarket) -> None:
    """book_snapshot shows the gen-2 book; gen-1 orders stay out unless asked for."""
    a = market.login("a@x", "p")
    market.place_order(a, order())
    market.submit_gen1(line("bid", a.locations[0].id), user_id=a.user_id)
    assert len(market.book_snapshot().bids) == 1
    assert len(market.book_snapshot(generation=None).bids) == 2


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("1970-01-01T00:00:00Z", 0),
        ("2026-12-01T10:00:00.5Z", parse_datetime_ms("2026-12-01T10:00:00Z") + 500),
        ("2026-12-01T11:00:00+01:00", parse_datetime_ms("2026-12-01T10:00:00Z")),
        ("2026-12-01t09:30:00-00:30", parse_datetime_ms("2026-12-01T10:00:00Z")),
        ("1969-12-31T23:59:59Z", -1000),
    ],
)
def test_parse_datetime(text: str, ms: int) -> None:
    """RFC 3339 date-times with any offset parse to epoch ms."""
    assert parse_datetime_ms(text) == ms


@pytest.mark.parametrize(
    "text", ["2026-12-01T10:00:00", "2026-13-01T10:00:00Z", "2026-12-01T10:00:00+24:00", 5, ""]
)
def test_parse_datetime_refuses(text: Any) -> None:
    """Date-times without an offset, impossible dates and non-strings are ValueErrors."""
    with pytest.raises(ValueError):
        parse_datetime_ms(text)


def test_format_datetime() -> None:
    """Epoch ms format as ISO 8601 UTC with Z, ms shown only when not zero."""
    assert format_datetime_ms(0) == "1970-01-01T00:00:00Z"
    assert format_datetime_ms(1_500) == "1970-01-01T00:00:01.500Z"


def test_relative_time() -> None:
    """relativeTime counts and units convert to ms; anything else is refused."""
    assert relative_time_ms("30s") == 30_000
    assert relative_time_ms("1h") == 3_600_000
    assert relative_time_ms("7d") == 7 * 86_400_000
    for bad in ("0h", "1w", "h", "1234567m"):
        with pytest.raises(ValueError):
            relative_time_ms(bad)


def test_configured_market(tmp_path: Any) -> None:
    """SandboxMarket.configured: an accounts file makes it strict; token lifetimes are set."""
    path = tmp_path / "accounts.json"
    path.write_text('{"accounts": [{"email": "a@x", "password": "pw"}]}', encoding="utf-8")
    clock = ManualClock(T0)
    strict = SandboxMarket.configured(seed=2, clock=clock, accounts_file=path, access_lifetime_s=7)
    assert strict.accounts.strict and strict.seed == 2 and strict.clock is clock
    assert strict.issue_token("a@x", "pw").expires_in == 7
    permissive = SandboxMarket.configured(refresh_lifetime_s=9)
    assert not permissive.accounts.strict
    assert permissive.issue_token("any@x", "any").refresh_expires_in == 9
