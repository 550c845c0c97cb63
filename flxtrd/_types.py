"""The public domain types, one implementation behind two spellings.

Each type is one class that accepts both the seed README's spelling and flxtrd 0.2.9's, and the
0.2.9 names are the same class objects (``FlexUser is User``)::

    seed README                                   flxtrd 0.2.9
    User(name=, password=, accessToken=)          FlexUser(name=, password=, access_token=,
                                                           app_key=, user_id=, devices=)
    Broker(ip=)                                   FlexBroker(url=, port=5671, ...)
    Market(ip=, broker=Broker(ip=))               FlexMarket(market_url=, market_port=443,
                                                             broker_url=None, broker_port=5671)
    Flexibility(wattage=W, starttime=ms,          FlexResource(power_w=W, start_time_epoch_s=s,
                duration=ms, expirationtime=ms)                duration_min=min,
                                                               order_expiration_min=min)
    MarketOrder(type=, price=, flexibility=)      MarketOrder(order_type=, price_eur=, resource=)
    OrderType.ASK / OrderType.BID                 ASK / BID

A :class:`Flexibility` holds one internal representation whichever spelling built it: power in
W (float), delivery start in epoch ms (int), runtime in ms (int), order expiration in epoch ms
(int), and ``totalenergy_wh = power_w * runtime_ms / 3_600_000``.

**Expiration.** ``expirationtime`` (seed) is an absolute epoch-ms time. ``order_expiration_min``
(0.2.9) means: the order expires that many minutes after the object is built (``now_ms``,
injectable), but never later than the delivery start::

    expiration_ms = min(now_ms + order_expiration_min * 60_000, start_ms)

(0.2.9 computed ``start + validity``, an expiration after delivery had begun; not copied.)
Without either, the order expires at the delivery start. An expiration after the delivery
start is refused.

The accounts and endpoints (:class:`User`, :class:`FlexDevice`, :class:`Broker`,
:class:`Market`) are defined in :mod:`flxtrd._accounts` and re-exported here, the one spelling
inside flxtrd; this module defines what is traded. Secrets stay out of ``repr()``: a user's
password and tokens show as ``'***'``.
"""

from __future__ import annotations

import enum
import json
import numbers
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from flxtrd._accounts import Broker, FlexDevice, Market, User
from flxtrd._alias import Alias, pick
from flxtrd._bounds import MAX_DURATION_MS, MAX_POWER_W, MAX_PRICE_EUR_PER_KWH, MAX_TIME_MS
from flxtrd._errors import FlexValidationError
from flxtrd._line_protocol import OrderLine
from flxtrd._log import get_logger
from flxtrd._validation import (
    POSITIVE,
    current_time_ms,
    require_bounded,
    require_finite,
    require_in_future,
    require_not_after,
    require_positive,
    require_string,
)

if TYPE_CHECKING:
    import httpx

__all__ = [
    "ASK",
    "BID",
    "Broker",
    "FlexBroker",
    "FlexDevice",
    "FlexMarket",
    "FlexResource",
    "FlexResponse",
    "FlexUser",
    "Flexibility",
    "Market",
    "MarketOrder",
    "OrderType",
    "User",
]

MS_PER_MIN = 60_000
MS_PER_HOUR = 3_600_000
MAX_APPLICATION_KEY_LENGTH = 256
_INT64_MAX = 2**63 - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


_logger = get_logger("types")


class OrderType(str, enum.Enum):  # noqa: UP042 - keeps 0.2.9's str() ("OrderType.ASK")
    """The side of an order: ``ASK`` sells flexibility, ``BID`` buys it.

    The value is the line-protocol measurement and AMQP routing key (``"ask"``/``"bid"``);
    :attr:`side` is the generation-2 name (``"sell"``/``"buy"``). ``OrderType("sell")`` and
    ``OrderType("BUY")`` are accepted too. ``str()`` and f-strings give the value on every
    Python version.
    """

    ASK = "ask"
    BID = "bid"

    def __str__(self) -> str:
        return str.__str__(self)

    @property
    def side(self) -> str:
        """The generation-2 side: ``"sell"`` for ASK, ``"buy"`` for BID."""
        return "sell" if self is OrderType.ASK else "buy"

    @classmethod
    def _missing_(cls, value: object) -> OrderType | None:
        if isinstance(value, str):
            key = value.strip().lower()
            return {"ask": cls.ASK, "sell": cls.ASK, "bid": cls.BID, "buy": cls.BID}.get(key)
        return None


ASK = OrderType.ASK
BID = OrderType.BID


def _iso_ms(epoch_ms: int) -> str:
    """Epoch ms as ISO 8601 UTC with milliseconds, e.g. ``2026-12-01T10:00:00.000Z``."""
    try:
        moment = _EPOCH + timedelta(milliseconds=epoch_ms)
    except OverflowError:
        return str(epoch_ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _whole(field_name: str, value: object, scale: int) -> int:
    """``value * scale`` as an int (exact for ints, rounded to the nearest for floats)."""
    if isinstance(value, int) and abs(value) > _INT64_MAX // scale:  # exact, no float made
        raise FlexValidationError(field_name, "must fit a 64-bit integer of ms", value)
    number = require_finite(field_name, value)
    ms = int(value) * scale if isinstance(value, numbers.Integral) else round(number * scale)
    if abs(ms) > _INT64_MAX:
        raise FlexValidationError(field_name, "must fit a 64-bit integer of ms", value)
    return ms


def _require_time(field_name: str, epoch_ms: int, given: object) -> None:
    """Refuse a time after :data:`~flxtrd._bounds.MAX_TIME_MS` (the end of year 9999 UTC)."""
    if epoch_ms > MAX_TIME_MS:
        raise FlexValidationError(field_name, _LATEST_TIME, given)


def _longest_duration(scale: int) -> str:
    unit = "min" if scale == MS_PER_MIN else "ms"
    return f"must be at most {MAX_DURATION_MS // scale} {unit} (366 days)"


_LATEST_TIME = f"must be at most {MAX_TIME_MS} ms since the epoch (9999-12-31T23:59:59.999Z)"


@dataclass(frozen=True, init=False)
class Flexibility:
    """A tradable flexibility: a power over a delivery window, and when the order expires.

    Build it with the seed spelling, in W and milliseconds::

        Flexibility(wattage=2500, starttime=1796202000000, duration=900000,
                    expirationtime=1796201100000)

    or the 0.2.9 spelling, in W, seconds and minutes (positional works too)::

        FlexResource(power_w=2500, start_time_epoch_s=1796202000, duration_min=15,
                     order_expiration_min=30)

    Each quantity takes one spelling; giving both spellings of one quantity is a TypeError.
    Float times are rounded to the nearest ms. ``order_expiration_min`` expires the order that
    many minutes after ``now_ms`` (default: now), clamped to the delivery start; without any
    expiration the order expires at the delivery start.

    Rules that do not depend on the clock are checked here (power finite and > 0, runtime > 0,
    expiration not after the start); :meth:`validate` also checks that start and expiration are
    in the future, and runs before an order is sent. Instances are immutable.
    """

    power_w: float
    start_ms: int
    runtime_ms: int
    expiration_ms: int
    order_expiration_min: float | None = field(default=None, compare=False, repr=False)

    def __init__(
        self,
        power_w: float | None = None,
        start_time_epoch_s: float | None = None,
        duration_min: float | None = None,
        order_expiration_min: float | None = None,
        *,
        wattage: float | None = None,
        starttime: float | None = None,
        duration: float | None = None,
        expirationtime: float | None = None,
        now_ms: int | None = None,
    ) -> None:
        name, power = pick("power_w", power_w, "wattage", wattage)
        if power is None:
            raise TypeError("Flexibility() needs the power in W: power_w= or wattage=")
        power_f = require_bounded(name, power, MAX_POWER_W, positive=True)

        name, start = pick("start_time_epoch_s", start_time_epoch_s, "starttime", starttime)
        if start is None:
            raise TypeError(
                "Flexibility() needs the delivery start: start_time_epoch_s= (s) or starttime= (ms)"
            )
        start_ms = _whole(name, start, 1000 if name == "start_time_epoch_s" else 1)
        _require_time(name, start_ms, start)

        name, length = pick("duration_min", duration_min, "duration", duration)
        if length is None:
            raise TypeError(
                "Flexibility() needs the duration: duration_min= (min) or duration= (ms)"
            )
        scale = MS_PER_MIN if name == "duration_min" else 1
        require_positive(name, length)
        if length > MAX_DURATION_MS / scale:  # exact for ints: 2**62 never reaches _whole
            raise FlexValidationError(name, _longest_duration(scale), length)
        runtime_ms = _whole(name, length, scale)
        if runtime_ms <= 0:
            raise FlexValidationError(name, POSITIVE + " (at least 1 ms)", length)
        if runtime_ms > MAX_DURATION_MS:
            raise FlexValidationError(name, _longest_duration(scale), length)

        name, expiry = pick(
            "order_expiration_min", order_expiration_min, "expirationtime", expirationtime
        )
        expiry_min: float | None = None
        if expiry is None:
            expiration_ms = start_ms
        elif name == "expirationtime":
            expiration_ms = _whole(name, expiry, 1)
            _require_time(name, expiration_ms, expiry)
        else:
            expiry_min = require_positive(name, expiry)
            now = current_time_ms() if now_ms is None else now_ms
            expiration_ms = min(now + _whole(name, expiry, MS_PER_MIN), start_ms)
        require_not_after("expirationtime", expiration_ms, "the delivery start", start_ms)

        object.__setattr__(self, "power_w", power_f)
        object.__setattr__(self, "start_ms", start_ms)
        object.__setattr__(self, "runtime_ms", runtime_ms)
        object.__setattr__(self, "expiration_ms", expiration_ms)
        object.__setattr__(self, "order_expiration_min", expiry_min)

    def validate(self, now_ms: int | None = None) -> None:
        """Check the clock-dependent rules: the delivery start must be in the future.

        An expiration already in the past is not refused here: the market's clock, not the
        client's, decides expiry, and it answers such an order with a ``cancel`` reply that the
        SDK delivers. It is logged as a warning naming the field (the seed README's example
        computes its expiration in 1970 and must keep running).
        """
        now = current_time_ms() if now_ms is None else now_ms
        require_in_future("starttime", self.start_ms, now)
        if self.expiration_ms <= now:
            _logger.warning(
                "expirationtime %d is not in the future (now %d): the market will cancel the order",
                self.expiration_ms,
                now,
            )

    # -- derived and alias attributes (seed and 0.2.9 spellings) --

    @property
    def totalenergy_wh(self) -> float:
        """Energy delivered, Wh: ``power_w * runtime_ms / 3_600_000``."""
        return self.power_w * self.runtime_ms / MS_PER_HOUR

    energy_wh = Alias[float]("totalenergy_wh", "0.2.9 spelling of :attr:`totalenergy_wh`.")

    @property
    def end_ms(self) -> int:
        """Delivery end, epoch ms."""
        return self.start_ms + self.runtime_ms

    wattage = Alias[float]("power_w", "Seed spelling of :attr:`power_w` (W).")
    starttime = Alias[int]("start_ms", "Seed spelling of :attr:`start_ms` (epoch ms).")
    duration = Alias[int]("runtime_ms", "Seed spelling of :attr:`runtime_ms` (ms).")
    expirationtime = Alias[int](
        "expiration_ms", "Seed spelling of :attr:`expiration_ms` (epoch ms)."
    )
    start_time_epoch_ms = Alias[int]("start_ms", "0.2.9 spelling of :attr:`start_ms`.")

    @property
    def start_time_epoch_s(self) -> int:
        """Delivery start in whole epoch seconds (floored)."""
        return self.start_ms // 1000

    @property
    def duration_min(self) -> float:
        """Runtime in minutes (an int when it is a whole number of minutes)."""
        whole, rest = divmod(self.runtime_ms, MS_PER_MIN)
        return whole if rest == 0 else self.runtime_ms / MS_PER_MIN

    expiration_time_epoch_ms = Alias[int](
        "expiration_ms", "0.2.9 spelling of :attr:`expiration_ms`."
    )

    @property
    def as_dict_human_readable(self) -> dict[str, Any]:
        """Rounded values and ISO 8601 times, for printing."""
        return {
            "power_w": round(self.power_w, 3),
            "energy_wh": round(self.totalenergy_wh, 3),
            "start_time": _iso_ms(self.start_ms),
            "duration_min": self.duration_min,
            "expiration_time": _iso_ms(self.expiration_ms),
        }

    def __str__(self) -> str:
        return json.dumps(self.as_dict_human_readable, indent=4)


def _order_type(value: object) -> OrderType:
    if isinstance(value, str):
        try:
            return OrderType(value)
        except ValueError:
            pass
    raise FlexValidationError(
        "order_type", "must be OrderType.ASK or OrderType.BID ('ask'/'sell', 'bid'/'buy')", value
    )


@dataclass(frozen=True, init=False)
class MarketOrder:
    """An order to sell (ASK) or buy (BID) a :class:`Flexibility` at a price.

    Accepts ``MarketOrder(type=OrderType.ASK, price=100, flexibility=flex)`` (seed) and
    ``MarketOrder(order_type=ASK, price_eur=100, resource=flex)`` (0.2.9, positional works).
    The price must be finite and >= 0 (0 gives the flexibility away; negative prices are
    refused). Instances are immutable.
    """

    order_type: OrderType
    price_eur: float
    resource: Flexibility

    def __init__(
        self,
        order_type: OrderType | str | None = None,
        price_eur: float | None = None,
        resource: Flexibility | None = None,
        *,
        type: OrderType | str | None = None,  # the seed README's keyword
        price: float | None = None,
        flexibility: Flexibility | None = None,
    ) -> None:
        side = pick("order_type", order_type, "type", type)[1]
        name, amount = pick("price_eur", price_eur, "price", price)
        name_r, flex = pick("resource", resource, "flexibility", flexibility)
        if side is None or amount is None or flex is None:
            raise TypeError(
                "MarketOrder() needs order_type= (or type=), price_eur= (or price=)"
                " and resource= (or flexibility=)"
            )
        if not isinstance(flex, Flexibility):
            raise FlexValidationError(name_r, "must be a Flexibility (FlexResource)", flex)
        object.__setattr__(self, "order_type", _order_type(side))
        object.__setattr__(self, "price_eur", require_bounded(name, amount, MAX_PRICE_EUR_PER_KWH))
        object.__setattr__(self, "resource", flex)

    def validate(self, now_ms: int | None = None) -> None:
        """Run every rule, including the clock-dependent ones, before the order is sent."""
        require_bounded("price_eur", self.price_eur, MAX_PRICE_EUR_PER_KWH)
        self.resource.validate(now_ms)

    def to_order_line(self, application_key: str, *, version: str = "1") -> OrderLine:
        """The generation-1 line-protocol fields of this order for a device's application key.

        Encode the result with :func:`flxtrd._line_protocol.encode_order_line`.
        """
        key = require_string("application_key", application_key, MAX_APPLICATION_KEY_LENGTH)
        flex = self.resource
        return OrderLine(
            side=self.order_type.value,
            application_key=key,
            version=version,
            starttime=flex.start_ms,
            wattage=flex.power_w,
            runtime=flex.runtime_ms,
            totalenergy=flex.totalenergy_wh,
            price=self.price_eur,
            expirationtime=flex.expiration_ms,
        )

    @classmethod
    def from_order_line(cls, line: OrderLine) -> MarketOrder:
        """Rebuild an order from decoded line fields (``totalenergy`` is recomputed).

        Raises :class:`FlexValidationError` if the line breaks a clock-independent rule.
        """
        return cls(
            order_type=_order_type(line.side),
            price_eur=line.price,
            resource=Flexibility(
                wattage=line.wattage,
                starttime=line.starttime,
                duration=line.runtime,
                expirationtime=line.expirationtime,
            ),
        )

    price = Alias[float]("price_eur", "Seed spelling of :attr:`price_eur`.")
    flexibility = Alias[Flexibility]("resource", "Seed spelling of :attr:`resource`.")

    def __str__(self) -> str:
        return json.dumps(
            {
                "order_type": self.order_type.name,
                "price_eur": round(self.price_eur, 5),
                "FlexResource": self.resource.as_dict_human_readable,
            },
            indent=4,
        )

    # Defined last: inside the class body, later annotations would see this alias.
    type = Alias[OrderType]("order_type", "Seed spelling of :attr:`order_type`.")


@dataclass
class FlexResponse:
    """What a client call returns, as in flxtrd 0.2.9.

    Attributes:
        request_response: the raw ``httpx.Response`` of a REST call, if any.
        order_response: what the broker side returned for an order (confirmation, replies).
        plugin_data: results of the plugins' before/after hooks, keyed by plugin.
    """

    request_response: httpx.Response | None = None
    order_response: Any = None
    plugin_data: dict[str, Any] | None = None


# flxtrd 0.2.9 names: the same classes.
FlexUser = User
FlexBroker = Broker
FlexMarket = Market
FlexResource = Flexibility
