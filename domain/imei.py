"""IMEIs and serial numbers: what a device is identified by, and what Back Market gets.

IMEIs are not secrets, so error messages name the value to help find the bad row.
"""

from dataclasses import dataclass
from enum import StrEnum

from domain.text import plain_text, quoted

IMEI_LENGTH = 15
SERIAL_MAX_LENGTH = 50


class InvalidImei(ValueError):
    """A value that is not a 15-digit IMEI with a valid check digit."""

    def __init__(self, value: str, why: str) -> None:
        super().__init__(f"{quoted(value)} is not a valid IMEI: {why}")
        self.value = value
        self.why = why


def parse_imei(value: str) -> str:
    """The IMEI in `value`, trimmed; raises InvalidImei unless it is one."""
    imei = value.strip()
    if not imei.isascii() or not imei.isdigit():
        raise InvalidImei(value, "only digits are allowed")
    if len(imei) != IMEI_LENGTH:
        raise InvalidImei(value, f"it has {len(imei)} digits, not {IMEI_LENGTH}")
    if luhn_check_digit(imei[:-1]) != imei[-1]:
        raise InvalidImei(value, "the check digit is wrong")
    return imei


def parse_serial(value: str) -> str:
    """The serial number in `value`, trimmed; a ValueError says why it is not one.

    Every way a device comes into stock (a command, a CSV line, the HTTP API) goes
    through here. Beside what a tracking number may not hold, a space inside is
    refused: a serial that prints like another one must not be a second device.
    """
    serial = plain_text(value, "the serial number")
    spaced = next((char for char in serial if char.isspace()), None)
    if spaced is not None:
        raise ValueError(f"the serial number holds a space (U+{ord(spaced):04X})")
    if len(serial) > SERIAL_MAX_LENGTH:
        raise ValueError(
            f"the serial number is {len(serial)} characters; "
            f"at most {SERIAL_MAX_LENGTH}"
        )
    return serial


def is_valid_imei(value: str) -> bool:
    try:
        parse_imei(value)
    except InvalidImei:
        return False
    return True


def luhn_check_digit(first14: str) -> str:
    """The Luhn check digit that completes `first14` into an IMEI."""
    if (
        len(first14) != IMEI_LENGTH - 1
        or not first14.isascii()
        or not first14.isdigit()
    ):
        raise ValueError(f"expected {IMEI_LENGTH - 1} digits, got {first14!r}")
    total = 0
    # Counting from the right of the full number, every second digit is doubled;
    # in the 14 leading digits those are the ones at odd positions from the left.
    for position, char in enumerate(first14):
        digit = int(char)
        if position % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


class IdentifierKind(StrEnum):
    IMEI = "imei"
    SERIAL = "serial"


@dataclass(frozen=True)
class DeviceIdentifier:
    """What to tell Back Market a device is: its IMEI, else its serial number."""

    kind: IdentifierKind
    value: str


def device_identifier(imei: str | None, serial: str | None) -> DeviceIdentifier | None:
    """The identifier to send for a device, or None when it has neither.

    A serial number is never sent as an IMEI, even when it happens to be all digits:
    Back Market checks the IMEI field and refuses what does not validate.
    """
    if imei is not None and imei.strip():
        return DeviceIdentifier(IdentifierKind.IMEI, parse_imei(imei))
    if serial is not None and serial.strip():
        cleaned = serial.strip()
        if len(cleaned) > SERIAL_MAX_LENGTH:
            raise ValueError(
                f"serial number {quoted(cleaned)} is longer than {SERIAL_MAX_LENGTH}"
            )
        return DeviceIdentifier(IdentifierKind.SERIAL, cleaned)
    return None
