"""The bot runner without a market: message conversion, order matching, stats, CLI checks."""

from __future__ import annotations

import argparse
import io
import json
import sys
import types
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from glocalflex_messages.models import (
    ContractStatusUpdate,
    OrderStatusUpdate,
    Ticker,
)

from flxtrd import FlexConnectionError, FlexValidationError, OrderType
from flxtrd._amqp._market_messages import decode_market_message
from flxtrd._cli._bot import add_bot_parser, run_bot
from flxtrd._trading._bot import Bot
from flxtrd._trading._connections import Gen1Connection
from flxtrd._trading._events import Incoming, gen1_events, gen2_events
from flxtrd._trading._format import format_progress, format_summary
from flxtrd._trading._runner import BotRunner
from flxtrd._trading._strategies import FixedMarginSeller, TickFollowingBuyer, load_strategy
from flxtrd._trading._strategy import (
    QUARTER_HOUR_MS,
    CancelOrder,
    Fill,
    MarketTick,
    OrderClosed,
    OrderState,
    PlaceOrder,
    StrategyAction,
    TradingStrategy,
)

Q = QUARTER_HOUR_MS
T0 = 1_900_000_800_000
START = T0 + 2 * Q


def iso(ms: int) -> str:
    """Epoch ms as ISO 8601 with Z."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def closed_order(msg_type: str, power: float, wattage: float, price: float = 0.25) -> bytes:
    """A generation-1 closed-order reply body."""
    return json.dumps(
        {
            "msg_type": msg_type,
            "application_key": "key",
            "closed_order": {
                "bid_time": T0 * 10**6,
                "ask_time": T0 * 10**6,
                "ask_user": "s",
                "bid_user": "b",
                "price": price,
                "totalenergy": wattage / 4,
                "energy": power / 4,
                "starttime": START,
                "endtime": float(START + Q),
                "runtime": Q,
                "wattage": wattage,
                "power": power,
                "match_time": (T0 + 5) * 10**6,
            },
        }
    ).encode()


# --- conversions ---------------------------------------------------------------------------


def test_gen1_tick_becomes_a_tick_event() -> None:
    """A tick reply carries price, energy, trade time and delivery start."""
    body = json.dumps(
        {"msg_type": "tick", "trade_time": iso(T0), "price": 0.3, "start_time": iso(START),
         "energy": 500.0}
    ).encode()  # fmt: skip
    (item,) = gen1_events(decode_market_message(body), now_ms=T0 + 9)
    assert item.event == MarketTick(T0, 0.3, 500.0, START, generation=1)


def test_gen1_closed_orders_become_fills_with_the_order_power_to_find_the_order() -> None:
    """ask/bid_closed_order give a Fill (side, price, power, window, match time)."""
    (ask,) = gen1_events(decode_market_message(closed_order("ask_closed_order", 800, 800)), 0)
    (bid,) = gen1_events(decode_market_message(closed_order("bid_closed_order", 800, 2000)), 0)
    assert ask.event == Fill(None, OrderType.ASK, 0.25, 800.0, START, START + Q, T0 + 5)
    assert (ask.order_power_w, bid.order_power_w) == (800.0, 2000.0)
    assert isinstance(bid.event, Fill) and bid.event.side is OrderType.BID
    assert ask.event.energy_wh == pytest.approx(200.0)
    assert ask.event.value_eur == pytest.approx(0.05)


def test_gen1_cancel_closes_the_order_by_message_id() -> None:
    """A cancel with a message id closes that order; 'expired: ...' is an expiry."""
    expired = {"msg_type": "cancel", "reason": "expired: order 5 ...", "message_id": "m1"}
    refused = {"msg_type": "cancel", "reason": "wattage must be > 0", "message_id": "m2"}
    anonymous = {"msg_type": "cancel", "reason": "no id"}
    (a,) = gen1_events(decode_market_message(json.dumps(expired).encode()), T0)
    (b,) = gen1_events(decode_market_message(json.dumps(refused).encode()), T0)
    assert (a.market_id, a.event) == ("m1", OrderClosed("", "expired", expired["reason"], T0))
    assert isinstance(b.event, OrderClosed) and b.event.status == "cancelled"
    assert gen1_events(decode_market_message(json.dumps(anonymous).encode()), T0) == []


def test_gen2_ticker_and_order_status_become_events() -> None:
    """A ticker entry is a MarketTick with window and power; cancelled/expired close orders."""
    tick_model = msgspec.json.decode(
        json.dumps(
            {"type": "ticker", "data": {"price": 0.2, "power": 1000.0, "energy": 250.0,
             "delivery_start": iso(START), "delivery_end": iso(START + Q),
             "trade_time": iso(T0)}}
        ),
        type=Ticker,
    )  # fmt: skip
    (tick,) = gen2_events(tick_model, T0)
    assert tick.event == MarketTick(T0, 0.2, 250.0, START, START + Q, 1000.0, generation=2)

    def status(value: str) -> OrderStatusUpdate:
        """An order status update of order 9."""
        return msgspec.json.decode(
            json.dumps(
                {"type": "order_status_update",
                 "data": {"order_id": 9, "status": value, "timestamp": iso(T0 + 1)}}
            ),
            type=OrderStatusUpdate,
        )  # fmt: skip

    (closed,) = gen2_events(status("expired"), T0)
    assert (closed.market_id, closed.event) == (
        "9",
        OrderClosed("", "expired", "order 9 expired", T0 + 1),
    )
    assert gen2_events(status("filled"), T0) == []
    contract = msgspec.json.decode(
        json.dumps(
            {"type": "contract_status_update",
             "data": {"contract_id": 3, "status": "active",
                      "settlement_status": "awaiting_verification_completion",
                      "verification_status": "awaiting_metering_data",
                      "timestamp": iso(T0)}}
        ),
        type=ContractStatusUpdate,
    )  # fmt: skip
    assert gen2_events(contract, T0) == []  # the connection turns contracts into fills


# --- a bot on a scripted connection --------------------------------------------------------


class ScriptedConnection:
    """A connection that records orders and hands out scripted market events."""

    generation = 1

    def __init__(self, *, fail: Exception | None = None, can_cancel: bool = False) -> None:
        self.published = 0
        self.placed: list[PlaceOrder] = []
        self.cancelled: list[str] = []
        self.inbox: list[Incoming] = []
        self.fail = fail
        self.poll_error: Exception | None = None
        self.can_cancel = can_cancel
        self.opened = self.closed = False

    def open(self) -> None:
        """Connect."""
        self.opened = True

    def place(self, order: PlaceOrder) -> str:
        """Record the order, or fail as scripted."""
        if self.fail is not None:
            raise self.fail
        self.placed.append(order)
        self.published += 1
        return f"m{len(self.placed)}"

    def cancel(self, market_id: str) -> bool:
        """Record the cancel."""
        self.cancelled.append(market_id)
        return self.can_cancel

    def poll(self, timeout: float, now_ms: int) -> list[Incoming]:
        """The scripted events (or the scripted error)."""
        if self.poll_error is not None:
            error, self.poll_error = self.poll_error, None
            raise error
        inbox, self.inbox = self.inbox, []
        return inbox

    def close(self) -> None:
        """Disconnect."""
        self.closed = True


class TwoAsks(TradingStrategy):
    """Two identical asks on the first timer; cancels an order when told to."""

    name = "two-asks"

    def __init__(self) -> None:
        super().__init__()
        self.fills: list[Fill] = []
        self.to_cancel: list[str] = []

    def on_timer(self, now_ms: int) -> list[StrategyAction]:
        """Two asks first, then the cancels asked for."""
        if self.orders:
            return [CancelOrder(ref) for ref in self.to_cancel]
        return [
            self.place(OrderType.ASK, 1000.0, 0.2, START, START + Q, START - 60_000)
            for _ in range(2)
        ]

    def on_fill(self, fill: Fill, order: object) -> None:
        """Record the fill."""
        self.fills.append(fill)


def make_bot(**kwargs: Any) -> tuple[Bot, TwoAsks, ScriptedConnection]:
    """A bot named 'b' running TwoAsks on a scripted connection at T0."""
    strategy, connection = TwoAsks(), ScriptedConnection(**kwargs)
    return Bot("b", strategy, connection, clock=lambda: T0), strategy, connection


def test_bot_places_orders_and_feeds_back_their_acceptance() -> None:
    """Each order sent is accepted with its market id and counted."""
    bot, strategy, connection = make_bot()
    assert bot.timer(T0) is True
    assert bot.timer(T0 + 1) is False  # not due again before timer_interval_ms
    assert [o.ref for o in connection.placed] == ["two-asks-1", "two-asks-2"]
    assert [t.market_id for t in strategy.orders.values()] == ["m1", "m2"]
    assert bot.stats.orders_sent == 2


def test_a_failed_send_comes_back_as_a_rejection() -> None:
    """A FlexError from the connection closes the order as rejected, counted."""
    bot, strategy, _ = make_bot(fail=FlexValidationError("starttime", "must be in the future"))
    bot.timer(T0)
    assert {t.state for t in strategy.orders.values()} == {OrderState.REJECTED}
    assert "starttime" in next(iter(strategy.orders.values())).reason
    assert bot.stats.orders_rejected == 2


def test_gen1_closed_orders_go_to_the_oldest_order_with_room() -> None:
    """Closed orders carry no id: the first fill goes to the oldest order, the next to the other."""
    bot, strategy, connection = make_bot()
    bot.timer(T0)
    fill = Fill(None, OrderType.ASK, 0.3, 1000.0, START, START + Q, T0 + 1)
    connection.inbox = [Incoming(fill, order_power_w=1000.0), Incoming(fill, order_power_w=1000.0)]
    assert bot.poll() == 2
    assert [f.ref for f in strategy.fills] == ["two-asks-1", "two-asks-2"]
    assert bot.stats.deals == 2
    assert bot.stats.energy_sold_wh == pytest.approx(500.0)
    assert bot.stats.pnl_eur == pytest.approx(0.15)
    other_power = Incoming(replace_power(fill, 5.0), order_power_w=5.0)
    connection.inbox = [other_power]
    bot.poll()
    assert strategy.fills[-1].ref is None  # no order of that power: passed on without a ref


def replace_power(fill: Fill, power: float) -> Fill:
    """``fill`` with another power."""
    import dataclasses

    return dataclasses.replace(fill, power_w=power)


def test_cancels_and_expiries_find_their_order_by_market_id() -> None:
    """An OrderClosed with a market id closes that order; unknown ids are dropped."""
    bot, strategy, connection = make_bot()
    bot.timer(T0)
    connection.inbox = [
        Incoming(OrderClosed("", "expired", "late", T0), market_id="m2"),
        Incoming(OrderClosed("", "expired", "not ours", T0), market_id="zz"),
    ]
    bot.poll()
    assert [t.state for t in strategy.orders.values()] == [OrderState.OPEN, OrderState.EXPIRED]


def test_cancel_actions_reach_the_connection_and_gen1_just_logs() -> None:
    """CancelOrder goes to the connection with the market id; an unsupported cancel is logged."""
    bot, strategy, connection = make_bot()
    bot.timer(T0)
    strategy.to_cancel = ["two-asks-1", "unknown"]
    bot.timer(T0 + strategy.timer_interval_ms)
    assert connection.cancelled == ["m1"]


def test_poll_errors_are_counted_and_the_bot_carries_on() -> None:
    """A connection error while polling is counted, not raised."""
    bot, _, connection = make_bot()
    connection.poll_error = FlexConnectionError("broker gone")
    assert bot.poll() == 0
    assert bot.stats.errors == 1
    assert bot.poll() == 0


def test_runner_steps_timers_records_ticks_once_and_telemetry() -> None:
    """A step fires due timers; a tick seen by two bots is one market trade in the timeline."""
    seller_conn, buyer_conn = ScriptedConnection(), ScriptedConnection()
    seller = Bot("seller", FixedMarginSeller(), seller_conn, clock=lambda: T0)
    buyer = Bot("buyer", TickFollowingBuyer(), buyer_conn, clock=lambda: T0)
    runner = BotRunner([seller, buyer], clock=lambda: T0)
    runner.open()
    runner.step()
    assert seller_conn.opened and len(seller_conn.placed) == 2 and len(buyer_conn.placed) == 2
    tick = Incoming(MarketTick(T0, 0.2, 500.0, START))
    seller_conn.inbox, buyer_conn.inbox = [tick], [tick]
    runner.step()
    assert runner.timeline.ticks == [(T0, 0.2)]
    assert [t for t, _ in runner.timeline.samples["seller"]] == [T0, T0]
    assert "buyer" not in runner.timeline.samples  # no telemetry
    line = format_progress(runner, you="seller")
    assert "orders 2" in line and "market trades 1, last 0.2000" in line and "SoC 50.0%" in line
    table = format_summary(runner)
    assert table.splitlines()[0].split()[:3] == ["bot", "strategy", "orders"]
    assert "fixed-margin-seller" in table and "market: 1 trades" in table
    runner.close()
    assert seller_conn.closed and buyer_conn.closed


def test_runner_open_closes_what_it_opened_when_one_bot_fails() -> None:
    """If a bot cannot connect, the bots already connected are closed again."""

    class Broken(ScriptedConnection):
        """A connection that never connects."""

        def open(self) -> None:
            """Connect."""
            raise FlexConnectionError("no market")

    good = ScriptedConnection()
    runner = BotRunner([Bot("a", TwoAsks(), good), Bot("b", TwoAsks(), Broken())])
    with pytest.raises(FlexConnectionError):
        runner.open()
    assert good.closed


# --- strategies by name and the command line -----------------------------------------------


def test_load_strategy_by_name_and_by_module_class(monkeypatch: pytest.MonkeyPatch) -> None:
    """Built-in names and module:Class both work; anything else is a ValueError."""
    assert isinstance(load_strategy("tick-buyer"), TickFollowingBuyer)
    module = types.ModuleType("my_strategies")
    module.Mine = TwoAsks  # type: ignore[attr-defined]
    module.NotOne = dict  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "my_strategies", module)
    assert isinstance(load_strategy("my_strategies:Mine"), TwoAsks)
    for bad in ("nope", "my_strategies:Missing", "no_such_module_xyz:X", "my_strategies:NotOne"):
        with pytest.raises(ValueError):
            load_strategy(bad)


def parse(*argv: str) -> argparse.Namespace:
    """The bot subcommand's arguments."""
    parser = argparse.ArgumentParser()
    add_bot_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["bot", *argv])


def test_bot_parser_defaults_and_handler() -> None:
    """bot defaults to the battery seller for 60 s at 60x, handled by run_bot."""
    args = parse()
    assert (args.strategy, args.duration, args.speed, args.sandbox) == (
        "battery-seller",
        60.0,
        60.0,
        False,
    )
    assert args.handler is run_bot
    with pytest.raises(SystemExit):
        parse("--sandbox", "--market", "x")


def test_unknown_strategy_exits_with_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown --strategy exits 2 naming the built-in strategies."""
    assert run_bot(parse("--strategy", "nope", "--sandbox"), out=io.StringIO()) == 2
    assert "tick-buyer" in capsys.readouterr().err


def test_plot_without_matplotlib_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--plot without matplotlib exits 2 before running, with the pip command."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name)
    )
    assert run_bot(parse("--sandbox", "--plot", "run.png"), out=io.StringIO()) == 2
    assert "pip install 'flxtrd[plot]'" in capsys.readouterr().err


def test_runner_retries_connecting_with_backoff_then_gives_up() -> None:
    """open(retry=...) retries a connection error with the policy's backoff, then raises."""
    from flxtrd._retry import RetryPolicy

    class Flaky(ScriptedConnection):
        """A connection that fails a few times before it connects."""

        def __init__(self, failures: int) -> None:
            super().__init__()
            self.failures = failures

        def open(self) -> None:
            """Fail ``failures`` times, then connect."""
            if self.failures:
                self.failures -= 1
                raise FlexConnectionError("not yet")
            super().open()

    policy = RetryPolicy(max_retries=3, initial_delay_s=1.0, max_delay_s=10.0, jitter=0.0)
    waits: list[float] = []
    flaky = Flaky(failures=2)
    BotRunner([Bot("a", TwoAsks(), flaky)]).open(retry=policy, wait=waits.append)
    assert flaky.opened and waits == [1.0, 2.0]
    waits.clear()
    with pytest.raises(FlexConnectionError):
        BotRunner([Bot("a", TwoAsks(), Flaky(failures=9))]).open(retry=policy, wait=waits.append)
    assert waits == [1.0, 2.0, 4.0]


def test_bot_command_reports_a_market_it_cannot_reach(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unreachable market is retried (5 times), then bot exits 1 with the error, no table."""

    def unreachable(self: object) -> None:
        """Refuse to connect."""
        raise FlexConnectionError("connection refused")

    monkeypatch.setattr(Gen1Connection, "open", unreachable)
    monkeypatch.setenv("FLXTRD_USERNAME", "me@example.com")
    monkeypatch.setenv("FLXTRD_PASSWORD", "pw")
    waits: list[float] = []
    out = io.StringIO()
    args = parse("--market", "https://market.invalid", "--duration", "1")
    assert run_bot(args, out=out, monotonic=lambda: 0.0, wait=waits.append) == 1
    assert "error: connection refused" in capsys.readouterr().err
    assert len(waits) == 5 and "\nbot " not in out.getvalue()
