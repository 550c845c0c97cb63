"""``python -m flxtrd sandbox``: serve the sandbox market (REST + WebSocket + broker worker).

The logic is in :mod:`flxtrd.sandbox._served`; this module only reads the command line.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from flxtrd._cli_args import positive_int, positive_seconds
from flxtrd._errors import ConfigurationError
from flxtrd._log import redact_url
from flxtrd.sandbox._http_limits import DEFAULT_HEADER_TIMEOUT_S

__all__ = ["add_sandbox_parser", "parse_hostport", "run_sandbox"]

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def parse_hostport(text: str) -> tuple[str, int]:
    """Read ``HOST:PORT`` (``[::1]:8000`` for IPv6; port 0 = any free port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        number = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"the port of {text!r} is not a number") from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"the port of {text!r} is out of range")
    return host, number


def _add_hardening_options(parser: argparse.ArgumentParser) -> None:
    """The options that keep hostile clients out: the token key and the read deadline."""
    parser.add_argument(
        "--token-key-file",
        default=None,
        metavar="FILE",
        help=(
            "the key that signs tokens and derives device tokens: the file's text, at least 32"
            " bytes, so tokens survive a restart (default: a random key per run; never derived"
            " from --seed)"
        ),
    )
    parser.add_argument(
        "--header-timeout",
        type=positive_seconds,
        default=DEFAULT_HEADER_TIMEOUT_S,
        metavar="S",
        help=(
            "close a connection that sends no complete request head within S seconds, and"
            f" answer 408 to a body that takes longer (default {DEFAULT_HEADER_TIMEOUT_S:g})"
        ),
    )


def add_sandbox_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``sandbox`` subcommand to ``subparsers`` (handler: :func:`run_sandbox`)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "sandbox",
        help="serve the sandbox market: REST + WebSocket over HTTP(S), orders over RabbitMQ",
        description=(
            "Serve a local GLocalFlex market. Clients log in over REST (any credentials, unless"
            " --strict-accounts) and trade over AMQP as on the market: on a local RabbitMQ each"
            " account becomes a broker user (userId / device access token). Ctrl-C or SIGTERM"
            " stops it cleanly."
        ),
    )
    parser.add_argument(
        "--http",
        type=parse_hostport,
        default=("127.0.0.1", 8000),
        metavar="HOST:PORT",
        help="where REST and WebSocket listen (default 127.0.0.1:8000; port 0 = any free port)",
    )
    parser.add_argument(
        "--amqp",
        default="amqp://guest:guest@127.0.0.1:5672//",
        metavar="URL",
        help="the RabbitMQ the broker worker uses (default amqp://guest:guest@127.0.0.1:5672//)",
    )
    parser.add_argument("--certfile", default=None, help="TLS certificate (PEM): serve https/wss")
    parser.add_argument("--keyfile", default=None, help="TLS private key (PEM) of --certfile")
    parser.add_argument(
        "--strict-accounts",
        default=None,
        metavar="FILE",
        help="only the accounts of this JSON/TOML file log in (default: any credentials)",
    )
    parser.add_argument(
        "--token-lifetime",
        type=positive_int,
        default=None,
        metavar="S",
        help="lifetime of OAuth2 access tokens, seconds (default 300)",
    )
    parser.add_argument(
        "--rate-limit",
        type=positive_int,
        default=None,
        metavar="N",
        help="at most N REST requests per second per client, then 429 with Retry-After",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="N",
        help=(
            "seed of the market's ids (default 0); ids are also keyed with the token key, so"
            " they repeat across restarts only with the same --token-key-file"
        ),
    )
    parser.add_argument(
        "--broker-users",
        choices=["auto", "on", "off"],
        default="auto",
        help=(
            "make each account a RabbitMQ user with rabbitmqctl: auto = when the broker is on"
            " this machine and rabbitmqctl works (default)"
        ),
    )
    parser.add_argument(
        "--rabbitmqctl",
        default="rabbitmqctl",
        metavar="CMD",
        help="how to run rabbitmqctl, e.g. 'docker exec rabbitmq rabbitmqctl'",
    )
    parser.add_argument(
        "--keep-broker-users",
        action="store_true",
        help="do not delete the provisioned broker users on shutdown",
    )
    _add_hardening_options(parser)
    parser.set_defaults(handler=run_sandbox)
    return parser


def run_sandbox(args: argparse.Namespace) -> int:
    """Serve the sandbox until Ctrl-C / SIGTERM; 0 on a clean stop, 1 if it fails."""
    from ._served import ServedOptions, serve

    host, port = args.http
    options = ServedOptions(
        http_host=host,
        http_port=port,
        amqp_url=args.amqp,
        certfile=args.certfile,
        keyfile=args.keyfile,
        strict_accounts=args.strict_accounts,
        token_lifetime_s=args.token_lifetime,
        rate_limit=args.rate_limit,
        seed=args.seed,
        broker_users=args.broker_users,
        rabbitmqctl=args.rabbitmqctl,
        keep_broker_users=args.keep_broker_users,
        log_level="info" if getattr(args, "verbose", False) else "warning",
        token_key_file=args.token_key_file,
        header_timeout_s=args.header_timeout,
    )
    if (args.certfile is None) != (args.keyfile is None):
        print("error: --certfile and --keyfile go together", file=sys.stderr)
        return EXIT_USAGE
    try:
        return serve(options)
    except ConfigurationError as exc:  # uvicorn missing: the message names the extra
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:
        print(
            f"error: the sandbox could not start ({redact_url(args.amqp)}): {exc}",
            file=sys.stderr,
        )
        return EXIT_ERROR
