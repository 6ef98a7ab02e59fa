"""Table columns that keep the values an operator copies into the next command."""

from rich.table import Column


def key(name: str) -> Column:
    """A column of ids, IMEIs or SKUs: never wrapped or cut while others can shrink."""
    return Column(name, no_wrap=True)
