"""IMEI validation and the choice of identifier sent to Back Market."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.imei import (
    DeviceIdentifier,
    IdentifierKind,
    InvalidImei,
    device_identifier,
    is_valid_imei,
    luhn_check_digit,
    parse_imei,
)

# An IMEI often used as an example: 14 digits and the Luhn check digit 8.
VALID = "490154203237518"


def test_a_valid_imei_parses_to_itself() -> None:
    assert parse_imei(VALID) == VALID
    assert is_valid_imei(VALID)


def test_surrounding_whitespace_is_trimmed() -> None:
    assert parse_imei(f"  {VALID}\t\n") == VALID


def test_a_wrong_check_digit_is_refused() -> None:
    with pytest.raises(InvalidImei, match="check digit"):
        parse_imei("490154203237519")


@pytest.mark.parametrize("value", [VALID[:-1], VALID + "0"])
def test_fourteen_or_sixteen_digits_are_refused(value: str) -> None:
    with pytest.raises(InvalidImei, match="digits, not 15"):
        parse_imei(value)


@pytest.mark.parametrize("value", ["49015420323751A", "4901542-3237518", "", "٤٩"])
def test_letters_and_symbols_are_refused(value: str) -> None:
    with pytest.raises(InvalidImei, match="only digits"):
        parse_imei(value)
    assert not is_valid_imei(value)


def test_inner_padding_is_refused() -> None:
    with pytest.raises(InvalidImei):
        parse_imei("4901542 03237518")


def test_the_error_names_the_value_and_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="490154203237519"):
        parse_imei("490154203237519")


@given(st.text(alphabet="0123456789", min_size=14, max_size=14))
def test_every_generated_check_digit_validates(first14: str) -> None:
    assert is_valid_imei(first14 + luhn_check_digit(first14))


@given(st.text(alphabet="0123456789", min_size=14, max_size=14), st.integers(1, 9))
def test_any_other_check_digit_fails(first14: str, shift: int) -> None:
    wrong = (int(luhn_check_digit(first14)) + shift) % 10
    assert not is_valid_imei(first14 + str(wrong))


def test_check_digit_needs_fourteen_digits() -> None:
    with pytest.raises(ValueError):
        luhn_check_digit("123")


def test_an_imei_is_preferred_over_a_serial() -> None:
    assert device_identifier(VALID, "F2LXK0ABCD") == DeviceIdentifier(
        IdentifierKind.IMEI, VALID
    )


def test_a_serial_is_sent_as_a_serial_even_when_it_is_digits() -> None:
    assert device_identifier(None, VALID) == DeviceIdentifier(
        IdentifierKind.SERIAL, VALID
    )
    assert device_identifier("  ", " F2LXK0ABCD ") == DeviceIdentifier(
        IdentifierKind.SERIAL, "F2LXK0ABCD"
    )


def test_no_identifier_at_all() -> None:
    assert device_identifier(None, None) is None
    assert device_identifier("", "") is None


def test_a_bad_imei_is_not_silently_replaced_by_the_serial() -> None:
    with pytest.raises(InvalidImei):
        device_identifier("490154203237519", "F2LXK0ABCD")
