"""Text typed on the command line, checked before it reaches the database."""

import functools
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import QueryableAttribute
from typer.core import TyperCommand, TyperGroup, TyperOption

from bmsync.commands._db import fail
from domain.text import quoted, text_problem


class TextCheckedGroup(TyperGroup):
    """The root command: no command runs with text the database cannot store.

    Every command's parameters are checked once they are parsed, so the one-line
    refusal names the parameter that holds the text, whatever the command.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for command in _commands(self):
            command.callback = _checked(command)


def fitting(
    value: str, what: str, column: QueryableAttribute[Any], required: bool = True
) -> str:
    """`value` trimmed, or a usage error when it is blank or longer than `column`."""
    cleaned = value.strip()
    if required and not cleaned:
        fail(f"{what} is blank", 2)
    limit = column.type.length if isinstance(column.type, String) else None
    if limit is not None and len(cleaned) > limit:
        fail(f"{what} is {len(cleaned)} characters; at most {limit}", 2)
    return cleaned


def _commands(group: TyperGroup) -> Iterator[TyperCommand]:
    for command in group.commands.values():
        if isinstance(command, TyperGroup):
            yield from _commands(command)
        elif isinstance(command, TyperCommand) and command.callback is not None:
            yield command


def _checked(command: TyperCommand) -> Callable[..., Any]:
    run = command.callback
    assert run is not None

    @functools.wraps(run)
    def checked(**values: Any) -> Any:
        for param in command.params:
            value = values.get(param.name or "")
            texts = value if isinstance(value, list | tuple) else [value]
            for text in (text for text in texts if isinstance(text, str)):
                problem = text_problem(text)
                if problem is not None:
                    # As a person types it: `--serial`, or `identifier`.
                    label = param.opts[0] if isinstance(param, TyperOption) else None
                    fail(f"{label or param.name}: {quoted(text)} {problem}", 2)
        return run(**values)

    return checked
