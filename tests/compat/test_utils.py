"""``utils.epoch_time_to_isoformat`` reads s, ms, µs, ns and longer, as 0.2.9's tests pin."""

from __future__ import annotations

import pytest

from flxtrd import FlexValidationError, utils

SECONDS = "1627986547"


@pytest.mark.parametrize(
    ("digits", "expected"),
    [
        (SECONDS, "2021-08-03T10:29:07.000Z"),
        (SECONDS + "123", "2021-08-03T10:29:07.123Z"),  # ms
        (SECONDS + "123456", "2021-08-03T10:29:07.123Z"),  # µs
        (SECONDS + "123456789", "2021-08-03T10:29:07.123Z"),  # ns
        (SECONDS + "123456789123", "2021-08-03T10:29:07.123Z"),  # longer: first 13 digits
        (SECONDS + "5", "2021-08-03T10:29:07.500Z"),  # tenths
    ],
)
@pytest.mark.parametrize("as_int", [False, True])
def test_epoch_time_unit_is_told_by_its_digit_count(
    digits: str, expected: str, as_int: bool
) -> None:
    """Ten digits are seconds; longer values are seconds plus a fraction cut to ms."""
    value: int | str = int(digits) if as_int else digits
    assert utils.epoch_time_to_isoformat(value) == expected


def test_epoch_seconds_before_2001_are_seconds() -> None:
    """Fewer than ten digits are still seconds (0.2.9 raised ValueError for them)."""
    assert utils.epoch_time_to_isoformat(0) == "1970-01-01T00:00:00.000Z"
    assert utils.epoch_time_to_isoformat("999999999") == "2001-09-09T01:46:39.000Z"


@pytest.mark.parametrize("bad", [-1, "12a4567890", "", "1627986547.5", 1.5, None, True])
def test_epoch_time_that_is_not_digits_is_refused_naming_the_field(bad: object) -> None:
    """Negative, non-digit or non-integer input is a ValueError naming epoch_time."""
    with pytest.raises(FlexValidationError, match="epoch_time") as caught:
        utils.epoch_time_to_isoformat(bad)  # type: ignore[arg-type]
    assert isinstance(caught.value, ValueError)


def test_flxtrd_utils_and_core_utils_are_the_same_helpers() -> None:
    """flxtrd.utils and 0.2.9's flxtrd.core.utils give the same functions."""
    from flxtrd.core import utils as core_utils

    assert core_utils.epoch_time_to_isoformat is utils.epoch_time_to_isoformat
    assert core_utils.min_to_ms is utils.min_to_ms
