"""The new commands at DEBUG (``-v``) never print the password or a token.

Every command runs with a known password (non-ASCII too), succeeding on the embedded sandbox
and failing on a strict one (refused password): standard output and standard error, DEBUG
logs included, must hold neither the password (in any URL-encoded spelling) nor anything shaped
like a JWT (the sandbox's access and login tokens).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import quote, quote_plus

from cli_harness import env_for, new_user, run_cli

PASSWORD = "pw-Cli-S3cret-" + "ä€"
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
COMMANDS = [
    ["orders", "place", "buy", "--power", "100", "--price", "0.2", "--json"],
    ["orders", "list"],
    ["orders", "get", "987654"],
    ["orders", "cancel", "987654"],
    ["contracts", "list", "--json"],
    ["contracts", "get", "987654"],
    ["deals"],
    ["stream", "orderbook", "--count", "1", "--json"],
    ["order", "bid", "--power", "100", "--price", "0.2", "--generation", "2"],
]


def shown(text: str) -> list[str]:
    """What of the secrets ``text`` shows: the password's spellings, JWT-shaped tokens."""
    spellings = {PASSWORD, quote(PASSWORD, safe=""), quote_plus(PASSWORD, safe="")}
    return [s for s in spellings if s in text] + JWT.findall(text)


def test_new_commands_at_debug_show_no_secret(tmp_path: Path) -> None:
    """Each command with -v, ok or not found, then refused: no password, no token printed."""
    env = env_for("sandbox://", new_user("secret"), PASSWORD)
    accounts = tmp_path / "accounts.json"
    accounts.write_text(json.dumps({"accounts": [{"email": "x@y.test", "password": "other"}]}))
    refused = {**env, "FLXTRD_USERNAME": "x@y.test", "FLXTRD_SANDBOX_ACCOUNTS": str(accounts)}
    runs = [run_cli("-v", *args, env=env) for args in COMMANDS]
    runs += [run_cli("-v", *args, env=refused) for args in COMMANDS[:2]]
    assert [r.returncode for r in runs] == [0, 0, 6, 6, 0, 6, 0, 0, 0, 3, 3]
    for run in runs:
        output = run.stdout + run.stderr
        assert "DEBUG" in run.stderr  # -v did log at DEBUG
        assert shown(output) == [], output[-2000:]
