"""The RMA import: a care folder with a return label becomes one linked RMA."""

import logging
import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from database.models import InventoryItem, Rma, SalesOrder, SyncLogEntry
from domain.orders import OrderPhase
from domain.returns import ImportReturnsInput, ImportReturnsResult
from tests.world import World, fast_world
from workflows import ImportReturnsWorkflow


@pytest.fixture
def world(
    monkeypatch: pytest.MonkeyPatch,
    session_factory: sessionmaker[Session],
    workflow_env: WorkflowEnvironment,
    task_queue: str,
) -> World:
    return fast_world(monkeypatch, session_factory, workflow_env, task_queue)


async def run_returns(world: World) -> ImportReturnsResult:
    return await world.client.execute_workflow(
        ImportReturnsWorkflow.run,
        ImportReturnsInput(account_id=world.account_id),
        id=f"returns-{uuid.uuid4()}",
        task_queue=world.task_queue,
    )


def rmas(world: World) -> list[Rma]:
    with world.session_factory() as session:
        return list(session.scalars(select(Rma).order_by(Rma.id)))


async def test_a_care_folder_read_three_times_makes_one_linked_rma(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    # As `python worker.py` logs: only at INFO are the extra fields made a record.
    caplog.set_level(logging.INFO)
    sku = world.skus[0]
    imei = world.devices[sku][0]
    order_id = world.place_order((sku, 1))
    async with world.worker():
        await world.run_import()
        state = await world.wait_for(order_id, lambda s: s.phase == "validated")
        line_id = state.lines[0].orderline_id
        handle = world.order_handle(order_id)
        await world.commit(order_id, line_id, imei)
        await world.ship(order_id, "TRK-R")
        assert (await handle.result()).phase == OrderPhase.SHIPPED

        no_return = world.sandbox.open_care_folder(line_id, return_label=False)
        folder = world.sandbox.open_care_folder(line_id)
        runs = [await run_returns(world) for _ in range(3)]
        world.sandbox.close_care_folder(folder.id)
        closed = await run_returns(world)

    assert [run.created for run in runs] == [1, 0, 0]
    assert runs[0].folders == 2
    assert closed.updated == 1 and closed.created == 0
    (rma,) = rmas(world)
    assert rma.care_folder_id == folder.id != no_return.id
    assert rma.orderline_id == line_id
    assert rma.label_state == "USED" and rma.claim_state == 9
    with world.session_factory() as session:
        order = session.scalars(
            select(SalesOrder).where(SalesOrder.external_order_id == order_id)
        ).one()
        device = session.scalars(
            select(InventoryItem).where(InventoryItem.imei == imei)
        ).one()
        logged = session.scalars(
            select(SyncLogEntry.detail).where(SyncLogEntry.kind == "rma_import")
        ).all()
    assert rma.sales_order_id == order.id
    assert rma.order_item_id is not None
    assert rma.inventory_item_id == device.id
    assert len(logged) == 2


async def test_the_import_does_nothing_when_rma_import_is_off(world: World) -> None:
    world.set_settings(rma_import=False)
    async with world.worker():
        result = await run_returns(world)
    assert result.skipped and rmas(world) == []
