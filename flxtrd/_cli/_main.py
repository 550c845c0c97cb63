"""The ``flxtrd`` command line: a sample trading client and the sandbox market.

``python -m flxtrd demo`` runs a full trade against the embedded sandbox; ``sandbox`` serves the
sandbox market; ``login``, ``order`` and ``listen`` talk to any market. The logic lives in the
library: this module only parses arguments and prints.

Credentials are never taken from the command line (other users can read it): ``login``, ``order``
and ``listen`` read ``FLXTRD_USERNAME``, ``FLXTRD_PASSWORD`` and ``FLXTRD_ACCESS_TOKEN`` from the
environment, and prompt for a missing password on a terminal.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from flxtrd._cli._common import (
    MS_PER_MINUTE,
    QUARTER_HOUR_MS,
    _add_market_options,
    _client_from,
    next_quarter_hour_ms,
    now_ms,
)
from flxtrd._cli_args import seconds
from flxtrd._defaults import SANDBOX_SCHEME
from flxtrd._errors import FlexError, FlexTimeoutError
from flxtrd._exit_codes import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, exit_code_for
from flxtrd._types import Flexibility, MarketOrder, OrderType, User

if TYPE_CHECKING:
    from flxtrd._amqp._market_messages import MarketMessage
    from flxtrd._client._client import FlexAPIClient

SANDBOX_URL = f"{SANDBOX_SCHEME}://"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except FlexError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exit_code_for(exc)  # one code per kind of failure (flxtrd._exit_codes)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly, as cat does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="python -m flxtrd",
        description="Sample trading client for the GLocalFlex Market, and a local sandbox market.",
        epilog=(
            "Credentials come from FLXTRD_USERNAME, FLXTRD_PASSWORD and FLXTRD_ACCESS_TOKEN; "
            "the market from --market or FLXTRD_MARKET_URL (sandbox:// = the embedded sandbox)."
        ),
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at DEBUG level")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser(
        "demo", help="run a full trade (ask + matching bid) against the embedded sandbox"
    )
    demo.add_argument("--power", type=float, default=2500.0, help="power traded, W")
    demo.add_argument("--timeout", type=seconds, default=10.0, help="seconds to wait for replies")
    demo.set_defaults(handler=run_demo)

    from flxtrd._cli._bot import add_bot_parser
    from flxtrd._cli._fleet import add_fleet_parser
    from flxtrd.sandbox._cli import add_sandbox_parser

    add_sandbox_parser(commands)
    add_bot_parser(commands)
    add_fleet_parser(commands)

    login = commands.add_parser("login", help="log in and show the user id and locations")
    _add_market_options(login)
    login.set_defaults(handler=run_login)

    order = commands.add_parser("order", help="send one ask (sell) or bid (buy) order")
    order.add_argument("side", choices=["ask", "bid"], help="ask = sell, bid = buy")
    order.add_argument("--power", type=float, required=True, help="power, W")
    order.add_argument("--price", type=float, required=True, help="limit price")
    order.add_argument(
        "--start-in", type=int, default=60, metavar="MIN",
        help="delivery starts this many minutes from now, on the next quarter hour (default 60)",
    )  # fmt: skip
    order.add_argument("--duration", type=int, default=15, metavar="MIN", help="minutes")
    order.add_argument(
        "--wait", type=seconds, default=2.0, metavar="S", help="seconds to wait for replies"
    )
    _add_market_options(order)
    order.set_defaults(handler=run_order)

    listen = commands.add_parser(
        "listen", help="print market replies (ticks, deals) or a WebSocket stream live"
    )
    listen.add_argument(
        "--stream",
        choices=["replies", "trade", "ticker", "orderbook"],
        default="replies",
        help="replies: your AMQP replies (ticks, closed orders, cancels; default); "
        "trade/ticker/orderbook: the generation-2 WebSocket stream",
    )
    listen.add_argument(
        "--duration", type=seconds, default=None, metavar="S", help="stop after S seconds"
    )
    _add_market_options(listen)
    listen.set_defaults(handler=run_listen)

    from flxtrd._cli._rest import add_rest_commands  # orders, contracts, deals, stream

    add_rest_commands(parser, commands)
    return parser


# -- demo -------------------------------------------------------------------------------------


def run_demo(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Trade once in the embedded sandbox: an ask, a matching bid, their closed orders and tick."""
    from flxtrd._client._client import FlexAPIClient

    out = out or sys.stdout
    seller = FlexAPIClient(
        base_url=SANDBOX_URL, user=User(name="seller@example.com", password="demo")
    )
    buyer = FlexAPIClient(
        base_url=SANDBOX_URL, user=User(name="buyer@example.com", password="demo")
    )
    try:
        start = next_quarter_hour_ms(now_ms() + 60 * MS_PER_MINUTE)
        flex = Flexibility(
            wattage=args.power,
            starttime=start,
            duration=QUARTER_HOUR_MS,
            expirationtime=start - QUARTER_HOUR_MS,
        )
        ask = MarketOrder(type=OrderType.ASK, price=10.0, flexibility=flex)
        bid = MarketOrder(type=OrderType.BID, price=12.0, flexibility=flex)
        out.write("flxtrd demo: embedded sandbox market, no account and no server needed\n\n")
        for who, client, order in (("seller", seller, ask), ("buyer", buyer, bid)):
            _, err = client.send_order(order=order)
            if err is not None:
                raise err
            out.write(f"{who:>6} sent {_describe_order(order)}, confirmed by the broker\n")
        replies = _collect(
            {"seller": seller, "buyer": buyer},
            done=lambda got: (
                _count(got, ("ask_closed_order", "bid_closed_order")) >= 2
                and _count(got, ("tick",)) >= 1
            ),
            timeout=args.timeout,
        )
        out.write("\n" + format_replies(replies) + "\n")
        closed = _count(replies, ("ask_closed_order", "bid_closed_order"))
        if closed < 2:
            out.write(f"\nonly {closed} of 2 closed orders arrived within {args.timeout} s\n")
            return EXIT_ERROR
        out.write("\nTrade complete: both orders closed at the bid price (pay-as-bid).\n")
        return EXIT_OK
    finally:
        seller.close()
        buyer.close()


def _collect(
    clients: dict[str, FlexAPIClient],
    done: Callable[[list[tuple[str, MarketMessage]]], bool],
    timeout: float,
) -> list[tuple[str, MarketMessage]]:
    """Poll each client's replies until ``done`` holds or ``timeout`` seconds pass."""
    got: list[tuple[str, MarketMessage]] = []
    deadline = time.monotonic() + timeout
    while not done(got) and time.monotonic() < deadline:
        for who, client in clients.items():
            got.extend((who, message) for message in client.market_messages(timeout=0.005))
    return got


def _count(replies: Iterable[tuple[str, MarketMessage]], kinds: tuple[str, ...]) -> int:
    return sum(1 for _, message in replies if message.msg_type in kinds)


def _describe_order(order: MarketOrder) -> str:
    flex = order.flexibility
    side = "ask (sell)" if order.order_type is OrderType.ASK else "bid (buy)"
    return (
        f"{side:<10} {flex.power_w:>8.1f} W for {flex.runtime_ms // MS_PER_MINUTE} min "
        f"from {_iso(flex.start_ms)} at {order.price_eur:g}"
    )


def format_replies(replies: Sequence[tuple[str, MarketMessage]]) -> str:
    """A readable table of market replies: who got what, at which price and energy."""
    header = ("to", "message", "price", "energy Wh", "power W", "delivery start (UTC)", "latency")
    rows = [header]
    for who, message in replies:
        model: Any = message.model
        closed = getattr(model, "closed_order", None)
        if closed is not None:
            price, energy, power = closed.price, closed.energy, closed.power
            start = _iso(closed.starttime)
        elif message.msg_type == "tick":
            price, energy, power = model.price, model.energy, None
            start = model.start_time.strftime("%Y-%m-%d %H:%M")
        else:
            price = energy = power = None
            start = str(getattr(model, "reason", ""))
        latency = f"{message.latency_ms} ms" if message.latency_ms is not None else "-"
        rows.append((who, message.msg_type, _num(price), _num(energy), _num(power), start, latency))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _iso(epoch_ms: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(epoch_ms / 1000))


# -- login, order, listen ---------------------------------------------------------------------


def run_login(args: argparse.Namespace) -> int:
    """Log in and print the user id and the locations (application keys), never the tokens."""
    with _client_from(args) as client:
        identity = client.authenticate()
        print(f"user id:         {identity.user_id}")
        print(f"application key: {identity.application_key}")
    return EXIT_OK


def run_order(args: argparse.Namespace) -> int:
    """Send one order, wait for the broker's confirm, then print the replies that arrive."""
    start = next_quarter_hour_ms(now_ms() + args.start_in * MS_PER_MINUTE)
    flex = Flexibility(
        wattage=args.power,
        starttime=start,
        duration=args.duration * MS_PER_MINUTE,
        expirationtime=start - QUARTER_HOUR_MS,
    )
    order = MarketOrder(type=OrderType(args.side), price=args.price, flexibility=flex)
    with _client_from(args) as client:
        _, err = client.send_order(order=order)
        if err is not None:
            raise err
        print(f"sent {_describe_order(order)}; confirmed by the broker")
        replies = [("you", m) for m in client.market_messages(timeout=args.wait)]
        if replies:
            print(format_replies(replies))
    return EXIT_OK


def run_listen(args: argparse.Namespace) -> int:
    """Print every market reply or stream event as it arrives, with a running count."""
    deadline = None if args.duration is None else time.monotonic() + args.duration
    count = 0
    with _client_from(args) as client:
        if args.stream == "replies":
            client.connect()
            messages: Iterable[str] = (
                format_replies([("you", m)]).splitlines()[-1]
                for _ in _until(deadline)
                for m in client.market_messages(timeout=0)
            )
        else:
            events = client.market_stream(receive_timeout=0.5).stream(args.stream).connect()
            messages = (_describe_event(e) for _ in _until(deadline) for e in _poll(events))
        print(f"listening: {args.stream} (Ctrl-C to stop)", flush=True)
        for line in messages:
            count += 1
            print(f"[{count}] {line}", flush=True)
    print(f"{count} messages received")
    return EXIT_OK


def _until(deadline: float | None) -> Iterator[None]:
    """Yield until ``deadline`` (monotonic seconds) passes; forever when it is None."""
    while deadline is None or time.monotonic() < deadline:
        yield
        time.sleep(0.05)  # between polls of a quiet market; not a wait for an event


def _poll(events: Iterator[Any]) -> list[Any]:
    """The next stream event, or none when the stream was quiet for its receive timeout."""
    try:
        return [next(events)]
    except FlexTimeoutError:
        return []


def _describe_event(event: Any) -> str:
    """One line for a WebSocket stream event: its kind and its data as JSON."""
    import msgspec

    return f"{event.kind} {msgspec.json.encode(event.model.data).decode()}"
