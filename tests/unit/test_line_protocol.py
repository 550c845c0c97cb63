"""The line-protocol codec of generation-1 order bodies: exact text, escaping, tolerance, errors."""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any

import pytest

from flxtrd._errors import MessageDecodeError, MessageEncodeError
from flxtrd._line_protocol import (
    OrderLine,
    _split_fast,
    _split_slow,
    decode_order_line,
    encode_order_line,
)
from flxtrd._types import OrderType

SPEC_ASK = (
    "ask,applicationKey=5f0c8e1a2b3c4d5e6f7081a0,version=1 starttime=1796202000000i,"
    "wattage=2500.0,runtime=900000i,totalenergy=625.0,askingprice=10.0,"
    "expirationtime=1796201100000i"
)
SPEC_BID = (
    "bid,applicationKey=5f0c8e1a2b3c4d5e6f7081a0,version=1 starttime=1796202000000i,"
    "wattage=2500.0,runtime=900000i,totalenergy=625.0,biddingprice=12.0,"
    "expirationtime=1796201100000i"
)


def _line(**changes: Any) -> OrderLine:
    base = OrderLine(
        side="ask",
        application_key="5f0c8e1a2b3c4d5e6f7081a0",
        starttime=1_796_202_000_000,
        wattage=2500.0,
        runtime=900_000,
        totalenergy=625.0,
        price=10.0,
        expirationtime=1_796_201_100_000,
    )
    return dataclasses.replace(base, **changes)


# --- encoding -----------------------------------------------------------------------------------


def test_encode_ask_matches_the_spec_example() -> None:
    """An ask encodes to exactly the AsyncAPI example text."""
    assert encode_order_line(_line()) == SPEC_ASK


def test_encode_bid_uses_biddingprice() -> None:
    """A bid uses the measurement bid and the field biddingprice."""
    assert encode_order_line(_line(side="bid", price=12.0)) == SPEC_BID


def test_order_type_side_is_stored_as_plain_text() -> None:
    """OrderType.BID as side is stored as 'bid' and hashes like an equal line."""
    line = _line(side=OrderType.BID)
    assert type(line.side) is str
    assert line == _line(side="bid")
    assert hash(line) == hash(_line(side="bid"))
    assert line.price_field == "biddingprice"


def test_int_values_for_float_fields_become_floats() -> None:
    """wattage=2500 is stored and written as 2500.0; an int version becomes '1'."""
    line = _line(wattage=2500, price=10, totalenergy=625, version=1)
    assert (line.wattage, line.price, line.version) == (2500.0, 10.0, "1")
    assert encode_order_line(line) == SPEC_ASK


@pytest.mark.parametrize(
    ("value", "text"),
    [(1e-7, "1e-07"), (1e300, "1e+300"), (5e-324, "5e-324"), (0.1, "0.1"), (-0.0, "-0.0")],
)
def test_floats_are_written_with_repr(value: float, text: str) -> None:
    """Floats use repr(), the shortest text that reads back as the same float."""
    encoded = encode_order_line(_line(wattage=value))
    assert f",wattage={text}," in encoded
    assert decode_order_line(encoded).wattage == value


def test_int64_bounds() -> None:
    """Integer fields take the whole int64 range and nothing beyond it."""
    top = 2**63 - 1
    assert decode_order_line(encode_order_line(_line(starttime=top))).starttime == top
    with pytest.raises(MessageEncodeError, match="64-bit"):
        encode_order_line(_line(starttime=top + 1))
    with pytest.raises(MessageEncodeError, match="64-bit"):
        encode_order_line(_line(runtime=-(2**63) - 1))


@pytest.mark.parametrize("field", ["wattage", "totalenergy", "price"])
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_are_refused(field: str, value: float) -> None:
    """Line protocol has no NaN or infinity: encoding refuses them, naming the field."""
    with pytest.raises(MessageEncodeError, match="no NaN or infinity"):
        encode_order_line(_line(**{field: value}))


def test_huge_int_for_a_float_field_is_refused() -> None:
    """An int beyond float range cannot be written as a float."""
    with pytest.raises(MessageEncodeError, match="too large"):
        encode_order_line(_line(wattage=10**400))


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"starttime": True}, "must be an integer"),
        ({"runtime": 900000.0}, "must be an integer"),
        ({"wattage": "2500"}, "must be a number"),
        ({"price": False}, "must be a number"),
        ({"side": "hold"}, "side must be 'ask' or 'bid'"),
        ({"application_key": ""}, "must not be empty"),
        ({"application_key": 42}, "must be a string"),
        ({"application_key": "a\nb"}, "newline"),
        ({"application_key": "a\rb"}, "newline"),
        ({"application_key": "\ud800"}, "UTF-8"),
        ({"version": ""}, "must not be empty"),
        ({"extra_tags": {"applicationKey": "x"}}, "clashes"),
        ({"extra_tags": {"": "x"}}, "tag key must not be empty"),
        ({"extra_tags": {"k": ""}}, "must not be empty"),
        ({"extra_fields": {"askingprice": 1.0}}, "clashes"),
        ({"extra_fields": {"": 1}}, "field key must not be empty"),
        ({"extra_fields": {"note": None}}, "must be bool, int, float or str"),
        ({"extra_fields": {"note": "a\nb"}}, "newline"),
        ({"extra_fields": {"x": math.nan}}, "no NaN"),
        ({"timestamp": 2**63}, "64-bit"),
    ],
)
def test_encode_refuses_what_line_protocol_cannot_carry(
    changes: dict[str, Any], fragment: str
) -> None:
    """Bad types, empty keys, newlines, clashes and lone surrogates raise MessageEncodeError."""
    with pytest.raises(MessageEncodeError, match=fragment):
        encode_order_line(_line(**changes))


def test_escaping_of_tag_values() -> None:
    """Commas, equals signs, spaces and backslashes in tag values are backslash-escaped."""
    encoded = encode_order_line(_line(application_key="a,b=c d\\e"))
    assert encoded.startswith("ask,applicationKey=a\\,b\\=c\\ d\\\\e,version=1 ")
    assert decode_order_line(encoded).application_key == "a,b=c d\\e"


def test_escaping_of_extra_keys_and_string_values() -> None:
    """Extra keys escape like tags; string fields escape quotes and backslashes only."""
    line = _line(extra_tags={"a b": "x,y"}, extra_fields={"n=1": 'say "hi", \\ bye'})
    encoded = encode_order_line(line)
    assert ",a\\ b=x\\,y " in encoded
    assert ',n\\=1="say \\"hi\\", \\\\ bye"' in encoded
    assert decode_order_line(encoded) == line


def test_extras_and_timestamp_round_trip() -> None:
    """Unknown tags, typed extra fields and a timestamp survive encode and decode."""
    line = _line(
        extra_tags={"region": "DE-BY"},
        extra_fields={"flag": True, "off": False, "count": -3, "ratio": 0.5, "note": ""},
        timestamp=1_796_202_000_000_000_000,
    )
    decoded = decode_order_line(encode_order_line(line))
    assert decoded == line
    assert decoded.extra == {
        "region": "DE-BY",
        "flag": True,
        "off": False,
        "count": -3,
        "ratio": 0.5,
        "note": "",
    }


# --- decoding -----------------------------------------------------------------------------------


def test_decode_the_spec_examples() -> None:
    """Both AsyncAPI examples decode to their fields."""
    assert decode_order_line(SPEC_ASK) == _line()
    assert decode_order_line(SPEC_BID) == _line(side="bid", price=12.0)


def test_decode_what_flxtrd_0_2_9_sent() -> None:
    """The line 0.2.9's create_line_message documented decodes."""
    line = decode_order_line(
        "bid,applicationKey=64218f1adc42c714c1f08043,version=1 starttime=1685732700000i,"
        "wattage=226.3288909510559,runtime=840000i,totalenergy=52.81007455524638,"
        "biddingprice=6.56704792164692,expirationtime=1685732700000i"
    )
    assert (line.side, line.wattage, line.runtime) == ("bid", 226.3288909510559, 840000)


def test_decode_accepts_any_field_and_tag_order() -> None:
    """Fields and tags may come in any order."""
    text = (
        "ask,version=1,applicationKey=5f0c8e1a2b3c4d5e6f7081a0 expirationtime=1796201100000i,"
        "askingprice=10.0,totalenergy=625.0,runtime=900000i,wattage=2500.0,starttime=1796202000000i"
    )
    assert decode_order_line(text) == _line()


@pytest.mark.parametrize(
    "data",
    [
        SPEC_ASK + "\n",
        SPEC_ASK + "\r\n",
        SPEC_ASK.encode(),
        bytearray(SPEC_ASK.encode()),
        memoryview(SPEC_ASK.encode()),
        "\ufeff" + SPEC_ASK,
        "  " + SPEC_ASK,
        SPEC_ASK + " ",
        SPEC_ASK.replace(" ", "   ", 1),
    ],
)
def test_decode_tolerates_framing(data: Any) -> None:
    """Bytes, a trailing newline, a BOM and stray spaces between sections are accepted."""
    assert decode_order_line(data) == _line()


def test_decode_tolerates_unknown_tags_and_fields() -> None:
    """Unknown tags and fields are kept in extra_tags/extra_fields, typed."""
    text = SPEC_ASK.replace("version=1 ", "version=1,zone=north ") + ',note="a b",ok=t,n=5u,x=1.5'
    line = decode_order_line(text)
    assert line.extra_tags == {"zone": "north"}
    assert line.extra_fields == {"note": "a b", "ok": True, "n": 5, "x": 1.5}
    assert dataclasses.replace(line, extra_tags={}, extra_fields={}) == _line()


def test_decode_keeps_the_other_sides_price_as_extra() -> None:
    """A bid carrying askingprice keeps it as an extra field, not as its price."""
    line = decode_order_line(SPEC_BID + ",askingprice=3.0")
    assert (line.price, line.extra_fields) == (12.0, {"askingprice": 3.0})


def test_decode_defaults_a_missing_version_to_1() -> None:
    """Without a version tag the line is version '1'."""
    assert decode_order_line(SPEC_ASK.replace(",version=1", "")).version == "1"


@pytest.mark.parametrize(
    ("old", "new", "attr", "value"),
    [
        ("starttime=1796202000000i", "starttime=1796202000000", "starttime", 1796202000000),
        ("starttime=1796202000000i", "starttime=1796202000000u", "starttime", 1796202000000),
        ("starttime=1796202000000i", "starttime=1.796202e12", "starttime", 1796202000000),
        ("wattage=2500.0", "wattage=2500i", "wattage", 2500.0),
        ("wattage=2500.0", "wattage=+25e2", "wattage", 2500.0),
        ("wattage=2500.0", "wattage=.5", "wattage", 0.5),
    ],
)
def test_decode_tolerates_other_number_spellings(
    old: str, new: str, attr: str, value: float
) -> None:
    """Integers without i, with u, or as integral floats; floats as ints or exponents."""
    line = decode_order_line(SPEC_ASK.replace(old, new))
    assert getattr(line, attr) == value
    assert type(getattr(line, attr)) is type(value)


def test_decode_reads_a_timestamp() -> None:
    """An optional trailing timestamp is kept."""
    assert decode_order_line(SPEC_ASK + " -5").timestamp == -5


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ("", "empty"),
        ("\n", "empty"),
        (12, "must be str or bytes"),
        (b"\xff\xfe", "not valid UTF-8"),
        (SPEC_ASK + "\n" + SPEC_BID, "single line"),
        (SPEC_ASK.replace("ask,", "offer,", 1), "unknown measurement 'offer'"),
        (
            SPEC_ASK.replace("applicationKey=5f0c8e1a2b3c4d5e6f7081a0,", ""),
            "missing tag 'applicationKey'",
        ),
        (SPEC_ASK.replace("runtime=900000i,", ""), "misses field 'runtime'"),
        (SPEC_BID.replace("biddingprice", "askingprice"), "misses field 'biddingprice'"),
        (SPEC_ASK + ",wattage=1.0", "duplicate field 'wattage'"),
        (SPEC_ASK.replace("version=1", "version=1,version=2"), "duplicate tag 'version'"),
        (SPEC_ASK.replace("version=1", "version="), "tag 'version' has an empty value"),
        (SPEC_ASK.replace("version=1", "=1"), "empty tag key"),
        (SPEC_ASK.replace("version=1", "version"), "tag 'version' has no '=value'"),
        (SPEC_ASK.replace("wattage=2500.0", "wattage="), "field 'wattage' has an empty value"),
        (SPEC_ASK.replace("wattage=2500.0", "wattage"), "field 'wattage' has no '=value'"),
        (SPEC_ASK.replace("wattage=2500.0", "=2500.0"), "empty field key"),
        (
            SPEC_ASK.replace("wattage=2500.0", 'wattage="2500"'),
            "'wattage' must be a number, got a string",
        ),
        (
            SPEC_ASK.replace("starttime=1796202000000i", 'starttime="1"'),
            "must be an integer, got a string",
        ),
        (SPEC_ASK.replace("wattage=2500.0", "wattage=nan"), "must be a finite number"),
        (SPEC_ASK.replace("wattage=2500.0", "wattage=inf"), "must be a finite number"),
        (SPEC_ASK.replace("wattage=2500.0", "wattage=1_000.0"), "must be a finite number"),
        (SPEC_ASK.replace("wattage=2500.0", "wattage=\u0663"), "must be a finite number"),
        (SPEC_ASK.replace("wattage=2500.0", "wattage=1e400"), "out of range"),
        (SPEC_ASK.replace("wattage=2500.0", "wattage=t"), "must be a finite number"),
        (SPEC_ASK.replace("runtime=900000i", "runtime=1.5"), "'runtime' must be an integer"),
        (SPEC_ASK.replace("runtime=900000i", "runtime=1e300"), "'runtime' must be an integer"),
        (SPEC_ASK.replace("runtime=900000i", "runtime=9223372036854775808i"), "out of range"),
        (SPEC_ASK.replace("runtime=900000i", "runtime=9223372036854775808u"), "out of range"),
        (SPEC_ASK.replace("runtime=900000i", "runtime=" + "9" * 5000 + "i"), "out of range"),
        (SPEC_ASK.replace("runtime=900000i", "runtime=-1u"), "out of range"),
        (SPEC_ASK + ',note="open', "unterminated string"),
        (SPEC_ASK + ',note="a"b', "unexpected 'b'"),
        (SPEC_ASK + ",x=abc", "'x' must be a finite number"),
        (SPEC_ASK + ",x=12xi", "'x' must be an integer"),
        (SPEC_ASK + " 12i", "timestamp must be an integer"),
        (SPEC_ASK + " 12 13", "unexpected text after the timestamp"),
        ("ask,applicationKey=k,version=1", "no fields"),
        ("ask,applicationKey=k,version=1 ", "no fields"),
        ("ask,applicationKey=k\\,x", "no fields"),
    ],
)
def test_decode_errors_say_what_is_wrong(data: Any, fragment: str) -> None:
    """Malformed input raises MessageDecodeError whose message names the problem."""
    with pytest.raises(MessageDecodeError, match=re.escape(fragment)) as info:
        decode_order_line(data)
    assert info.type is MessageDecodeError


def test_decode_keeps_unknown_escapes_literal() -> None:
    """A backslash before an ordinary character is kept as a literal backslash."""
    line = decode_order_line(
        SPEC_ASK.replace("applicationKey=5f0c8e1a2b3c4d5e6f7081a0", "applicationKey=a\\b")
    )
    assert line.application_key == "a\\b"


def test_fast_and_general_tokenizers_agree() -> None:
    """The str.split fast path splits a plain line exactly like the general scanner."""
    text = SPEC_ASK + ",extra=t 123"
    assert _split_fast(text) == _split_slow(text)


def test_fast_path_steps_aside_for_escapes_and_strings() -> None:
    """Lines with backslashes or quotes go to the general scanner."""
    assert _split_fast(SPEC_ASK.replace("=1 ", "=1\\, ")) is None
    assert _split_fast(SPEC_ASK + ',n="x"') is None


def test_extra_merges_tags_and_fields() -> None:
    """OrderLine.extra shows unknown tags and fields together."""
    line = _line(extra_tags={"a": "1"}, extra_fields={"b": 2})
    assert line.extra == {"a": "1", "b": 2}
