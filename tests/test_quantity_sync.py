"""The quantity sync on the time-skipping server, real Postgres and the sandbox."""

import asyncio
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.deps import BackMarketClients
from activities.order_data import order_data
from activities.quantities import QuantityPass
from backmarket.models import Order
from database.inventory import upsert_backmarket_order
from database.models import SyncLogEntry
from domain.listings import ImportListingsResult
from domain.quantities import (
    PushQuantitiesInput,
    PushQuantitiesResult,
    QuantitySyncState,
    quantity_sync_workflow_id,
)
from runtime.quantity_client import notify_stock_changed
from tests.world import MERCHANT, World, fast_world
from workflows import QuantitySyncWorkflow

Hook = Callable[[httpx.Request], httpx.Response | None]


class HookedTransport(httpx.AsyncBaseTransport):
    """Lets a test act on, or answer, a request before the sandbox sees it."""

    def __init__(self, inner: httpx.AsyncBaseTransport, hook: Hook) -> None:
        self.inner = inner
        self.hook = hook

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        answer = self.hook(request)
        if answer is not None:
            return answer
        return await self.inner.handle_async_request(request)


@pytest.fixture
def world(
    monkeypatch: pytest.MonkeyPatch,
    session_factory: sessionmaker[Session],
    workflow_env: WorkflowEnvironment,
    task_queue: str,
) -> World:
    return fast_world(monkeypatch, session_factory, workflow_env, task_queue)


async def import_then_enable(world: World) -> ImportListingsResult:
    """Import listings with the sync off (nothing is woken), then turn it on."""
    imported = await world.run_listing_import()
    world.set_settings(quantity_sync=True)
    return imported


def log_lines(world: World, kind: str) -> list[SyncLogEntry]:
    with world.session_factory() as session:
        return list(
            session.scalars(
                select(SyncLogEntry)
                .where(SyncLogEntry.kind == kind)
                .order_by(SyncLogEntry.id)
            )
        )


async def test_reconcile_pushes_mapped_listings_and_never_zero_for_unmapped(
    world: World,
) -> None:
    async with world.worker():
        imported = await import_then_enable(world)
        first = await world.run_reconcile()
        second = await world.run_reconcile()

    assert imported.added == 60 and imported.unmapped == 58
    assert first.pushed == 2 and first.failed == 0 and first.skipped == 58
    assert second.pushed == 0 and second.unchanged == 2
    writes = world.quantity_writes()
    assert sorted(quantity for _, quantity in writes) == [4, 4]
    pushed_uuids = {str(world.listing(sku).backmarket_uuid) for sku in world.skus}
    assert {listing_uuid for listing_uuid, _ in writes} == pushed_uuids
    for sku in world.skus:
        assert world.sandbox_quantity(sku) == 4
        assert world.listing(sku).last_pushed_quantity == 4
    pushes = log_lines(world, "quantity_push")
    assert [(line.result, line.detail) for line in pushes] == [
        ("ok", "500 -> 4 (single)"),
        ("ok", "500 -> 4 (single)"),
    ]


async def test_a_dry_run_shows_the_plan_and_pushes_nothing(world: World) -> None:
    async with world.worker():
        await import_then_enable(world)
        plan = await world.run_reconcile(dry_run=True)

    planned = {
        p.sku: (p.backmarket_quantity, p.target)
        for p in plan.plan
        if p.action == "write"
    }
    assert planned == {sku: (500, 4) for sku in world.skus}
    assert plan.pushed == 2
    assert world.quantity_writes() == []
    assert all(world.sandbox_quantity(sku) == 500 for sku in world.skus)
    assert all(world.listing(sku).last_pushed_quantity is None for sku in world.skus)
    assert log_lines(world, "quantity_push") == []


async def test_outstanding_orders_beyond_stock_keep_the_quantity_at_zero(
    world: World,
) -> None:
    sku = world.skus[0]
    world.set_settings(auto_validate=False)
    world.place_order((sku, 3))
    world.place_order((sku, 3))

    async with world.worker():
        await import_then_enable(world)
        result = await world.run_reconcile()
        again = await world.run_reconcile()

    assert result.flagged == 0
    assert world.sandbox_quantity(sku) == 0
    assert world.listing(sku).last_pushed_quantity == 0
    assert again.pushed == 0
    assert all(quantity >= 0 for _, quantity in world.quantity_writes())


async def test_a_sale_during_the_push_is_not_undone(world: World) -> None:
    sku = world.skus[0]
    async with world.worker():
        await import_then_enable(world)
        await world.run_reconcile()
        assert world.sandbox_quantity(sku) == 4

        listing_uuid = str(world.listing(sku).backmarket_uuid)
        sold: list[int] = []

        def sell_before_the_reread(request: httpx.Request) -> None:
            # A customer orders after the pass imported orders and computed its
            # target, just before it reads the listing to write it.
            if request.method == "GET" and request.url.path.endswith(listing_uuid):
                if not sold:
                    sold.append(world.place_order((sku, 1)))
            return None

        world.transport = HookedTransport(world.transport, sell_before_the_reread)
        world.add_devices(sku, 2)

    async with world.worker():
        await notify_stock_changed(world.client, world.task_queue, [world.account_id])
        state = await wait_for_pass(world, lambda: world.sandbox_quantity(sku) == 5)

    assert sold, "the order was never placed"
    # 6 devices, one sold on Back Market while the push was computed.
    assert world.sandbox_quantity(sku) == 5
    assert 6 not in [q for u, q in world.quantity_writes() if u == listing_uuid]
    assert world.listing(sku).foreign_write_at is None
    assert state.last_result is not None


async def wait_for_pass(
    world: World, done: Callable[[], bool], timeout: float = 30
) -> QuantitySyncState:
    handle = world.client.get_workflow_handle_for(
        QuantitySyncWorkflow.run, quantity_sync_workflow_id(world.account_id)
    )
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        state = await handle.query(QuantitySyncWorkflow.state)
        if done() and not state.pending and state.passes > 0:
            return state
        await asyncio.sleep(0.1)
    raise AssertionError("the quantity sync never got there")


async def test_another_system_writing_is_flagged_and_overwritten_only_when_allowed(
    world: World,
) -> None:
    sku = world.skus[0]
    async with world.worker():
        await import_then_enable(world)
        await world.run_reconcile()
        world.sandbox.set_quantity(MERCHANT, sku, 9)

        left = await world.run_reconcile()
        left_again = await world.run_reconcile()
        assert world.sandbox_quantity(sku) == 9
        flagged = world.listing(sku)
        assert flagged.foreign_write_at is not None
        assert flagged.foreign_write_quantity == 9

        world.set_settings(overwrite_foreign_writes=True)
        world.sandbox.set_quantity(MERCHANT, sku, 1)
        overwritten = await world.run_reconcile()

    assert left.flagged == 1 and left.pushed == 0
    assert left_again.flagged == 1 and left_again.pushed == 0
    # The drop to 1 is explained by no order: held, orders imported again, flagged.
    assert overwritten.flagged == 1 and overwritten.pushed == 1
    assert world.sandbox_quantity(sku) == 4
    notes = [
        (line.result, line.detail)
        for line in log_lines(world, "quantity_foreign_write")
    ]
    assert len(notes) == 2
    assert notes[0][0] == "skipped" and "holds 9; we pushed 4" in (notes[0][1] or "")
    assert notes[1][0] == "ok" and "holds 1" in (notes[1][1] or "")


async def test_bulk_for_many_changes_single_updates_for_few(
    monkeypatch: pytest.MonkeyPatch,
    session_factory: sessionmaker[Session],
    workflow_env: WorkflowEnvironment,
    task_queue: str,
) -> None:
    world = fast_world(
        monkeypatch, session_factory, workflow_env, task_queue, mapped_skus=30
    )
    async with world.worker():
        await import_then_enable(world)
        many = await world.run_reconcile()
        for sku in world.skus[:3]:
            world.add_devices(sku, 1)
        few = await world.run_reconcile()

    assert many.bulk and many.pushed == 30
    bulk = [w for w in world.writes("POST", "/ws/listings") if w.path == "/ws/listings"]
    assert len(bulk) == 1
    assert bulk[0].body["catalog"] == "<30 lines>"
    assert not few.bulk and few.pushed == 3
    assert sorted(q for _, q in world.quantity_writes()) == [5, 5, 5]
    assert all(world.sandbox_quantity(sku) == 5 for sku in world.skus[:3])
    assert all(world.sandbox_quantity(sku) == 4 for sku in world.skus[3:])


async def test_a_404_and_a_429_in_a_200_listing_push_stop_nothing_else(
    monkeypatch: pytest.MonkeyPatch,
    session_factory: sessionmaker[Session],
    workflow_env: WorkflowEnvironment,
    task_queue: str,
) -> None:
    world = fast_world(
        monkeypatch,
        session_factory,
        workflow_env,
        task_queue,
        mapped_skus=200,
        catalog_size=220,
        devices_per_sku=1,
    )
    async with world.worker():
        await import_then_enable(world)
    # The listing written last, deleted on Back Market while earlier ones are.
    gone_sku = max(world.skus, key=lambda sku: world.listing(sku).id)
    gone_uuid = str(world.listing(gone_sku).backmarket_uuid)
    posts: list[str] = []
    refused: list[str] = []

    def misbehave(request: httpx.Request) -> httpx.Response | None:
        if request.method != "POST":
            return None
        posts.append(request.url.path)
        if len(posts) == 60:
            # Back Market deletes a listing while the push runs.
            with world.sandbox.lock:
                del world.sandbox.listings[gone_uuid]
        if len(posts) == 100 and not refused:
            refused.append(request.url.path)
            return httpx.Response(
                429, json={"error": {"code": "too-many-requests", "message": "slow"}}
            )
        return None

    clients = BackMarketClients(
        session_factory, transport=HookedTransport(world.transport, misbehave)
    )
    client = await clients.get(world.account_id)
    try:
        result = await QuantityPass(
            session_factory,
            client,
            PushQuantitiesInput(account_id=world.account_id, bulk_from=1000),
        ).run()
    finally:
        await clients.close()

    assert refused, "no 429 was answered"
    assert result.pushed == 199 and result.gone == 1 and result.failed == 1
    assert world.listing(gone_sku).gone_from_backmarket
    for sku in world.skus:
        if sku != gone_sku:
            assert world.sandbox_quantity(sku) == 1, sku
    failures = [
        line for line in log_lines(world, "quantity_push") if line.result == "failed"
    ]
    assert [line.error_class for line in failures] == ["BackMarketNotFound"]


async def test_an_imported_order_wakes_the_quantity_sync(world: World) -> None:
    sku = world.skus[0]
    async with world.worker():
        await import_then_enable(world)
        await world.run_reconcile()
        world.add_devices(sku, 2)
        world.place_order((sku, 1))
        await world.run_import()
        state = await wait_for_pass(world, lambda: world.sandbox_quantity(sku) == 5)

    # 6 devices, one of them sold: the import's notification alone got it there.
    assert state.last_result is not None and state.last_result.failed == 0
    assert world.listing(sku).last_pushed_quantity == 5


async def test_a_sale_while_a_bulk_task_waits_is_taken_off_again(world: World) -> None:
    sold_sku, other_sku = world.skus
    async with world.worker():
        await import_then_enable(world)
    sold: list[int] = []

    def sell_while_the_task_waits(request: httpx.Request) -> None:
        # The task is queued with absolute quantities decided before this order.
        if request.method == "GET" and request.url.path.startswith("/ws/tasks/"):
            if not sold:
                sold.append(world.place_order((sold_sku, 1)))
        return None

    clients = BackMarketClients(
        world.session_factory,
        transport=HookedTransport(world.transport, sell_while_the_task_waits),
    )
    client = await clients.get(world.account_id)
    try:
        result = await QuantityPass(
            world.session_factory,
            client,
            PushQuantitiesInput(account_id=world.account_id, bulk_from=1),
        ).run()
    finally:
        await clients.close()

    assert sold, "the order was never placed"
    assert result.bulk and result.pushed == 2 and result.resold == 1
    # 4 devices each; one sold on Back Market while the bulk task waited.
    assert world.sandbox_quantity(sold_sku) == 3
    assert world.sandbox_quantity(other_sku) == 4
    assert world.listing(sold_sku).last_pushed_quantity == 3


async def run_pass(world: World, **options: object) -> PushQuantitiesResult:
    """One pass outside Temporal, on the world's client."""
    clients = BackMarketClients(world.session_factory, transport=world.transport)
    client = await clients.get(world.account_id)
    try:
        return await QuantityPass(
            world.session_factory,
            client,
            PushQuantitiesInput(account_id=world.account_id, **options),
        ).run()
    finally:
        await clients.close()


async def test_a_sale_not_imported_yet_is_not_taken_for_another_system(
    world: World,
) -> None:
    sku = world.skus[0]
    async with world.worker():
        await import_then_enable(world)
        await world.run_reconcile()
    listing = world.listing(sku)
    # A customer orders after the pass imported orders: imported orders explain
    # nothing, Back Market's own orders explain the drop.
    world.place_order((sku, 1))

    second_look = await run_pass(world, hold_drops=False, listing_ids=[listing.id])

    assert second_look.flagged == 0 and second_look.pushed == 0
    assert world.listing(sku).foreign_write_at is None
    assert world.sandbox_quantity(sku) == 3
    assert [
        q for u, q in world.quantity_writes() if u == str(listing.backmarket_uuid)
    ] == [4]


async def test_a_drop_no_order_explains_is_still_another_system(world: World) -> None:
    sku = world.skus[0]
    async with world.worker():
        await import_then_enable(world)
        await world.run_reconcile()
    listing = world.listing(sku)
    world.place_order((sku, 1))
    world.sandbox.set_quantity(MERCHANT, sku, 1)

    second_look = await run_pass(world, hold_drops=False, listing_ids=[listing.id])

    assert second_look.flagged == 1 and second_look.pushed == 0
    flagged = world.listing(sku)
    assert flagged.foreign_write_quantity == 1
    assert "1 unit(s) were ordered since, which leaves 3" in (
        flagged.foreign_write_note or ""
    )
    assert world.sandbox_quantity(sku) == 1


async def test_a_sale_cancelled_before_its_import_is_put_back_on_sale(
    world: World,
) -> None:
    sku, other_sku = world.skus
    world.set_settings(auto_validate=False)
    # An order to import first, so that later imports read what changed.
    world.place_order((other_sku, 1))
    async with world.worker():
        await import_then_enable(world)
        await world.run_reconcile()
        # Off, so that no pass of the worker's runs before the one below.
        world.set_settings(quantity_sync=False)
        order_id = world.place_order((sku, 1))
        (line,) = world.sandbox.orders[order_id].lines
        world.sandbox.customer_cancel(line.id)
        await world.run_import()
    # Back Market took the unit off and does not put it back, and the import
    # took it off what we believe Back Market holds; our stock still has it.
    assert world.sandbox_quantity(sku) == 3
    assert world.listing(sku).quantity == 3

    result = await run_pass(world, force=True)

    assert result.pushed == 1
    assert world.sandbox_quantity(sku) == 4


async def test_an_order_imported_while_the_pass_reads_is_in_its_target(
    world: World,
) -> None:
    sku = world.skus[0]
    async with world.worker():
        await import_then_enable(world)
        await world.run_reconcile()
    world.add_devices(sku, 2)
    listing_uuid = str(world.listing(sku).backmarket_uuid)
    sold: list[int] = []

    def sell_and_import_before_the_read(request: httpx.Request) -> None:
        # The pass computed its targets; an order is placed and imported before
        # Back Market answers its read of the listing.
        if request.method == "GET" and request.url.path.endswith(listing_uuid):
            if not sold:
                sold.append(world.place_order((sku, 1)))
                store_order(world, sold[0])
        return None

    world.transport = HookedTransport(world.transport, sell_and_import_before_the_read)
    result = await run_pass(world)

    assert sold, "the order was never placed"
    # 6 devices, one of them sold: 5, not the 6 computed before the sale.
    assert result.pushed == 1
    assert world.sandbox_quantity(sku) == 5
    assert 6 not in [q for u, q in world.quantity_writes() if u == listing_uuid]


def store_order(world: World, order_id: int) -> None:
    """Store a sandbox order as the import would, without Temporal."""
    with world.sandbox.lock:
        payload = world.sandbox.orders[order_id].to_json()
    with world.session_factory.begin() as session:
        upsert_backmarket_order(
            session, world.account_id, order_data(Order.model_validate(payload))
        )


class AnswerLost(httpx.AsyncBaseTransport):
    """Applies a listing's first write, then answers 502 and fails its reads."""

    def __init__(self, inner: httpx.AsyncBaseTransport, listing_uuid: str) -> None:
        self.inner = inner
        self.path = f"/ws/listings/{listing_uuid}"
        self.lost = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == self.path:
            if request.method == "POST" and not self.lost:
                await self.inner.handle_async_request(request)
                self.lost += 1
                return httpx.Response(502)
            if request.method == "GET" and self.lost:
                return httpx.Response(503)
        return await self.inner.handle_async_request(request)


async def test_a_write_whose_answer_was_lost_is_known_for_ours_by_the_next_pass(
    world: World,
) -> None:
    sku = world.skus[0]
    async with world.worker():
        await import_then_enable(world)
        await world.run_reconcile()
    listing_uuid = str(world.listing(sku).backmarket_uuid)
    sandbox_transport = world.transport
    world.add_devices(sku, 1)
    world.transport = AnswerLost(sandbox_transport, listing_uuid)

    # Back Market applies 5, its answer is lost, and the listing cannot be read
    # again: the pass fails and Temporal would run it again.
    with pytest.raises(ApplicationError):
        await run_pass(world)
    assert world.sandbox_quantity(sku) == 5
    assert world.listing(sku).last_pushed_quantity == 4

    world.transport = sandbox_transport
    world.add_devices(sku, 1)
    again = await run_pass(world)

    assert again.flagged == 0 and again.pushed == 2
    assert world.sandbox_quantity(sku) == 6
    listing = world.listing(sku)
    assert listing.foreign_write_at is None
    assert listing.last_pushed_quantity == 6 and listing.push_intent_quantity is None
    pushes = [line.detail for line in log_lines(world, "quantity_push")]
    assert pushes[-2:] == [
        "4 -> 5 (applied, its answer lost)",
        "5 -> 6 (single)",
    ]
