"""Every new command against the embedded sandbox (``FLXTRD_MARKET_URL=sandbox://``).

Each run is its own process, so its embedded sandbox is new: these tests pin what one command
does on its own (output formats, arguments, unknown ids). Workflows that span commands (place,
then list, get, cancel) run against a served sandbox in ``test_cli_rest_served.py``.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from cli_harness import (
    QUARTER_HOUR,
    env_for,
    json_lines,
    new_user,
    next_slot,
    ok,
    one,
    parse_time,
    run_cli,
)

EMBEDDED = "sandbox://"


def embedded() -> dict[str, str]:
    """The environment of a new account on the embedded sandbox."""
    return env_for(EMBEDDED, new_user())


def test_orders_place_prints_the_stored_order_as_json_and_as_a_table() -> None:
    """place --json is the market's order (one object); the table shows the same order."""
    order = one(ok(run_cli("orders", "place", "buy", "--power", "2500", "--price", "0.25",
                           "--json", env=embedded())))  # fmt: skip
    assert (order["side"], order["power"], order["price"]) == ("buy", 2500.0, 0.25)
    assert order["status"] == "matching_active" and isinstance(order["id"], int)
    start, end = parse_time(order["delivery_start"]), parse_time(order["delivery_end"])
    assert start.minute % 15 == 0 and end - start == QUARTER_HOUR  # --duration 15 by default
    assert parse_time(order["expiry_time"]) == start - QUARTER_HOUR  # --expire-before 15
    assert timedelta(minutes=59) < start - parse_time(order["created_at"]) < timedelta(minutes=76)

    table = ok(run_cli("orders", "place", "sell", "--power", "1000", "--price", "0.2",
                       env=embedded())).splitlines()  # fmt: skip
    assert table[0].split()[:6] == ["id", "side", "status", "power", "W", "filled"]
    row = table[2].split()
    assert row[1:3] == ["sell", "awaiting_baseline_data"] and row[3] == "1000"


def test_orders_place_sends_start_expiry_country_locations_and_baseline(
    baseline_file: Path,
) -> None:
    """--start, --duration, --expiry, --country, --location and --baseline reach the market."""
    start = next_slot(hours=3)
    expiry = start - timedelta(hours=1)
    order = one(ok(run_cli(
        "orders", "place", "sell", "--power", "750", "--price", "0.3",
        "--start", start.isoformat(), "--duration", "30", "--expiry", expiry.isoformat(),
        "--country", "DE", "--location", "site-1", "--location", "site-2",
        "--baseline", str(baseline_file), "--json", env=embedded(),
    )))  # fmt: skip
    assert parse_time(order["delivery_start"]) == start
    assert parse_time(order["delivery_end"]) == start + timedelta(minutes=30)
    assert parse_time(order["expiry_time"]) == expiry
    assert order["location"] == {"country_code": "DE", "location_id": ["site-1", "site-2"]}
    assert order["status"] == "matching_active"  # with a baseline, a sell is matched at once


def test_lists_of_a_new_account_are_empty_in_both_formats() -> None:
    """orders list, contracts list and deals: no lines with --json, 'no ...' as a table."""
    env = embedded()
    for command, noun in ((["orders", "list"], "orders"), (["contracts", "list"], "contracts"),
                          (["deals", "--relative-time", "7d"], "deals")):  # fmt: skip
        assert ok(run_cli(*command, "--json", env=env)) == ""
        assert ok(run_cli(*command, env=env)) == f"no {noun}\n"


def test_get_and_cancel_of_an_unknown_id_exit_6_naming_it() -> None:
    """orders get/cancel and contracts get of an id the market does not know: exit 6, 404."""
    env = embedded()
    for command, path in ((["orders", "get"], "GET /api/v1/order/987654"),
                          (["orders", "cancel"], "POST /api/v1/order/987654/cancel"),
                          (["contracts", "get"], "GET /api/v1/contract/987654")):  # fmt: skip
        result = run_cli(*command, "987654", "--json", env=env)
        assert result.returncode == 6, (result.stdout, result.stderr)
        assert result.stdout == "" and f"{path} -> 404" in result.stderr


def test_stream_orderbook_stops_after_count_events() -> None:
    """stream orderbook --count 1: the snapshot sent on connect, as one JSON line, then exit 0."""
    result = run_cli("stream", "orderbook", "--count", "1", "--json", env=embedded())
    (event,) = json_lines(ok(result))
    assert event["type"] == "orderbook" and event["data"]["bids"] == []
    assert parse_time(event["received_at"]) and parse_time(event["data"]["timestamp"])
    assert "1 events" in result.stderr


def test_stream_trade_and_ticker_stop_after_duration() -> None:
    """stream trade/ticker --duration on a quiet market: the table header, 0 events, exit 0."""
    for kind in ("trade", "ticker"):
        result = run_cli("stream", kind, "--duration", "0.3", env=embedded())
        assert ok(result).split()[:3] == ["received", "(UTC)", "event"]
        assert f"listening: {kind} stream" in result.stderr and "0 events" in result.stderr
        assert ok(run_cli("stream", kind, "--duration", "0.3", "--json", env=embedded())) == ""


def test_order_generation_2_places_a_rest_order() -> None:
    """order ask --generation 2 is a REST sell; --json prints the order, the table its row."""
    order = one(ok(run_cli("order", "ask", "--power", "1200", "--price", "0.4", "--generation",
                           "2", "--country", "FR", "--json", env=embedded())))  # fmt: skip
    assert (order["side"], order["power"], order["price"]) == ("sell", 1200.0, 0.4)
    assert order["location"]["country_code"] == "FR"
    table = ok(run_cli("order", "bid", "--power", "800", "--price", "0.3", "--generation", "2",
                       env=embedded()))  # fmt: skip
    assert table.splitlines()[2].split()[1:4] == ["buy", "matching_active", "800"]


def test_order_generation_1_json_prints_the_broker_receipt() -> None:
    """order bid --json (generation 1): the broker's receipt as the first JSON line."""
    records = json_lines(ok(run_cli("order", "bid", "--power", "500", "--price", "0.3",
                                    "--wait", "0.2", "--json", env=embedded())))  # fmt: skip
    receipt = records[0]
    assert receipt["type"] == "receipt" and receipt["routing_key"] == "bid"
    assert len(receipt["message_id"]) == 32
    assert receipt["confirmed_at_ms"] >= receipt["sent_at_ms"] > 0
