"""The listing import, mapping, unmapped listings and opportunities."""

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from bmsync.cli import app
from database.inventory import (
    add_inventory_item,
    add_sku,
    get_or_create_variation,
    inventory_status_by_name,
    warehouse_by_name,
)
from database.listings import (
    find_listing,
    listing_opportunities,
    map_listing,
    unmapped_listings,
)
from database.models import Account, Listing, SyncLogEntry
from database.quantity import REASON_NO_VARIATION_CHOSEN, REASON_SKU_NOT_IN_CATALOG
from domain.inventory import VariationSpec
from runtime.settings import get_settings
from tests.world import MERCHANT, World, fast_world, new_imei


@pytest.fixture
def world(
    monkeypatch: pytest.MonkeyPatch,
    session_factory: sessionmaker[Session],
    workflow_env: WorkflowEnvironment,
    task_queue: str,
) -> World:
    return fast_world(monkeypatch, session_factory, workflow_env, task_queue)


def listing_count(world: World, gone: bool | None = None) -> int:
    with world.session_factory() as session:
        query = select(func.count()).select_from(Listing)
        if gone is not None:
            query = query.where(Listing.gone_from_backmarket.is_(gone))
        return int(session.scalar(query) or 0)


async def test_import_adds_updates_and_marks_gone_but_never_deletes(
    world: World,
) -> None:
    async with world.worker():
        first = await world.run_listing_import()
        again = await world.run_listing_import()

        changed = world.sandbox.find_by_sku(MERCHANT, world.skus[0])
        assert changed is not None
        changed.price = Decimal("123.45")
        removed = world.sandbox.find_by_sku(MERCHANT, world.skus[1])
        assert removed is not None
        with world.sandbox.lock:
            del world.sandbox.listings[removed.id]
        third = await world.run_listing_import()

    assert (first.added, first.unmapped) == (60, 58)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 60)
    assert (third.updated, third.gone, third.unchanged) == (1, 1, 58)
    assert world.listing(world.skus[0]).price == Decimal("123.45")
    assert world.listing(world.skus[1]).gone_from_backmarket
    assert listing_count(world) == 60 and listing_count(world, gone=True) == 1


async def test_online_only_imports_online_listings_and_marks_none_gone(
    world: World,
) -> None:
    world.set_settings(listing_import_scope="online")
    online = sum(
        1
        for listing in world.sandbox.listings.values()
        if listing.merchant == MERCHANT and listing.publication_state == 2
    )
    async with world.worker():
        result = await world.run_listing_import()
        world.set_settings(listing_import_scope="all")
        everything = await world.run_listing_import()
        world.set_settings(listing_import_scope="online")
        online_again = await world.run_listing_import()

    assert 0 < online < 60
    assert result.added == online and result.seen == online
    assert everything.added == 60 - online
    assert online_again.gone == 0
    assert listing_count(world, gone=True) == 0


async def test_new_listings_wait_when_auto_import_is_off(world: World) -> None:
    world.set_settings(auto_import_new_listings=False)
    async with world.worker():
        result = await world.run_listing_import()

    assert result.added == 0 and result.not_imported == 60
    assert listing_count(world) == 0
    with world.session_factory() as session:
        line = session.scalars(
            select(SyncLogEntry).where(SyncLogEntry.kind == "listing_import")
        ).one()
    assert line.result == "skipped" and "60 new listing(s) not imported" in (
        line.detail or ""
    )


async def test_mapping_unmapped_reasons_and_opportunities(world: World) -> None:
    async with world.worker():
        await world.run_listing_import()

    with world.session_factory.begin() as session:
        status = inventory_status_by_name(session, "Available")
        warehouse = warehouse_by_name(session, "Main")
        assert status is not None and warehouse is not None
        spare = get_or_create_variation(
            session, VariationSpec(manufacturer="Test", model="Spare", grade="FAIR")
        )
        add_sku(session, "SPARE-FAIR", spare.id)
        for _ in range(3):
            add_inventory_item(
                session,
                variation_id=spare.id,
                status_id=status.id,
                warehouse_id=warehouse.id,
                imei=new_imei(),
            )
        opportunities = listing_opportunities(session, world.account_id)
        assert [(o.skus, o.sellable) for o in opportunities] == [(["SPARE-FAIR"], 3)]

        first_unmapped = unmapped_listings(session, world.account_id)[0]
        assert first_unmapped.reason == REASON_SKU_NOT_IN_CATALOG
        listing = find_listing(session, world.account_id, first_unmapped.sku)
        map_listing(session, listing, [spare.id])
        assert listing_opportunities(session, world.account_id) == []

        mapped_by_sku = find_listing(session, world.account_id, world.skus[0])
        map_listing(session, mapped_by_sku, [])
        reasons = {
            x.sku: x.reason for x in unmapped_listings(session, world.account_id)
        }
    assert reasons[world.skus[0]] == REASON_NO_VARIATION_CHOSEN
    assert first_unmapped.sku not in reasons
    assert len(reasons) == 58


@pytest.fixture
def runner(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CliRunner]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("BMSYNC_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


async def test_the_listing_commands_map_show_and_list(
    world: World, runner: CliRunner
) -> None:
    async with world.worker():
        await world.run_listing_import()
    with world.session_factory() as session:
        account = session.get(Account, world.account_id)
        assert account is not None
        name = account.name
    other_sku = sorted(
        x.sku
        for x in world.sandbox.listings.values()
        if x.merchant == MERCHANT and x.sku not in world.skus
    )[0]

    mapped = runner.invoke(
        app, ["listings", "map", name, other_sku, "--variation", world.skus[0]]
    )
    shown = runner.invoke(app, ["listings", "show", name, other_sku])
    unmapped = runner.invoke(app, ["listings", "unmapped", name])
    unmap = runner.invoke(app, ["listings", "unmap", name, world.skus[1]])
    after = runner.invoke(app, ["listings", "unmapped", name])
    opportunities = runner.invoke(app, ["listings", "opportunities", name])
    refused = runner.invoke(app, ["listings", "map", name, "NO-SUCH", "--by-sku"])

    assert mapped.exit_code == 0, mapped.output
    assert "Test Phone 0" in mapped.output
    assert shown.exit_code == 0 and "4 = 4 available - 0 outstanding" in shown.output
    assert "57 unmapped listing(s)" in unmapped.output
    assert unmap.exit_code == 0
    assert "58 unmapped listing(s)" in after.output
    assert "no variation chosen" in after.output
    assert opportunities.exit_code == 0 and "Test Phone 1" in opportunities.output
    assert refused.exit_code == 1 and "no listing 'NO-SUCH'" in refused.stderr
