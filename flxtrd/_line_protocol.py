r"""The InfluxDB line-protocol codec of generation-1 order bodies.

A generation-1 order is one line (the AMQP message body)::

    ask,applicationKey=<key>,version=1 starttime=<ms>i,wattage=<W>,runtime=<ms>i,
        totalenergy=<Wh>,askingprice=<price>,expirationtime=<ms>i

(shown on two lines here; it is one line with no space after ``runtime=<ms>i,``).

A bid has the measurement ``bid`` and the price field ``biddingprice``.

Encoding (:func:`encode_order_line`):

- the measurement escapes ``,`` and space; tag keys, tag values and field keys escape ``,``,
  ``=`` and space; all three escape ``\`` as ``\\`` so any string round-trips;
- integers carry the ``i`` suffix and must fit int64; floats are written with :func:`repr`
  (shortest exact form: ``1e-07``, ``1e+300``) so they decode to the same float;
- NaN and infinity do not exist in line protocol and raise :class:`MessageEncodeError`, as do
  empty keys or tag values, newlines, unencodable text (lone surrogates) and bool/str where a
  number is expected.

Decoding (:func:`decode_order_line`) accepts ``str`` or UTF-8 bytes, fields and tags in any
order, a trailing newline, an optional timestamp, integers written without ``i`` (or with ``u``),
and keeps unknown tags and fields in ``extra_tags`` / ``extra_fields`` (re-encoded after the
known ones; a ``u`` integer is re-encoded with ``i``). A missing ``version`` tag decodes as
``"1"``. Everything else malformed raises :class:`MessageDecodeError` saying what is wrong; no
other exception escapes.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from flxtrd._errors import MessageDecodeError, MessageEncodeError

__all__ = [
    "PRICE_FIELDS",
    "FieldValue",
    "OrderLine",
    "decode_order_line",
    "encode_order_line",
]

FieldValue = bool | int | float | str

PRICE_FIELDS: Mapping[str, str] = {"ask": "askingprice", "bid": "biddingprice"}
_KNOWN_TAGS = frozenset({"applicationKey", "version"})
_INT_FIELDS = ("starttime", "runtime", "expirationtime")
_FLOAT_FIELDS = ("wattage", "totalenergy")
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_UINT64_MAX = 2**64 - 1
_MAX_EXACT_FLOAT_INT = 2**53

_INT_RE = re.compile(r"([+-]?)([0-9]+)([iu]?)")
_FLOAT_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_TRUE = frozenset({"t", "T", "true", "True", "TRUE"})
_FALSE = frozenset({"f", "F", "false", "False", "FALSE"})
_ESCAPABLE = frozenset(",= \\")


@dataclass(frozen=True, kw_only=True)
class OrderLine:
    """The fields of one order line.

    ``side`` is the measurement, ``"ask"`` or ``"bid"`` (an ``OrderType`` is stored as its
    plain value). ``price`` is written as ``askingprice`` for an ask and ``biddingprice`` for
    a bid. Integers given for the float fields are stored as floats. ``extra_tags`` and
    ``extra_fields`` hold what the codec does not know (they take part in ``==`` but not in
    ``hash``); ``timestamp`` is the optional line-protocol timestamp.
    """

    side: str
    application_key: str
    version: str = "1"
    starttime: int
    wattage: float
    runtime: int
    totalenergy: float
    price: float
    expirationtime: int
    extra_tags: dict[str, str] = field(default_factory=dict, hash=False)
    extra_fields: dict[str, FieldValue] = field(default_factory=dict, hash=False)
    timestamp: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.side, str) and type(self.side) is not str:
            object.__setattr__(self, "side", str.__str__(self.side))
        if isinstance(self.version, int) and not isinstance(self.version, bool):
            object.__setattr__(self, "version", str(self.version))
        for name in (*_FLOAT_FIELDS, "price"):
            value = getattr(self, name)
            if isinstance(value, int) and not isinstance(value, bool):
                with contextlib.suppress(OverflowError):  # too big: encode refuses it
                    object.__setattr__(self, name, float(value))

    @property
    def price_field(self) -> str:
        """The line-protocol name of the price: ``askingprice`` or ``biddingprice``."""
        return PRICE_FIELDS.get(self.side, "price")

    @property
    def extra(self) -> dict[str, FieldValue]:
        """Unknown tags and fields together (fields win on a name clash)."""
        return {**self.extra_tags, **self.extra_fields}


# --- encoding -------------------------------------------------------------------------------


def _check_text(what: str, text: object, *, allow_empty: bool = False) -> str:
    if not isinstance(text, str):
        raise MessageEncodeError(f"{what} must be a string, got {type(text).__name__}")
    if not text and not allow_empty:
        raise MessageEncodeError(f"{what} must not be empty")
    if "\n" in text or "\r" in text:
        raise MessageEncodeError(f"{what} must not contain a newline: {text!r}")
    return text


def _escape_measurement(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", "\\,").replace(" ", "\\ ")


def _escape_key(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def _format_int(name: str, value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise MessageEncodeError(f"field {name!r} must be an integer, got {value!r}")
    number = int(value)
    if not _INT64_MIN <= number <= _INT64_MAX:
        raise MessageEncodeError(f"field {name!r} does not fit a 64-bit integer: {number}")
    return f"{number}i"


def _format_float(name: str, value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise MessageEncodeError(f"field {name!r} must be a number, got {value!r}")
    try:
        number = float(value)
    except OverflowError:
        raise MessageEncodeError(f"field {name!r} is too large for a float: {value!r}") from None
    if not math.isfinite(number):
        raise MessageEncodeError(
            f"field {name!r} is {number!r}: line protocol has no NaN or infinity"
        )
    return float.__repr__(number)


def _format_string(name: str, value: str) -> str:
    _check_text(f"field {name!r}", value, allow_empty=True)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _format_extra(name: str, value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return _format_int(name, value)
    if isinstance(value, numbers.Real):
        return _format_float(name, value)
    if isinstance(value, str):
        return _format_string(name, value)
    raise MessageEncodeError(
        f"field {name!r} must be bool, int, float or str, got {type(value).__name__}"
    )


def encode_order_line(line: OrderLine) -> str:
    """Encode an order as one line-protocol line (no trailing newline).

    The result is text; the AMQP body is its UTF-8 encoding. Raises
    :class:`MessageEncodeError` for anything line protocol cannot carry.
    """
    side = line.side
    price_field = PRICE_FIELDS.get(side) if isinstance(side, str) else None
    if price_field is None:
        raise MessageEncodeError(f"side must be 'ask' or 'bid', got {side!r}")
    tags: list[tuple[str, object]] = [
        ("applicationKey", line.application_key),
        ("version", line.version),
    ]
    for tag_key, tag_value in line.extra_tags.items():
        if tag_key in _KNOWN_TAGS:
            raise MessageEncodeError(f"extra tag {tag_key!r} clashes with a known tag")
        tags.append((tag_key, tag_value))
    out = [_escape_measurement(side)]
    for key, value in tags:
        key_text = _check_text("tag key", key)
        value_text = _check_text(f"tag {key!r}", value)
        out.append(f",{_escape_key(key_text)}={_escape_key(value_text)}")
    known = {*_INT_FIELDS, *_FLOAT_FIELDS, price_field}
    fields = [
        f"starttime={_format_int('starttime', line.starttime)}",
        f"wattage={_format_float('wattage', line.wattage)}",
        f"runtime={_format_int('runtime', line.runtime)}",
        f"totalenergy={_format_float('totalenergy', line.totalenergy)}",
        f"{price_field}={_format_float(price_field, line.price)}",
        f"expirationtime={_format_int('expirationtime', line.expirationtime)}",
    ]
    for field_key, field_value in line.extra_fields.items():
        _check_text("field key", field_key)
        if field_key in known:
            raise MessageEncodeError(f"extra field {field_key!r} clashes with a known field")
        fields.append(f"{_escape_key(field_key)}={_format_extra(field_key, field_value)}")
    out.append(" ")
    out.append(",".join(fields))
    if line.timestamp is not None:
        out.append(" " + _format_int("timestamp", line.timestamp)[:-1])
    text = "".join(out)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MessageEncodeError(f"order line is not encodable as UTF-8: {exc.reason}") from None
    return text


# --- decoding -------------------------------------------------------------------------------

# A field's raw value: (text, is_quoted_string)
_RawField = tuple[str, str, bool]


def _snippet(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


class _Scanner:
    """Tokenizer for lines with escapes or quoted strings (the general, slower path)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def token(self, stops: str) -> str:
        """Read up to an unescaped stop character, resolving ``\\x`` escapes of ``,= \\``."""
        text, i, n = self.text, self.pos, len(self.text)
        out: list[str] = []
        while i < n:
            ch = text[i]
            if ch == "\\" and i + 1 < n and text[i + 1] in _ESCAPABLE:
                out.append(text[i + 1])
                i += 2
                continue
            if ch in stops:
                break
            out.append(ch)
            i += 1
        self.pos = i
        return "".join(out)

    def raw(self) -> str:
        """Read an unquoted field value or timestamp: up to ``,`` or space, no escapes."""
        start = i = self.pos
        text, n = self.text, len(self.text)
        while i < n and text[i] not in ", ":
            i += 1
        self.pos = i
        return text[start:i]

    def quoted(self, key: str) -> str:
        """Read a ``"..."`` string value with ``\\"`` and ``\\\\`` escapes."""
        text, i, n = self.text, self.pos + 1, len(self.text)
        out: list[str] = []
        while i < n:
            ch = text[i]
            if ch == "\\" and i + 1 < n and text[i + 1] in '"\\':
                out.append(text[i + 1])
                i += 2
                continue
            if ch == '"':
                self.pos = i + 1
                return "".join(out)
            out.append(ch)
            i += 1
        raise MessageDecodeError(f"line protocol: unterminated string value of field {key!r}")

    def skip_spaces(self) -> None:
        while self.peek() == " ":
            self.pos += 1


def _split_slow(text: str) -> tuple[str, list[tuple[str, str]], list[_RawField], str | None]:
    sc = _Scanner(text)
    measurement = sc.token(", ")
    tags: list[tuple[str, str]] = []
    while sc.peek() == ",":
        sc.pos += 1
        key = sc.token(",= ")
        if sc.peek() != "=":
            raise MessageDecodeError(f"line protocol: tag {key!r} has no '=value'")
        sc.pos += 1
        tags.append((key, sc.token(", ")))
    if sc.peek() != " ":
        raise MessageDecodeError("line protocol: no fields (expected a space after the tags)")
    sc.skip_spaces()
    fields: list[_RawField] = []
    while True:
        key = sc.token(",= ")
        if sc.peek() != "=":
            if not key and not fields:
                raise MessageDecodeError("line protocol: no fields after the tags")
            raise MessageDecodeError(f"line protocol: field {key!r} has no '=value'")
        sc.pos += 1
        if sc.peek() == '"':
            fields.append((key, sc.quoted(key), True))
            if sc.peek() not in ("", ",", " "):
                raise MessageDecodeError(
                    f"line protocol: unexpected {sc.peek()!r} after the string value of {key!r}"
                )
        else:
            fields.append((key, sc.raw(), False))
        if sc.peek() != ",":
            break
        sc.pos += 1
    timestamp = None
    if sc.peek() == " ":
        sc.skip_spaces()
        timestamp = sc.raw()
        sc.skip_spaces()
        if sc.peek():
            raise MessageDecodeError(
                f"line protocol: unexpected text after the timestamp: {_snippet(text[sc.pos :])}"
            )
    return measurement, tags, fields, timestamp


def _split_fast(text: str) -> tuple[str, list[tuple[str, str]], list[_RawField], str | None] | None:
    """Split a line without escapes or strings with ``str.split``; ``None`` if unsure."""
    if "\\" in text or '"' in text:
        return None
    sections = text.split(" ")
    if len(sections) not in (2, 3) or (len(sections) == 3 and "," in sections[2]):
        return None
    head, *tag_items = sections[0].split(",")
    tags = []
    for item in tag_items:
        key, eq, value = item.partition("=")
        if not eq:
            return None
        tags.append((key, value))
    fields: list[_RawField] = []
    for item in sections[1].split(","):
        key, eq, value = item.partition("=")
        if not eq:
            return None
        fields.append((key, value, False))
    return head, tags, fields, sections[2] if len(sections) == 3 else None


def _to_text(data: str | bytes | bytearray | memoryview) -> str:
    if isinstance(data, str):
        text = data
    elif isinstance(data, (bytes, bytearray, memoryview)):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MessageDecodeError(f"order line is not valid UTF-8: {exc.reason}") from None
    else:
        raise MessageDecodeError(f"order line must be str or bytes, got {type(data).__name__}")
    if text.startswith("\ufeff"):
        text = text[1:]
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    if "\n" in text or "\r" in text:
        raise MessageDecodeError("order line must be a single line (one order per message)")
    return text.lstrip(" \t")


def _parse_int_token(name: str, token: str) -> int:
    match = _INT_RE.fullmatch(token)
    if match is not None:
        sign, digits, suffix = match.groups()
        if len(digits) > 20:
            raise MessageDecodeError(f"line protocol: field {name!r} is out of range: {token!r}")
        number = int(sign + digits)
        low, high = (0, _UINT64_MAX) if suffix == "u" else (_INT64_MIN, _INT64_MAX)
        if not low <= number <= high:
            raise MessageDecodeError(f"line protocol: field {name!r} is out of range: {token!r}")
        return number
    raise MessageDecodeError(f"line protocol: field {name!r} must be an integer, got {token!r}")


def _parse_float_token(name: str, token: str) -> float:
    if _FLOAT_RE.fullmatch(token) is None:
        raise MessageDecodeError(
            f"line protocol: field {name!r} must be a finite number, got {_snippet(token)}"
        )
    number = float(token)
    if not math.isfinite(number):
        raise MessageDecodeError(f"line protocol: field {name!r} is out of range: {token!r}")
    return number


def _known_int(name: str, token: str, quoted: bool) -> int:
    if quoted:
        raise MessageDecodeError(f"line protocol: field {name!r} must be an integer, got a string")
    if _INT_RE.fullmatch(token) is not None:
        number = _parse_int_token(name, token)
        if number > _INT64_MAX:
            raise MessageDecodeError(f"line protocol: field {name!r} is out of range: {token!r}")
        return number
    number_f = _parse_float_token(name, token)
    if not number_f.is_integer() or abs(number_f) > _MAX_EXACT_FLOAT_INT:
        raise MessageDecodeError(f"line protocol: field {name!r} must be an integer, got {token!r}")
    return int(number_f)


def _known_float(name: str, token: str, quoted: bool) -> float:
    if quoted:
        raise MessageDecodeError(f"line protocol: field {name!r} must be a number, got a string")
    if token[-1:] in ("i", "u"):
        return float(_parse_int_token(name, token))
    return _parse_float_token(name, token)


def _extra_value(name: str, token: str, quoted: bool) -> FieldValue:
    if quoted:
        return token
    if token in _TRUE:
        return True
    if token in _FALSE:
        return False
    if token[-1:] in ("i", "u"):
        return _parse_int_token(name, token)
    return _parse_float_token(name, token)


def decode_order_line(data: str | bytes | bytearray | memoryview) -> OrderLine:
    """Decode one order line; raise :class:`MessageDecodeError` naming what is wrong."""
    text = _to_text(data)
    if not text:
        raise MessageDecodeError("order line is empty")
    split = _split_fast(text) or _split_slow(text)
    measurement, tag_items, field_items, timestamp_token = split

    if measurement not in PRICE_FIELDS:
        raise MessageDecodeError(
            f"line protocol: unknown measurement {_snippet(measurement)}; expected 'ask' or 'bid'"
        )
    price_field = PRICE_FIELDS[measurement]

    tags: dict[str, str] = {}
    for key, value in tag_items:
        if not key:
            raise MessageDecodeError("line protocol: empty tag key")
        if not value:
            raise MessageDecodeError(f"line protocol: tag {key!r} has an empty value")
        if key in tags:
            raise MessageDecodeError(f"line protocol: duplicate tag {key!r}")
        tags[key] = value
    if "applicationKey" not in tags:
        raise MessageDecodeError("line protocol: missing tag 'applicationKey'")

    raw: dict[str, tuple[str, bool]] = {}
    for key, value, quoted in field_items:
        if not key:
            raise MessageDecodeError("line protocol: empty field key")
        if not value and not quoted:
            raise MessageDecodeError(f"line protocol: field {key!r} has an empty value")
        if key in raw:
            raise MessageDecodeError(f"line protocol: duplicate field {key!r}")
        raw[key] = (value, quoted)
    for name in (*_INT_FIELDS, *_FLOAT_FIELDS, price_field):
        if name not in raw:
            raise MessageDecodeError(f"line protocol: {measurement} order misses field {name!r}")

    timestamp = None
    if timestamp_token:  # an empty token is trailing whitespace
        if _INT_RE.fullmatch(timestamp_token) is None or timestamp_token[-1:] in ("i", "u"):
            raise MessageDecodeError(
                f"line protocol: timestamp must be an integer, got {_snippet(timestamp_token)}"
            )
        timestamp = _parse_int_token("timestamp", timestamp_token)

    known = {*_INT_FIELDS, *_FLOAT_FIELDS, price_field}
    return OrderLine(
        side=measurement,
        application_key=tags.pop("applicationKey"),
        version=tags.pop("version", "1"),
        starttime=_known_int("starttime", *raw["starttime"]),
        wattage=_known_float("wattage", *raw["wattage"]),
        runtime=_known_int("runtime", *raw["runtime"]),
        totalenergy=_known_float("totalenergy", *raw["totalenergy"]),
        price=_known_float(price_field, *raw[price_field]),
        expirationtime=_known_int("expirationtime", *raw["expirationtime"]),
        extra_tags=tags,
        extra_fields={k: _extra_value(k, *v) for k, v in raw.items() if k not in known},
        timestamp=timestamp,
    )
