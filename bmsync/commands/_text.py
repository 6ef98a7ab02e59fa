"""Text typed on the command line, checked before it reaches the database."""

from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import QueryableAttribute

from bmsync.commands._db import fail


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
