"""BackPricer: BackBox standings read and stored; price edits written, then kept."""

import uuid
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from activities.deps import BackMarketClients
from activities.pricing import apply_pricing
from database.models import Listing, SyncLogEntry
from domain.listings import RefreshPricingInput, RefreshPricingResult, SetPricingInput
from tests.world import MERCHANT, World, fast_world
from workflows import RefreshPricingWorkflow


@pytest.fixture
def world(
    monkeypatch: pytest.MonkeyPatch,
    session_factory: sessionmaker[Session],
    workflow_env: WorkflowEnvironment,
    task_queue: str,
) -> World:
    return fast_world(monkeypatch, session_factory, workflow_env, task_queue)


async def refresh(world: World) -> RefreshPricingResult:
    return await world.client.execute_workflow(
        RefreshPricingWorkflow.run,
        RefreshPricingInput(account_id=world.account_id),
        id=f"pricing-{uuid.uuid4()}",
        task_queue=world.task_queue,
    )


async def test_backbox_standings_are_stored_per_listing(world: World) -> None:
    async with world.worker():
        await world.run_listing_import()
        off = await refresh(world)
        world.set_settings(backpricer=True)
        result = await refresh(world)

    assert off.skipped
    assert result.checked == 60 and result.failed == 0
    assert result.winning + result.losing + result.no_backbox == 60
    assert result.no_backbox > 0 and result.winning > 0
    with world.session_factory() as session:
        rows = session.scalars(select(Listing)).all()
    assert all(row.backbox_checked_at is not None for row in rows)
    for row in rows:
        theirs = world.sandbox.listings[str(row.backmarket_uuid)]
        if not theirs.has_backbox:
            assert row.winning is None and row.price_to_win is None
            continue
        answer = world.sandbox.competitors(MERCHANT, theirs.id)[0]
        assert row.winning is answer["is_winning"]
        assert row.price_to_win == Decimal(answer["price_to_win"]["amount"])


async def test_a_price_edit_goes_to_back_market_then_is_stored(world: World) -> None:
    async with world.worker():
        await world.run_listing_import()
    listing = world.listing(world.skus[0])
    clients = BackMarketClients(world.session_factory, transport=world.transport)
    try:
        client = await clients.get(world.account_id)
        await apply_pricing(
            world.session_factory,
            client,
            SetPricingInput(
                account_id=world.account_id,
                listing_id=listing.id,
                min_price=Decimal("99.50"),
                comment="Like new, with a fresh battery.",
            ),
        )
    finally:
        await clients.close()

    theirs = world.sandbox.listings[str(listing.backmarket_uuid)]
    assert theirs.min_price == Decimal("99.50")
    assert theirs.comment == "Like new, with a fresh battery."
    stored = world.listing(world.skus[0])
    assert stored.min_price == Decimal("99.50")
    assert stored.comment == "Like new, with a fresh battery."
    assert stored.price == listing.price
    with world.session_factory() as session:
        line = session.scalars(
            select(SyncLogEntry).where(SyncLogEntry.kind == "pricing")
        ).one()
    assert line.detail == "set comment, min_price"
