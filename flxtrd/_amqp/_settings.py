"""The checks of :class:`~flxtrd.AmpqAPI`'s constructor arguments, before anything connects.

Apart from the API so that its module keeps the connection, publishing and consuming paths:
parsing the broker URL (scheme, host and the login it may carry), and the AMQP short-string and
count rules the settings and message ids must satisfy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from flxtrd._amqp._backend import _SHORTSTR_MAX, _SHORTSTR_RULE, _too_long
from flxtrd._errors import ConfigurationError, FlexValidationError
from flxtrd._log import redact_url, register_secret

_SCHEMES = frozenset({"amqp", "amqps", "pyamqp", "memory"})
_COUNT_RULE = "must be an integer >= 1"


@dataclass(frozen=True, slots=True)
class _BrokerAddress:
    """The parts of a broker URL: lower-cased scheme, host, and the login it carries, if any."""

    scheme: str
    host: str | None
    user: str | None
    password: str | None = field(repr=False)


def _parse_broker_url(broker_url: object) -> _BrokerAddress:
    """Split ``broker_url`` (``amqps://``, ``amqp://``, ``memory://``); its password is secret."""
    if not isinstance(broker_url, str):
        raise ConfigurationError("broker_url must be a string such as amqps://host:5671//")
    try:
        parts = urlsplit(broker_url)
        user = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password else None
        host = parts.hostname
    except ValueError:
        raise ConfigurationError(f"broker_url is not a URL: {redact_url(broker_url)}") from None
    register_secret(password)
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise ConfigurationError(
            f"broker_url must start with amqps://, amqp:// or memory://, got"
            f" {redact_url(broker_url)}"
        )
    return _BrokerAddress(scheme, host, user, password)


def _require_shortstr(field_name: str, value: object) -> str:
    """``value`` if it is a non-empty AMQP short string (at most 255 UTF-8 bytes)."""
    # Up to 63 characters always fit in 255 bytes: only longer text is encoded to measure it.
    if (
        not isinstance(value, str)
        or not 0 < len(value) <= _SHORTSTR_MAX
        or (len(value) > _SHORTSTR_MAX // 4 and _too_long(value))
    ):
        raise FlexValidationError(field_name, _SHORTSTR_RULE, value)
    return value


def _require_count(field_name: str, value: object) -> int:
    """``value`` if it is an integer >= 1 (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise FlexValidationError(field_name, _COUNT_RULE, value)
    return value
