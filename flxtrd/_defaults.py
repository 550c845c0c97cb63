"""Every default of flxtrd's REST client, streams and broker in one place.

Timeouts, retry and reconnect backoff, auth timing, page sizes, ports, paths and environment
variable names. Change a default here and nowhere else (``_amqp`` and ``_bot`` import theirs from
here too). Nothing in this module imports a third-party package, so reading a constant never
costs the ``httpx`` import.
"""

from __future__ import annotations

__all__ = [
    "BROKER_MAX_RETRIES",
    "BROKER_MAX_RETRY_DELAY_S",
    "BROKER_RETRY_DELAY_S",
    "BROKER_RETRY_JITTER",
    "DEFAULT_BROKER_PORT",
    "DEFAULT_BUFFER_SIZE",
    "DEFAULT_CONFIRM_TIMEOUT_S",
    "DEFAULT_CONNECT_TIMEOUT_S",
    "DEFAULT_EXCHANGE",
    "DEFAULT_KEEPALIVE_INTERVAL_S",
    "DEFAULT_KEEPALIVE_TIMEOUT_S",
    "DEFAULT_MARKET_URL",
    "DEFAULT_MAX_IN_FLIGHT",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_MAX_RETRY_AFTER_S",
    "DEFAULT_MAX_RETRY_DELAY_S",
    "DEFAULT_PAGE_SIZE",
    "DEFAULT_POOL_TIMEOUT_S",
    "DEFAULT_REPLY_EXCHANGE",
    "DEFAULT_RETRY_DELAY_S",
    "DEFAULT_RETRY_JITTER",
    "DEFAULT_STREAM_CONNECT_TIMEOUT_S",
    "DEFAULT_STREAM_HANDSHAKE_TIMEOUT_S",
    "DEFAULT_STREAM_INITIAL_DELAY_S",
    "DEFAULT_STREAM_JITTER",
    "DEFAULT_STREAM_MAX_ATTEMPTS",
    "DEFAULT_STREAM_MAX_DELAY_S",
    "DEFAULT_STREAM_MULTIPLIER",
    "DEFAULT_STREAM_QUEUE_SIZE",
    "DEFAULT_STREAM_STABLE_AFTER_S",
    "DEFAULT_TIMEOUT_S",
    "ENV_ACCESS_TOKEN",
    "ENV_BROKER_URL",
    "ENV_CA_BUNDLE",
    "ENV_MARKET_URL",
    "ENV_PASSWORD",
    "ENV_USERNAME",
    "HTTPS_PORT",
    "IDEMPOTENT_METHODS",
    "LOGIN_PATH",
    "MEMORY_BROKER_URL",
    "MPTOKEN_PATH",
    "OAUTH_CLIENT_ID",
    "RETRY_OPT_IN_EXTENSION",
    "RETRY_STATUSES",
    "SANDBOX_BASE_URL",
    "SANDBOX_SCHEME",
    "SANDBOX_TLS_SCHEME",
    "STREAM_AUTH_CLOSE_CODES",
    "STREAM_AUTH_STATUSES",
    "STREAM_RETRY_STATUSES",
    "TOKEN_PATH",
    "TOKEN_REFRESH_MARGIN_S",
    "USER_AGENT",
]

# --- Where --------------------------------------------------------------------------------------

#: Used when neither an argument nor ``FLXTRD_MARKET_URL`` names a market: the public *test*
#: deployment, so a forgotten setting never trades on a production market.
DEFAULT_MARKET_URL = "https://test.glocalflexmarket.com"
HTTPS_PORT = 443
DEFAULT_BROKER_PORT = 5671
#: ``sandbox://`` selects the embedded sandbox market (in-process REST transport + broker).
SANDBOX_SCHEME = "sandbox"
#: ``sandbox+https://host:port`` selects a served sandbox over TLS (``--certfile``/``--keyfile``).
SANDBOX_TLS_SCHEME = "sandbox+https"
#: The base URL requests carry in sandbox mode; never resolved, the transport is in-process.
SANDBOX_BASE_URL = "http://sandbox.flxtrd.invalid"
#: kombu's in-process transport, the broker of the embedded sandbox.
MEMORY_BROKER_URL = "memory://"

ENV_MARKET_URL = "FLXTRD_MARKET_URL"
ENV_BROKER_URL = "FLXTRD_BROKER_URL"
ENV_CA_BUNDLE = "FLXTRD_CA_BUNDLE"
ENV_USERNAME = "FLXTRD_USERNAME"
ENV_PASSWORD = "FLXTRD_PASSWORD"
ENV_ACCESS_TOKEN = "FLXTRD_ACCESS_TOKEN"

# --- Paths of the auth calls (everything else comes from the generated client) ---------------

LOGIN_PATH = "/users/login"
MPTOKEN_PATH = "/users/mptoken/"
TOKEN_PATH = "/auth/oauth/v2/token"
OAUTH_CLIENT_ID = "glocalflexmarket_public_api"

USER_AGENT = "flxtrd-python/0.3"

# --- Timeouts (the generator's default is *no* timeout) ----------------------------------------

DEFAULT_TIMEOUT_S = 30.0  # read, write
DEFAULT_CONNECT_TIMEOUT_S = 10.0
DEFAULT_POOL_TIMEOUT_S = 10.0

# --- Retries ------------------------------------------------------------------------------------

#: Retries after the first attempt (so at most 3 attempts).
DEFAULT_MAX_RETRIES = 2
#: Backoff before retry n (n = 0, 1, ...) is ``min(DEFAULT_RETRY_DELAY_S * 2**n, MAX)`` shortened
#: by a random fraction of at most ``DEFAULT_RETRY_JITTER`` ("equal jitter").
DEFAULT_RETRY_DELAY_S = 0.5
DEFAULT_MAX_RETRY_DELAY_S = 8.0
DEFAULT_RETRY_JITTER = 0.25
#: A ``Retry-After`` longer than this is not waited for: the error is returned to the caller
#: (``RateLimitError.retry_after`` carries the hint).
DEFAULT_MAX_RETRY_AFTER_S = 60.0
#: Statuses worth another try: request timeout, too many requests, and gateway / availability
#: failures where the server did not process the request.
RETRY_STATUSES = frozenset({408, 429, 502, 503, 504})
#: Methods retried without opt-in (RFC 9110 idempotent methods). A POST (order placement) is
#: retried only when the caller opts in, or when the connection could not even be opened.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
#: ``httpx.Request.extensions`` key: ``True`` lets the retry transport retry a non-idempotent
#: request (the client sets it for ``retry=True`` calls and for the side-effect-free auth calls).
RETRY_OPT_IN_EXTENSION = "flxtrd_retry_non_idempotent"

# --- Lists ------------------------------------------------------------------------------------

#: Items per request when ``pages()`` walks a list (the spec's default ``limit``).
DEFAULT_PAGE_SIZE = 100

# --- WebSocket streams (generation 2) -----------------------------------------------------------

#: Reconnect: up to 10 consecutive retries, 0.5 s, 1 s, ... at most 30 s apart, 25 % jitter; the
#: count restarts after a connection that stayed up 30 s (or delivered an event).
DEFAULT_STREAM_MAX_ATTEMPTS = 10
DEFAULT_STREAM_INITIAL_DELAY_S = 0.5
DEFAULT_STREAM_MAX_DELAY_S = 30.0
DEFAULT_STREAM_MULTIPLIER = 2.0
DEFAULT_STREAM_JITTER = 0.25
DEFAULT_STREAM_STABLE_AFTER_S = 30.0
DEFAULT_STREAM_CONNECT_TIMEOUT_S = 10.0
DEFAULT_STREAM_HANDSHAKE_TIMEOUT_S = 10.0
DEFAULT_KEEPALIVE_INTERVAL_S = 20.0
DEFAULT_KEEPALIVE_TIMEOUT_S = 20.0
DEFAULT_STREAM_QUEUE_SIZE = 512
#: Upgrade statuses after which a reconnect may succeed (the others are raised). Wider than
#: ``RETRY_STATUSES``: a failed upgrade sent nothing the market could act on, so a 500 or a 425
#: (too early) is worth another connect, while a 500 to a REST call may have had effects.
STREAM_RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
#: Upgrade statuses that mean "the token was refused": refresh it, then reconnect once.
STREAM_AUTH_STATUSES = frozenset({401, 403})
#: Close codes servers use for "policy violation" / "unauthorized": refresh before reconnecting.
STREAM_AUTH_CLOSE_CODES = frozenset({1008, 4001, 4003, 4401, 4403})

# --- Broker (generation 1, AMQP) ------------------------------------------------------------------

DEFAULT_EXCHANGE = "in"
DEFAULT_REPLY_EXCHANGE = "ticker-out"
#: Market replies kept for ``check_market_responses`` (oldest dropped first, drops counted).
DEFAULT_BUFFER_SIZE = 10_000
#: How long an order may wait for its confirm before it is reported in doubt.
DEFAULT_CONFIRM_TIMEOUT_S = DEFAULT_TIMEOUT_S
#: Orders ``send_orders`` publishes before it waits for confirms.
DEFAULT_MAX_IN_FLIGHT = 2048
#: Reconnect: up to 6 attempts, 0.2 s, 0.4 s, ... at most 5 s apart, 25 % jitter.
BROKER_MAX_RETRIES = 5
BROKER_RETRY_DELAY_S = 0.2
BROKER_MAX_RETRY_DELAY_S = 5.0
BROKER_RETRY_JITTER = 0.25

# --- Auth ---------------------------------------------------------------------------------------

#: Refresh a generation-2 access token this long before it expires.
TOKEN_REFRESH_MARGIN_S = 60.0
