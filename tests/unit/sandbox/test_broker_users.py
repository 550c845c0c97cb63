"""Broker user provisioning without RabbitMQ: the mapping, definitions, rabbitmqctl calls."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

import pytest

from flxtrd.sandbox._accounts import Account, Location
from flxtrd.sandbox._rabbitmq import (
    SANDBOX_USER_TAG,
    BrokerUsers,
    BrokerUsersError,
    ProvisioningMarket,
    Rabbitmqctl,
    password_hash,
    permissions_for,
)

ALICE = Account("alice@example.com", "alice-id", (Location("a.1", "tok-a1"), Location("a2", "x")))
BOB = Account("bob@example.com", "bob-id", (Location("b1", "tok-b1"),))


class FakeCtl(Rabbitmqctl):
    """Records rabbitmqctl calls and answers them from a script."""

    def __init__(self, users: list[dict[str, Any]] | None = None, eval_ok: bool = True) -> None:
        super().__init__("rabbitmqctl")
        self.calls: list[tuple[tuple[str, ...], str | None]] = []
        self.users = users if users is not None else [{"user": "guest", "tags": ["administrator"]}]
        self.eval_ok = eval_ok
        self.imported: list[dict[str, Any]] = []

    def run(self, *args: str, stdin: str | None = None) -> str:
        """Answer like rabbitmqctl would."""
        self.calls.append((args, stdin))
        command = args[0]
        if command == "list_users":
            return json.dumps(self.users)
        if command == "eval":
            if not self.eval_ok:
                raise BrokerUsersError("rabbitmqctl eval exited with 70: undef")
            found = re.search(r'rabbit_json:decode\(<<"(.*?)"/utf8>>\)', stdin or "")
            if found:  # an import: remember its users (the Erlang merge of tags is not run)
                text = found[1].replace('\\"', '"').replace("\\\\", "\\")
                self._add_users(json.loads(text))
            return "ok\n"
        if command == "import_definitions":
            self.imported.append(json.loads(stdin or "{}"))
            self._add_users(self.imported[-1])
            return ""
        if command == "list_permissions":
            names = [p["user"] for d in self.imported for p in d["permissions"]]
            return json.dumps([{"user": n} for n in names])
        if command == "delete_user":
            self.users = [u for u in self.users if u["user"] != args[1]]
            return ""
        if command == "set_user_tags":
            for u in self.users:
                if u["user"] == args[1]:
                    u["tags"] = list(args[2:])
            return ""
        if command == "clear_permissions":
            return ""
        raise AssertionError(f"unexpected command {args}")

    def _add_users(self, definitions: dict[str, Any]) -> None:
        for user in definitions["users"]:
            self.users = [u for u in self.users if u["user"] != user["name"]]
            self.users.append({"user": user["name"], "tags": list(user["tags"])})

    def commands(self) -> list[str]:
        """The command names called, in order."""
        return [args[0] for args, _ in self.calls]


def test_permissions_allow_exactly_the_devices_own_names() -> None:
    """configure own queues; write `in` + own queues; read `ticker-out` + own queues."""
    perms = permissions_for(["a.1", "a2"])
    assert perms.configure == r"^(a\.1|a2)$"
    assert re.fullmatch(perms.configure, "a.1") and not re.fullmatch(perms.configure, "aX1")
    assert re.fullmatch(perms.write, "in") and re.fullmatch(perms.write, "a2")
    assert not re.fullmatch(perms.write, "ticker-out") and not re.fullmatch(perms.write, "b1")
    assert re.fullmatch(perms.read, "ticker-out") and re.fullmatch(perms.read, "a.1")
    assert not re.fullmatch(perms.read, "in") and not re.fullmatch(
        perms.read, "flxtrd.sandbox.orders"
    )
    with pytest.raises(ValueError):
        permissions_for([])


def test_password_hash_is_rabbitmqs_salted_sha256() -> None:
    """base64(salt + sha256(salt + password)), with a fresh salt each time."""
    salt = b"\x01\x02\x03\x04"
    expected = base64.b64encode(salt + hashlib.sha256(salt + b"tok").digest()).decode()
    assert password_hash("tok", salt) == expected
    assert password_hash("tok") != password_hash("tok")


def test_definitions_map_user_id_and_first_token() -> None:
    """username = userId, password = first location's token, tag, permissions on vhost /."""
    users = BrokerUsers(FakeCtl(), owner="o1")
    doc = users.definitions([ALICE])
    (user,) = doc["users"]
    assert user["name"] == "alice-id"
    assert users.owner_tag == "flxtrd-sandbox:o1@%2F"
    assert user["tags"] == [SANDBOX_USER_TAG, users.owner_tag]
    assert user["hashing_algorithm"] == "rabbit_password_hashing_sha256"
    raw = base64.b64decode(user["password_hash"])
    assert hashlib.sha256(raw[:4] + b"tok-a1").digest() == raw[4:]
    (perm,) = doc["permissions"]
    assert perm["vhost"] == "/" and perm["configure"] == r"^(a\.1|a2)$"
    assert "tok-a1" not in json.dumps(doc)


def test_ensure_imports_a_batch_once_on_stdin() -> None:
    """One eval per batch, tokens never on argv; the same accounts again cost nothing."""
    ctl = FakeCtl()
    users = BrokerUsers(ctl)
    assert users.ensure([ALICE, BOB]) == ["alice-id", "bob-id"]
    assert ctl.commands() == ["list_users", "eval"]
    (args, stdin) = ctl.calls[1]
    assert args == ("eval",) and stdin is not None
    assert stdin.startswith("Doc = rabbit_json:decode(<<") and "alice-id" in stdin
    assert "rabbit_definitions:import_raw(" in stdin and "get_tags" in stdin  # keeps others' tags
    assert all("tok-" not in " ".join(a) for a, _ in ctl.calls)
    assert users.ensure([ALICE, BOB]) == []
    assert ctl.commands() == ["list_users", "eval"]
    assert users.provisioned == {"alice-id", "bob-id"}


def test_a_changed_account_is_provisioned_again() -> None:
    """A new location (key) or token changes the fingerprint: the user is imported again."""
    ctl = FakeCtl()
    users = BrokerUsers(ctl)
    users.ensure([BOB])
    grown = Account(BOB.email, BOB.user_id, (*BOB.locations, Location("b2", "t2")))
    assert users.ensure([grown]) == ["bob-id"]
    assert ctl.commands().count("eval") == 2


def test_users_the_sandbox_does_not_own_are_never_touched() -> None:
    """An account named like an existing untagged user (guest) is skipped, not overwritten."""
    ctl = FakeCtl(users=[{"user": "alice-id", "tags": ["administrator"]}])
    users = BrokerUsers(ctl)
    assert users.ensure([ALICE, BOB]) == ["bob-id"]
    (_, stdin) = ctl.calls[-1]
    assert stdin is not None and "alice-id" not in stdin
    users.delete(["alice-id"])
    assert "delete_user" not in ctl.commands() and ctl.commands().count("eval") == 1


def test_a_leftover_sandbox_user_is_taken_over() -> None:
    """A user tagged flxtrd-sandbox (an earlier run) is the sandbox's: it is re-imported."""
    ctl = FakeCtl(users=[{"user": "alice-id", "tags": [SANDBOX_USER_TAG]}])
    assert BrokerUsers(ctl).ensure([ALICE]) == ["alice-id"]


def test_without_import_raw_the_documented_import_is_used_and_awaited() -> None:
    """eval failing falls back to import_definitions, then list_permissions shows the users."""
    ctl = FakeCtl(eval_ok=False)
    users = BrokerUsers(ctl)
    assert users.ensure([ALICE]) == ["alice-id"]
    assert ctl.commands() == [
        "list_users",
        "eval",
        "list_users",  # the tags the users have now, kept in the import
        "import_definitions",
        "list_permissions",
    ]
    users.ensure([BOB])  # eval is not tried again
    assert ctl.commands()[5:] == ["list_users", "import_definitions", "list_permissions"]


def test_delete_all_removes_only_the_users_it_made_in_one_call() -> None:
    """delete_all runs one eval over the users made; afterwards nothing is provisioned."""
    ctl = FakeCtl()
    users = BrokerUsers(ctl)
    users.ensure([ALICE, BOB])
    users.delete_all()
    (args, stdin) = ctl.calls[-1]
    assert args == ("eval",) and stdin is not None and "delete_user" in stdin
    assert '<<"alice-id"/utf8>>' in stdin and '<<"bob-id"/utf8>>' in stdin
    assert users.provisioned == frozenset()
    users.delete_all()
    assert len(ctl.calls) == 3


def test_delete_falls_back_to_one_command_per_user() -> None:
    """Without a working eval, users are deleted one by one with delete_user."""
    ctl = FakeCtl()
    users = BrokerUsers(ctl)
    users.ensure([ALICE, BOB])
    ctl.eval_ok = False
    users.delete_all()
    assert ctl.commands()[-3:] == ["list_users", "delete_user", "delete_user"]


def test_a_user_another_sandbox_also_owns_is_kept_on_release() -> None:
    """Two owners of one user (same seed): the first to stop drops only its own tag; the user
    goes with the last owner (the fallback path, where the reference count is visible)."""
    ctl = FakeCtl(eval_ok=False)
    first, second = BrokerUsers(ctl, owner="one"), BrokerUsers(ctl, owner="two")
    first.ensure([BOB])
    second.ensure([BOB])
    (bob,) = (u for u in ctl.users if u["user"] == "bob-id")
    assert set(bob["tags"]) == {SANDBOX_USER_TAG, first.owner_tag, second.owner_tag}
    first.delete_all()
    assert "delete_user" not in ctl.commands()
    assert bob["tags"] == [SANDBOX_USER_TAG, second.owner_tag]
    assert "clear_permissions" not in ctl.commands(), "the other owner uses the same vhost"
    second.delete_all()
    assert ctl.commands()[-1] == "delete_user" and "bob-id" not in {u["user"] for u in ctl.users}


def test_an_owner_on_another_vhost_keeps_the_user_but_not_this_vhosts_permissions() -> None:
    """Released by the last owner of its vhost, a user kept by another vhost's sandbox loses
    the permissions on the released vhost only."""
    ctl = FakeCtl(eval_ok=False)
    here, there = BrokerUsers(ctl, owner="one"), BrokerUsers(ctl, owner="two", vhost="other")
    here.ensure([BOB])
    there.ensure([BOB])
    here.delete_all()
    assert ctl.calls[-1][0] == ("clear_permissions", "-p", "/", "bob-id")
    assert "delete_user" not in ctl.commands()


def test_rabbitmqctl_failures_become_broker_users_errors() -> None:
    """A missing command or a non-zero exit raises BrokerUsersError with the output."""
    with pytest.raises(BrokerUsersError, match="failed"):
        Rabbitmqctl("/nonexistent/rabbitmqctl").run("status")
    with pytest.raises(BrokerUsersError, match="exited with 3"):
        Rabbitmqctl(["sh", "-c", "echo nope >&2; exit 3", "sh"]).run("x")
    assert Rabbitmqctl("sh -c true").command == ["sh", "-c", "true"]
    assert not Rabbitmqctl("/nonexistent/rabbitmqctl").available()


def test_a_login_provisions_the_account_and_survives_failures() -> None:
    """ProvisioningMarket.login makes the broker user; a rabbitmqctl failure is only logged."""
    ctl = FakeCtl()
    market = ProvisioningMarket(broker_users=BrokerUsers(ctl), seed=3)
    account = market.login("dave@example.com", "pw")
    assert market.broker_users.provisioned == {account.user_id}
    market.login("dave@example.com", "pw")
    assert ctl.commands().count("eval") == 1

    class Broken(FakeCtl):
        def run(self, *args: str, stdin: str | None = None) -> str:
            raise BrokerUsersError("node down")

    broken = ProvisioningMarket(broker_users=BrokerUsers(Broken()), seed=3)
    assert broken.login("erin@example.com", "pw").user_id
