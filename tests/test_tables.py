"""What commands print when their output is a file or a pipe: tables whole, and
every other line as short as what it says."""

import io
import logging

import pytest
from rich.logging import RichHandler

from bmsync.commands._tables import key, make_console, make_table


def test_piped_tables_grow_to_their_widest_row_and_nothing_else_is_padded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    console = make_console()
    console.file = io.StringIO()
    table = make_table(key("imei"), "detail")
    table.add_row("356938035643809", "x" * 150)
    log = logging.getLogger("tests.tables")
    log.addHandler(RichHandler(console=console, show_path=False))
    log.propagate = False

    console.print(table)
    log.warning("order %s imported", 41000001)
    console.print("3 devices stored")

    lines = console.file.getvalue().splitlines()
    [row] = [line for line in lines if "356938035643809" in line]
    assert "x" * 150 in row
    [logged] = [line for line in lines if "order 41000001 imported" in line]
    assert len(logged) <= 120
    assert lines[-1] == "3 devices stored"
