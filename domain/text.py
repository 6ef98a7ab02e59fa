"""Text people type or upload: what Postgres cannot store, and how to echo it."""

from pydantic import BaseModel, field_validator
from pydantic_core import ErrorDetails

# An echo of someone's input in a message is cut to this many characters.
ECHO_MAX = 40


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored as text, or None when it can.

    Postgres takes neither NUL characters nor text that is not UTF-8; Python holds
    bytes that are not UTF-8 (from a command line, say) as lone surrogates.
    """
    if any(0xD800 <= ord(char) <= 0xDFFF for char in value):
        return "is not valid UTF-8 text"
    if "\x00" in value:
        return "holds a NUL character"
    return None


def storable(value: str) -> str:
    """`value` unchanged, or a ValueError saying why Postgres cannot store it."""
    problem = text_problem(value)
    if problem is not None:
        raise ValueError(f"the value {problem}")
    return value


class TextInput(BaseModel):
    """A request from outside: no text field holds what Postgres cannot store.

    Every string field is checked, those a subclass adds included, so a field added
    later needs no check of its own. Strings inside lists or dicts are not looked at.
    """

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: object) -> object:
        return storable(value) if isinstance(value, str) else value


def plain_text(value: str, what: str) -> str:
    """`value` trimmed, for a one-line field; refused when empty, when Postgres
    cannot store it, or when it holds a character that is not printable text."""
    cleaned = value.strip()
    if not cleaned:
        raise ValueError(f"{what} is empty")
    problem = text_problem(cleaned)
    if problem is not None:
        raise ValueError(f"{what} {problem}")
    # Beside control characters, this refuses the invisible ones (zero-width
    # spaces, direction marks) that make two values look alike and differ.
    odd = next((char for char in cleaned if not char.isprintable()), None)
    if odd is not None:
        raise ValueError(f"{what} holds U+{ord(odd):04X}, which is not printable text")
    return cleaned


def error_message(error: ErrorDetails) -> str:
    """What a validation error says, for a person.

    pydantic puts "Value error, " before the message a validator raised; the
    message is ours and reads better alone.
    """
    return error["msg"].removeprefix("Value error, ")


def quoted(value: str, limit: int = ECHO_MAX) -> str:
    """`value` quoted for a message: cut to `limit` characters, bad bytes as U+FFFD."""
    readable = "".join(
        "\ufffd" if 0xD800 <= ord(char) <= 0xDFFF else char for char in value
    )
    if len(readable) > limit:
        return repr(readable[:limit]) + f"… ({len(readable)} characters)"
    return repr(readable)
