"""`bmsync returns list`: the RMAs an account imported, with what they concern."""

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from bmsync.cli import app
from database import inventory as repo
from database.inventory import OrderData, OrderLineData
from database.models import Account, OrderItem
from database.returns import ReturnClaim, upsert_rma
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
    get_settings.cache_clear()
    runner = CliRunner()
    steps = [
        ["accounts", "add", "acme", "--platform", "eu", "--no-check"],
        [
            "catalog", "variations", "add", "Apple", "iPhone 15", "--grade", "Good",
            "--storage", "128GB", "--colour", "Black", "--sku", SKU,
        ],
        ["inventory", "add", "--sku", SKU, "--imei", IMEI],
    ]  # fmt: skip
    for step in steps:
        result = runner.invoke(app, step)
        assert result.exit_code == 0, (step, result.output, result.stderr)
    yield runner
    get_settings.cache_clear()


def test_returns_list_shows_each_rma_with_its_order_and_device(
    runner: CliRunner, session: Session
) -> None:
    empty = runner.invoke(app, ["returns", "list", "acme"])
    account_id = session.scalars(select(Account.id)).one()
    line = OrderLineData(orderline_id=88001, sku=SKU, quantity=1, state=3)
    stored = repo.upsert_backmarket_order(
        session, account_id, OrderData(order_id=77001, state=9, lines=[line])
    )
    item_id = session.scalars(
        select(OrderItem.id).where(OrderItem.sales_order_id == stored.sales_order_id)
    ).one()
    device = repo.find_item_by_identifier(session, IMEI)
    assert device is not None
    repo.commit_item(session, item_id, device.id)
    now = datetime.now(UTC)
    for folder, claim, orderline, label in (
        (501, 601, 88001, "created"),
        (502, 602, None, None),  # a claim Back Market names no orderline for
    ):
        upsert_rma(
            session,
            account_id,
            ReturnClaim(folder, claim, orderline, 1, label, "refund"),
            now,
        )
    session.commit()

    listed = runner.invoke(app, ["returns", "list", "acme"])
    nobody = runner.invoke(app, ["returns", "list", "nobody"])

    assert empty.exit_code == 0 and "no returns imported" in empty.output
    assert listed.exit_code == 0, listed.stderr
    linked = next(row for row in listed.output.splitlines() if "501" in row)
    for value in ("601", "77001", "88001", IMEI, "created", f"{now:%Y-%m-%d}"):
        assert value in linked
    assert any("502" in row and "602" in row for row in listed.output.splitlines())
    assert nobody.exit_code == 1
    assert nobody.stderr.strip() == "error: no account named 'nobody'"
