"""A stream's settings: the reconnect policy, the validated configuration and the stream URLs.

:class:`ReconnectPolicy` is public; :class:`_StreamConfig` is what every subscription of one
stream object shares, checked once when the stream is made (so a bad URL, timeout or token
provider fails at construction, not on the first connect).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

import httpx
from glocalflex_messages.models import Control

from flxtrd._backoff import Backoff
from flxtrd._defaults import (
    DEFAULT_STREAM_INITIAL_DELAY_S,
    DEFAULT_STREAM_JITTER,
    DEFAULT_STREAM_MAX_ATTEMPTS,
    DEFAULT_STREAM_MAX_DELAY_S,
    DEFAULT_STREAM_MULTIPLIER,
    DEFAULT_STREAM_STABLE_AFTER_S,
)
from flxtrd._errors import ConfigurationError, FlexValidationError, MessageDecodeError
from flxtrd._log import redact_url
from flxtrd._streams._tokens import _Tokens
from flxtrd._validation import require_optional_wait, require_wait

__all__ = ["ControlHook", "InvalidHook", "ReconnectPolicy", "_StreamConfig", "_ws_url"]

InvalidHook: TypeAlias = Callable[[str | bytes, MessageDecodeError], object]
ControlHook: TypeAlias = Callable[[Control], object]


@dataclass(frozen=True)
class ReconnectPolicy:
    """Backoff and bounds for reconnecting a stream; see the module docstring for the rules."""

    max_attempts: int | None = DEFAULT_STREAM_MAX_ATTEMPTS
    initial_delay: float = DEFAULT_STREAM_INITIAL_DELAY_S
    max_delay: float = DEFAULT_STREAM_MAX_DELAY_S
    multiplier: float = DEFAULT_STREAM_MULTIPLIER
    jitter: float = DEFAULT_STREAM_JITTER
    stable_after: float = DEFAULT_STREAM_STABLE_AFTER_S

    def __post_init__(self) -> None:
        if self.max_attempts is not None and self.max_attempts < 0:
            raise FlexValidationError("max_attempts", "must be >= 0 or None", self.max_attempts)
        require_wait("initial_delay", self.initial_delay)
        require_wait("max_delay", self.max_delay)
        if self.max_delay < self.initial_delay:
            raise FlexValidationError("max_delay", "must be >= initial_delay", self.max_delay)
        multiplier = self.multiplier
        if isinstance(multiplier, bool) or not isinstance(multiplier, (int, float)):
            raise FlexValidationError("multiplier", "must be a finite number >= 1", multiplier)
        if not (math.isfinite(multiplier) and multiplier >= 1):
            raise FlexValidationError("multiplier", "must be a finite number >= 1", multiplier)
        if not 0.0 <= self.jitter <= 1.0:  # NaN fails too
            raise FlexValidationError("jitter", "must be between 0 and 1", self.jitter)
        require_wait("stable_after", self.stable_after)

    @property
    def backoff(self) -> Backoff:
        """The backoff this policy waits by (``flxtrd._backoff``, shared with REST retries)."""
        return Backoff(self.initial_delay, self.max_delay, self.multiplier, self.jitter)

    def bounds(self, attempt: int) -> tuple[float, float]:
        """The shortest and longest wait before retry ``attempt`` (1-based)."""
        return self.backoff.bounds(attempt - 1)

    def delay(self, attempt: int, random_fraction: float) -> float:
        """The wait before retry ``attempt`` (1-based) for a ``random_fraction`` in [0, 1)."""
        return self.backoff.delay(attempt - 1, random_fraction)


@dataclass
class _StreamConfig:
    """The settings every subscription of one stream object shares, validated when made."""

    base_url: str
    tokens: _Tokens
    policy: ReconnectPolicy
    receive_timeout: float | None
    handshake_timeout: float
    keepalive_interval: float | None
    keepalive_timeout: float | None
    queue_size: int
    on_invalid: InvalidHook | None
    on_control: ControlHook | None
    clock: Callable[[], float]
    wall_clock: Callable[[], float]
    random: Callable[[], float]

    def __post_init__(self) -> None:
        _ws_url(self.base_url, "/")  # fail early on a bad URL
        self.receive_timeout = require_optional_wait(
            "receive_timeout", self.receive_timeout, positive=True
        )
        self.handshake_timeout = require_wait(
            "handshake_timeout", self.handshake_timeout, positive=True
        )
        self.keepalive_interval = require_optional_wait(
            "keepalive_interval", self.keepalive_interval, positive=True, none_means="no pings"
        )
        self.keepalive_timeout = require_optional_wait(
            "keepalive_timeout", self.keepalive_timeout, positive=True, none_means="no pong limit"
        )
        if self.queue_size < 1:
            raise FlexValidationError("queue_size", "must be >= 1", self.queue_size)


def _ws_url(base_url: str | httpx.URL, path: str) -> str:
    """``https://host/prefix`` + ``/api/v1/ws/x/`` -> ``wss://host/prefix/api/v1/ws/x/``."""
    try:
        url = httpx.URL(str(base_url))
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise ConfigurationError(f"base_url is not a URL: {redact_url(str(base_url))}") from exc
    scheme = {"https": "wss", "http": "ws", "wss": "wss", "ws": "ws"}.get(url.scheme)
    if scheme is None or not url.host:
        raise ConfigurationError(
            f"base_url must be an http(s):// or ws(s):// URL with a host, got"
            f" {redact_url(str(base_url))!r}"
        )
    prefix = url.path.rstrip("/")
    return str(url.copy_with(scheme=scheme, path=prefix + path, query=None, fragment=None))
