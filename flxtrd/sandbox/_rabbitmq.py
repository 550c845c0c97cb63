"""Broker users of the served sandbox on a real RabbitMQ: each account can log in as on the market.

On the market a device logs in to the broker with username = its ``userId`` and password = its
device access token. When the sandbox is served on a RabbitMQ, :class:`BrokerUsers` makes those
users exist, so a client that knows nothing of the sandbox connects as it would to the market:
``POST /users/login`` -> ``userId`` + ``locations[].token`` -> ``amqp://userId:token@host:5672//``.

The one supported mapping
-------------------------
For every account (one RabbitMQ user per account, on vhost ``/``):

- **username** = the account's ``userId``;
- **password** = the access token of the account's **first** location (RabbitMQ keeps one
  password per user; an account with several devices logs all of them in with that token);
- **tag** ``flxtrd-sandbox`` (marks the users the sandbox owns; nothing else);
- **permissions** (regular expressions over exchange and queue names; ``K`` = the alternation of
  the account's application keys, regex-escaped)::

      configure  ^(K)$              declare/delete only its own reply queues
      write      ^(in|K)$           publish orders to `in`; bind its own queues (queue.bind
                                    needs write on the queue)
      read       ^(ticker-out|K)$   bind its queues to `ticker-out` (needs read on the
                                    exchange) and consume them

  A device can therefore not declare exchanges (clients must only check them exist: a passive
  declare needs no permission; ``AmpqAPI`` does that on ``amqps://``, pass
  ``declare_exchanges=False`` on ``amqp://``), read or bind other devices' queues, consume
  orders, or publish anywhere but ``in``. The market's topology itself has one hole the
  permissions cannot close: ``ticker-out`` is a direct exchange, so a device may bind its own
  queue with another device's key and read that device's replies (RabbitMQ checks routing keys
  only on topic exchanges).

RabbitMQ checks the order's ``user_id`` property against the login; the broker worker checks the
``user_id`` owns the application key.

How users are made
------------------
With ``rabbitmqctl`` (the management plugin is not assumed): one ``rabbitmqctl eval`` per batch
runs ``rabbit_definitions:import_raw/1`` on a definitions document (users with a salted SHA-256
``password_hash`` computed here, and their permissions), given on standard input, so no token
ever appears on a command line; it is synchronous, so the user can log in when
:meth:`BrokerUsers.ensure` returns. If that internal function is missing (another RabbitMQ
version), the documented ``rabbitmqctl import_definitions`` (asynchronous) is used and
``list_permissions`` is polled until the users appear. Each call costs a CLI start (about 0.5 s),
so accounts are provisioned in batches and only once per (userId, token, keys): a strict
accounts file is provisioned at start-up, permissive accounts at their first login.

Existing RabbitMQ users that do not carry the ``flxtrd-sandbox`` tag (``guest``, ...) are never
changed: an account whose ``userId`` names one is skipped with a warning.
:meth:`BrokerUsers.delete_all` removes the users this process made (the served sandbox does so
on shutdown).

Several sandboxes on one broker
-------------------------------
RabbitMQ users are global (not per virtual host). The served sandbox derives its ids from the
``--seed`` *and* the token key (:mod:`flxtrd.sandbox._accounts`), so sandboxes with different
token keys (the default: a random key per run) make different users; ids, and so the users, are
the same across restarts only with the same ``--token-key-file``. Two sandboxes with the same
seed and the same ``--token-key-file`` (or accounts files naming the same ``user_id``) make the
same users. So a user is reference-counted: every sandbox that provisions it adds an owner tag
``flxtrd-sandbox:<owner>@<vhost>`` (``owner`` is random per :class:`BrokerUsers`, ``vhost``
URL-quoted) next to ``flxtrd-sandbox``, and on
shutdown a sandbox only removes its own tag. The user is deleted when no owner tag is left; while
others remain, its permissions on this sandbox's virtual host are cleared unless another owner
uses the same virtual host. Both steps run as one ``rabbitmqctl eval`` each, so two sandboxes
starting or stopping together do not lose each other's tags. The last sandbox to provision a
user sets its password and permissions: identical for the same seed and token key, but an
accounts file that fixes a ``user_id`` and leaves its token to be derived gives that user a
different password per token key (fix the ``token`` too, or share ``--token-key-file``).

A sandbox killed without its shutdown leaves its tag behind, and with it the user (as
``--keep-broker-users`` does). On Linux the owner also names its process, PID namespace and boot
(:mod:`flxtrd.sandbox._broker_owner`), and a served sandbox starting drops the tags of owners
certainly dead (same boot and namespace, process gone; :meth:`BrokerUsers.release_dead_owners`),
deleting the users no owner is left on. Tags of sandboxes on other machines or containers, and of
older versions, are left alone: remove those users with ``rabbitmqctl delete_user``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from flxtrd._errors import BrokerError
from flxtrd._log import get_logger

from ._accounts import Account, Location
from ._broker_owner import owner_is_dead, this_owner
from ._market import SandboxMarket

__all__ = [
    "OWNER_TAG_PREFIX",
    "SANDBOX_USER_TAG",
    "BrokerUsers",
    "BrokerUsersError",
    "Permissions",
    "ProvisioningMarket",
    "Rabbitmqctl",
    "password_hash",
    "permissions_for",
]

_log = get_logger("sandbox.rabbitmq")

SANDBOX_USER_TAG = "flxtrd-sandbox"
"""The tag on every RabbitMQ user the sandbox makes."""

OWNER_TAG_PREFIX = f"{SANDBOX_USER_TAG}:"
"""Owner tags are ``flxtrd-sandbox:<owner>@<vhost>`` (see "Several sandboxes on one broker")."""

_HASHING = "rabbit_password_hashing_sha256"

_TAGS_OF = (
    "Tags = fun(U) -> case rabbit_auth_backend_internal:lookup_user(U) of"
    " {{ok, R}} -> [rabbit_data_coercion:to_binary(T) || T <- internal_user:get_tags(R)];"
    " _ -> [] end end,"
)
_IMPORT_KEEPING_TAGS = (
    "Doc = rabbit_json:decode({document}), "
    + _TAGS_OF
    + ' Users = [maps:put(<<"tags">>, lists:usort(maps:get(<<"tags">>, M)'
    ' ++ Tags(maps:get(<<"name">>, M))), M) || M <- maps:get(<<"users">>, Doc)],'
    ' rabbit_definitions:import_raw(rabbit_json:encode(maps:put(<<"users">>, Users, Doc))).'
)
"""Import a definitions document, each user keeping the tags it has (other owners')."""
_RELEASE = (
    "Mine = {mine}, Acting = {acting}, VHost = {vhost}, Prefix = {prefix}, Suffix = {suffix}, "
    + _TAGS_OF
    + " Owned = fun(T) -> binary:longest_common_prefix([T, Prefix]) =:= byte_size(Prefix) end,"
    " Here = fun(T) -> binary:longest_common_suffix([T, Suffix]) =:= byte_size(Suffix) end,"
    " lists:foreach(fun(U) -> case rabbit_auth_backend_internal:lookup_user(U) of"
    " {{ok, _}} -> Left = [T || T <- Tags(U), T =/= Mine],"
    " case [T || T <- Left, Owned(T)] of"
    " [] -> rabbit_auth_backend_internal:delete_user(U, Acting);"
    " Owners -> rabbit_auth_backend_internal:set_tags(U, Left, Acting),"
    " case [T || T <- Owners, Here(T)] of"
    " [] -> rabbit_auth_backend_internal:clear_permissions(U, VHost, Acting); _ -> ok end end;"
    " _ -> ok end end, [{users}])."
)
"""Drop this owner's tag from each user; delete a user no owner is left on (one eval)."""
_FALLBACK_POLL_S = 0.1
_FALLBACK_TIMEOUT_S = 10.0


class BrokerUsersError(BrokerError):
    """Making or removing broker users failed (``rabbitmqctl`` missing or refusing)."""


@dataclass(frozen=True, slots=True)
class Permissions:
    """RabbitMQ permissions of one user on one vhost (three regular expressions)."""

    configure: str
    write: str
    read: str


def _alternation(names: Iterable[str]) -> str:
    return "|".join(re.escape(name) for name in sorted(set(names)))


def permissions_for(
    application_keys: Iterable[str], exchange: str = "in", reply_exchange: str = "ticker-out"
) -> Permissions:
    """The permissions of a device user owning ``application_keys`` (see the module)."""
    keys = _alternation(application_keys)
    if not keys:
        raise ValueError("an account needs at least one application key")
    return Permissions(
        configure=f"^({keys})$",
        write=f"^({re.escape(exchange)}|{keys})$",
        read=f"^({re.escape(reply_exchange)}|{keys})$",
    )


def password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's ``rabbit_password_hashing_sha256`` hash: base64(salt + sha256(salt + pw))."""
    salt = os.urandom(4) if salt is None else salt
    digest = hashlib.sha256(salt + password.encode("utf-8")).digest()
    return base64.b64encode(salt + digest).decode("ascii")


class Rabbitmqctl:
    """Runs ``rabbitmqctl`` (``command`` may be e.g. ``docker exec rabbit rabbitmqctl``)."""

    def __init__(self, command: str | Sequence[str] = "rabbitmqctl", timeout: float = 60.0) -> None:
        self.command = shlex.split(command) if isinstance(command, str) else list(command)
        self.timeout = timeout

    def available(self) -> bool:
        """Whether the command exists on PATH (it may still be refused by the node)."""
        return bool(self.command) and shutil.which(self.command[0]) is not None

    def run(self, *args: str, stdin: str | None = None) -> str:
        """Run one command quietly; return its standard output or raise BrokerUsersError."""
        argv = [*self.command, "-q", *args]
        try:
            done = subprocess.run(
                argv,
                input=stdin.encode("utf-8") if stdin is not None else None,
                capture_output=True,
                timeout=self.timeout,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise BrokerUsersError(f"running {argv[:3]} failed: {exc}") from exc
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).decode("utf-8", "replace").strip()
            raise BrokerUsersError(
                f"rabbitmqctl {args[0]} exited with {done.returncode}: {detail[:500]}"
            )
        return done.stdout.decode("utf-8", "replace")


def _erlang_binary(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'<<"{escaped}"/utf8>>'


class BrokerUsers:
    """Makes sandbox accounts exist as RabbitMQ users (see the module); thread-safe.

    ``ctl`` runs ``rabbitmqctl``; ``vhost``, ``exchange`` and ``reply_exchange`` shape the
    permissions; ``owner`` names this instance in its owner tags (random by default; see
    "Several sandboxes on one broker" in the module).
    """

    def __init__(
        self,
        ctl: Rabbitmqctl | None = None,
        *,
        vhost: str = "/",
        exchange: str = "in",
        reply_exchange: str = "ticker-out",
        owner: str | None = None,
    ) -> None:
        self.ctl = ctl or Rabbitmqctl()
        self.vhost = vhost
        self.exchange = exchange
        self.reply_exchange = reply_exchange
        self.owner = owner if owner is not None else this_owner()
        self._lock = threading.Lock()
        self._foreign: frozenset[str] | None = None
        self._made: dict[str, tuple[str, frozenset[str]]] = {}
        self._use_eval = True

    @property
    def provisioned(self) -> frozenset[str]:
        """User ids this instance has made (and not deleted)."""
        with self._lock:
            return frozenset(self._made)

    def load(self) -> None:
        """Read the broker's existing users once; users without the sandbox tag are left alone."""
        with self._lock:
            self._load()

    def _load(self) -> frozenset[str]:
        if self._foreign is None:
            out = self.ctl.run("list_users", "--formatter", "json")
            users: Any = json.loads(out or "[]")
            self._foreign = frozenset(
                str(u["user"])
                for u in users
                if isinstance(u, dict) and SANDBOX_USER_TAG not in (u.get("tags") or [])
            )
        return self._foreign

    @property
    def owner_tag(self) -> str:
        """This instance's owner tag on the users it provisions."""
        return f"{OWNER_TAG_PREFIX}{self.owner}{self._vhost_suffix}"

    @property
    def _vhost_suffix(self) -> str:
        return "@" + quote(self.vhost, safe="")

    def definitions(self, accounts: Iterable[Account]) -> dict[str, Any]:
        """The definitions document (users, permissions) making ``accounts`` broker users."""
        users: list[dict[str, Any]] = []
        permissions: list[dict[str, Any]] = []
        for account in accounts:
            perms = permissions_for(account.application_keys, self.exchange, self.reply_exchange)
            users.append(
                {
                    "name": account.user_id,
                    "password_hash": password_hash(account.locations[0].token),
                    "hashing_algorithm": _HASHING,
                    "tags": [SANDBOX_USER_TAG, self.owner_tag],
                }
            )
            permissions.append(
                {
                    "user": account.user_id,
                    "vhost": self.vhost,
                    "configure": perms.configure,
                    "write": perms.write,
                    "read": perms.read,
                }
            )
        return {"users": users, "permissions": permissions}

    def ensure(self, accounts: Iterable[Account]) -> list[str]:
        """Make these accounts broker users (those not made yet or changed); return their ids.

        Blocks until the users can log in. Raises BrokerUsersError if ``rabbitmqctl`` fails.
        """
        with self._lock:
            foreign = self._load()
            todo: dict[str, Account] = {}
            for account in accounts:
                if not account.locations:
                    continue
                uid = account.user_id
                if uid in foreign:
                    _log.warning(
                        "not provisioning %r: a broker user of that name exists and is not the"
                        " sandbox's",
                        uid,
                    )
                    continue
                fingerprint = (account.locations[0].token, account.application_keys)
                if self._made.get(uid) != fingerprint:
                    todo[uid] = account
            if not todo:
                return []
            self._import(list(todo.values()))
            for uid, account in todo.items():
                self._made[uid] = (account.locations[0].token, account.application_keys)
            _log.info("provisioned %d broker user(s): %s", len(todo), ", ".join(sorted(todo)))
            return sorted(todo)

    def _import(self, accounts: list[Account]) -> None:
        document = json.dumps(self.definitions(accounts), separators=(",", ":"))
        if self._use_eval:
            expression = _IMPORT_KEEPING_TAGS.format(document=_erlang_binary(document))
            try:
                out = self.ctl.run("eval", stdin=expression)
            except BrokerUsersError as exc:
                _log.info("rabbitmqctl eval import failed (%s); using import_definitions", exc)
                self._use_eval = False
            else:
                if out.strip() == "ok":
                    return
                _log.info(
                    "rabbit_definitions:import_raw answered %r; using import_definitions", out
                )
                self._use_eval = False
        self.ctl.run("import_definitions", "--format", "json", stdin=self._merged_tags(document))
        self._await_permissions({a.user_id for a in accounts})

    def _tags_now(self) -> dict[str, list[str]]:
        """Every broker user's tags, read with ``list_users`` (the fallback paths)."""
        users: Any = json.loads(self.ctl.run("list_users", "--formatter", "json") or "[]")
        return {
            str(u["user"]): [str(t) for t in (u.get("tags") or [])]
            for u in users
            if isinstance(u, dict) and "user" in u
        }

    def _merged_tags(self, document: str) -> str:
        """``document`` with each user's existing tags (other owners') added to its own."""
        existing = self._tags_now()
        definitions = json.loads(document)
        for user in definitions["users"]:
            user["tags"] = sorted(set(user["tags"]) | set(existing.get(user["name"], [])))
        return json.dumps(definitions, separators=(",", ":"))

    def _await_permissions(self, user_ids: set[str]) -> None:
        """``import_definitions`` is asynchronous: poll until every user has its permissions."""
        deadline = time.monotonic() + _FALLBACK_TIMEOUT_S
        while True:
            out = self.ctl.run("list_permissions", "-p", self.vhost, "--formatter", "json")
            present = {str(p.get("user")) for p in json.loads(out or "[]") if isinstance(p, dict)}
            if user_ids <= present:
                return
            if time.monotonic() > deadline:
                missing = ", ".join(sorted(user_ids - present))
                raise BrokerUsersError(f"broker users did not appear after import: {missing}")
            threading.Event().wait(_FALLBACK_POLL_S)

    def delete(self, user_ids: Iterable[str]) -> None:
        """Release these users if this instance made them (others are left alone): drop this
        instance's owner tag, and delete a user no other sandbox owns (see the module)."""
        with self._lock:
            mine = sorted(uid for uid in set(user_ids) if uid in self._made)
            if not mine:
                return
            self._release(mine, self.owner_tag, self.vhost)
            for uid in mine:
                self._made.pop(uid, None)
            _log.info("released %d broker user(s)", len(mine))

    def release_dead_owners(self) -> int:
        """Drop the owner tags of sandboxes on this machine whose process is gone (killed
        without their shutdown), deleting users no owner is left on; return how many tags.

        Only tags `owner_is_dead` is certain of are touched; failures are logged, not raised.
        """
        with self._lock:
            stale: dict[str, list[str]] = {}
            try:
                for uid, tags in self._tags_now().items():
                    for tag in tags:
                        owner = tag.removeprefix(OWNER_TAG_PREFIX).rpartition("@")[0]
                        if tag.startswith(OWNER_TAG_PREFIX) and owner and owner_is_dead(owner):
                            stale.setdefault(tag, []).append(uid)
                for tag, users in sorted(stale.items()):
                    self._release(sorted(users), tag, unquote(tag.rpartition("@")[2]))
            except BrokerUsersError as exc:
                _log.warning("could not release the broker users of dead sandboxes: %s", exc)
                return 0
            if stale:
                _log.info("released the broker users of %d dead sandbox owner(s)", len(stale))
            return len(stale)

    def _release(self, user_ids: list[str], tag: str, vhost: str) -> None:
        """Drop owner ``tag`` (of ``vhost``) from these users in one eval (see the module)."""
        suffix = "@" + quote(vhost, safe="")
        expression = _RELEASE.format(
            mine=_erlang_binary(tag),
            acting=_erlang_binary(SANDBOX_USER_TAG),
            vhost=_erlang_binary(vhost),
            prefix=_erlang_binary(OWNER_TAG_PREFIX),
            suffix=_erlang_binary(suffix),
            users=", ".join(_erlang_binary(uid) for uid in user_ids),
        )
        try:
            self.ctl.run("eval", stdin=expression)
        except BrokerUsersError as exc:
            _log.info("batch release failed (%s); releasing one by one", exc)
            self._release_one_by_one(user_ids, tag, vhost)

    def _release_one_by_one(self, user_ids: list[str], tag: str, vhost: str) -> None:
        """The fallback of :meth:`_release` with documented ``rabbitmqctl`` commands."""
        suffix = "@" + quote(vhost, safe="")
        tags = self._tags_now()
        for uid in user_ids:
            if uid not in tags:
                continue
            left = [t for t in tags[uid] if t != tag]
            owners = [t for t in left if t.startswith(OWNER_TAG_PREFIX)]
            try:
                if not owners:
                    self.ctl.run("delete_user", uid)
                    continue
                self.ctl.run("set_user_tags", uid, *left)
                if not any(t.endswith(suffix) for t in owners):
                    self.ctl.run("clear_permissions", "-p", vhost, uid)
            except BrokerUsersError as err:
                if "does not exist" not in str(err) and "no_such_user" not in str(err):
                    raise

    def delete_all(self) -> None:
        """Delete every user this instance made."""
        self.delete(self.provisioned)


class ProvisioningMarket(SandboxMarket):
    """A `SandboxMarket` whose generation-1 logins make the account a broker user first.

    ``POST /users/login`` (and ``GET /users/mptoken/{token}``, for a device that knows only its
    token) answers only once the account can log in to the broker. Provisioning
    errors are logged, not raised: REST keeps working, only the broker login of that account
    fails.
    """

    def __init__(self, *, broker_users: BrokerUsers, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.broker_users = broker_users

    def login(self, email: str, password: str) -> Account:
        """Log in (see `SandboxMarket.login`) and make the account a broker user."""
        account = super().login(email, password)
        try:
            self.broker_users.ensure([account])
        except BrokerUsersError as exc:
            _log.error("could not make %r a broker user: %s", account.user_id, exc)
        return account

    def account_by_token(self, access_token: str) -> tuple[Account, Location] | None:
        """Look up a device token (see `SandboxMarket.account_by_token`) and make its account a
        broker user, so a device that knows only its token can log in to the broker."""
        found = super().account_by_token(access_token)
        if found is not None:
            try:
                self.broker_users.ensure([found[0]])
            except BrokerUsersError as exc:
                _log.error("could not make %r a broker user: %s", found[0].user_id, exc)
        return found

    def provision_known(self) -> list[str]:
        """Make every account known now (a strict accounts file) a broker user."""
        return self.broker_users.ensure(self.accounts.all())
