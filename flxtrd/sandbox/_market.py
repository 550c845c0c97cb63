"""The sandbox market as the servers see it: engine + accounts + clock + an event hub.

`SandboxMarket` is the one object the REST app (`_app`), the broker worker (`_broker`) and the
WebSocket streams share. It owns a `MatchingEngine`, the `Accounts` and the clock, translates
wire-level inputs (a generation-1 order line, a generation-2 order request) into engine orders,
and publishes everything the engine reports to its subscribers. It imports nothing heavy
(no starlette, uvicorn or kombu), so the broker can use it on its own.

Event hub
---------
``subscribe(callback)`` registers ``callback(update: MarketUpdate)`` and returns a function
that unsubscribes it. Every mutating call (``submit_gen1``, ``place_order``, ``cancel_order``,
``advance``, ``update_contract``) that produced events publishes ONE `MarketUpdate`: the
engine's events in the order they happened, each wrapped in a `SandboxEvent` that says whose it
is (``users``: the order owner; for a trade or a contract, buyer and seller) and whether it is
for everyone (``broadcast``: trades, i.e. gen-1 ticks and gen-2 ticker entries). Updates are
published in the order the engine made them (one lock covers the engine call and the publish).
Callbacks run in the caller's thread with that lock held: they must be quick and must not call
the market's mutating methods (hand the update to a queue or an event loop instead). A callback
that raises is logged and skipped; the others still get the update.

Who drives expiry
-----------------
The engine expires due orders at the start of every call; `advance` does only that, so servers
call it periodically (`start_expiry_timer` runs a daemon thread for served and embedded use;
tests with a `ManualClock` call `advance` themselves). Expiries noticed by queries are published
with the next mutating call.

Identities
----------
Generation-2 methods take the caller as an `Account` (from `user_for_bearer`) or a user id;
generation 1 identifies the owner by the AMQP ``user_id``. Generation-2 order and contract calls
see only generation-2 orders and the caller's own (others' ids are "not found").
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

from ._accounts import (
    DEFAULT_ACCESS_LIFETIME_S,
    DEFAULT_REFRESH_LIFETIME_S,
    Account,
    Accounts,
    AuthError,
    IssuedToken,
    Location,
)
from ._clock import Clock, SystemClock
from ._engine import MatchingEngine
from ._market_input import (
    LineLike,
    OrderInputError,
    expiry_not_after_start,
    is_number,
    line_key,
    line_side,
    request_dict,
    user_id_of,
)
from ._market_time import parse_datetime_ms
from ._market_update import MarketUpdate, Subscriber, audience
from ._types import (
    ActionError,
    ActionResult,
    BookSnapshot,
    Contract,
    ContractStatus,
    Event,
    Gen1Order,
    Gen2Order,
    OrderStatus,
    OrderView,
    RejectCode,
    Rejected,
    SettlementStatus,
    Side,
    SubmitResult,
    Trade,
    VerificationStatus,
)

__all__ = [
    "DEFAULT_EXPIRY_INTERVAL_S",
    "Account",
    "AuthError",
    "IssuedToken",
    "Location",
    "SandboxMarket",
]

_logger = logging.getLogger("flxtrd.sandbox")

DEFAULT_EXPIRY_INTERVAL_S = 1.0
"""How often `start_expiry_timer` calls `advance` by default, s."""

# --------------------------------------------------------------------------------------------
# The market


class SandboxMarket:
    """The sandbox market: engine, accounts, clock and event hub; thread-safe.

    ``clock`` defaults to the wall clock, ``seed`` fixes order/trade/contract ids and account
    ids; ``accounts`` defaults to permissive accounts on the same clock and seed, whose tokens
    ``token_key`` signs (random when None, see `_accounts`); ``engine`` to a new
    `MatchingEngine` on them.
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        seed: int = 0,
        accounts: Accounts | None = None,
        engine: MatchingEngine | None = None,
        trade_history: int = 10_000,
        token_key: bytes | None = None,
    ) -> None:
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.seed = seed
        self.accounts = (
            accounts
            if accounts is not None
            else Accounts(seed=seed, clock=self.clock, token_key=token_key)
        )
        self._trade_history = trade_history
        self.engine = (
            engine
            if engine is not None
            else MatchingEngine(self.clock, seed, trade_history=trade_history)
        )
        self._lock = threading.RLock()
        self._subscribers: dict[int, Subscriber] = {}
        self.streams_attached = 0
        """WebSocket streams now receiving this market's updates (kept by the apps' hubs)."""
        self._streams_lock = threading.Lock()
        self._next_subscriber = 0
        self._timer_stop: threading.Event | None = None

    @classmethod
    def configured(
        cls,
        *,
        seed: int = 0,
        clock: Clock | None = None,
        accounts_file: str | os.PathLike[str] | None = None,
        access_lifetime_s: int = DEFAULT_ACCESS_LIFETIME_S,
        refresh_lifetime_s: int = DEFAULT_REFRESH_LIFETIME_S,
    ) -> SandboxMarket:
        """A market from the sandbox's settings (the CLI's and the environment's).

        ``accounts_file`` (JSON or TOML, see `_accounts`) makes the accounts strict; without it
        any credentials log in. The lifetimes are the OAuth2 tokens', in seconds.
        """
        clock = clock if clock is not None else SystemClock()
        if accounts_file is not None:
            accounts = Accounts.from_file(
                accounts_file,
                seed=seed,
                clock=clock,
                access_lifetime_s=access_lifetime_s,
                refresh_lifetime_s=refresh_lifetime_s,
            )
        else:
            accounts = Accounts(
                seed=seed,
                clock=clock,
                access_lifetime_s=access_lifetime_s,
                refresh_lifetime_s=refresh_lifetime_s,
            )
        return cls(clock=clock, seed=seed, accounts=accounts)

    def reset(self) -> None:
        """Start over with an empty book: a new engine (same clock and seed, so the same ids).

        Accounts, subscribers and the expiry timer stay; nothing is published.
        """
        with self._lock:
            self.engine = MatchingEngine(self.clock, self.seed, trade_history=self._trade_history)

    # -- event hub ------------------------------------------------------------------------

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(update)`` for every `MarketUpdate`; returns the unsubscribe function."""
        with self._lock:
            key = self._next_subscriber
            self._next_subscriber += 1
            self._subscribers[key] = callback

        def unsubscribe() -> None:
            with self._lock:
                self._subscribers.pop(key, None)

        return unsubscribe

    def count_stream(self, delta: int) -> None:
        """Add ``delta`` to `streams_attached` (a stream hub attached or detached a stream)."""
        with self._streams_lock:
            self.streams_attached += delta

    def _publish(self, events: tuple[Event, ...], received_ns: int | None = None) -> None:
        """Hand the events of one call to every subscriber (caller holds ``self._lock``)."""
        if not events:
            return
        update = MarketUpdate(tuple(audience(e) for e in events), self.engine.now_ms(), received_ns)
        for callback in list(self._subscribers.values()):
            try:
                callback(update)
            except Exception:
                _logger.exception("sandbox subscriber %r failed", callback)

    # -- time -----------------------------------------------------------------------------

    def now_ms(self) -> int:
        """The market time, ms since the epoch (never goes back)."""
        return self.engine.now_ms()

    def advance(self, now_ms: int | None = None) -> MarketUpdate:
        """Expire what is due by ``now_ms`` (default: the clock); publish and return the update."""
        with self._lock:
            events = self.engine.advance(now_ms)
            self._publish(events)
            return MarketUpdate(tuple(audience(e) for e in events), self.engine.now_ms())

    def start_expiry_timer(self, interval_s: float = DEFAULT_EXPIRY_INTERVAL_S) -> None:
        """Call `advance` every ``interval_s`` in a daemon thread until `stop_expiry_timer`."""
        with self._lock:
            if self._timer_stop is not None:
                return
            stop = self._timer_stop = threading.Event()

        def run() -> None:
            while not stop.wait(interval_s):
                try:
                    self.advance()
                except Exception:  # keep ticking: one bad call must not stop expiry
                    _logger.exception("sandbox expiry timer failed")

        threading.Thread(target=run, name="flxtrd-sandbox-expiry", daemon=True).start()

    def stop_expiry_timer(self) -> None:
        """Stop the thread `start_expiry_timer` started (no-op if none runs)."""
        with self._lock:
            stop, self._timer_stop = self._timer_stop, None
        if stop is not None:
            stop.set()

    # -- generation 1 ---------------------------------------------------------------------

    def login(self, email: str, password: str) -> Account:
        """``POST /users/login``: the account for these credentials; AuthError (401) if refused."""
        return self.accounts.login(email, password)

    def login_token(self, account: Account) -> str:
        """The bearer JWT ``/users/login`` returns with ``account`` (for ``/deals/``)."""
        return self.accounts.issue_login_token(account)

    def account_by_token(self, access_token: str) -> tuple[Account, Location] | None:
        """``GET /users/mptoken/{token}``: the account and location of a device token (made on
        first use unless the accounts are strict), or None."""
        return self.accounts.device(access_token)

    def user_for_login_token(self, token: str) -> Account:
        """The account of a ``/deals/`` bearer: a login JWT or an OAuth2 access token."""
        return self.accounts.verify(token, "login", "access")

    def submit_gen1(
        self,
        line: LineLike,
        *,
        user_id: str,
        application_key: str | None = None,
        message_id: str | None = None,
        received_ns: int | None = None,
    ) -> SubmitResult:
        """Submit a generation-1 order line published by AMQP user ``user_id``; publish events.

        ``line`` is a `flxtrd._line_protocol.OrderLine` or a `glocalflex_messages` ``OrderLine``
        (its side ``ask``/``bid`` and fields as read off the wire). ``application_key`` is the
        device (reply queue) the replies go to, default the line's ``applicationKey``.
        ``message_id`` is the AMQP message id (duplicates are refused); ``received_ns`` when the
        broker got it, carried on the published update. In strict mode the user must exist and
        own the application key; otherwise the order is refused with a `Rejected` (a ``cancel``
        reply). The line's ``totalenergy`` is not checked (the engine derives energy from power
        and runtime). The engine's clock, not ``received_ns``, stamps the order.
        """
        key = application_key if application_key is not None else line_key(line)
        order = Gen1Order(
            side=line_side(line),
            application_key=key if key is not None else "",
            user=user_id,
            wattage=line.wattage,
            starttime=line.starttime,
            runtime=line.runtime,
            price=line.price,
            expirationtime=line.expirationtime,
            message_id=message_id,
        )
        with self._lock:
            refusal = self._gen1_identity_refusal(user_id, order.application_key)
            if refusal is not None:
                result = self._refuse(1, order.side, user_id, refusal, "user_id", key, message_id)
            else:
                result = self.engine.submit(order)
            self._publish(result.events, received_ns)
            return result

    def _gen1_identity_refusal(self, user_id: str, application_key: str) -> str | None:
        """Strict mode: why ``user_id`` may not trade as ``application_key`` (None if it may)."""
        if not self.accounts.strict:
            return None
        if self.accounts.by_user_id(user_id) is None:
            return f"unknown user {user_id!r}"
        if application_key and not self.accounts.owns_application_key(user_id, application_key):
            return f"application key {application_key!r} is not a location of user {user_id!r}"
        return None

    def _refuse(
        self,
        generation: int,
        side: str,
        owner: str,
        reason: str,
        field: str | None,
        application_key: str | None = None,
        message_id: str | None = None,
    ) -> SubmitResult:
        """A `SubmitResult` for an order the market refuses before the engine sees it."""
        events = self.engine.advance()  # take the engine's pending expiries along
        rejected = Rejected(
            generation=generation,
            side=side,
            owner=owner,
            code=RejectCode.INVALID,
            reason=reason,
            field=field,
            time_ms=self.engine.now_ms(),
            application_key=application_key,
            message_id=message_id,
        )
        return SubmitResult(None, None, (*events, rejected), rejected)

    def deals(self, relative_ms: int) -> list[Trade]:
        """``GET /deals/``: generation-1 trades of the last ``relative_ms``, oldest first."""
        since = self.engine.now_ms() - relative_ms
        return [t for t in self.engine.last_trades(10**9, generation=1) if t.time_ms > since]

    # -- generation 2: auth -----------------------------------------------------------------

    def issue_token(self, username: str, password: str) -> IssuedToken:
        """OAuth2 password grant; AuthError (``invalid_grant``) if the credentials are refused."""
        return self.accounts.issue_token(username, password)

    def refresh_token(self, refresh_token: str) -> IssuedToken:
        """OAuth2 refresh grant; AuthError if the refresh token is invalid or expired."""
        return self.accounts.refresh(refresh_token)

    def user_for_bearer(self, token: str) -> Account:
        """The account of a valid OAuth2 access token; AuthError (401) otherwise."""
        return self.accounts.verify(token, "access")

    # -- generation 2: orders ---------------------------------------------------------------

    def order_from_request(self, user: Account | str, request: Any) -> Gen2Order:
        """Read an ``OrderRequest`` (generated model or JSON mapping) as the engine's order.

        Raises `OrderInputError` naming the field when a value cannot be read (a date-time
        that is not RFC 3339, a wrong type) or breaks a rule of the spec the engine does not
        check (`expiry_not_after_start`); everything else is left to the engine's rules.
        """
        body = request_dict(request)
        times: dict[str, int] = {}
        for name in ("delivery_start", "delivery_end", "expiry_time"):
            try:
                times[name] = parse_datetime_ms(body.get(name))
            except ValueError as exc:
                raise OrderInputError(("body", name), f"Input {exc}", "datetime_parsing") from None
        location = body.get("location")
        if not isinstance(location, Mapping):
            raise OrderInputError(("body", "location"), "Input should be an object", "dict_type")
        raw_ids = location.get("location_id")
        if raw_ids is not None and (
            not isinstance(raw_ids, list)
            or not all(i is None or isinstance(i, str) for i in raw_ids)
        ):
            raise OrderInputError(
                ("body", "location", "location_id"),
                "Input should be a list of strings (or nulls) or null",
                "list_type",
            )
        side, power, price = body.get("side"), body.get("power"), body.get("price")
        country = location.get("country_code", "")
        for loc, value, ok in (
            (("body", "side"), side, isinstance(side, str)),
            (("body", "power"), power, is_number(power)),
            (("body", "price"), price, is_number(price)),
            (("body", "location", "country_code"), country, isinstance(country, str)),
        ):
            if not ok:
                raise OrderInputError(loc, f"Input has the wrong type: {value!r}", "type_error")
        reason = expiry_not_after_start(times["expiry_time"], times["delivery_start"])
        if reason is not None:
            raise OrderInputError(("body", "expiry_time"), reason, "value_error")
        return Gen2Order(
            side=str(side),
            owner=user_id_of(user),
            power=float(power),  # type: ignore[arg-type]
            price=float(price),  # type: ignore[arg-type]
            delivery_start_ms=times["delivery_start"],
            delivery_end_ms=times["delivery_end"],
            expiry_time_ms=times["expiry_time"],
            country_code=str(country),
            location_ids=tuple(raw_ids) if raw_ids is not None else None,
            baseline=body.get("baseline"),
        )

    def place_order(self, user: Account | str, request: Any) -> SubmitResult:
        """``POST /api/v1/order/``: validate, store and match an order of ``user``; publish.

        ``request`` is a generated ``OrderRequest``, its ``to_dict()`` form, or the JSON body.
        A request the market cannot read raises `OrderInputError` (nothing is stored or
        published); an order the engine refuses comes back with ``result.rejected`` set (the
        `Rejected` is published too). Read the stored order with `get_order`.
        """
        order = self.order_from_request(user, request)
        with self._lock:
            result = self.engine.submit(order)
            self._publish(result.events)
            return result

    def list_orders(
        self,
        user: Account | str,
        *,
        status: OrderStatus | None = None,
        side: Side | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[int, list[OrderView]]:
        """``GET /api/v1/order/``: (total, a page) of the user's gen-2 orders, newest first."""
        found = self.engine.orders(user_id_of(user), generation=2, status=status, side=side)
        return len(found), found[offset : offset + limit]

    def get_order(self, user: Account | str, order_id: int) -> OrderView | None:
        """``GET /api/v1/order/{id}``: the user's generation-2 order, or None (not found/yours)."""
        view = self.engine.get(order_id)
        if view is None or view.generation != 2 or view.owner != user_id_of(user):
            return None
        return view

    def cancel_order(self, user: Account | str, order_id: int) -> ActionResult:
        """``DELETE /api/v1/order/{id}``: cancel the user's open order; publish the events.

        ``error`` is NOT_FOUND for an order that does not exist, is not the user's or is a
        generation-1 order (404), WRONG_STATUS for one already closed (409).
        """
        with self._lock:
            if self.get_order(user, order_id) is None:
                events = self.engine.advance()
                self._publish(events)
                return ActionResult(
                    order_id, None, events, ActionError.NOT_FOUND, f"No order {order_id}"
                )
            result = self.engine.cancel(order_id, user_id_of(user))
            self._publish(result.events)
            return result

    # -- generation 2: contracts ------------------------------------------------------------

    def list_contracts(
        self,
        user: Account | str,
        *,
        status: ContractStatus | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[int, list[Contract]]:
        """``GET /api/v1/contract/``: (total, one page) of the user's contracts, newest first."""
        found = self.engine.contracts(user_id_of(user), status=status)
        return len(found), found[offset : offset + limit]

    def get_contract(self, user: Account | str, contract_id: int) -> Contract | None:
        """``GET /api/v1/contract/{id}``: a contract the user buys or sells in, or None."""
        contract = self.engine.get_contract(contract_id)
        uid = user_id_of(user)
        if contract is None or uid not in (contract.buyer_id, contract.seller_id):
            return None
        return contract

    def update_contract(
        self,
        contract_id: int,
        *,
        status: ContractStatus | None = None,
        settlement_status: SettlementStatus | None = None,
        verification_status: VerificationStatus | None = None,
    ) -> MarketUpdate:
        """Move a contract's statuses (a sandbox operator action); publish and return the update."""
        with self._lock:
            events = self.engine.update_contract(
                contract_id,
                status=status,
                settlement_status=settlement_status,
                verification_status=verification_status,
            )
            self._publish(events)
            return MarketUpdate(tuple(audience(e) for e in events), self.engine.now_ms())

    # -- market data ------------------------------------------------------------------------

    def book_snapshot(self, depth: int = 10, *, generation: int | None = 2) -> BookSnapshot:
        """The ``depth`` best levels of each side (generation 2 by default), best first."""
        return self.engine.book_snapshot(depth, generation=generation)

    def last_trades(self, n: int = 50, *, generation: int | None = None) -> list[Trade]:
        """The last ``n`` trades (of ``generation``, if given), oldest first."""
        return self.engine.last_trades(n, generation=generation)
