"""The accounts and endpoints of the public types: :class:`User`, :class:`FlexDevice`,
:class:`Broker` and :class:`Market`.

Apart from :mod:`flxtrd._types` (which re-exports them, the one spelling inside flxtrd) because
they describe who trades where, not what is traded. Each accepts both the seed README's and
flxtrd 0.2.9's spelling (see :mod:`flxtrd._types`). Secrets stay out of ``repr()``: a user's
password and tokens show as ``'***'``.
"""

from __future__ import annotations

from dataclasses import dataclass

from flxtrd._alias import Alias, pick
from flxtrd._errors import FlexValidationError
from flxtrd._validation import require_string

__all__ = ["Broker", "FlexDevice", "Market", "User"]

_HIDDEN = "'***'"


def _hide(secret: str | None) -> str:
    return "None" if secret is None else _HIDDEN


def _require_port(field_name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise FlexValidationError(field_name, "must be an integer in 1..65535", value)
    return value


def _require_host(field_name: str, value: object) -> str:
    return require_string(field_name, value, 2048)


@dataclass(repr=False)
class FlexDevice:
    """A device (metering point) of a user, with its access token and application key.

    Field names are flxtrd 0.2.9's. ``accessToken`` is hidden from ``repr()``.
    """

    deviceName: str | None = None
    deviceId: str | None = None
    accessToken: str | None = None
    appKey: str | None = None

    def __repr__(self) -> str:
        return (
            f"FlexDevice(deviceName={self.deviceName!r}, deviceId={self.deviceId!r},"
            f" accessToken={_hide(self.accessToken)}, appKey={self.appKey!r})"
        )


@dataclass(init=False, repr=False)
class User:
    """A market account: login e-mail and password, and the device it trades for.

    Accepts the seed spelling ``User(name=, password=, accessToken=)`` and the 0.2.9 spelling
    ``FlexUser(name, password, access_token, app_key, user_id, devices)``. ``app_key`` (the
    application key, a location ``_id``) and ``user_id`` are filled in by the login. The
    object is mutable, like 0.2.9's. ``password`` and ``access_token`` are hidden from
    ``repr()``; register them with the logging secrets filter before logging anything.
    """

    name: str | None
    password: str | None
    access_token: str | None
    app_key: str | None
    user_id: str | None
    devices: list[FlexDevice] | None

    def __init__(
        self,
        name: str | None = None,
        password: str | None = None,
        access_token: str | None = None,
        app_key: str | None = None,
        user_id: str | None = None,
        devices: list[FlexDevice] | None = None,
        *,
        accessToken: str | None = None,
    ) -> None:
        self.name = name
        self.password = password
        self.access_token = pick("access_token", access_token, "accessToken", accessToken)[1]
        self.app_key = app_key
        self.user_id = user_id
        self.devices = devices

    accessToken = Alias[str | None](
        "access_token", "The seed README's spelling of :attr:`access_token`.", writable=True
    )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, password={_hide(self.password)},"
            f" access_token={_hide(self.access_token)}, app_key={self.app_key!r},"
            f" user_id={self.user_id!r}, devices={self.devices!r})"
        )


@dataclass(init=False)
class Broker:
    """The market's AMQP broker: host, port (5671, TLS), exchanges and virtual host.

    Accepts ``Broker(ip=host)`` (seed) and ``FlexBroker(url=host, port=5671)`` (0.2.9); the
    host is stored as :attr:`url`, with :attr:`ip` as an alias. Orders go to exchange
    ``exchangename`` (``"in"``), replies come from ``tickeroutexname`` (``"ticker-out"``).
    """

    url: str
    port: int
    tickeroutexname: str
    exchangename: str
    vhost: str

    def __init__(
        self,
        url: str | None = None,
        port: int = 5671,
        tickeroutexname: str = "ticker-out",
        exchangename: str = "in",
        *,
        ip: str | None = None,
        vhost: str = "/",
    ) -> None:
        name, host = pick("url", url, "ip", ip)
        if host is None:
            raise TypeError("Broker() needs the broker host: url= or ip=")
        self.url = _require_host(name, host)
        self.port = _require_port("port", port)
        self.tickeroutexname = require_string("tickeroutexname", tickeroutexname, 255)
        self.exchangename = require_string("exchangename", exchangename, 255)
        self.vhost = require_string("vhost", vhost, 255)

    ip = Alias[str](
        "url", "The seed README's spelling of :attr:`url` (the broker host).", writable=True
    )

    def __str__(self) -> str:
        return f"{type(self).__name__} url:{self.url} port:{self.port}"


@dataclass(init=False)
class Market:
    """The market: REST host and port (443), and its :class:`Broker`.

    Accepts ``Market(ip=host, broker=Broker(ip=host))`` (seed) and
    ``FlexMarket(market_url=host, market_port=443, broker_url=None, broker_port=5671)``
    (0.2.9; the broker defaults to the market host). ``url`` and ``ip`` are aliases of
    :attr:`market_url`, ``market_port`` of :attr:`port`. A market without a host
    (``FlexMarket(market_url=None)``, accepted as in 0.2.9) is the market of
    ``FLXTRD_MARKET_URL``, else the default one, and has no :attr:`broker`.
    """

    market_url: str | None
    port: int
    broker: Broker | None

    def __init__(
        self,
        market_url: str | None = None,
        market_port: int = 443,
        broker_url: str | None = None,
        broker_port: int = 5671,
        *,
        ip: str | None = None,
        broker: Broker | None = None,
    ) -> None:
        name, host = pick("market_url", market_url, "ip", ip)
        self.market_url = None if host is None else _require_host(name, host)
        self.port = _require_port("market_port", market_port)
        if broker is None:
            if host is not None or broker_url is not None:
                broker = Broker(url=host if broker_url is None else broker_url, port=broker_port)
        elif broker_url is not None or broker_port != 5671:
            raise TypeError("pass broker= or broker_url=/broker_port=, not both")
        elif not isinstance(broker, Broker):
            raise FlexValidationError("broker", "must be a Broker (FlexBroker)", broker)
        self.broker = broker

    url = Alias[str | None](
        "market_url", "Alias of :attr:`market_url` (0.2.9 kept both).", writable=True
    )
    ip = Alias[str | None](
        "market_url", "The seed README's spelling of :attr:`market_url`.", writable=True
    )
    market_port = Alias[int]("port", "The 0.2.9 constructor's spelling of :attr:`port`.")
