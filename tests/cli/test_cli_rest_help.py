"""``--help`` on every command and subcommand: exit 0, an example, and the exit codes."""

from __future__ import annotations

import argparse

import pytest
from cli_harness import env_for, run_cli

from flxtrd._cli._main import build_parser


def command_paths() -> list[tuple[str, ...]]:
    """Every command and subcommand of the parser, e.g. ("orders", "place")."""
    paths: list[tuple[str, ...]] = []

    def walk(parser: argparse.ArgumentParser, prefix: tuple[str, ...]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    paths.append((*prefix, name))
                    walk(sub, (*prefix, name))

    walk(build_parser(), ())
    return paths


def test_the_new_commands_are_there() -> None:
    """orders place|list|get|cancel, contracts list|get, deals and stream exist."""
    paths = set(command_paths())
    assert {("orders", a) for a in ("place", "list", "get", "cancel")} <= paths
    assert {("contracts", "list"), ("contracts", "get"), ("deals",), ("stream",)} <= paths


@pytest.mark.parametrize("path", command_paths(), ids=" ".join)
def test_help_shows_an_example(path: tuple[str, ...]) -> None:
    """``python -m flxtrd <command> --help``: exit 0, an example running that command."""
    result = run_cli(*path, "--help", env=env_for(None, None, None))
    assert result.returncode == 0, result.stderr
    _, _, epilog = result.stdout.partition("\nexample:\n")
    assert f"python -m flxtrd {path[0]}" in epilog, result.stdout
    if path[0] not in ("sandbox", "bot"):  # those two report their own exit status
        assert "exit codes:" in epilog and "  130  interrupted" in epilog


def test_top_level_help_lists_the_exit_codes() -> None:
    """``python -m flxtrd --help`` ends with the exit code table."""
    result = run_cli("--help", env=env_for(None, None, None))
    assert result.returncode == 0
    table = result.stdout.split("exit codes:\n", 1)[1].splitlines()
    assert [line.split()[0] for line in table] == ["0", "1", "2", "3", "4", "5", "6", "7", "130"]
