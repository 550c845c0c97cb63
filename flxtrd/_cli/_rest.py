"""``python -m flxtrd`` for generation 2 and history: orders, contracts, deals, streams.

Commands (each with ``--json``: one JSON object a line, for ``jq``; a table by default)::

    orders place buy|sell --power W --price EUR/KWH [--start-in MIN | --start ISO] ...
    orders list [--status S] [--side buy|sell] [--limit N]
    orders get ID          orders cancel ID
    contracts list [--status S] [--limit N]          contracts get ID
    deals [--relative-time 1h]
    stream trade|ticker|orderbook [--count N] [--duration S]
    order ask|bid ... --generation 2        (the existing ``order``, over REST)

The market and the credentials come as for the other commands (``--market``/``--market-url`` or
``FLXTRD_MARKET_URL``; ``FLXTRD_USERNAME``, ``FLXTRD_PASSWORD``), never from the command line.
Exit codes are those of :mod:`flxtrd._exit_codes`. The logic is the library's
(``client.orders``, ``client.contracts``, ``client.deals()``, ``client.market_stream()``); this
module parses arguments and prints through :mod:`flxtrd._cli._output`.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from flxtrd._cli import _common as _cli
from flxtrd._cli._output import (
    CONTRACT_COLUMNS,
    DEAL_COLUMNS,
    ORDER_COLUMNS,
    Printer,
    StreamPrinter,
    contract_cells,
    deal_cells,
    json_line,
    order_cells,
)
from flxtrd._cli_args import positive_int, positive_seconds
from flxtrd._errors import FlexTimeoutError
from flxtrd._exit_codes import EXIT_CODES_HELP, EXIT_OK
from flxtrd._types import Flexibility, MarketOrder, OrderType
from flxtrd._validation import OrderSpec

if TYPE_CHECKING:
    from glocalflex_rest.models import Order

    from flxtrd._rest._pagination import SyncPage

__all__ = ["add_rest_commands"]

POLL_S = 0.2
"""How long a stream waits for an event before it checks ``--duration`` again, s."""
DEFAULT_PAGE_SIZE = 100
ENV_EXAMPLE = (
    "export FLXTRD_MARKET_URL=sandbox:// FLXTRD_USERNAME=me@example.com FLXTRD_PASSWORD=pw"
)

EXAMPLES: dict[str, str] = {
    "demo": "python -m flxtrd demo --power 1000",
    "sandbox": (
        "python -m flxtrd sandbox --http 127.0.0.1:8000 --amqp amqp://guest:guest@127.0.0.1:5672//"
    ),
    "bot": "python -m flxtrd bot --sandbox --strategy battery-seller --duration 60 --plot run.png",
    "login": f"{ENV_EXAMPLE}\n  python -m flxtrd login",
    "order": (
        f"{ENV_EXAMPLE}\n  python -m flxtrd order ask --power 2500 --price 0.25 --start-in 60\n"
        "  python -m flxtrd order bid --power 2500 --price 0.30 --generation 2 --json"
    ),
    "listen": f"{ENV_EXAMPLE}\n  python -m flxtrd listen --stream ticker --duration 60",
    "orders": (
        f"{ENV_EXAMPLE}\n"
        "  id=$(python -m flxtrd orders place buy --power 2500 --price 0.25 --json | jq .id)\n"
        "  python -m flxtrd orders list --status matching_active\n"
        '  python -m flxtrd orders get "$id" --json | jq -r .status\n'
        '  python -m flxtrd orders cancel "$id"'
    ),
    "orders place": (
        f"{ENV_EXAMPLE}\n"
        "  python -m flxtrd orders place buy --power 2500 --price 0.25 --start-in 60 --json\n"
        "  python -m flxtrd orders place sell --power 1000 --price 0.20"
        " --start 2027-01-15T10:00Z --duration 30 --baseline baseline.json"
    ),
    "orders list": (
        f"{ENV_EXAMPLE}\n  python -m flxtrd orders list --status filled --json"
        " | jq -s 'map(.power) | add'"
    ),
    "orders get": f"{ENV_EXAMPLE}\n  python -m flxtrd orders get 42 --json | jq -r .status",
    "orders cancel": f"{ENV_EXAMPLE}\n  python -m flxtrd orders cancel 42",
    "contracts": (
        f"{ENV_EXAMPLE}\n  python -m flxtrd contracts list --status active\n"
        "  python -m flxtrd contracts get 7 --json"
    ),
    "contracts list": f"{ENV_EXAMPLE}\n  python -m flxtrd contracts list --json | jq .price",
    "contracts get": f"{ENV_EXAMPLE}\n  python -m flxtrd contracts get 7 --json",
    "deals": f"{ENV_EXAMPLE}\n  python -m flxtrd deals --relative-time 24h --json | jq .price",
    "stream": (
        f"{ENV_EXAMPLE}\n  python -m flxtrd stream ticker --count 10 --json | jq .data.price\n"
        "  python -m flxtrd stream orderbook --duration 60"
    ),
}
"""An example for each command's ``--help`` (keyed by the command, subcommand after a space)."""

_WITH_EXIT_CODES = {"demo", "login", "order", "listen"}
"""Existing commands whose errors go through :func:`flxtrd._exit_codes.exit_code_for`."""


class _HelpFormatter(argparse.HelpFormatter):
    """Wraps plain paragraphs as argparse does, but keeps multi-line ones (examples) as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        paragraphs = text.split("\n\n")
        return "\n\n".join(
            "".join(indent + line for line in paragraph.splitlines(keepends=True))
            if "\n" in paragraph
            else super(_HelpFormatter, self)._fill_text(paragraph, width, indent)
            for paragraph in paragraphs
        )


def _epilog(key: str, exit_codes: bool = True) -> str:
    text = f"example:\n  {EXAMPLES[key]}"
    return f"{text}\n\n{EXIT_CODES_HELP}" if exit_codes else text


# --- argument types ----------------------------------------------------------------------------


def _date_time(text: str) -> datetime:
    """An ISO 8601 date-time (``2026-12-01T10:00Z``); the time-zone rule is the library's."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO 8601 date-time such as 2026-12-01T10:00Z, got {text!r}"
        ) from None


def _json_object_file(path: str) -> dict[str, Any]:
    """The JSON object in file ``path`` (``-``: standard input)."""
    try:
        if path == "-":
            data = json.load(sys.stdin)
        else:
            with open(path, encoding="utf-8") as file:
                data = json.load(file)
    except (OSError, ValueError) as exc:
        raise argparse.ArgumentTypeError(
            f"cannot read a JSON object from {path!r}: {exc}"
        ) from None
    if not isinstance(data, dict):
        raise argparse.ArgumentTypeError(f"{path!r} holds JSON, but not an object")
    return data


# --- the parsers -------------------------------------------------------------------------------


def add_rest_commands(parser: argparse.ArgumentParser, commands: Any) -> None:
    """Add orders, contracts, deals and stream; give ``order`` --generation; document all."""
    _add_orders(commands)
    _add_contracts(commands)
    _add_deals(commands)
    _add_stream(commands)
    _extend_order(commands.choices["order"])
    parser.formatter_class = _HelpFormatter
    parser.epilog = f"{parser.epilog}\n\n{EXIT_CODES_HELP}" if parser.epilog else EXIT_CODES_HELP
    for name, command in commands.choices.items():
        if command.epilog is None and name in EXAMPLES:
            command.epilog = _epilog(name, exit_codes=name in _WITH_EXIT_CODES)
            command.formatter_class = _HelpFormatter


def _parser(parent: Any, name: str, key: str, help_text: str) -> argparse.ArgumentParser:
    """A subcommand: ``help_text`` as its help and (a sentence) description, the examples of
    ``key`` under it."""
    parser: argparse.ArgumentParser = parent.add_parser(
        name,
        help=help_text,
        description=help_text[0].upper() + help_text[1:] + ".",
        epilog=_epilog(key),
        formatter_class=_HelpFormatter,
    )
    return parser


def _command(
    parent: Any, name: str, key: str, help_text: str, handler: Callable[[argparse.Namespace], int]
) -> argparse.ArgumentParser:
    command = _parser(parent, name, key, help_text)
    command.set_defaults(handler=handler)
    return command


def _common(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--json", action="store_true", help="print one JSON object a line (for jq), no table"
    )
    _cli._add_market_options(command)


def _group(commands: Any, name: str, help_text: str) -> Any:
    group = _parser(commands, name, name, help_text)
    return group.add_subparsers(dest="action", metavar="ACTION", required=True)


def _add_orders(commands: Any) -> None:
    actions = _group(commands, "orders", "generation-2 orders: place, list, get, cancel")

    place = _command(
        actions, "place", "orders place", "place a generation-2 order over REST", run_orders_place
    )
    place.add_argument("side", choices=["buy", "sell"], help="buy or sell flexibility")
    place.add_argument("--power", type=float, required=True, metavar="W", help="power, W")
    place.add_argument(
        "--price", type=float, required=True, metavar="EUR/KWH", help="limit price, EUR/kWh"
    )
    when = place.add_mutually_exclusive_group()
    when.add_argument(
        "--start-in", type=int, default=60, metavar="MIN",
        help="delivery starts this many minutes from now, on the next quarter hour (default 60)",
    )  # fmt: skip
    when.add_argument(
        "--start", type=_date_time, default=None, metavar="ISO",
        help="delivery start, ISO 8601 with a time zone, on a quarter hour (2026-12-01T10:00Z)",
    )  # fmt: skip
    place.add_argument(
        "--duration", type=int, default=15, metavar="MIN", help="delivery minutes (default 15)"
    )
    expiry = place.add_mutually_exclusive_group()
    expiry.add_argument(
        "--expire-before", type=int, default=15, metavar="MIN",
        help="the order expires this many minutes before delivery starts (default 15)",
    )  # fmt: skip
    expiry.add_argument(
        "--expiry", type=_date_time, default=None, metavar="ISO", help="expiry time, ISO 8601"
    )
    place.add_argument(
        "--country",
        default="",
        metavar="CODE",
        help="country code (CZ DE CH ES FI FR; default none)",
    )
    place.add_argument(
        "--location", action="append", default=None, metavar="ID",
        help="a location id the order is for (repeat for more; default: any)",
    )  # fmt: skip
    place.add_argument(
        "--baseline", type=_json_object_file, default=None, metavar="FILE",
        help="sell orders: a JSON file with the baseline metering data (the spec's Baseline);"
        " the market matches a sell only once it has one",
    )  # fmt: skip
    _common(place)

    listing = _command(
        actions, "list", "orders list", "list your orders, newest first", run_orders_list
    )
    listing.add_argument(
        "--status", default=None, help="only this status (pending, matching_active, filled, ...)"
    )
    listing.add_argument("--side", default=None, choices=["buy", "sell"], help="only this side")
    _add_paging(listing)
    _common(listing)

    get = _command(actions, "get", "orders get", "show one of your orders", run_orders_get)
    get.add_argument("id", type=int, help="the order id")
    _common(get)

    cancel = _command(actions, "cancel", "orders cancel", "cancel an order", run_orders_cancel)
    cancel.add_argument("id", type=int, help="the order id")
    _common(cancel)


def _add_paging(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--limit",
        type=positive_int,
        default=None,
        metavar="N",
        help="show at most N (default all)",
    )
    command.add_argument(
        "--page-size", type=positive_int, default=DEFAULT_PAGE_SIZE, metavar="N",
        help=f"items per request; later pages are fetched as needed (default {DEFAULT_PAGE_SIZE})",
    )  # fmt: skip


def _add_contracts(commands: Any) -> None:
    actions = _group(commands, "contracts", "generation-2 contracts (your matches): list, get")
    listing = _command(
        actions, "list", "contracts list", "list your contracts, newest first", run_contracts_list
    )
    listing.add_argument("--status", default=None, help="only this status (active, settled, ...)")
    _add_paging(listing)
    _common(listing)
    get = _command(actions, "get", "contracts get", "show one of your contracts", run_contracts_get)
    get.add_argument("id", type=int, help="the contract id")
    _common(get)


def _add_deals(commands: Any) -> None:
    deals = _command(
        commands, "deals", "deals", "the market's recent deals (GET /deals/), oldest first",
        run_deals,
    )  # fmt: skip
    deals.add_argument(
        "--relative-time", default="1h", metavar="SPAN",
        help="how far back: a count and a unit s, m, h or d (default 1h)",
    )  # fmt: skip
    _common(deals)


def _add_stream(commands: Any) -> None:
    stream = _command(
        commands, "stream", "stream", "print a generation-2 WebSocket stream's events live",
        run_stream,
    )  # fmt: skip
    stream.add_argument(
        "kind", choices=["trade", "ticker", "orderbook"],
        help="trade: your orders' and contracts' status updates; ticker: the market's trades;"
        " orderbook: order book updates",
    )  # fmt: skip
    stream.add_argument(
        "--count", type=positive_int, default=None, metavar="N", help="stop after N events"
    )
    stream.add_argument(
        "--duration", type=positive_seconds, default=None, metavar="S",
        help="stop after S seconds (with neither: run until Ctrl-C)",
    )  # fmt: skip
    _common(stream)


def _extend_order(order: argparse.ArgumentParser) -> None:
    order.add_argument(
        "--generation", type=int, choices=[1, 2], default=1,
        help="1: an AMQP ask/bid (default); 2: a REST order (ask = sell, bid = buy)",
    )  # fmt: skip
    order.add_argument(
        "--country", default="", metavar="CODE", help="generation 2: the order's country code"
    )
    order.add_argument(
        "--json", action="store_true",
        help="print one JSON object a line: the order (generation 2), or the broker's receipt"
        " and each reply (generation 1)",
    )  # fmt: skip
    order.set_defaults(handler=_order_handler(order.get_default("handler")))


# --- orders, contracts, deals ------------------------------------------------------------------


def _quarter_hour_from_now(minutes: int) -> datetime:
    start_ms = _cli.next_quarter_hour_ms(_cli.now_ms() + minutes * _cli.MS_PER_MINUTE)
    return datetime.fromtimestamp(start_ms / 1000, tz=UTC)


def _spec(args: argparse.Namespace) -> OrderSpec:
    start = args.start if args.start is not None else _quarter_hour_from_now(args.start_in)
    expiry = args.expiry
    if expiry is None:
        expiry = start - timedelta(minutes=args.expire_before)
    return OrderSpec(
        side=args.side,
        power_w=args.power,
        price_eur_per_kwh=args.price,
        delivery_start=start,
        delivery_end=start + timedelta(minutes=args.duration),
        expiry_time=expiry,
        country_code=args.country,
        location_ids=args.location,
        baseline=args.baseline,
    )


class _Record(Protocol):
    """A generated model: its ``to_dict()`` is the ``--json`` line."""

    def to_dict(self) -> dict[str, Any]:
        """The model as JSON-ready data."""
        ...


R = TypeVar("R", bound=_Record)


@dataclass(frozen=True)
class _Kind(Generic[R]):
    """How results of one kind print: the table's columns, their noun and each result's row."""

    columns: Sequence[str]
    noun: str
    cells: Callable[[R], list[str]]

    def print_all(
        self,
        args: argparse.Namespace,
        items: Iterable[R],
        summary: Callable[[int], str] | None = None,
    ) -> int:
        """Print ``items`` (rows, or JSON lines with ``--json``), then ``summary(count)``; the
        command's exit code."""
        printer = Printer(self.columns, self.noun, json_mode=args.json, out=sys.stdout)
        for item in items:
            printer.add(item.to_dict(), self.cells(item))
        printer.finish(None if summary is None else summary(printer.count))
        return EXIT_OK

    def print_page(self, args: argparse.Namespace, page: SyncPage[R]) -> int:
        """Print the first ``--limit`` results of a listing, fetching pages as it reaches them,
        and how many of its total they are."""
        results = itertools.islice(page, args.limit)
        return self.print_all(args, results, lambda count: f"{count} of {page.total} {self.noun}s")


_ORDERS = _Kind(ORDER_COLUMNS, "order", order_cells)
_CONTRACTS = _Kind(CONTRACT_COLUMNS, "contract", contract_cells)
_DEALS = _Kind(DEAL_COLUMNS, "deal", deal_cells)


def _print_order(args: argparse.Namespace, order: Order) -> int:
    """Print one order (a row, or a JSON line with ``--json``); the command's exit code."""
    return _ORDERS.print_all(args, [order])


def run_orders_place(args: argparse.Namespace) -> int:
    """Validate and place one order; print it as the market stored it."""
    spec = _spec(args)
    with _cli._client_from(args) as client:
        order = client.orders.place(spec)
    return _print_order(args, order)


def run_orders_list(args: argparse.Namespace) -> int:
    """Print your orders, fetching pages as the listing reaches them."""
    with _cli._client_from(args) as client:
        page = client.orders.pages(status=args.status, side=args.side, page_size=args.page_size)
        return _ORDERS.print_page(args, page)


def run_orders_get(args: argparse.Namespace) -> int:
    """Print one order."""
    with _cli._client_from(args) as client:
        order = client.orders.get(args.id)
    return _print_order(args, order)


def run_orders_cancel(args: argparse.Namespace) -> int:
    """Cancel one order and print it with its new status."""
    with _cli._client_from(args) as client:
        order = client.orders.cancel(args.id)
    return _print_order(args, order)


def run_contracts_list(args: argparse.Namespace) -> int:
    """Print your contracts, fetching pages as the listing reaches them."""
    with _cli._client_from(args) as client:
        page = client.contracts.pages(status=args.status, page_size=args.page_size)
        return _CONTRACTS.print_page(args, page)


def run_contracts_get(args: argparse.Namespace) -> int:
    """Print one contract."""
    with _cli._client_from(args) as client:
        contract = client.contracts.get(args.id)
    return _CONTRACTS.print_all(args, [contract])


def run_deals(args: argparse.Namespace) -> int:
    """Print the market's deals of the last ``--relative-time``."""
    with _cli._client_from(args) as client:
        deals = client.deals(args.relative_time) or []
    return _DEALS.print_all(
        args, deals, lambda count: f"{count} deals in the last {args.relative_time}"
    )


# --- streams -----------------------------------------------------------------------------------


def run_stream(args: argparse.Namespace) -> int:
    """Print a stream's events until ``--count`` events or ``--duration`` seconds (or Ctrl-C)."""
    printer = StreamPrinter(json_mode=args.json, out=sys.stdout)
    with _cli._client_from(args) as client:
        if client.auth is not None:
            # Sign in first: a refused login or an unreachable market fails now, with its own
            # exit code, instead of after the stream's reconnect backoff (minutes).
            client.auth.bearer_token()
        subscription = client.market_stream(receive_timeout=POLL_S).stream(args.kind).connect()
        deadline = None if args.duration is None else time.monotonic() + args.duration
        print(f"listening: {args.kind} stream (Ctrl-C to stop)", file=sys.stderr, flush=True)
        printer.header()
        while args.count is None or printer.count < args.count:
            if deadline is not None and time.monotonic() >= deadline:
                break
            try:
                event = next(subscription)
            except FlexTimeoutError:  # quiet for POLL_S: look at the clock again
                continue
            except StopIteration:
                break
            printer.add(event)
    print(f"{printer.count} events", file=sys.stderr)
    return EXIT_OK


# --- order --generation 2 ----------------------------------------------------------------------


def _order_handler(
    gen1: Callable[[argparse.Namespace], int],
) -> Callable[[argparse.Namespace], int]:
    """The ``order`` command: ``gen1`` (the existing AMQP command), or generation 2 over REST."""

    def run_order(args: argparse.Namespace) -> int:
        if args.generation == 2:
            return _order_gen2(args)
        if args.json:
            return _order_gen1_json(args)
        return gen1(args)

    return run_order


def _order_gen2(args: argparse.Namespace) -> int:
    """Place the ask (sell) or bid (buy) as a generation-2 order; print it."""
    start = _quarter_hour_from_now(args.start_in)
    spec = OrderSpec(
        side="sell" if args.side == "ask" else "buy",
        power_w=args.power,
        price_eur_per_kwh=args.price,
        delivery_start=start,
        delivery_end=start + timedelta(minutes=args.duration),
        expiry_time=start - timedelta(milliseconds=_cli.QUARTER_HOUR_MS),
        country_code=args.country,
    )
    with _cli._client_from(args) as client:
        order = client.orders.place(spec)
    return _print_order(args, order)


def _order_gen1_json(args: argparse.Namespace) -> int:
    """Send the generation-1 order; print the broker's receipt, then each reply, as JSON."""
    start = _cli.next_quarter_hour_ms(_cli.now_ms() + args.start_in * _cli.MS_PER_MINUTE)
    flex = Flexibility(
        wattage=args.power,
        starttime=start,
        duration=args.duration * _cli.MS_PER_MINUTE,
        expirationtime=start - _cli.QUARTER_HOUR_MS,
    )
    order = MarketOrder(type=OrderType(args.side), price=args.price, flexibility=flex)
    with _cli._client_from(args) as client:
        response, err = client.send_order(order=order)
        if err is not None:
            raise err
        receipt = response.order_response
        record = {
            "type": "receipt",
            "message_id": receipt.message_id,
            "routing_key": receipt.routing_key,
            "sent_at_ms": receipt.sent_at_ms,
            "confirmed_at_ms": receipt.confirmed_at_ms,
        }
        print(json_line(record), flush=True)
        for message in client.market_messages(timeout=args.wait):
            print(json_line(dict(message)), flush=True)
    return EXIT_OK
