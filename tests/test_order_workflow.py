"""The order workflow on the time-skipping server, real Postgres and the sandbox."""

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import WorkflowFailureError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.order_import import OrderImportActivities
from database.diagnosis import Check, diagnose_order
from database.models import (
    Account,
    SalesOrder,
    SalesOrderStatus,
    Shipment,
    SyncLogEntry,
)
from domain.orders import (
    AddShipmentInput,
    CommitInventoryInput,
    FetchOrdersInput,
    OrderPhase,
    ValidateOrderInput,
)
from runtime.order_client import OrderClient, OrderRequestError
from sandbox.config import FaultRule
from tests.world import MERCHANT, TOKEN, TOKEN_VARIABLE, World, make_world
from workflows import OrderWorkflow


@pytest.fixture
def world(
    monkeypatch: pytest.MonkeyPatch,
    session_factory: sessionmaker[Session],
    workflow_env: WorkflowEnvironment,
    task_queue: str,
) -> World:
    monkeypatch.setenv(TOKEN_VARIABLE, TOKEN)
    return make_world(session_factory, workflow_env.client, task_queue)


def status_of(session_factory: sessionmaker[Session], order_id: int) -> str:
    with session_factory() as session:
        name = session.scalar(
            select(SalesOrderStatus.name)
            .join(SalesOrder, SalesOrder.status_id == SalesOrderStatus.id)
            .where(SalesOrder.external_order_id == order_id)
        )
        assert name is not None
        return name


async def test_single_device_order_goes_from_import_to_shipped_once(
    world: World,
) -> None:
    sku = world.skus[0]
    order_id = world.place_order((sku, 1))
    imei = world.devices[sku][0]

    async with world.worker():
        result = await world.run_import()
        assert result.dispatched == 1
        state = await world.wait_for(order_id, lambda s: s.phase == "validated")
        line_id = state.lines[0].orderline_id

        commit = await world.commit(order_id, line_id, imei)
        assert commit.fulfils_line and commit.imei_will_sync
        await world.orders.add_shipment(
            world.account_id,
            order_id,
            AddShipmentInput(tracking_number="1Z999", carrier="UPS"),
        )
        final = await world.order_handle(order_id).result()

    assert final.phase == OrderPhase.SHIPPED
    bodies = world.applied_bodies(order_id)
    assert [b["new_state"] for b in bodies] == [2, 3]
    assert bodies[1]["tracking_number"] == "1Z999"
    assert bodies[1]["imei"] == imei
    assert world.sandbox.orders[order_id].state == 9
    assert status_of(world.session_factory, order_id) == "Shipped"
    with world.session_factory() as session:
        shipment = session.scalar(select(Shipment))
        assert shipment is not None and shipment.sent_at is not None


async def test_two_line_order_holds_its_shipment_until_both_lines_are_decided(
    world: World,
) -> None:
    world.set_settings(auto_validate=False)
    order_id = world.place_order((world.skus[0], 1), (world.skus[1], 1))

    async with world.worker():
        await world.run_import()
        state = await world.wait_for(order_id, lambda s: len(s.lines) == 2)
        first, second = (line.orderline_id for line in state.lines)
        handle = world.order_handle(order_id)

        validated = await world.validate(order_id, [first])
        assert validated.accepted == [first]
        for line, sku in zip((first, second), world.skus, strict=False):
            await world.commit(order_id, line, world.devices[sku][0])
        shipment = await world.ship(order_id, "TRK-2")
        assert shipment.held
        assert not any(b["new_state"] == 3 for b in world.applied_bodies(order_id))

        await world.validate(order_id, [second])
        final = await handle.result()

    assert final.phase == OrderPhase.SHIPPED
    states = [b["new_state"] for b in world.applied_bodies(order_id)]
    assert states == [2, 2, 3]


async def test_the_customer_cancelling_a_line_releases_it_and_frees_the_shipment(
    world: World,
) -> None:
    world.set_settings(auto_validate=False)
    order_id = world.place_order((world.skus[0], 1), (world.skus[1], 1))

    async with world.worker():
        await world.run_import()
        state = await world.wait_for(order_id, lambda s: len(s.lines) == 2)
        first, second = (line.orderline_id for line in state.lines)
        handle = world.order_handle(order_id)
        await world.validate(order_id, [first])
        for line, sku in zip((first, second), world.skus, strict=False):
            await world.commit(order_id, line, world.devices[sku][0])
        assert world.open_commits() == 2
        await world.ship(order_id, "TRK-3")

        world.sandbox.customer_cancel(second)
        await world.run_import()
        final = await handle.result()

    assert final.phase == OrderPhase.SHIPPED
    # The cancelled line's device is back in stock; the shipped one stays out.
    assert world.open_commits() == 1
    assert [b["new_state"] for b in world.applied_bodies(order_id)] == [2, 3]


async def test_several_devices_get_their_imeis_line_by_line(world: World) -> None:
    order_id = world.place_order((world.skus[0], 1), (world.skus[1], 1))

    async with world.worker():
        await world.run_import()
        state = await world.wait_for(order_id, lambda s: s.phase == "validated")
        for line, sku in zip(state.lines, world.skus, strict=True):
            await world.orders.commit_inventory(
                world.account_id,
                order_id,
                CommitInventoryInput(
                    orderline_id=line.orderline_id, identifier=world.devices[sku][1]
                ),
            )
        state = await world.wait_for(order_id, lambda s: s.phase == "imei_sent")

    patches = [w for w in world.writes("PATCH", "/ws/orderlines/") if w.applied]
    assert sorted(w.body["imei"] for w in patches) == sorted(
        world.devices[sku][1] for sku in world.skus
    )
    assert all(line.imei_sent for line in state.lines)


async def test_a_bad_imei_and_a_wrong_sku_are_refused_and_nothing_is_recorded(
    world: World,
) -> None:
    order_id = world.place_order((world.skus[0], 1))

    async with world.worker():
        await world.run_import()
        state = await world.wait_for(order_id, lambda s: s.phase == "validated")
        line_id = state.lines[0].orderline_id
        handle = world.order_handle(order_id)

        # A bad IMEI never becomes a request: the request itself refuses it.
        with pytest.raises(ValidationError, match="not a valid IMEI"):
            CommitInventoryInput(orderline_id=line_id, identifier="356938035643801")

        other_device = world.devices[world.skus[1]][0]
        with pytest.raises(OrderRequestError) as wrong_sku:
            await world.commit(order_id, line_id, other_device)
        refusal = str(wrong_sku.value)
        assert wrong_sku.value.kind == "CommitRejected"
        assert world.skus[0] in refusal and "not the variation" in refusal
        state = await handle.query(OrderWorkflow.state)

    assert world.open_commits() == 0
    assert state.lines[0].commits == []


async def test_an_accept_whose_answer_was_lost_is_not_sent_twice(
    world: World,
) -> None:
    order_id = world.place_order((world.skus[0], 1))
    world.sandbox.set_faults(
        [
            FaultRule(
                method="POST",
                path=f"/ws/orders/{order_id}",
                lost_response_rate=1.0,
                remaining=1,
            )
        ]
    )

    async with world.worker():
        await world.run_import()
        state = await world.wait_for(order_id, lambda s: s.phase == "validated")

    assert state.lines[0].validated
    accepts = [w for w in world.writes("POST", f"/ws/orders/{order_id}")]
    assert len(accepts) == 1
    assert accepts[0].applied and accepts[0].status >= 500


async def test_the_same_orders_in_two_import_runs_start_one_workflow_each(
    world: World,
) -> None:
    orders = [world.place_order((world.skus[i % 2], 1)) for i in range(60)]

    async with world.worker():
        first = await world.run_import()
        for order_id in orders:
            await world.wait_for(order_id, lambda s: s.phase == "validated")
        # The accepts changed every order, so the next run passes that on once...
        second = await world.run_import()
        # ...and a run that finds nothing new dispatches nothing.
        third = await world.run_import()

    assert first.seen == 60 and first.dispatched == 60
    assert second.dispatched == 60
    assert third.seen == 60 and third.dispatched == 0
    for order_id in orders:
        assert [b["new_state"] for b in world.applied_bodies(order_id)] == [2]


async def test_a_commit_that_arrives_before_the_import_starts_the_workflow(
    world: World,
) -> None:
    sku = world.skus[0]
    order_id = world.place_order((sku, 1))
    line_id = world.sandbox.orders[order_id].lines[0].id
    orders = OrderClient(world.client, world.task_queue)

    async with world.worker():
        result = await orders.commit_inventory(
            world.account_id,
            order_id,
            CommitInventoryInput(
                orderline_id=line_id, identifier=world.devices[sku][2]
            ),
        )
        state = await world.wait_for(
            order_id, lambda s: s.phase == "waiting_for_shipment"
        )
        await world.run_import()
        again = await world.wait_for(order_id, lambda s: s.lines[0].validated)

    assert result.fulfils_line and result.imei_will_sync
    assert state.lines[0].commits[0].imei == world.devices[sku][2]
    assert again.lines[0].commits == state.lines[0].commits
    assert [b["new_state"] for b in world.applied_bodies(order_id)] == [2]


async def test_a_finished_order_refuses_late_requests(world: World) -> None:
    order_id = world.place_order((world.skus[0], 1))
    orders = OrderClient(world.client, world.task_queue)

    async with world.worker():
        await world.run_import()
        state = await world.wait_for(order_id, lambda s: s.phase == "validated")
        line_id = state.lines[0].orderline_id
        await world.commit(order_id, line_id, world.devices[world.skus[0]][0])
        await orders.add_shipment(
            world.account_id, order_id, AddShipmentInput(tracking_number="T-1")
        )
        await world.order_handle(order_id).result()
        with pytest.raises(OrderRequestError, match="finished"):
            await orders.add_shipment(
                world.account_id, order_id, AddShipmentInput(tracking_number="T-2")
            )

    ships = [b for b in world.applied_bodies(order_id) if b["new_state"] == 3]
    assert len(ships) == 1 and ships[0]["tracking_number"] == "T-1"


async def test_a_shipment_is_held_for_every_device_and_a_device_counts_once(
    world: World,
) -> None:
    sku = world.skus[0]
    order_id = world.place_order((sku, 2))

    async with world.worker():
        await world.run_import()
        state = await world.wait_for(order_id, lambda s: s.phase == "validated")
        line_id = state.lines[0].orderline_id
        early = await world.ship(order_id, "TRK-2X")
        first = await world.commit(order_id, line_id, world.devices[sku][0])
        again = await world.commit(order_id, line_id, world.devices[sku][0])
        half = await world.wait_for(order_id, lambda s: len(s.lines[0].commits) == 1)
        sent_early = [b for b in world.applied_bodies(order_id) if b["new_state"] == 3]
        await world.commit(order_id, line_id, world.devices[sku][1])
        final = await world.order_handle(order_id).result()

    assert early.held and "2 devices are committed" in early.note
    assert half.phase == OrderPhase.WAITING_FOR_COMMIT and sent_early == []
    assert again.inventory_item_id == first.inventory_item_id
    assert "already committed" in again.note
    assert [len(line.commits) for line in final.lines] == [2]
    assert world.open_commits() == 2
    ships = [b for b in world.applied_bodies(order_id) if b["new_state"] == 3]
    assert [b["tracking_number"] for b in ships] == ["TRK-2X"]


async def test_a_held_shipment_is_replaced_by_the_next_and_only_that_one_is_sent(
    world: World,
) -> None:
    sku = world.skus[0]
    order_id = world.place_order((sku, 1))

    async with world.worker():
        await world.run_import()
        state = await world.wait_for(order_id, lambda s: s.phase == "validated")
        line_id = state.lines[0].orderline_id
        await world.ship(order_id, "TRK-TYPO", carrier="UPS")
        corrected = await world.ship(order_id, "TRK-RIGHT", carrier="UPS")
        recarried = await world.ship(order_id, "TRK-RIGHT", carrier="DHL")
        await world.commit(order_id, line_id, world.devices[sku][0])
        final = await world.order_handle(order_id).result()
        with pytest.raises(OrderRequestError, match="finished"):
            await world.ship(order_id, "TRK-LATE")

    assert corrected.held and "replaces shipment TRK-TYPO" in corrected.note
    assert "now has its new carrier" in recarried.note
    assert final.shipment is not None and final.shipment.carrier == "DHL"
    ships = [b for b in world.applied_bodies(order_id) if b["new_state"] == 3]
    assert [b["tracking_number"] for b in ships] == ["TRK-RIGHT"]
    with world.session_factory() as session:
        stored = session.execute(
            select(Shipment.tracking_number, Shipment.carrier, Shipment.sent_at)
            .join(SalesOrder, SalesOrder.id == Shipment.sales_order_id)
            .where(SalesOrder.external_order_id == order_id)
        ).all()
    assert [(row[0], row[1], row[2] is not None) for row in stored] == [
        ("TRK-RIGHT", "DHL", True)
    ]


async def test_a_repeated_request_is_acted_on_once(world: World) -> None:
    sku = world.skus[0]
    order_id = world.place_order((sku, 1))

    async with world.worker():
        await world.run_import()
        state = await world.wait_for(order_id, lambda s: s.phase == "validated")
        line_id = state.lines[0].orderline_id
        await world.commit(order_id, line_id, world.devices[sku][0])
        # A shipping tool retrying its call sends the same request id twice.
        first, second = [
            await world.ship(order_id, "TRK-1", request_id="webhook-7")
            for _ in range(2)
        ]
        final = await world.order_handle(order_id).result()
        # Once the order has finished, the repeat still gets its answer.
        late = await world.ship(order_id, "TRK-1", request_id="webhook-7")

    assert first == second == late
    assert final.shipment is not None and final.shipment.tracking_number == "TRK-1"
    ships = [b for b in world.applied_bodies(order_id) if b["new_state"] == 3]
    assert [b["tracking_number"] for b in ships] == ["TRK-1"]


async def test_a_different_request_under_a_used_id_is_refused(world: World) -> None:
    sku = world.skus[0]
    order_id = world.place_order((sku, 1))

    async with world.worker():
        await world.run_import()
        state = await world.wait_for(order_id, lambda s: s.phase == "validated")
        line_id = state.lines[0].orderline_id
        await world.commit(order_id, line_id, world.devices[sku][0], request_id="s-1")
        with pytest.raises(OrderRequestError) as other_body:
            await world.commit(
                order_id, line_id, world.devices[sku][1], request_id="s-1"
            )
        with pytest.raises(OrderRequestError) as other_kind:
            await world.ship(order_id, "TRK-1", request_id="s-1")
        await world.ship(order_id, "TRK-1", request_id="ship-1")
        final = await world.order_handle(order_id).result()
        with pytest.raises(OrderRequestError) as after_the_end:
            await world.ship(order_id, "OTHER", request_id="ship-1")

    for refused in (other_body, other_kind, after_the_end):
        assert refused.value.kind == "RequestIdReused"
        assert "already used for a different request" in str(refused.value)
    assert [c.imei for c in final.lines[0].commits] == [world.devices[sku][0]]
    assert world.open_commits() == 1
    ships = [b for b in world.applied_bodies(order_id) if b["new_state"] == 3]
    assert [b["tracking_number"] for b in ships] == ["TRK-1"]


async def test_a_commit_for_an_order_back_market_does_not_know_is_refused(
    world: World,
) -> None:
    orders = OrderClient(world.client, world.task_queue)

    async with world.worker():
        with pytest.raises(OrderRequestError, match="Back Market has no order"):
            await orders.commit_inventory(
                world.account_id,
                99999999,
                CommitInventoryInput(
                    orderline_id=1, identifier=world.devices[world.skus[0]][0]
                ),
            )

    assert world.open_commits() == 0


async def test_a_line_the_customer_cancels_before_its_accept_closes_calmly(
    world: World,
) -> None:
    world.set_settings(auto_validate=False)
    order_id = world.place_order((world.skus[0], 1), (world.skus[1], 1))

    async with world.worker():
        await world.run_import()
        state = await world.wait_for(order_id, lambda s: len(s.lines) == 2)
        first, second = (line.orderline_id for line in state.lines)
        handle = world.order_handle(order_id)
        # Cancelled on Back Market after the import read the order: the operator's
        # accept is refused there, and the order goes on with its other line.
        world.sandbox.customer_cancel(first)

        validated = await world.validate(order_id)
        await world.commit(order_id, second, world.devices[world.skus[1]][0])
        await world.ship(order_id, "TRK-4")
        final = await handle.result()

    assert validated.accepted == [second] and validated.skipped == [first]
    assert final.phase == OrderPhase.SHIPPED
    assert [line.backmarket_state for line in final.lines] == [4, 3]
    assert [b["new_state"] for b in world.applied_bodies(order_id)] == [2, 3]


async def test_an_accept_back_market_refuses_is_noted_and_the_order_keeps_running(
    world: World,
) -> None:
    world.set_settings(auto_validate=False)
    order_id = world.place_order((world.skus[0], 1))

    async with world.worker():
        await world.run_import()
        await world.wait_for(order_id, lambda s: len(s.lines) == 1)
        handle = world.order_handle(order_id)
        # Renamed on Back Market after the import: accepting by the old SKU fails.
        world.sandbox.orders[order_id].lines[0].listing.sku = "RENAMED"
        validated = await world.orders.validate(
            world.account_id, order_id, ValidateOrderInput()
        )
        state = await handle.query(OrderWorkflow.state)
        described = await handle.describe()

    assert validated.accepted == [] and len(validated.refusals) == 1
    assert "Back Market refused orderline" in validated.refusals[0]
    assert state.lines[0].accept_refusal == validated.refusals[0]
    assert not state.lines[0].validated
    assert described.status is not None and described.status.name == "RUNNING"
    assert world.applied_bodies(order_id) == []


async def test_a_single_device_order_whose_line_already_holds_an_imei_still_ships(
    world: World,
) -> None:
    sku = world.skus[0]
    order_id = world.place_order((sku, 1))
    held = world.devices[sku][3]

    async with world.worker():
        await world.run_import()
        state = await world.wait_for(order_id, lambda s: s.phase == "validated")
        line_id = state.lines[0].orderline_id
        handle = world.order_handle(order_id)
        await world.orders.commit_inventory(
            world.account_id,
            order_id,
            CommitInventoryInput(
                orderline_id=line_id, identifier=world.devices[sku][0]
            ),
        )
        # Another tool set an IMEI on Back Market first; it cannot change.
        world.sandbox.orders[order_id].lines[0].imei = held
        await world.orders.add_shipment(
            world.account_id, order_id, AddShipmentInput(tracking_number="TRK-5")
        )
        final = await handle.result()

    assert final.phase == OrderPhase.SHIPPED
    assert not final.lines[0].imei_sent
    assert world.sandbox.orders[order_id].lines[0].imei == held
    ships = [b for b in world.applied_bodies(order_id) if b["new_state"] == 3]
    assert len(ships) == 1 and "imei" not in ships[0]


async def test_orders_stored_by_an_import_that_died_before_dispatch_are_not_lost(
    world: World,
) -> None:
    order_id = world.place_order((world.skus[0], 1))
    # An import reads and stores the order, then its worker dies before the order's
    # workflow is started.
    fetched = await ActivityEnvironment().run(
        OrderImportActivities(world.deps()).fetch_changed_orders,
        FetchOrdersInput(account_id=world.account_id),
    )
    assert [order.order_id for order in fetched.changed] == [order_id]

    async with world.worker():
        again = await world.run_import()
        state = await world.wait_for(order_id, lambda s: s.phase == "validated")

    assert again.dispatched == 1
    assert state.lines[0].validated
    assert [b["new_state"] for b in world.applied_bodies(order_id)] == [2]


async def test_an_import_that_fails_says_why_in_the_sync_log(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_VARIABLE, "a-revoked-token")

    async with world.worker():
        with pytest.raises(WorkflowFailureError):
            await world.run_import()

    with world.session_factory() as session:
        [entry] = session.scalars(
            select(SyncLogEntry).where(SyncLogEntry.result == "failed")
        ).all()
    assert entry.kind == "order_import" and entry.account_id == world.account_id
    assert entry.error_class == "BackMarketUnauthorized"
    assert "401" in (entry.detail or "")
    assert "a-revoked-token" not in (entry.detail or "")


async def test_the_doctor_names_a_failing_import_until_one_reads_back_market(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    order_id = world.place_order((world.skus[0], 1))
    monkeypatch.setenv(TOKEN_VARIABLE, "a-revoked-token")

    async with world.worker():
        with pytest.raises(WorkflowFailureError):
            await world.run_import()
    failing = import_runs(world, order_id)
    # A worker restarted with a valid token reads Back Market again.
    monkeypatch.setenv(TOKEN_VARIABLE, TOKEN)
    async with world.worker():
        await world.run_import()
    mended = import_runs(world, order_id)

    assert not failing.ok and "BackMarketUnauthorized" in failing.detail
    assert TOKEN_VARIABLE in failing.fix
    assert mended.ok and "after a run failed" in mended.detail


def import_runs(world: World, order_id: int) -> Check:
    with world.session_factory() as session:
        account = session.get(Account, world.account_id)
        assert account is not None
        checks = diagnose_order(session, account, order_id)
    [runs] = [check for check in checks if check.name == "order import runs"]
    return runs


async def test_a_shipment_back_market_refuses_is_logged_and_named_by_the_doctor(
    world: World,
) -> None:
    sku = world.skus[0]
    order_id = world.place_order((sku, 1))

    async with world.worker():
        await world.run_import()
        state = await world.wait_for(order_id, lambda s: s.phase == "validated")
        await world.commit(order_id, state.lines[0].orderline_id, world.devices[sku][0])
        # A sandbox that restarted has forgotten the order.
        with world.sandbox.lock:
            del world.sandbox.orders[order_id]
        await world.ship(order_id, "TRK-404")
        refused = await world.wait_for(
            order_id, lambda s: s.shipment is not None and bool(s.shipment.refusal)
        )

    with world.session_factory() as session:
        [entry] = session.scalars(
            select(SyncLogEntry).where(SyncLogEntry.result == "failed")
        ).all()
        account = session.get(Account, world.account_id)
        assert account is not None
        checks = diagnose_order(session, account, order_id)
    assert (entry.kind, entry.external_ref) == ("shipment", str(order_id))
    assert entry.error_class == "BackMarketNotFound"
    assert entry.detail is not None and entry.detail.startswith(
        "Back Market refused shipment TRK-404: 404 "
    )
    [taken] = [c for c in checks if c.name == "shipment taken by Back Market"]
    assert not taken.ok and entry.detail in taken.detail
    assert f"Back Market has no order {order_id}" in taken.fix
    assert [c.name for c in checks if not c.ok] == [taken.name]
    assert refused.shipment is not None and refused.shipment.refusal is not None
    assert refused.shipment.refusal.startswith("Back Market refused the shipment: 404")


async def test_nothing_is_imported_while_order_import_is_off(world: World) -> None:
    world.set_settings(order_import=False)
    world.place_order((world.skus[0], 1))

    async with world.worker():
        result = await world.run_import()

    assert result.skipped and result.dispatched == 0
    with world.session_factory() as session:
        assert session.scalar(select(SalesOrder)) is None


async def test_a_commit_to_an_unknown_sku_line_is_kept_but_sends_no_imei(
    world: World,
) -> None:
    unknown = sorted(
        listing.sku
        for listing in world.sandbox.listings.values()
        if listing.publication_state == 2 and listing.sku not in world.skus
    )[0]
    order_id = world.place_order((unknown, 1))
    device = world.devices[world.skus[0]][1]

    async with world.worker():
        await world.run_import()
        state = await world.wait_for(order_id, lambda s: s.phase == "validated")
        line = state.lines[0]
        handle = world.order_handle(order_id)
        with pytest.raises(OrderRequestError) as unconfirmed:
            await world.commit(order_id, line.orderline_id, device)
        # The operator confirms the device is the one sold.
        commit = await world.orders.commit_inventory(
            world.account_id,
            order_id,
            CommitInventoryInput(
                orderline_id=line.orderline_id, identifier=device, allow_mismatch=True
            ),
        )
        await world.orders.add_shipment(
            world.account_id, order_id, AddShipmentInput(tracking_number="TRK-U")
        )
        final = await handle.result()

    assert line.unknown_sku
    assert "unknown SKU" in str(unconfirmed.value)
    assert not commit.imei_will_sync and "unknown SKU" in commit.note
    assert world.open_commits() == 1
    [ship] = [b for b in world.applied_bodies(order_id) if b["new_state"] == 3]
    assert "imei" not in ship
    assert final.phase == OrderPhase.SHIPPED


async def test_an_order_the_customer_cancels_entirely_ends_cancelled(
    world: World,
) -> None:
    world.set_settings(auto_validate=False)
    order_id = world.place_order((world.skus[0], 1), (world.skus[1], 1))

    async with world.worker():
        await world.run_import()
        state = await world.wait_for(order_id, lambda s: len(s.lines) == 2)
        for line in state.lines:
            world.sandbox.customer_cancel(line.orderline_id)
        await world.run_import()
        final = await world.order_handle(order_id).result()

    assert final.phase == OrderPhase.CANCELLED
    assert world.applied_bodies(order_id) == []
    assert status_of(world.session_factory, order_id) == "Cancelled"


async def test_an_order_shipped_from_the_back_office_ends_shipped(
    world: World,
) -> None:
    order_id = world.place_order((world.skus[0], 1))

    async with world.worker():
        await world.run_import()
        await world.wait_for(order_id, lambda s: s.phase == "validated")
        # Shipped by hand in Back Market's back office, not through us.
        world.sandbox.update_order(
            MERCHANT,
            str(order_id),
            {"order_id": order_id, "new_state": 3, "tracking_number": "BO-1"},
        )
        await world.run_import()
        final = await world.order_handle(order_id).result()

    assert final.phase == OrderPhase.SHIPPED
    assert [b["new_state"] for b in world.applied_bodies(order_id)] == [2]
    assert status_of(world.session_factory, order_id) == "Shipped"


async def test_an_imei_back_market_refuses_is_named_by_the_doctor(
    world: World,
) -> None:
    order_id = world.place_order((world.skus[0], 1), (world.skus[1], 1))

    async with world.worker():
        await world.run_import()
        state = await world.wait_for(order_id, lambda s: s.phase == "validated")
        line = state.lines[0]
        # A sandbox that restarted has forgotten the order's lines.
        with world.sandbox.lock:
            del world.sandbox.lines[line.orderline_id]
        device = world.devices[line.sku][0]
        await world.commit(order_id, line.orderline_id, device)
        refused = await world.wait_for(
            order_id, lambda s: bool(s.lines[0].imei_refusal)
        )
        # Sent again once the line has its device: a repeat, told the IMEI won't go.
        again = await world.commit(order_id, line.orderline_id, device)

    with world.session_factory() as session:
        account = session.get(Account, world.account_id)
        assert account is not None
        checks = diagnose_order(session, account, order_id)
    assert not refused.lines[0].imei_sent
    assert again.note == "already committed to this orderline"
    assert not again.imei_will_sync
    [taken] = [c for c in checks if c.name == "IMEIs taken by Back Market"]
    assert not taken.ok and "BackMarketNotFound" in taken.detail
    assert f"orderline {line.orderline_id}" in taken.detail
    assert f"Back Market has no order {order_id}" in taken.fix


async def test_a_shipment_and_an_imei_whose_answers_were_lost_are_sent_once(
    world: World,
) -> None:
    single = world.place_order((world.skus[0], 1))
    double = world.place_order((world.skus[0], 1), (world.skus[1], 1))
    world.sandbox.set_faults(
        [
            FaultRule(
                method="POST",
                path=f"/ws/orders/{single}",
                lost_response_rate=1.0,
                remaining=2,
            ),
            FaultRule(
                method="PATCH",
                path="/ws/orderlines/.*",
                lost_response_rate=1.0,
                remaining=1,
            ),
        ]
    )

    async with world.worker():
        await world.run_import()
        await world.wait_for(single, lambda s: s.phase == "validated")
        state = await world.wait_for(double, lambda s: s.phase == "validated")
        handle = world.order_handle(single)
        line = (await handle.query(OrderWorkflow.state)).lines[0]
        await world.commit(single, line.orderline_id, world.devices[world.skus[0]][2])
        await world.ship(single, "TRK-L")
        shipped = await handle.result()
        first_line = state.lines[0]
        await world.commit(
            double,
            first_line.orderline_id,
            world.devices[first_line.sku][3],
        )
        imei_state = await world.wait_for(
            double, lambda s: s.lines[0].imei_sent or s.lines[0].imei_note is not None
        )

    ships = [b for b in world.applied_bodies(single) if b["new_state"] == 3]
    assert len(ships) == 1 and ships[0]["imei"] == world.devices[world.skus[0]][2]
    assert shipped.phase == OrderPhase.SHIPPED and shipped.lines[0].imei_sent
    patches = [w for w in world.writes("PATCH", "/ws/orderlines/") if w.applied]
    assert len(patches) == 1 and imei_state.lines[0].imei_sent
