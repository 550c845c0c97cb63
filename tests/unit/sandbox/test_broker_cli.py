"""``python -m flxtrd sandbox``: its options, as parsed, and the served sandbox's settings."""

from __future__ import annotations

import argparse

import pytest

from flxtrd.sandbox._cli import add_sandbox_parser, parse_hostport, run_sandbox
from flxtrd.sandbox._served import ServedOptions, ServedSandbox, _is_local


def parser() -> argparse.ArgumentParser:
    """A top-level parser with only the sandbox subcommand."""
    top = argparse.ArgumentParser(prog="flxtrd")
    add_sandbox_parser(top.add_subparsers(dest="command"))
    return top


def test_defaults_serve_on_localhost_8000_and_the_local_rabbitmq() -> None:
    """No options: 127.0.0.1:8000, guest on the local RabbitMQ, auto broker users, seed 0."""
    args = parser().parse_args(["sandbox"])
    assert args.http == ("127.0.0.1", 8000)
    assert args.amqp == "amqp://guest:guest@127.0.0.1:5672//"
    assert (args.certfile, args.keyfile, args.strict_accounts) == (None, None, None)
    assert (args.token_lifetime, args.rate_limit, args.seed) == (None, None, 0)
    assert args.broker_users == "auto" and args.handler is run_sandbox


def test_every_option_is_read() -> None:
    """The documented options reach the namespace with their types."""
    args = parser().parse_args(
        [
            "sandbox", "--http", "[::1]:0", "--amqp", "amqps://u:p@h:5671//",
            "--certfile", "c.pem", "--keyfile", "k.pem", "--strict-accounts", "a.toml",
            "--token-lifetime", "30", "--rate-limit", "5", "--seed", "42",
            "--broker-users", "off", "--rabbitmqctl", "docker exec r rabbitmqctl",
            "--keep-broker-users",
        ]
    )  # fmt: skip
    assert args.http == ("::1", 0)
    assert (args.certfile, args.keyfile, args.strict_accounts) == ("c.pem", "k.pem", "a.toml")
    assert (args.token_lifetime, args.rate_limit, args.seed) == (30, 5, 42)
    assert args.broker_users == "off" and args.keep_broker_users
    assert args.rabbitmqctl == "docker exec r rabbitmqctl"


@pytest.mark.parametrize("text", ["8000", ":8000", "host:port", "h:70000"])
def test_bad_host_ports_are_refused(text: str) -> None:
    """HOST:PORT must have a host and a port in 0..65535."""
    with pytest.raises(argparse.ArgumentTypeError):
        parse_hostport(text)


@pytest.mark.parametrize("option", ["--token-lifetime", "--rate-limit"])
def test_lifetimes_and_limits_must_be_positive(
    option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """0 or a non-number is a usage error (exit 2)."""
    with pytest.raises(SystemExit) as info:
        parser().parse_args(["sandbox", option, "0"])
    assert info.value.code == 2
    assert "expected a number >= 1" in capsys.readouterr().err


def test_a_certificate_needs_its_key(capsys: pytest.CaptureFixture[str]) -> None:
    """--certfile without --keyfile is a usage error before anything starts."""
    args = parser().parse_args(["sandbox", "--certfile", "c.pem"])
    assert run_sandbox(args) == 2
    assert "go together" in capsys.readouterr().err
    with pytest.raises(ValueError):
        ServedSandbox(ServedOptions(certfile="c.pem"))


def test_an_unreachable_broker_fails_start_with_exit_code_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A broker that refuses connections: a one-line error, exit 1, no traceback, no password."""
    args = parser().parse_args(
        ["sandbox", "--http", "127.0.0.1:0", "--amqp", "amqp://u:hunter2@127.0.0.1:1//",
         "--broker-users", "off"]
    )  # fmt: skip
    assert run_sandbox(args) == 1
    err = capsys.readouterr().err
    assert "could not start" in err and "hunter2" not in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("amqp://guest:guest@127.0.0.1:5672//", True),
        ("amqp://localhost//", True),
        ("amqp://[::1]:5672//", True),
        ("amqps://broker.example.com:5671//", False),
        ("amqp://10.0.0.5//", False),
    ],
)
def test_broker_users_are_automatic_only_for_a_local_broker(url: str, local: bool) -> None:
    """rabbitmqctl manages the local node, so ``auto`` provisions only for a local broker."""
    assert _is_local(url) is local
