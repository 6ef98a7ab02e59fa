"""How commands print: consoles, and tables that keep whole the values people read."""

import os
from typing import Any

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.table import Column, Table

# Wide enough for any row: piped output is read by programs and pagers, which
# would rather have a long line than a value cut short.
UNBOUNDED_WIDTH = 100_000
# A column of free text is not folded narrower than this or its header.
FOLDED_MIN = 8


def make_console(stderr: bool = False) -> Console:
    """A console as wide as the terminal; when output is not one, tables are as
    wide as their widest row."""
    return _Console(stderr=stderr)


def make_table(*columns: str | Column, **options: Any) -> Table:
    """A table whose key and whole columns are never cut; other text folds."""
    return _Table(
        *(
            Column(column, overflow="fold") if isinstance(column, str) else column
            for column in columns
        ),
        **options,
    )


def key(name: str) -> Column:
    """A column of ids, IMEIs or SKUs: never wrapped or cut while others can shrink."""
    return Column(name, no_wrap=True)


def whole(name: str) -> Column:
    """A column of short values read at a glance (a status, a date): never cut."""
    return Column(name, no_wrap=True)


class _Console(Console):
    def print(self, *objects: Any, **options: Any) -> None:
        # A table grown past the terminal is wrapped by the terminal, not cut.
        options.setdefault("crop", False)
        if "width" not in options and not self._width_chosen():
            # Only a table is let grow: log lines and other text keep the
            # console's width rather than being padded to the widest row.
            unbounded = self.options.update(max_width=UNBOUNDED_WIDTH)
            widest = max(
                (
                    Measurement.get(self, unbounded, item).maximum
                    for item in objects
                    if isinstance(item, Table)
                ),
                default=0,
            )
            if widest > self.width:
                # rich never prints wider than the console: widen it for this call.
                kept = self._width
                self._width = widest
                try:
                    super().print(*objects, **options)
                finally:
                    self._width = kept
                return
        super().print(*objects, **options)

    def _width_chosen(self) -> bool:
        """A terminal's width, or COLUMNS set by hand, is a width to keep to."""
        return self.is_terminal or os.environ.get("COLUMNS", "").isdigit()


class _Table(Table):
    def __rich_console__(
        self, console: Console, options: ConsoleOptions
    ) -> RenderResult:
        # rich shrinks unwrappable columns too, and others to nothing, once the
        # table is wider than the terminal: a key cut to "35693803…" or a column
        # gone is worse than a table the terminal wraps, so it grows instead.
        needed = self._extra_width
        for index, column in enumerate(self.columns):
            widest = max(
                Measurement.get(console, options, cell).maximum
                for cell in [column.header, *column.cells]
            )
            header = Measurement.get(console, options, column.header).maximum
            folded = max(header, min(widest, FOLDED_MIN))
            column.min_width = widest if column.no_wrap else folded
            needed += column.min_width + self._get_padding_width(index)
        if needed > options.max_width:
            options = options.update_width(needed)
        return super().__rich_console__(console, options)
