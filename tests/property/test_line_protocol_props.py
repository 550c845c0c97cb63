"""Properties of the order line codec: exact round trips, and decode failing only cleanly."""

from __future__ import annotations

import contextlib

from hypothesis import example, given
from hypothesis import strategies as st

from flxtrd._errors import MessageDecodeError
from flxtrd._line_protocol import (
    PRICE_FIELDS,
    OrderLine,
    _split_fast,
    _split_slow,
    decode_order_line,
    encode_order_line,
)

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
FLOATS = st.floats(allow_nan=False, allow_infinity=False)
NASTY = ",= \\\"'\t#"

# Any text line protocol can carry in a key or tag value: no newlines, no lone surrogates,
# with the characters that need escaping made frequent.
KEYISH = st.text(
    alphabet=st.one_of(
        st.sampled_from(NASTY),
        st.characters(exclude_categories=("Cs",), exclude_characters="\n\r"),
    ),
    min_size=1,
    max_size=24,
)
KNOWN_FIELDS = {
    "starttime",
    "wattage",
    "runtime",
    "totalenergy",
    "expirationtime",
    *PRICE_FIELDS.values(),
}
FIELD_VALUES = st.one_of(
    st.booleans(),
    INT64,
    FLOATS,
    st.text(
        alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\n\r"),
        max_size=24,
    ),
)


@st.composite
def order_lines(draw: st.DrawFn) -> OrderLine:
    """Order lines with nasty keys, tiny and huge floats, big ints and unknown extras."""
    return OrderLine(
        side=draw(st.sampled_from(["ask", "bid"])),
        application_key=draw(KEYISH),
        version=draw(st.one_of(st.just("1"), KEYISH)),
        starttime=draw(INT64),
        wattage=draw(FLOATS),
        runtime=draw(INT64),
        totalenergy=draw(FLOATS),
        price=draw(FLOATS),
        expirationtime=draw(INT64),
        extra_tags=draw(
            st.dictionaries(
                KEYISH.filter(lambda k: k not in ("applicationKey", "version")), KEYISH, max_size=3
            )
        ),
        extra_fields=draw(
            st.dictionaries(
                KEYISH.filter(lambda k: k not in KNOWN_FIELDS), FIELD_VALUES, max_size=3
            )
        ),
        timestamp=draw(st.one_of(st.none(), INT64)),
    )


@given(order_lines())
@example(
    OrderLine(
        side="ask",
        application_key="a,b c=d\\",
        starttime=2**63 - 1,
        wattage=1e-7,
        runtime=1,
        totalenergy=1e300,
        price=5e-324,
        expirationtime=-(2**63),
    )
)
def test_decode_inverts_encode(line: OrderLine) -> None:
    """decode(encode(x)) == x, and the encoding is one line and stable."""
    text = encode_order_line(line)
    assert "\n" not in text
    decoded = decode_order_line(text)
    assert decoded == line
    assert encode_order_line(decoded) == text
    assert decode_order_line(text.encode("utf-8")) == line


@given(order_lines())
def test_floats_round_trip_bit_for_bit(line: OrderLine) -> None:
    """Floats come back as the identical IEEE value (including the sign of zero)."""
    decoded = decode_order_line(encode_order_line(line))
    for name in ("wattage", "totalenergy", "price"):
        assert getattr(decoded, name).hex() == getattr(line, name).hex()


@given(st.text())
@example("ask,applicationKey=k,version=1 starttime=1i")
@example('ask,applicationKey=k starttime="')
@example("ask,\\")
@example("bid x=1 " + "9" * 30)
def test_decode_of_arbitrary_text_fails_only_cleanly(text: str) -> None:
    """Any text either decodes or raises MessageDecodeError, never another exception."""
    with contextlib.suppress(MessageDecodeError):
        decode_order_line(text)


@given(st.binary())
def test_decode_of_arbitrary_bytes_fails_only_cleanly(data: bytes) -> None:
    """Any bytes either decode or raise MessageDecodeError."""
    with contextlib.suppress(MessageDecodeError):
        decode_order_line(data)


@given(order_lines(), st.data())
def test_decode_of_damaged_lines_fails_only_cleanly(line: OrderLine, data: st.DataObject) -> None:
    """A valid line with characters inserted or cut decodes or raises MessageDecodeError."""
    text = encode_order_line(line)
    at = data.draw(st.integers(0, len(text)))
    cut = data.draw(st.integers(0, 3))
    junk = data.draw(st.text(alphabet=st.sampled_from(NASTY + "i.e-+0u\n"), max_size=3))
    with contextlib.suppress(MessageDecodeError):
        decode_order_line(text[:at] + junk + text[at + cut :])


@given(
    st.text(
        alphabet=st.sampled_from("askbid,= =i.0123456789xyz"),
        max_size=60,
    )
)
def test_fast_path_agrees_with_the_general_scanner(text: str) -> None:
    """Whenever the str.split fast path answers, the general scanner splits the same way."""
    fast = _split_fast(text)
    if fast is not None:
        assert _split_slow(text) == fast
