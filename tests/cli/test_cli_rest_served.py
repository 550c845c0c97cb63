"""The commands as a workflow, and every stream kind, against a served sandbox over HTTP.

A served sandbox keeps its state between ``python -m flxtrd`` processes, so what one command
does, the next one sees: place -> list -> get -> cancel -> get; a buy and a sell -> a contract;
a generation-1 trade -> a deal. Streams run here too because they once failed only over real
HTTP (the retry transport closed the upgraded WebSocket).
"""

from __future__ import annotations

from pathlib import Path

from cli_harness import Listener, env_for, json_lines, new_user, ok, one, run_cli
from local_market import trade_gen1

from flxtrd.sandbox._served import ServedSandbox


def place(env: dict[str, str], side: str, *extra: str, start_in: int = 120) -> dict[str, object]:
    """``orders place SIDE`` (1 kW, delivery ``start_in`` minutes ahead) and its JSON.

    Tests that match orders give theirs a delivery window of their own, so that no order left by
    another test of the module matches instead.
    """
    price = "0.30" if side == "buy" else "0.20"
    args = ["orders", "place", side, "--power", "1000", "--price", price]
    return one(ok(run_cli(*args, "--start-in", str(start_in), *extra, "--json", env=env)))


def test_place_list_get_cancel_get_and_cancel_again(market_url: str) -> None:
    """The order placed is listed and got; cancel cancels it; a second cancel exits 7 (409)."""
    env = env_for(market_url, new_user())
    placed = place(env, "buy")
    order_id = str(placed["id"])
    listed = json_lines(ok(run_cli("orders", "list", "--json", env=env)))
    assert listed == [placed]
    assert ok(run_cli("orders", "get", order_id, "--json", env=env)) == ok(
        run_cli("orders", "list", "--status", "matching_active", "--side", "buy", "--json",
                env=env)
    )  # fmt: skip
    cancelled = one(ok(run_cli("orders", "cancel", order_id, "--json", env=env)))
    assert cancelled == {**placed, "status": "cancelled"}
    assert one(ok(run_cli("orders", "get", order_id, "--json", env=env)))["status"] == "cancelled"
    table = ok(run_cli("orders", "list", env=env)).splitlines()
    assert table[2].split()[:3] == [order_id, "buy", "cancelled"] and table[-1] == "1 of 1 orders"
    again = run_cli("orders", "cancel", order_id, env=env)
    assert again.returncode == 7 and "409" in again.stderr and again.stdout == ""


def test_orders_list_pages_and_limit(market_url: str) -> None:
    """list --page-size 2 walks every page (newest first); --limit stops early."""
    env = env_for(market_url, new_user())
    ids = [place(env, "buy")["id"] for _ in range(3)]
    listed = json_lines(ok(run_cli("orders", "list", "--page-size", "2", "--json", env=env)))
    assert [o["id"] for o in listed] == ids[::-1]
    limited = json_lines(ok(run_cli("orders", "list", "--limit", "1", "--json", env=env)))
    assert [o["id"] for o in limited] == [ids[-1]]
    assert ok(run_cli("orders", "list", "--limit", "2", env=env)).endswith("2 of 3 orders\n")


def test_a_buy_and_a_sell_make_a_contract_that_contracts_list_and_get_show(
    market_url: str, baseline_file: Path
) -> None:
    """Two accounts' matching orders: contracts list/get show the contract to the buyer."""
    buyer, seller = env_for(market_url, new_user("buyer")), env_for(market_url, new_user("sell"))
    bought = place(buyer, "buy", start_in=300)
    sold = place(seller, "sell", "--baseline", str(baseline_file), start_in=300)
    (contract,) = json_lines(ok(run_cli("contracts", "list", "--json", env=buyer)))
    assert (contract["buy_order_id"], contract["sell_order_id"]) == (bought["id"], sold["id"])
    assert (contract["power"], contract["price"], contract["energy"]) == (1000.0, 0.3, 250.0)
    assert contract["status"] == "active"
    got = one(ok(run_cli("contracts", "get", str(contract["id"]), "--json", env=seller)))
    assert got == contract
    assert json_lines(ok(run_cli("contracts", "list", "--status", "active", "--json",
                                 env=seller))) == [contract]  # fmt: skip
    row = ok(run_cli("contracts", "list", env=buyer)).splitlines()[2].split()
    assert row[:4] == [str(contract["id"]), str(bought["id"]), str(sold["id"]), "active"]
    filled = one(ok(run_cli("orders", "get", str(bought["id"]), "--json", env=buyer)))
    assert (filled["status"], filled["filled_power"]) == ("filled", 1000.0)


def test_deals_shows_a_generation_1_trade(market_url: str, served_sandbox: ServedSandbox) -> None:
    """A generation-1 ask and bid trade: deals --json and the table show the deal."""
    assert served_sandbox.market is not None
    trade = trade_gen1(served_sandbox.market, price=0.21, wattage=2000.0)
    env = env_for(market_url, new_user())
    deals = json_lines(ok(run_cli("deals", "--relative-time", "1h", "--json", env=env)))
    deal = next(d for d in deals if d["starttime"] == trade.delivery_start_ms)
    assert (deal["price"], deal["totalenergy"], deal["runtime"]) == (0.21, 500.0, 900_000)
    assert deal["totalprice"] == 0.21 * 500 / 1000
    table = ok(run_cli("deals", env=env)).splitlines()
    assert table[0].split()[:3] == ["time", "(UTC)", "delivery"]
    assert table[-1] == f"{len(deals)} deals in the last 1h"
    assert any(line.split()[-4:] == ["2000", "500", "0.21", "0.105"] for line in table)


def test_market_url_option_selects_the_market(market_url: str) -> None:
    """--market-url sandbox://host:port works without FLXTRD_MARKET_URL."""
    env = env_for(None, new_user())
    placed = one(ok(run_cli("orders", "place", "buy", "--power", "10", "--price", "0.1",
                            "--market-url", market_url, "--json", env=env)))  # fmt: skip
    got = one(ok(run_cli("orders", "get", str(placed["id"]), "--market", market_url, "--json",
                         env=env)))  # fmt: skip
    assert got == placed


# --- streams over HTTP -----------------------------------------------------------------------


def test_stream_trade_prints_your_order_status_update(market_url: str) -> None:
    """stream trade --count 3: your new order's updates, pending to matching_active; exit 0."""
    env = env_for(market_url, new_user())
    listener = Listener("stream", "trade", "--count", "3", "--duration", "60", "--json", env=env)
    listener.wait_ready()
    placed = place(env, "buy")
    out, err = listener.finish()
    assert listener.returncode == 0, err
    events = json_lines(out)
    assert [e["type"] for e in events] == ["order_status_update"] * 3
    assert [e["data"]["order_id"] for e in events] == [placed["id"]] * 3
    assert [e["data"]["status"] for e in events] == ["pending", "accepted", "matching_active"]
    assert placed["status"] == "matching_active"


def test_stream_ticker_prints_the_trade_of_a_match(market_url: str, baseline_file: Path) -> None:
    """stream ticker --count 1 (a third account): a buy and a sell match; the trade is printed."""
    listener = Listener("stream", "ticker", "--count", "1", "--duration", "60", "--json",
                        env=env_for(market_url, new_user("watch")))  # fmt: skip
    listener.wait_ready()
    bought = place(env_for(market_url, new_user("buyer")), "buy", start_in=360)
    seller = env_for(market_url, new_user("sell"))
    place(seller, "sell", "--baseline", str(baseline_file), start_in=360)
    out, err = listener.finish()
    assert listener.returncode == 0, err
    (event,) = json_lines(out)
    assert event["type"] == "ticker"
    data = event["data"]
    assert (data["price"], data["power"], data["energy"]) == (0.3, 1000.0, 250.0)
    assert data["delivery_start"].replace("Z", "+00:00") == bought["delivery_start"]


def test_stream_orderbook_prints_the_snapshot_then_the_new_bid(market_url: str) -> None:
    """stream orderbook --count 2 as a table: the snapshot, then the book with the new bid."""
    listener = Listener("stream", "orderbook", "--count", "2", "--duration", "60",
                        env=env_for(market_url, new_user("book")))  # fmt: skip
    listener.wait_ready()
    one(ok(run_cli("orders", "place", "buy", "--power", "1000", "--price", "0.99", "--json",
                   env=env_for(market_url, new_user()))))  # fmt: skip
    out, err = listener.finish()
    assert listener.returncode == 0, err
    header, *rows = out.splitlines()
    assert header.split()[:3] == ["received", "(UTC)", "event"] and len(rows) == 2
    assert all(row.split()[1] == "orderbook" for row in rows)
    assert "0.99/" not in rows[0] and "0.99/" in rows[1]  # best bid/ask: the new bid is best
    assert "2 events" in err
