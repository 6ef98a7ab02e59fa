"""Bad values typed or uploaded by people: a clear refusal, and nothing stored.

Every case checks the exit code, that the message names what was wrong, that no
traceback shows, and that every table holds exactly what it held before.
"""

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from bmsync.cli import app
from database.models import Account, Base, Listing
from runtime.settings import get_settings

SKU = "IP15-128-BLK-GOOD"
IMEI = "490154203237518"


@pytest.fixture
def runner(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CliRunner]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("BMSYNC_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("BMSYNC_TOKEN", "a-token-0123456789")
    monkeypatch.delenv("BMSYNC_SECRET_KEY", raising=False)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


@pytest.fixture
def stocked(runner: CliRunner) -> CliRunner:
    """An account, a catalog with one SKU, and one device in stock."""
    steps = [
        ["accounts", "add", "acme", "--platform", "eu", "--no-check"],
        ["catalog", "products", "add", "Apple", "iPhone 15"],
        [
            "catalog", "variations", "add", "Apple", "iPhone 15", "--grade", "Good",
            "--storage", "128GB", "--colour", "Black", "--sku", SKU,
        ],
        ["inventory", "add", "--sku", SKU, "--imei", IMEI],
    ]  # fmt: skip
    for step in steps:
        result = runner.invoke(app, step)
        assert result.exit_code == 0, (step, result.output, result.stderr)
    return runner


def snapshot(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, in a stable order."""
    with Session(engine) as session:
        return {
            table.name: sorted(
                (tuple(row) for row in session.execute(select(table))), key=repr
            )
            for table in Base.metadata.sorted_tables
        }


def assert_refused(result: Result, code: int, *named: str) -> None:
    shown = f"{result.output}{result.stderr}"
    assert result.exit_code == code, shown
    assert "Traceback" not in shown, shown
    # typer.Exit shows as SystemExit; anything else escaped the command.
    assert isinstance(result.exception, SystemExit | None), repr(result.exception)
    for name in named:
        assert name.lower() in result.stderr.lower(), (name, shown)


@pytest.mark.parametrize(
    ("args", "code", "named"),
    [
        (["--platform", "eu", "--locale", "en-us"], 1, ["locale", "en-us"]),
        (["--platform", "us", "--locale", "klingon"], 1, ["locale", "klingon"]),
        (["--platform", "eu", "--token-env", "NOT A NAME"], 1, ["NOT A NAME"]),
    ],
    ids=["locale-of-another-platform", "unknown-locale", "bad-token-variable"],
)
def test_accounts_add_refuses_bad_values_and_stores_nothing(
    stocked: CliRunner,
    engine: Engine,
    args: list[str],
    code: int,
    named: list[str],
) -> None:
    before = snapshot(engine)
    result = stocked.invoke(app, ["accounts", "add", "other", *args])

    assert_refused(result, code, *named)
    assert snapshot(engine) == before


def test_accounts_add_refuses_a_name_taken_and_an_empty_token(
    stocked: CliRunner, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(engine)
    taken = stocked.invoke(app, ["accounts", "add", "acme", "--platform", "eu"])
    monkeypatch.setenv("BMSYNC_TOKEN", "   ")
    empty = stocked.invoke(app, ["accounts", "add", "new", "--platform", "eu"])

    assert_refused(taken, 1, "acme", "exists")
    assert_refused(empty, 1, "token")
    assert snapshot(engine) == before


def test_accounts_add_refuses_a_token_another_account_uses_on_the_same_host(
    stocked: CliRunner, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def add(name: str, *options: str) -> Result:
        args = ["accounts", "add", name, "--platform", "eu", "--no-check"]
        return stocked.invoke(app, [*args, *options])

    monkeypatch.setenv(
        "SHARED_TOKEN", "a-token-0123456789"
    )  # acme's, as BMSYNC_TOKEN was
    before = snapshot(engine)
    again = add("acme-2")
    by_reference = add("acme-3", "--token-env", "SHARED_TOKEN")

    assert_refused(again, 1, "'acme'", "token")
    assert_refused(by_reference, 1, "'acme'", "token")
    assert snapshot(engine) == before

    monkeypatch.setenv("REFERENCED_TOKEN", "another-token-0123456789")
    referenced = add("ref", "--token-env", "REFERENCED_TOKEN")
    monkeypatch.setenv("BMSYNC_TOKEN", "another-token-0123456789")
    same_as_referenced = add("copy")
    on_another_host = add("copy", "--preprod")

    assert referenced.exit_code == 0, referenced.stderr
    assert_refused(same_as_referenced, 1, "'ref'")
    assert on_another_host.exit_code == 0, on_another_host.stderr


@pytest.mark.parametrize(
    ("account", "key", "value", "named"),
    [
        ("acme", "safety-buffer", "lots", ["safety-buffer", "lots"]),
        ("acme", "order-import-interval-s", "2", ["interval", "5 to 604800"]),
        ("acme", "pricing-interval-s", "700000", ["interval", "5 to 604800"]),
        ("acme", "safety-buffer", "100001", ["safety-buffer", "0 to 100000"]),
        ("acme", "safety-buffer", "-1", ["safety-buffer", "0 to 100000", "-1"]),
        ("acme", "listing-import-scope", "some", ["listing-import-scope", "some"]),
        ("acme", "counted-statuses", "Available, Lost", ["counted-statuses", "Lost"]),
        ("acme", "status-map.shipped", "Gone", ["status-map.shipped", "Gone"]),
        ("acme", "status-map.paid", "Bogus", ["status-map.paid", "Bogus"]),
        ("acme", "status-map.shipped", "Open", ["status-map.shipped", "Open"]),
        ("acme", "status-map.paid", "Shipped", ["status-map.paid", "open"]),
        ("acme", "counted-warehouses", ",", ["counted-warehouses", "at least one"]),
        ("acme", "counted-statuses", " ", ["counted-statuses", "at least one"]),
        ("acme", "no-such-key", "1", ["no-such-key"]),
    ],
)
def test_settings_set_refuses_bad_keys_and_values_and_changes_nothing(
    stocked: CliRunner,
    engine: Engine,
    account: str,
    key: str,
    value: str,
    named: list[str],
) -> None:
    before = snapshot(engine)
    result = stocked.invoke(app, ["settings", "set", account, key, value])

    assert_refused(result, 2, *named)
    assert snapshot(engine) == before


def test_an_interval_up_to_a_week_is_taken(stocked: CliRunner) -> None:
    result = stocked.invoke(
        app, ["settings", "set", "acme", "order-import-interval-s", "200000"]
    )
    shown = stocked.invoke(app, ["settings", "show", "acme"])

    assert result.exit_code == 0, result.stderr
    assert "200000" in shown.output


def test_settings_set_echoes_what_was_stored(stocked: CliRunner) -> None:
    switched = stocked.invoke(app, ["settings", "set", "acme", "auto-validate", "ON"])
    mapped = stocked.invoke(app, ["settings", "set", "acme", "status-map.paid", "open"])
    counted = stocked.invoke(
        app, ["settings", "set", "acme", "counted-statuses", "available,available"]
    )

    assert switched.exit_code == 0, switched.stderr
    assert switched.output == "acme: auto-validate = on\n"
    assert mapped.output == "acme: status-map.paid = Open\n"
    assert counted.output == "acme: counted-statuses = Available\n"


def test_settings_show_gives_every_key_a_meaning(stocked: CliRunner) -> None:
    shown = stocked.invoke(app, ["settings", "show", "acme"])

    assert shown.exit_code == 0, shown.stderr
    rows = {
        cells[0]: cells[2]
        for line in shown.output.splitlines()
        if len(cells := [cell.strip() for cell in line.split("│")[1:-1]]) == 3
    }
    assert rows["counted-statuses"] == (
        "inventory statuses whose devices count as available"
    )
    assert rows["counted-warehouses"] == "warehouses whose devices count as available"
    assert rows["status-map.paid"] == (
        "our sales order status for an order Back Market shows paid"
    )
    assert all(rows.values()), [key for key, meaning in rows.items() if not meaning]


@pytest.mark.parametrize(
    ("args", "code", "named"),
    [
        (["--sku", SKU, "--imei", "490154203237519"], 2, ["490154203237519"]),
        (["--sku", SKU, "--imei", IMEI], 1, [IMEI, "already"]),
        (["--sku", SKU, "--serial", "S1", "--warehouse", "Attic"], 2, ["Attic"]),
        (["--sku", SKU, "--serial", "S1", "--status", "Lost"], 2, ["Lost"]),
        (["--sku", "NOPE", "--serial", "S1"], 2, ["NOPE"]),
        (["--sku", SKU, "--serial", "S1", "--cost", "cheap"], 2, ["cost", "cheap"]),
        (["--sku", SKU, "--serial", "S1", "--cost", "-5"], 2, ["cost"]),
        (["--sku", SKU, "--serial", "S1", "--cost", "1e12"], 2, ["cost"]),
        (
            ["--sku", SKU, "--serial", "S1", "--cost", "0.001"],
            2,
            ["--cost", "0.001", "more than 2 decimal places"],
        ),
        (["--sku", SKU], 2, ["--imei"]),
        (["--sku", SKU, "--serial", "AB\x01CD"], 2, ["--serial", "U+0001"]),
        (["--sku", SKU, "--serial", "S\x1b[31mX2"], 2, ["--serial", "U+001B"]),
        (["--sku", SKU, "--serial", "AB\tCD"], 2, ["--serial", "U+0009"]),
        (["--sku", SKU, "--serial", "AB\u200bCD"], 2, ["--serial", "U+200B"]),
        (["--sku", SKU, "--serial", "AB CD"], 2, ["--serial", "space"]),
        (["--sku", SKU, "--serial", "S" * 51], 2, ["--serial", "51", "50"]),
        (["--sku", SKU, "--serial", IMEI], 1, ["--serial", "IMEI", "item 1"]),
    ],
    ids=[
        "bad-check-digit",
        "duplicate-imei",
        "unknown-warehouse",
        "unknown-status",
        "unknown-sku",
        "cost-not-a-number",
        "negative-cost",
        "cost-too-large",
        "cost-below-a-cent",
        "no-identifier",
        "control-character-in-serial",
        "escape-in-serial",
        "tab-in-serial",
        "zero-width-space-in-serial",
        "space-in-serial",
        "long-serial",
        "serial-is-another-devices-imei",
    ],
)
def test_inventory_add_refuses_bad_values_and_stores_nothing(
    stocked: CliRunner,
    engine: Engine,
    args: list[str],
    code: int,
    named: list[str],
) -> None:
    before = snapshot(engine)
    result = stocked.invoke(app, ["inventory", "add", *args])

    assert_refused(result, code, *named)
    assert snapshot(engine) == before


def test_an_imei_that_is_another_devices_serial_is_refused(
    stocked: CliRunner, engine: Engine
) -> None:
    serial = "356938035643809"
    added = stocked.invoke(app, ["inventory", "add", "--sku", SKU, "--serial", serial])
    before = snapshot(engine)
    result = stocked.invoke(app, ["inventory", "add", "--sku", SKU, "--imei", serial])

    assert added.exit_code == 0, added.stderr
    assert_refused(result, 1, "--imei", "is the serial", "item 2")
    assert snapshot(engine) == before


HEADER = "imei,sku,status,warehouse,cost"


@pytest.mark.parametrize(
    ("content", "named"),
    [
        (f"{HEADER}\n356938035643809,{SKU},Available,Main,abc\n", ["cost"]),
        (f"{HEADER}\n356938035643809,{SKU},Available,Main,1e12\n", ["cost"]),
        (
            f"{HEADER}\n356938035643809,{SKU},Available,Main,0.001\n",
            ["cost", "0.001", "more than 2 decimal places"],
        ),
        (
            f"{HEADER},received_date\n"
            f"356938035643809,{SKU},Available,Main,,0001-01-01\n",
            ["received_date", "0001-01-01", "before 2000-01-01"],
        ),
        (
            f"{HEADER},received_date\n"
            f"356938035643809,{SKU},Available,Main,,2999-12-31\n",
            ["received_date", "2999-12-31", "in the future"],
        ),
        ("colour,grade\nBlack,Good\n", ["sku"]),
        ("", ["line"]),
        (b"imei,sku\n\xff\xfe\x00bad bytes\n", ["utf-8", "at byte offset 9"]),
        (f"{HEADER}\n{IMEI},{SKU},Available,Main,10\n", ["already in stock"]),
        (f"{HEADER}\n356938035643809,{SKU}\x00,Available,Main,\n", ["sku", "NUL"]),
        (
            f"imei,manufacturer,model,status,warehouse\n"
            f"356938035643809,Apple,{'M' * 300},Available,Main\n",
            ["model", "200"],
        ),
        (
            f"imei,manufacturer,model,grade,status,warehouse\n"
            f"356938035643809,Apple,iPhone 15,{'G' * 41},Available,Main\n",
            ["grade", "40"],
        ),
        (
            f"imei,serial,sku,status,warehouse\n,AB\x01CD,{SKU},Available,Main\n",
            ["serial", "U+0001"],
        ),
        (
            f"imei,serial,sku,status,warehouse\n,AB\u200bCD,{SKU},Available,Main\n",
            ["serial", "U+200B"],
        ),
        (
            f"imei,serial,sku,status,warehouse\n"
            f"356938035643809,,{SKU},Available,Main\n"
            f",356938035643809,{SKU},Available,Main\n",
            ["serial", "IMEI on line 2"],
        ),
        (
            f"imei,serial,sku,status,warehouse\n,{IMEI},{SKU},Available,Main\n",
            ["serial", "IMEI of a device already in stock (item 1)"],
        ),
    ],
    ids=[
        "bad-cost",
        "cost-too-large",
        "cost-below-a-cent",
        "received-in-year-1",
        "received-in-the-future",
        "no-sku-column",
        "empty-file",
        "not-utf8",
        "already-in-stock-with-other-details",
        "nul-in-a-cell",
        "model-too-long",
        "grade-too-long",
        "control-character-in-serial",
        "zero-width-space-in-serial",
        "serial-is-another-lines-imei",
        "serial-is-a-stocked-imei",
    ],
)
def test_inventory_import_refuses_a_bad_file_and_stores_nothing(
    stocked: CliRunner,
    engine: Engine,
    tmp_path: Path,
    content: str | bytes,
    named: list[str],
) -> None:
    path = tmp_path / "stock.csv"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    before = snapshot(engine)

    result = stocked.invoke(app, ["inventory", "import", str(path)])

    assert_refused(result, 1, *named)
    assert snapshot(engine) == before


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--price", "12.345"], ["--price", "decimal"]),
        (["--min-price", "123456789012"], ["--min-price", "digits"]),
        (["--comment", "x" * 501], ["--comment", "500"]),
        ([], ["--min-price", "--price", "--comment"]),
    ],
)
def test_pricing_set_refuses_values_back_market_cannot_take(
    stocked: CliRunner, engine: Engine, args: list[str], named: list[str]
) -> None:
    before = snapshot(engine)
    result = stocked.invoke(app, ["pricing", "set", "acme", "ANY-SKU", *args])

    assert_refused(result, 2, *named)
    assert snapshot(engine) == before


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["warehouses", "add", ""], ["warehouse name", "blank"]),
        (["warehouses", "add", "W" * 300], ["warehouse name", "300", "100"]),
        (["products", "add", "", ""], ["manufacturer", "blank"]),
        (["products", "add", "Apple", "M" * 300], ["model", "300", "200"]),
        (["inventory-statuses", "add", "   "], ["inventory status name", "blank"]),
        (["statuses", "add", "", "--open"], ["sales order status name", "blank"]),
        (
            ["variations", "add", "Apple", "iPhone 15", "--grade", "G" * 41],
            ["--grade", "41", "40"],
        ),
        (["skus", "add", "S" * 101, "--variation", "1"], ["SKU code", "101", "100"]),
        (["skus", "add", " ", "--variation", "1"], ["SKU code", "blank"]),
    ],
    ids=[
        "blank-warehouse",
        "long-warehouse",
        "blank-product",
        "long-model",
        "blank-inventory-status",
        "blank-order-status",
        "long-grade",
        "long-sku",
        "blank-sku",
    ],
)
def test_catalog_add_refuses_blank_and_too_long_names(
    stocked: CliRunner, engine: Engine, args: list[str], named: list[str]
) -> None:
    before = snapshot(engine)
    result = stocked.invoke(app, ["catalog", *args])

    assert_refused(result, 2, *named)
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert snapshot(engine) == before


# What Python makes of a command-line argument holding the byte 0xff, which is not
# UTF-8: a lone surrogate.
NOT_UTF8 = b"SER\xff".decode("utf-8", "surrogateescape")


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["inventory", "add", "--sku", SKU, "--serial", NOT_UTF8], ["--serial"]),
        (["inventory", "move", NOT_UTF8, "--status", "Testing"], ["identifier"]),
        (["orders", "list", NOT_UTF8], ["account"]),
        (["settings", "set", "acme", "safety-buffer", NOT_UTF8], ["value"]),
        (["catalog", "warehouses", "add", "Back\x00room"], ["name", "NUL"]),
        (["inventory", "list", "--status", "Avail\x00able"], ["--status", "NUL"]),
        (["log", "--kind", NOT_UTF8], ["--kind"]),
    ],
    ids=[
        "serial",
        "identifier",
        "account",
        "setting-value",
        "nul-warehouse",
        "nul-status-filter",
        "log-filter",
    ],
)
def test_text_the_database_cannot_store_is_refused_by_every_command(
    stocked: CliRunner, engine: Engine, args: list[str], named: list[str]
) -> None:
    before = snapshot(engine)
    result = stocked.invoke(app, args)

    assert_refused(result, 2, *named)
    if "\x00" not in "".join(args):
        assert "UTF-8" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert snapshot(engine) == before


def test_a_refusal_reads_as_the_rule_words_it(
    stocked: CliRunner, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(engine)
    commit = stocked.invoke(
        app, ["orders", "commit", "acme", "1", "1", "356938035643801"]
    )
    monkeypatch.setenv("BMSYNC_COMPANY", "Acme Refurb")
    get_settings.cache_clear()
    setting = stocked.invoke(app, ["status"])

    assert_refused(commit, 2, "identifier: '356938035643801' is not a valid IMEI")
    assert_refused(setting, 2, "BMSYNC_COMPANY: letters and digits only")
    assert "Value error" not in commit.stderr + setting.stderr
    assert snapshot(engine) == before


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["1Z\U0001f4e6"], ["tracking", "letters A to Z"]),
        (["1Z", "--carrier", "U\u200bPS"], ["--carrier", "U+200B"]),
        (["1Z", "--url", "javascript:alert(1)"], ["--url", "http:// or https://"]),
    ],
    ids=["emoji-tracking", "zero-width-carrier", "javascript-url"],
)
def test_orders_ship_refuses_a_shipment_no_carrier_would_issue(
    stocked: CliRunner, engine: Engine, args: list[str], named: list[str]
) -> None:
    before = snapshot(engine)
    result = stocked.invoke(app, ["orders", "ship", "acme", "1", *args])

    assert_refused(result, 2, *named)
    assert snapshot(engine) == before


@pytest.mark.parametrize(
    "args",
    [
        ["orders", "list", "nosuch"],
        ["settings", "show", "nosuch"],
        ["settings", "set", "nosuch", "quantity-sync", "on"],
        ["log", "--account", "nosuch"],
        ["pricing", "show", "nosuch"],
        ["pricing", "set", "nosuch", "SKU", "--price", "10"],
        ["quantities", "plan", "nosuch"],
        ["listings", "show", "nosuch", "SKU"],
        ["listings", "unmapped", "nosuch"],
        ["doctor", "order", "nosuch", "1"],
        ["accounts", "show", "nosuch"],
    ],
    ids=lambda args: " ".join(args[:2]),
)
def test_an_unknown_account_is_the_same_error_everywhere(
    stocked: CliRunner, args: list[str]
) -> None:
    result = stocked.invoke(app, args)

    assert result.exit_code == 1, result.stderr
    assert result.stderr.strip() == "error: no account named 'nosuch'"


@pytest.mark.parametrize(
    ("key", "named"),
    [
        ("safety-buffer", "safety-buffer"),
        ("quantity-sync", "quantity-sync"),
        ("listing-import-scope", "listing-import-scope"),
        ("counted-warehouses", "counted-warehouses"),
        ("status-map.paid", "status"),
    ],
)
def test_a_huge_value_is_echoed_cut_short(
    stocked: CliRunner, engine: Engine, key: str, named: str
) -> None:
    before = snapshot(engine)
    result = stocked.invoke(app, ["settings", "set", "acme", key, "9" * 100_000])

    assert_refused(result, 2, named, "100000 characters")
    assert len(result.stderr) < 300, len(result.stderr)
    assert snapshot(engine) == before


def test_listing_commands_say_plainly_what_they_mean(
    stocked: CliRunner, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BMSYNC_CONTACT_EMAIL", "ops@acme.example")
    get_settings.cache_clear()
    with Session(engine) as session, session.begin():
        account_id = session.scalars(select(Account.id)).one()
        # One listing Back Market holds at its calculated quantity (the one device),
        # one that no stock maps to.
        for sku, quantity in ((SKU, 1), ("NOT-IN-CATALOG", 3)):
            session.add(
                Listing(
                    account_id=account_id,
                    backmarket_uuid=uuid.uuid4(),
                    sku=sku,
                    quantity=quantity,
                )
            )

    shown = stocked.invoke(app, ["listings", "show", "acme", SKU])
    both = stocked.invoke(
        app, ["listings", "map", "acme", SKU, "--by-sku", "--variation", "1"]
    )
    planned = stocked.invoke(app, ["quantities", "plan", "acme"])
    price_help = stocked.invoke(app, ["pricing", "set", "--help"])
    free = stocked.invoke(app, ["pricing", "set", "acme", SKU, "--price", "0"])

    assert shown.exit_code == 0, shown.stderr
    assert "never pushed" in shown.output and "None" not in shown.output
    assert_refused(both, 2, "--variation", "--by-sku", "cannot be combined")
    assert planned.exit_code == 0, planned.stderr
    assert "would push 0, unchanged 1, skipped 1" in planned.output
    assert "more than 0" in price_help.output and "x>=0" not in price_help.output
    assert_refused(free, 2, "--price", "greater than 0")


LONG = "A" * 100_000


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["inventory", "add", "--sku", SKU, "--serial", LONG], 2),
        (["inventory", "add", "--sku", SKU, "--imei", LONG], 2),
        (["inventory", "add", "--sku", LONG, "--serial", "S1"], 2),
        (["inventory", "move", LONG, "--status", "Available"], 2),
        (["accounts", "show", LONG], 1),
        (
            [
                "inventory",
                "add",
                "--sku",
                SKU,
                "--serial",
                "S1",
                "--cost",
                "9" * 100_000,
            ],
            2,
        ),
    ],
    ids=["serial", "imei", "sku", "identifier", "account", "cost"],
)
def test_a_refusal_quotes_a_long_value_cut_short(
    stocked: CliRunner, args: list[str], code: int
) -> None:
    result = stocked.invoke(app, args)

    assert_refused(result, code, "100000 characters")
    assert len(result.stderr) < 300, result.stderr[:300]


def test_an_import_problem_quotes_a_long_value_cut_short(
    stocked: CliRunner, tmp_path: Path
) -> None:
    path = tmp_path / "stock.csv"
    path.write_text(
        f"imei,sku,status,warehouse\n356938035643809,{LONG},Available,Main\n"
    )

    result = stocked.invoke(app, ["inventory", "import", str(path)])

    assert_refused(result, 1, "unknown SKU", "(100000 characters)")
    assert len(result.stderr) < 2000, result.stderr[:300]


@pytest.mark.parametrize("command", ["orders", "inventory"])
def test_list_refuses_an_unknown_status_naming_the_known_ones(
    stocked: CliRunner, command: str
) -> None:
    account = ["acme"] if command == "orders" else []
    result = stocked.invoke(app, [command, "list", *account, "--status", "Bogus"])

    known = "Shipped" if command == "orders" else "Available"
    assert_refused(result, 2, "--status", "'Bogus'", known)
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.parametrize(
    ("token", "named"),
    [
        ("abc", ["3 characters", "16"]),
        ("abcdefgh ijklmnopqrst", ["space"]),
        ("abcdefgh\x01ijklmnopqrst", ["not printable"]),
    ],
    ids=["short", "space", "control-character"],
)
@pytest.mark.parametrize("command", ["add", "set-token"])
def test_a_token_that_cannot_be_back_markets_is_refused_unchecked(
    stocked: CliRunner,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    token: str,
    named: list[str],
    command: str,
) -> None:
    monkeypatch.setenv("BMSYNC_TOKEN", token)
    args = ["new", "--platform", "eu"] if command == "add" else ["acme"]
    before = snapshot(engine)

    result = stocked.invoke(app, ["accounts", command, *args, "--no-check"])

    assert_refused(result, 1, "token", *named)
    assert token not in result.stderr
    assert snapshot(engine) == before


def test_set_token_names_an_unknown_account_before_asking_for_a_token(
    stocked: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BMSYNC_TOKEN")

    result = stocked.invoke(app, ["accounts", "set-token", "nope"], input="")

    assert_refused(result, 1, "no account named 'nope'")
    assert "token" not in result.output.lower()


@pytest.mark.parametrize("command", ["add", "set-token"])
def test_without_a_terminal_or_a_token_one_line_says_how_to_give_one(
    stocked: CliRunner, engine: Engine, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    monkeypatch.delenv("BMSYNC_TOKEN")
    args = ["new", "--platform", "eu"] if command == "add" else ["acme"]
    before = snapshot(engine)

    result = stocked.invoke(app, ["accounts", command, *args], input="")

    assert_refused(result, 1, "BMSYNC_TOKEN", "--token-env")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Aborted" not in result.output + result.stderr
    assert snapshot(engine) == before


def test_an_unclosed_quote_is_reported_on_the_line_it_opens(
    stocked: CliRunner, engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "stock.csv"
    path.write_text(
        "imei,sku,status,warehouse\n"
        f"356938035643809,{SKU},Available,Main\n"
        f'353008110904378,"{SKU},Available,Main\n'
        f"354672118744224,{SKU},Available,Main\n"
    )
    before = snapshot(engine)

    result = stocked.invoke(app, ["inventory", "import", str(path)])

    assert_refused(result, 1, "quote", "never closed")
    assert re.search(r"│ 3 +│ row +│ a quote opened on this line", result.stderr)
    assert "cells" not in result.stderr
    assert snapshot(engine) == before
