"""Served-sandbox ids keyed with the token key, and owner names whose death is certain."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from flxtrd.sandbox import Accounts
from flxtrd.sandbox._accounts import parse_accounts
from flxtrd.sandbox._broker_owner import owner_is_dead, this_owner

KEY_A = b"a" * 32
KEY_B = b"b" * 32

linux_only = pytest.mark.skipif(
    not os.path.exists("/proc/self/ns/pid"), reason="owner liveness needs Linux /proc"
)


def _ids(accounts: Accounts) -> tuple[str, str]:
    account = accounts.login("x@example.com", "pw")
    return account.user_id, account.locations[0].id


def test_ids_from_the_token_key_differ_between_keys_and_repeat_with_the_same_key() -> None:
    """Same seed: other token key, other ids; same key, same ids; the default keys on the seed."""
    a = _ids(Accounts(seed=7, token_key=KEY_A, ids_from_token_key=True))
    assert a == _ids(Accounts(seed=7, token_key=KEY_A, ids_from_token_key=True))
    b = _ids(Accounts(seed=7, token_key=KEY_B, ids_from_token_key=True))
    assert a[0] != b[0] and a[1] != b[1]
    assert _ids(Accounts(seed=7, token_key=KEY_A)) == _ids(Accounts(seed=7, token_key=KEY_B))


def test_an_accounts_file_derives_its_missing_ids_from_the_token_key_too() -> None:
    """parse_accounts with ids_from_token_key: the derived user id follows the key."""
    data = {"accounts": [{"email": "x@example.com", "password": "pw"}]}
    a = parse_accounts(data, seed=7, token_key=KEY_A, ids_from_token_key=True)
    b = parse_accounts(data, seed=7, token_key=KEY_B, ids_from_token_key=True)
    assert a[0].user_id != b[0].user_id


@linux_only
def test_an_owner_is_dead_only_when_its_process_is_gone_on_this_machine() -> None:
    """This process: alive; a finished child: dead; another boot, an old-style name: alive."""
    mine = this_owner()
    assert not owner_is_dead(mine)
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    random, _, ns, boot = mine.split(".")
    gone = f"{random}.{int(child.stdout)}.{ns}.{boot}"
    assert owner_is_dead(gone)
    assert not owner_is_dead(f"{random}.{int(child.stdout)}.{ns}.{'0' * 32}")
    assert not owner_is_dead(f"{random}.{int(child.stdout)}.1.{boot}")
    assert not owner_is_dead(random)
