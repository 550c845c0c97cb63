"""The exception tree, status-error mapping, and secrets never leaking into errors or logs."""

from __future__ import annotations

import logging
import pickle
from collections.abc import Iterator

import httpx
import pytest

from flxtrd import _errors as errors
from flxtrd import log
from flxtrd._errors import (
    AlreadyConnectedError,
    AuthenticationError,
    BrokerError,
    ConfigurationError,
    ConflictError,
    FieldError,
    FlexConnectionError,
    FlexError,
    FlexStatusError,
    FlexTimeoutError,
    FlexValidationError,
    MessageDecodeError,
    MessageEncodeError,
    MessageError,
    NotFoundError,
    OrderNotConfirmedError,
    OrderUnroutableError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    UnprocessableEntityError,
    parse_retry_after,
    status_error_for,
)
from flxtrd._log import (
    LOGGER_NAME,
    SecretsFilter,
    forget_secret,
    get_logger,
    logger,
    redact,
    redact_url,
    register_secret,
    secrets_filter,
)

PASSWORD = "s3cr3t-P@ss word"
TOKEN = "tok-9f8e7d6c5b4a"


@pytest.fixture(autouse=True)
def _isolated_secrets() -> Iterator[None]:
    """Run each test with an empty shared secrets registry, restoring it afterwards.

    Other tests may leave short secrets registered (e.g. "tok"), which would redact parts of
    the expected texts here.
    """
    saved = secrets_filter.secrets
    secrets_filter.clear()
    yield
    secrets_filter.clear()
    secrets_filter.add(*saved)


def _response(
    status: int,
    *,
    method: str = "POST",
    url: str = "https://market.example/users/login",
    json: object = None,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
    data: dict[str, str] | None = None,
) -> httpx.Response:
    request = httpx.Request(
        method, url, headers={"Authorization": f"Bearer {TOKEN}"}, data=data or None
    )
    if json is not None:
        return httpx.Response(status, json=json, headers=headers, request=request)
    return httpx.Response(status, content=content or b"", headers=headers, request=request)


# --- the tree -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", errors.__all__)
def test_every_exported_error_is_a_flex_error(name: str) -> None:
    """Every exception class the module exports derives from FlexError."""
    obj = getattr(errors, name)
    if isinstance(obj, type) and issubclass(obj, BaseException):
        assert issubclass(obj, FlexError)


@pytest.mark.parametrize(
    ("child", "parent"),
    [
        (FlexTimeoutError, FlexConnectionError),
        (AuthenticationError, FlexStatusError),
        (PermissionDeniedError, FlexStatusError),
        (NotFoundError, FlexStatusError),
        (ConflictError, FlexStatusError),
        (UnprocessableEntityError, FlexStatusError),
        (RateLimitError, FlexStatusError),
        (ServerError, FlexStatusError),
        (OrderUnroutableError, BrokerError),
        (OrderNotConfirmedError, BrokerError),
        (AlreadyConnectedError, BrokerError),
        (MessageEncodeError, MessageError),
        (MessageDecodeError, MessageError),
        (FlexValidationError, ValueError),
        (ConfigurationError, FlexError),
    ],
)
def test_tree_shape(child: type[Exception], parent: type[Exception]) -> None:
    """Each error sits under the parent drawn in the module docstring."""
    assert issubclass(child, parent)


def test_docstring_draws_every_class() -> None:
    """The ASCII tree in the module docstring names every exception class."""
    doc = errors.__doc__ or ""
    for name in errors.__all__:
        obj = getattr(errors, name)
        if isinstance(obj, type) and issubclass(obj, FlexError):
            assert name in doc


def test_flex_error_keeps_the_0_2_9_call_shape() -> None:
    """FlexError(message) has .message and str() == message, as flxtrd 0.2.9 users relied on."""
    err = FlexError("Channel is closed. Connection to broker is not possible.")
    assert err.message == "Channel is closed. Connection to broker is not possible."
    assert str(err) == err.message
    with pytest.raises(FlexError, match="Channel is closed"):
        raise err


def test_subclasses_take_a_message_like_flex_error() -> None:
    """Non-status errors are built like FlexError: one message argument."""
    for cls in (ConfigurationError, FlexConnectionError, FlexTimeoutError, BrokerError):
        assert cls("boom").message == "boom"
    assert str(MessageDecodeError("bad line")) == "bad line"


def test_validation_error_names_field_and_rule() -> None:
    """FlexValidationError's message names the field, the rule and the value."""
    err = FlexValidationError("power_w", "must be > 0", -5.0)
    assert (err.field, err.rule, err.value) == ("power_w", "must be > 0", -5.0)
    assert str(err) == "power_w must be > 0 (got -5.0)"
    assert isinstance(err, ValueError)


def test_validation_error_truncates_long_values() -> None:
    """A huge offending value is shortened in the message but kept whole on the error."""
    err = FlexValidationError("location_ids", "must be short", ["x" * 1000])
    assert len(str(err)) < 200
    assert err.value == ["x" * 1000]


@pytest.mark.parametrize(
    "err",
    [
        FlexError("plain"),
        FlexValidationError("price", "must be >= 0", -1),
        FlexStatusError(418, None, {"detail": "teapot"}),
        RateLimitError(429, None, None, retry_after=3.0),
        UnprocessableEntityError(
            422, None, {"detail": [{"loc": ["body"], "msg": "m", "type": "t"}]}
        ),
        OrderUnroutableError(
            exchange="in", routing_key="ask", reply_code=312, reply_text="NO_ROUTE"
        ),
        AlreadyConnectedError(application_key="abc"),
    ],
)
def test_errors_pickle_with_their_attributes(err: FlexError) -> None:
    """Errors survive pickling (multiprocessing, logging queues) with message and attributes."""
    copy = pickle.loads(pickle.dumps(err))
    assert type(copy) is type(err)
    assert str(copy) == str(err)
    assert copy.__dict__ == err.__dict__


# --- status errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (422, UnprocessableEntityError),
        (429, RateLimitError),
        (500, ServerError),
        (502, ServerError),
        (599, ServerError),
        (400, FlexStatusError),
        (418, FlexStatusError),
    ],
)
def test_status_error_for_picks_the_subclass(status: int, cls: type[FlexStatusError]) -> None:
    """status_error_for builds the subclass meant for the status, else FlexStatusError."""
    err = status_error_for(status, _response(status), None)
    assert type(err) is cls
    assert err.status_code == status


def test_status_error_keeps_response_and_parses_body() -> None:
    """The error carries the response and the JSON body, read from the response if not given."""
    response = _response(
        404, method="GET", url="https://m.example/api/v1/order/7", json={"detail": "Not found"}
    )
    err = status_error_for(404, response)
    assert err.response is response
    assert err.body == {"detail": "Not found"}
    assert str(err) == "GET /api/v1/order/7 -> 404 Not Found: Not found"


def test_status_error_body_given_as_bytes_is_parsed() -> None:
    """A body passed as raw JSON bytes is parsed."""
    err = FlexStatusError(400, None, b'{"detail": "bad"}')
    assert err.body == {"detail": "bad"}


def test_status_error_without_request_says_http() -> None:
    """Without a request the message still gives status and reason."""
    assert str(FlexStatusError(503)) == "HTTP 503 Service Unavailable"
    assert str(FlexStatusError(799)) == "HTTP 799"


def test_status_error_never_shows_authorization_or_form_password() -> None:
    """str/repr show method, path and status; never the bearer token or the login form."""
    response = _response(
        401,
        data={"email": "trader@example.com", "password": PASSWORD},
        json={"detail": "Invalid credentials"},
    )
    err = status_error_for(401, response)
    for text in (str(err), repr(err)):
        assert TOKEN not in text
        assert "password" not in text
        assert PASSWORD not in text
        assert "Authorization" not in text
    assert str(err) == "POST /users/login -> 401 Unauthorized: Invalid credentials"


def test_status_error_redacts_device_token_in_path() -> None:
    """The generation-1 /users/mptoken/<token> path shows *** instead of the access token."""
    response = _response(404, method="GET", url=f"https://m.example/users/mptoken/{TOKEN}")
    err = status_error_for(404, response)
    assert TOKEN not in str(err)
    assert err.url_path == "/users/mptoken/***"
    assert str(err).startswith("GET /users/mptoken/*** -> 404")


def test_status_error_redacts_query_values() -> None:
    """Query values are redacted, keys kept."""
    response = _response(
        500, method="GET", url=f"https://m.example/deals/?relativeTime=1h&token={TOKEN}"
    )
    err = status_error_for(500, response)
    assert err.url_path == "/deals/?relativeTime=***&token=***"


def test_status_error_redacts_registered_secrets_in_detail() -> None:
    """A server detail that echoes a registered secret is redacted."""
    register_secret(PASSWORD)
    try:
        err = FlexStatusError(400, None, {"detail": f"password {PASSWORD} is too weak"})
    finally:
        forget_secret(PASSWORD)
    assert PASSWORD not in str(err)
    assert "***" in str(err)


def test_unprocessable_entity_parses_field_errors() -> None:
    """A FastAPI 422 body becomes FieldError items; the message lists loc and msg only."""
    body = {
        "detail": [
            {
                "loc": ["body", "power"],
                "msg": "Input should be greater than 0",
                "type": "greater_than",
                "input": -1,
            },
            {
                "loc": ["body", "location", "location_id", 0],
                "msg": "too long",
                "type": "string_too_long",
                "input": PASSWORD,
            },
        ]
    }
    err = status_error_for(422, _response(422, url="https://m.example/api/v1/order/", json=body))
    assert isinstance(err, UnprocessableEntityError)
    assert err.field_errors == [
        FieldError(("body", "power"), "Input should be greater than 0", "greater_than"),
        FieldError(("body", "location", "location_id", 0), "too long", "string_too_long"),
    ]
    assert str(err) == (
        "POST /api/v1/order/ -> 422 Unprocessable Entity: body.power: Input should be greater"
        " than 0; body.location.location_id.0: too long"
    )
    assert PASSWORD not in str(err)


@pytest.mark.parametrize(
    "body",
    [None, "not json", b"\xff\xfe", {"detail": "plain string"}, {"detail": [1, "x", None]}, [1, 2]],
)
def test_unprocessable_entity_tolerates_other_bodies(body: object) -> None:
    """A 422 body that is not the FastAPI shape gives no field errors and no exception."""
    err = UnprocessableEntityError(422, None, body)
    assert err.field_errors == []


def test_unprocessable_entity_tolerates_odd_loc() -> None:
    """A loc that is a scalar or holds other types is turned into a tuple of str/int."""
    err = UnprocessableEntityError(
        422, None, {"detail": [{"loc": "body", "msg": 1}, {"loc": [None]}]}
    )
    assert err.field_errors == [FieldError(("body",), "1", ""), FieldError(("None",), "", "")]


def test_rate_limit_reads_retry_after_seconds() -> None:
    """RateLimitError takes retry_after from the Retry-After header."""
    err = status_error_for(429, _response(429, headers={"Retry-After": "7"}))
    assert isinstance(err, RateLimitError)
    assert err.retry_after == 7.0


def test_rate_limit_explicit_retry_after_wins() -> None:
    """An explicit retry_after is kept over the header."""
    err = RateLimitError(429, _response(429, headers={"Retry-After": "7"}), retry_after=1.5)
    assert err.retry_after == 1.5


def test_rate_limit_without_header_has_no_retry_after() -> None:
    """No header, no hint."""
    assert RateLimitError(429, _response(429)).retry_after is None


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "2.5"}, 2.5),
        ({"RETRY-AFTER": "3"}, 3.0),
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"retry-after-ms": "nope", "retry-after": "9"}, 9.0),
        ({"retry-after": "-4"}, 0.0),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT"}, 10.0),
        ({"retry-after": "Wed, 21 Oct 2015 07:27:00 GMT"}, 0.0),
        ({"retry-after": "soon"}, None),
        ({"retry-after": "nan"}, None),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:10"}, None),
        ({}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    """Retry-After-Ms, seconds and HTTP dates are understood; garbage gives None."""
    now = 1445412480.0  # 2015-10-21T07:28:00Z
    assert parse_retry_after(headers, now=now) == expected


# --- broker errors ---------------------------------------------------------------------------


def test_unroutable_error_describes_the_return() -> None:
    """OrderUnroutableError keeps exchange, routing key and the broker's reply."""
    err = OrderUnroutableError(
        exchange="in", routing_key="bi", reply_code=312, reply_text="NO_ROUTE"
    )
    assert (err.exchange, err.routing_key, err.reply_code) == ("in", "bi", 312)
    assert str(err) == "order unroutable: exchange 'in', routing key 'bi' (312 NO_ROUTE)"


def test_not_confirmed_error_says_nacked_or_timed_out() -> None:
    """OrderNotConfirmedError distinguishes a nack from a missing confirm."""
    assert str(OrderNotConfirmedError(nacked=True, delivery_tag=3)) == "order nacked by the broker"
    assert str(OrderNotConfirmedError()) == "order not confirmed in time"
    assert OrderNotConfirmedError(nacked=True, delivery_tag=3).delivery_tag == 3


def test_already_connected_error_explains_resource_locked() -> None:
    """AlreadyConnectedError names the key and the one-connection rule."""
    err = AlreadyConnectedError(application_key="64218f1a")
    assert "'64218f1a'" in str(err)
    assert "RESOURCE_LOCKED" in str(err)
    assert err.application_key == "64218f1a"
    assert AlreadyConnectedError("custom").message == "custom"


# --- logging and redaction -------------------------------------------------------------------


def test_library_logger_has_a_null_and_a_console_handler_only() -> None:
    """The flxtrd logger: a NullHandler and 0.2.9's console handler, no level set.

    The console handler prints only records of ``flxtrd`` itself, never the library's own
    (child loggers): tests/compat/test_console_log.py.
    """
    from flxtrd._compat._console import ConsoleHandler

    assert logging.getLogger(LOGGER_NAME) is logger
    assert [type(h) for h in logger.handlers] == [logging.NullHandler, ConsoleHandler]
    assert logger.level == logging.NOTSET


def test_log_emits_on_the_flxtrd_logger_with_callers_location(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """log(level, msg, *args) logs on 'flxtrd', %-formats args, and names the calling file."""
    with caplog.at_level(logging.INFO, logger=LOGGER_NAME):
        log(logging.INFO, "price %s", 12.5)
        log(logging.INFO, 200)
    assert [r.getMessage() for r in caplog.records] == ["price 12.5", "200"]
    assert caplog.records[0].name == LOGGER_NAME
    assert caplog.records[0].filename == "test_errors.py"


def test_log_below_level_does_nothing(caplog: pytest.LogCaptureFixture) -> None:
    """A disabled level produces no record."""
    with caplog.at_level(logging.WARNING, logger=LOGGER_NAME):
        log(logging.DEBUG, "hidden")
    assert caplog.records == []


def test_registered_secrets_are_redacted_in_log_records(caplog: pytest.LogCaptureFixture) -> None:
    """A registered password or token never reaches a handler, in message or arguments."""
    register_secret(PASSWORD, TOKEN)
    try:
        with caplog.at_level(logging.INFO, logger=LOGGER_NAME):
            log(logging.INFO, "login with %s", PASSWORD)
            log(logging.INFO, f"Authorization: Bearer {TOKEN}")
            get_logger("amqp").info("form password=%s", "s3cr3t-P%40ss+word")
    finally:
        forget_secret(PASSWORD, TOKEN)
    assert [r.getMessage() for r in caplog.records] == [
        "login with ***",
        "Authorization: Bearer ***",
        "form password=***",
    ]


def test_secrets_are_redacted_from_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    """A logged exception whose message holds a secret is redacted in the traceback text."""
    register_secret(TOKEN)
    try:
        with caplog.at_level(logging.ERROR, logger=LOGGER_NAME):
            try:
                raise RuntimeError(f"bad token {TOKEN}")
            except RuntimeError:
                log(logging.ERROR, "failed", exc_info=True)
    finally:
        forget_secret(TOKEN)
    assert TOKEN not in caplog.text
    assert "bad token ***" in caplog.text


def test_secrets_filter_survives_a_malformed_log_call() -> None:
    """log(INFO, 'x:', y) (no %s) does not raise from the filter; the content is redacted."""
    filt = SecretsFilter([TOKEN])
    record = logging.LogRecord("flxtrd", logging.INFO, __file__, 1, "RECEIVED:", (TOKEN,), None)
    assert filt.filter(record) is True
    assert record.getMessage() == "RECEIVED: ***"


def test_secrets_filter_without_secrets_leaves_records_alone() -> None:
    """With nothing registered the filter does not touch the record."""
    record = logging.LogRecord("flxtrd", logging.INFO, __file__, 1, "a %s", ("b",), None)
    assert SecretsFilter().filter(record) is True
    assert (record.msg, record.args) == ("a %s", ("b",))


def test_secrets_filter_add_remove_and_clear() -> None:
    """Secrets can be added, forgotten and cleared; None and '' are ignored."""
    filt = SecretsFilter()
    filt.add(TOKEN, PASSWORD, None, "")
    assert filt.secrets == {TOKEN, PASSWORD}
    assert filt.redact(f"x{TOKEN}y") == "x***y"
    filt.remove(TOKEN)
    assert filt.redact(f"x{TOKEN}y") == f"x{TOKEN}y"
    assert filt.redact("s3cr3t-P%40ss+word") == "***"
    filt.clear()
    assert filt.secrets == frozenset()
    assert filt.redact(PASSWORD) == PASSWORD


def test_redact_with_explicit_secrets_prefers_longest() -> None:
    """redact(text, secrets) replaces each secret; a secret containing another goes whole."""
    assert redact("abc abcdef", ["abc", "abcdef"]) == "*** ***"
    assert redact("nothing here", ["", "zzz"]) == "nothing here"
    assert redact("p%40ss", ["p@ss"]) == "***"


def test_redact_url_hides_password_query_and_token_path() -> None:
    """redact_url drops URL passwords, query values, mptoken segments and the fragment."""
    url = f"amqps://user:{PASSWORD}@broker.example:5671/users/mptoken/{TOKEN}?a=1#frag"
    assert redact_url(url) == "amqps://user:***@broker.example:5671/users/mptoken/***?a=***"
    assert redact_url(url, path_only=True) == "/users/mptoken/***?a=***"


def test_get_logger_attaches_the_filter_once() -> None:
    """Child loggers from get_logger carry the shared secrets filter exactly once."""
    child = get_logger("test-child")
    get_logger("test-child")
    assert child.name == "flxtrd.test-child"
    assert len([f for f in child.filters if isinstance(f, SecretsFilter)]) == 1
