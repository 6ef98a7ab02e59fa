"""The accounts, settings, catalog and inventory commands, end to end on Postgres."""

import asyncio
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from activities.deps import BackMarketClients
from backmarket.errors import UnauthorizedError
from bmsync.cli import app
from database import inventory as repo
from database.accounts import resolve_token
from database.inventory import OrderData, OrderLineData
from database.models import Account, InventoryItem, InventoryStatus, OrderItem
from domain.imei import luhn_check_digit
from runtime.settings import get_settings
from sandbox.config import MerchantConfig, SandboxConfig
from sandbox.server import SandboxServer

SAMPLE = Path(__file__).parent.parent / "samples" / "stock.csv"
TOKEN = "c2VjcmV0LXRva2VuLWRvLW5vdC1wcmludA=="


@pytest.fixture
def runner(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CliRunner]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("BMSYNC_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("BMSYNC_SECRET_KEY", raising=False)
    monkeypatch.delenv("BMSYNC_TOKEN", raising=False)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def _everything(result: object) -> str:
    output = getattr(result, "output", "")
    stderr = getattr(result, "stderr", "")
    return f"{output}{stderr}"


def test_a_prompted_token_is_stored_encrypted_and_never_shown(
    runner: CliRunner, session: Session, tmp_path: Path
) -> None:
    added = runner.invoke(
        app,
        ["accounts", "add", "acme-eu", "--platform", "eu", "--no-check"],
        input=TOKEN + "\n",
    )
    listed = runner.invoke(app, ["accounts", "list"])
    shown = runner.invoke(app, ["accounts", "show", "acme-eu"])

    assert added.exit_code == 0, _everything(added)
    assert listed.exit_code == 0 and shown.exit_code == 0
    for result in (added, listed, shown):
        assert TOKEN not in _everything(result)
    assert "encrypted" in shown.output

    account = session.scalars(select(Account)).one()
    assert account.token_ref.startswith("enc:") and TOKEN not in account.token_ref
    key_file = tmp_path / "state" / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert resolve_token(account, tmp_path / "state") == TOKEN


def test_a_token_from_bmsync_token_is_not_echoed(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BMSYNC_TOKEN", TOKEN)
    added = runner.invoke(
        app, ["accounts", "add", "acme-us", "--platform", "us", "--no-check"]
    )
    assert added.exit_code == 0, _everything(added)
    assert TOKEN not in _everything(added)


def test_an_env_reference_reads_the_token_at_run_time(
    runner: CliRunner, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    added = runner.invoke(
        app,
        ["accounts", "add", "acme", "--platform", "eu", "--token-env", "ACME_TOKEN"],
    )
    assert added.exit_code == 0, _everything(added)
    account = session.scalars(select(Account)).one()
    assert account.token_ref == "env:ACME_TOKEN"
    monkeypatch.setenv("ACME_TOKEN", TOKEN)
    assert resolve_token(account) == TOKEN


def test_a_wrong_platform_is_a_usage_error(runner: CliRunner) -> None:
    result = runner.invoke(app, ["accounts", "add", "x", "--platform", "mars"])
    assert result.exit_code == 2
    assert "platform" in result.stderr


def test_settings_are_validated_and_shown(runner: CliRunner) -> None:
    runner.invoke(
        app,
        ["accounts", "add", "acme", "--platform", "eu", "--no-check"],
        input=TOKEN + "\n",
    )
    ok = [
        ["quantity-sync", "on"],
        ["safety-buffer", "2"],
        ["counted-statuses", "Available, Testing"],
        ["status-map.paid", "Validated"],
        ["organization-type", "shipping_name"],
    ]
    for key, value in ok:
        result = runner.invoke(app, ["settings", "set", "acme", key, value])
        assert result.exit_code == 0, _everything(result)

    bad = [
        ["quantity-sync", "maybe"],
        ["safety-buffer", "-1"],
        ["counted-warehouses", "Attic"],
        ["status-map.paid", "Nonexistent"],
        ["status-map.lost", "Open"],
        ["colour", "blue"],
    ]
    for key, value in bad:
        result = runner.invoke(app, ["settings", "set", "acme", key, value])
        assert result.exit_code == 2, (key, _everything(result))
        assert "Traceback" not in _everything(result)

    shown = runner.invoke(app, ["settings", "show", "acme"])
    assert shown.exit_code == 0
    assert "Available, Testing" in shown.output
    assert "Validated" in shown.output


def test_the_sample_stock_imports_after_seeding_the_catalog(runner: CliRunner) -> None:
    seeded = runner.invoke(app, ["catalog", "seed-sample"])
    first = runner.invoke(app, ["inventory", "import", str(SAMPLE)])
    again = runner.invoke(app, ["inventory", "import", str(SAMPLE)])
    listed = runner.invoke(app, ["inventory", "list", "--limit", "5"])

    assert seeded.exit_code == 0, _everything(seeded)
    assert first.exit_code == 0, _everything(first)
    assert "320 device(s) added" in first.output
    assert "0 device(s) added, 320 already in stock" in again.output
    assert listed.exit_code == 0


def test_a_bad_file_prints_every_bad_line_and_exits_1(
    runner: CliRunner, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "imei,sku,status,warehouse\n"
        "490154203237519,IP13-128-BLK-GOOD,Available,Main\n"
        "356938035643809,IP13-128-BLK-GOOD,Available,Attic\n"
    )
    result = runner.invoke(app, ["inventory", "import", str(bad)])

    assert result.exit_code == 1
    assert "nothing was imported" in result.stderr
    assert "490154203237519" in result.stderr and "Attic" in result.stderr


def test_catalog_and_single_device_commands(runner: CliRunner) -> None:
    steps = [
        ["catalog", "products", "add", "Apple", "iPhone 15"],
        [
            "catalog", "variations", "add", "Apple", "iPhone 15", "--grade", "Good",
            "--storage", "128GB", "--colour", "Black", "--sku", "IP15-128-BLK-GOOD",
        ],
        ["catalog", "warehouses", "add", "Repair Bench"],
        ["catalog", "inventory-statuses", "add", "Awaiting Parts"],
        ["catalog", "statuses", "add", "On Hold", "--open"],
        [
            "inventory", "add", "--sku", "ip15-128-blk-good", "--imei",
            "490154203237518", "--warehouse", "Repair Bench",
        ],
    ]  # fmt: skip
    for step in steps:
        result = runner.invoke(app, step)
        assert result.exit_code == 0, (step, _everything(result))

    duplicate = runner.invoke(
        app,
        ["inventory", "add", "--sku", "IP15-128-BLK-GOOD", "--imei", "490154203237518"],
    )
    assert duplicate.exit_code == 1
    bad_imei = runner.invoke(
        app, ["inventory", "add", "--sku", "IP15-128-BLK-GOOD", "--imei", "123"]
    )
    assert bad_imei.exit_code == 2 and "123" in bad_imei.stderr
    for listing in (["catalog", "skus", "list"], ["catalog", "variations", "list"]):
        result = runner.invoke(app, listing)
        assert result.exit_code == 0 and "IP15-128-BLK-GOOD" in result.output


def test_a_serial_number_is_one_device(
    runner: CliRunner, session: Session, tmp_path: Path
) -> None:
    assert runner.invoke(app, ["catalog", "seed-sample"]).exit_code == 0
    sku = "IP12-128-BLK-EXC"
    first = runner.invoke(app, ["inventory", "add", "--sku", sku, "--serial", "SER1"])
    again = runner.invoke(app, ["inventory", "add", "--sku", sku, "--serial", "SER1"])
    twice_in_a_file = tmp_path / "twice.csv"
    twice_in_a_file.write_text(
        f"serial,sku,status,warehouse\nSER2,{sku},Available,Main\n"
        f"SER2,{sku},Available,Main\n"
    )
    in_a_file = runner.invoke(app, ["inventory", "import", str(twice_in_a_file)])
    held = tmp_path / "held.csv"
    held.write_text(
        f"imei,serial,sku,status,warehouse\n490154203237518,SER1,{sku},Available,Main\n"
    )
    held_by_another = runner.invoke(app, ["inventory", "import", str(held)])

    assert first.exit_code == 0, _everything(first)
    assert again.exit_code == 1
    assert "--serial" in again.stderr and "SER1" in again.stderr
    assert in_a_file.exit_code == 1
    assert "also on line 2" in in_a_file.stderr
    assert held_by_another.exit_code == 1
    assert "serial of another device" in held_by_another.stderr
    serials = session.scalars(select(InventoryItem.serial)).all()
    assert serials == ["SER1"]


async def test_a_token_is_tried_before_the_account_is_stored(
    runner: CliRunner, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = SandboxConfig(
        merchants=[MerchantConfig(name="Shop", token="good-token-0123456789")]
    )
    async with SandboxServer(config) as sandbox:

        def add(name: str, token: str) -> Result:
            monkeypatch.setenv("BMSYNC_TOKEN", token)
            args = ["accounts", "add", name, "--platform", "eu"]
            return runner.invoke(app, [*args, "--base-url", sandbox.base_url])

        refused = await asyncio.to_thread(add, "wrong", "not-the-token-0123456789")
        taken = await asyncio.to_thread(add, "right", "good-token-0123456789")

    assert refused.exit_code == 1
    assert "refused the token (401)" in refused.stderr
    assert "not-the-token-0123456789" not in refused.output + refused.stderr
    assert taken.exit_code == 0, _everything(taken)
    assert "Back Market took its token" in taken.output
    assert session.scalars(select(Account.name)).all() == ["right"]


async def test_a_replaced_token_is_kept_only_when_back_market_takes_it(
    runner: CliRunner,
    session: Session,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = SandboxConfig(
        merchants=[MerchantConfig(name="Shop", token="new-token-0123456789")]
    )
    async with SandboxServer(config) as sandbox:

        def run(*args: str, token: str) -> Result:
            monkeypatch.setenv("BMSYNC_TOKEN", token)
            return runner.invoke(app, list(args))

        base = ["--base-url", sandbox.base_url]
        added = await asyncio.to_thread(
            run, "accounts", "add", "shop", "--platform", "eu", *base,
            "--no-check", token="revoked-token-0123456789",
        )  # fmt: skip
        # A worker's clients, in use before the token is replaced.
        clients = BackMarketClients(session_factory, state_dir=get_settings().state_dir)
        account_id = session.scalars(select(Account.id)).one()
        with pytest.raises(UnauthorizedError):
            await (await clients.get(account_id)).check_token()
        refused = await asyncio.to_thread(
            run, "accounts", "set-token", "shop", token="still-wrong-0123456789"
        )
        kept_old = _stored_token(session)
        replaced = await asyncio.to_thread(
            run, "accounts", "set-token", "shop", token="new-token-0123456789"
        )
        # The same worker, not restarted, uses the new token from its next call.
        await (await clients.get(account_id)).check_token()
        await clients.close()
        unknown = await asyncio.to_thread(
            run, "accounts", "set-token", "nobody", token="new-token-0123456789"
        )

    assert added.exit_code == 0, _everything(added)
    assert refused.exit_code == 1
    assert "refused the token (401)" in refused.stderr
    assert "still-wrong-0123456789" not in _everything(refused)
    assert kept_old == "revoked-token-0123456789"
    assert replaced.exit_code == 0, _everything(replaced)
    assert "token replaced and taken by Back Market" in replaced.output
    assert "new-token-0123456789" not in _everything(replaced)
    assert _stored_token(session) == "new-token-0123456789"
    assert unknown.exit_code == 1 and "no account named 'nobody'" in unknown.stderr


def _stored_token(session: Session) -> str:
    session.expire_all()
    account = session.scalars(select(Account).where(Account.name == "shop")).one()
    return resolve_token(account, get_settings().state_dir)


def test_an_unreachable_host_is_said_plainly_and_nothing_stored(
    runner: CliRunner, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BMSYNC_TOKEN", "some-token-0123456789")
    result = runner.invoke(
        app,
        [
            "accounts",
            "add",
            "far",
            "--platform",
            "eu",
            "--base-url",
            "http://127.0.0.1:9",
        ],
    )

    assert result.exit_code == 1
    assert "could not try the token" in result.stderr and "--no-check" in result.stderr
    assert session.scalars(select(Account)).all() == []


@pytest.mark.parametrize("columns", [None, "80"], ids=["piped", "80-columns"])
def test_inventory_list_cuts_no_value_piped_or_in_a_narrow_terminal(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, columns: str | None
) -> None:
    assert runner.invoke(app, ["catalog", "seed-sample"]).exit_code == 0
    assert runner.invoke(app, ["inventory", "import", str(SAMPLE)]).exit_code == 0
    if columns is None:
        monkeypatch.delenv("COLUMNS")
    else:
        monkeypatch.setenv("COLUMNS", columns)

    listed = runner.invoke(app, ["inventory", "list", "--limit", "3"])

    assert listed.exit_code == 0, _everything(listed)
    assert "…" not in listed.output, listed.output
    header = listed.output.splitlines()[1]
    for name in ("id", "imei", "serial", "sku", "status", "cost", "held for order"):
        assert f" {name} " in header, listed.output
    rows = [
        line
        for line in listed.output.splitlines()
        if re.match(r"│ \d+ +│ \d{15} │", line)
    ]
    assert len(rows) == 3, listed.output
    for row in rows:
        assert re.search(r"│ (Available|Testing|Returned) +│", row), listed.output
        if columns is None:
            assert "│ Main " in row, listed.output
    if columns is None:
        assert " warehouse " in header, listed.output


def test_devices_are_found_by_sku_and_moved_between_statuses(
    runner: CliRunner, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A narrow terminal: the values to copy must still be printed whole.
    monkeypatch.setenv("COLUMNS", "80")
    assert runner.invoke(app, ["catalog", "seed-sample"]).exit_code == 0
    assert runner.invoke(app, ["inventory", "import", str(SAMPLE)]).exit_code == 0
    imei = "354672118744224"

    listed = runner.invoke(app, ["inventory", "list", "--sku", "ip12-128-blk-exc"])
    moved = runner.invoke(
        app, ["inventory", "move", imei, "--status", "Testing", "--warehouse", "Main"]
    )
    unknown_status = runner.invoke(app, ["inventory", "move", imei, "--status", "Lost"])
    in_testing = runner.invoke(app, ["inventory", "list", "--status", "testing"])

    assert listed.exit_code == 0, _everything(listed)
    assert imei in listed.output and "IP12-128-BLK-EXC" in listed.output
    assert "356931110082159" not in listed.output  # another SKU's device
    assert moved.exit_code == 0, _everything(moved)
    assert unknown_status.exit_code == 2 and "--status" in unknown_status.stderr
    assert imei in in_testing.output
    status = session.scalar(
        select(InventoryStatus.name)
        .join(InventoryItem, InventoryItem.status_id == InventoryStatus.id)
        .where(InventoryItem.imei == imei)
    )
    assert status == "Testing"


def test_inventory_list_shows_the_order_holding_a_device_and_lists_free_ones(
    runner: CliRunner, session: Session
) -> None:
    assert runner.invoke(app, ["catalog", "seed-sample"]).exit_code == 0
    assert runner.invoke(app, ["inventory", "import", str(SAMPLE)]).exit_code == 0
    added = runner.invoke(
        app,
        ["accounts", "add", "acme", "--platform", "eu", "--no-check"],
        input=TOKEN + "\n",
    )
    assert added.exit_code == 0, _everything(added)
    sku, shipped_imei, held_imei = (
        "IP12-128-BLK-EXC",
        "354672118744224",
        "353008110904378",
    )
    account_id = session.scalars(select(Account.id)).one()
    for order_id, state, imei in ((7001, 9, shipped_imei), (7002, 3, held_imei)):
        line = OrderLineData(orderline_id=order_id + 1000, sku=sku, quantity=1, state=3)
        stored = repo.upsert_backmarket_order(
            session, account_id, OrderData(order_id=order_id, state=state, lines=[line])
        )
        item_id = session.scalars(
            select(OrderItem.id).where(
                OrderItem.sales_order_id == stored.sales_order_id
            )
        ).one()
        device = repo.find_item_by_identifier(session, imei)
        assert device is not None
        repo.commit_item(session, item_id, device.id)
    session.commit()

    listed = runner.invoke(app, ["inventory", "list", "--sku", sku])
    free = runner.invoke(app, ["inventory", "list", "--sku", sku, "--free"])

    assert listed.exit_code == 0, _everything(listed)
    rows = {
        imei: next(line for line in listed.output.splitlines() if imei in line)
        for imei in (shipped_imei, held_imei)
    }
    assert "7001 Shipped" in rows[shipped_imei]
    assert "7002 Validated" in rows[held_imei]
    assert free.exit_code == 0, _everything(free)
    assert shipped_imei not in free.output and held_imei not in free.output
    assert free.output.count(sku) == listed.output.count(sku) - 2 > 0


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (
            ["--status", "Bogus"],
            "--status: unknown status 'Bogus'; the statuses are Available, Reserved, "
            "Testing, Sold, Returned",
        ),
        (["--warehouse", "Attic"], "--warehouse: unknown warehouse 'Attic'"),
    ],
)
def test_inventory_list_names_an_unknown_status_or_warehouse(
    runner: CliRunner, option: list[str], message: str
) -> None:
    result = runner.invoke(app, ["inventory", "list", *option])

    assert result.exit_code == 2
    assert result.stderr.strip().startswith(f"error: {message}")


def test_orders_list_cuts_no_status_or_date_in_a_narrow_terminal(
    runner: CliRunner, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    added = runner.invoke(
        app,
        ["accounts", "add", "acme", "--platform", "eu", "--no-check"],
        input=TOKEN + "\n",
    )
    assert added.exit_code == 0, _everything(added)
    account_id = session.scalars(select(Account.id)).one()
    for order_id, state in ((7001, 9), (7002, 3), (7003, 1)):
        line = OrderLineData(orderline_id=order_id + 1000, sku="X", quantity=1, state=3)
        repo.upsert_backmarket_order(
            session, account_id, OrderData(order_id=order_id, state=state, lines=[line])
        )
    session.commit()
    monkeypatch.setenv("COLUMNS", "80")

    listed = runner.invoke(app, ["orders", "list", "acme"])

    assert listed.exit_code == 0, _everything(listed)
    assert "…" not in listed.output, listed.output
    for order_id in (7001, 7002, 7003):
        row = next(line for line in listed.output.splitlines() if str(order_id) in line)
        assert re.search(r"│ [A-Z][a-z]+ +│", row), listed.output
        assert re.search(r"│ \d{4}-\d\d-\d\d \d\d:\d\d │", row), listed.output


def test_a_move_that_changes_nothing_says_so(runner: CliRunner) -> None:
    assert runner.invoke(app, ["catalog", "seed-sample"]).exit_code == 0
    assert runner.invoke(app, ["inventory", "import", str(SAMPLE)]).exit_code == 0
    imei = "354672118744224"
    move = ["inventory", "move", imei, "--status", "Available", "--warehouse", "Main"]

    first = runner.invoke(app, move)
    again = runner.invoke(app, move)

    assert first.exit_code == 0 and again.exit_code == 0, _everything(again)
    device = first.output.split()[1]
    assert again.output.strip() == (
        f"device {device} is already Available in Main; nothing changed"
    )


def test_a_large_import_says_how_far_it_is_on_stderr(
    runner: CliRunner, session: Session, tmp_path: Path
) -> None:
    assert runner.invoke(app, ["catalog", "seed-sample"]).exit_code == 0
    path = tmp_path / "large.csv"
    rows = [
        f"{first}{luhn_check_digit(first)},IP12-128-BLK-EXC,Available,Main"
        for first in (f"35{index:012d}" for index in range(15_000))
    ]
    path.write_text("imei,sku,status,warehouse\n" + "\n".join(rows) + "\n")

    result = runner.invoke(app, ["inventory", "import", str(path)])

    assert result.exit_code == 0, _everything(result)
    assert "15000 device(s) added" not in result.stderr
    assert "15000 device(s) added, 0 already in stock" in result.output
    assert "10,000 of 15,000 devices stored" in result.stderr
    assert "15,000 of 15,000 devices stored" in result.stderr
    assert session.scalar(select(func.count()).select_from(InventoryItem)) == 15_000
