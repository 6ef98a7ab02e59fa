"""Orders from Back Market that do not fit: skipped and recorded, the rest imported.

The sandbox serves well-formed orders; a transport between it and the client spoils
some of them on the way, as a Back Market bug or an unannounced change would.
"""

import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from activities.order_import import CHECKPOINT_KIND
from database.inventory import ORDERS_READ_CHECKPOINT
from database.models import (
    Customer,
    OrderItem,
    Rma,
    SalesOrder,
    SyncCheckpoint,
    SyncLogEntry,
)
from domain.returns import ImportReturnsInput
from tests.world import TOKEN, TOKEN_VARIABLE, World, make_world
from workflows import ImportReturnsWorkflow

Spoil = Callable[[dict[str, Any]], object]


class SpoilingTransport(httpx.AsyncBaseTransport):
    """Passes requests to `inner`; rewrites the orders of `GET /ws/orders` pages."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.spoil: dict[int, Spoil] = {}
        self.page_body: bytes | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method != "GET" or request.url.path != "/ws/orders":
            return response
        await response.aread()
        if self.page_body is not None:
            return httpx.Response(200, content=self.page_body)
        page = json.loads(response.content)
        page["results"] = [
            self.spoil.get(order["order_id"], lambda o: o)(order)
            for order in page["results"]
        ]
        return httpx.Response(200, json=page)


@pytest.fixture
def world(
    monkeypatch: pytest.MonkeyPatch,
    session_factory: sessionmaker[Session],
    workflow_env: WorkflowEnvironment,
    task_queue: str,
) -> World:
    monkeypatch.setenv(TOKEN_VARIABLE, TOKEN)
    world = make_world(session_factory, workflow_env.client, task_queue)
    world.transport = SpoilingTransport(world.transport)
    return world


def spoiler(world: World) -> SpoilingTransport:
    assert isinstance(world.transport, SpoilingTransport)
    return world.transport


def replace(**fields: object) -> Spoil:
    return lambda order: {**order, **fields}


def stored_orders(world: World) -> dict[int, int]:
    """Back Market order id -> how many lines we keep for it."""
    with world.session_factory() as session:
        rows = session.execute(
            select(SalesOrder.external_order_id, func.count(OrderItem.id))
            .outerjoin(OrderItem, OrderItem.sales_order_id == SalesOrder.id)
            .group_by(SalesOrder.external_order_id)
        ).all()
    return {int(order_id): count for order_id, count in rows}


def failures(world: World) -> list[SyncLogEntry]:
    with world.session_factory() as session:
        return list(
            session.scalars(
                select(SyncLogEntry)
                .where(SyncLogEntry.result == "failed")
                .order_by(SyncLogEntry.id)
            )
        )


async def test_orders_that_do_not_fit_are_recorded_and_the_others_imported(
    world: World,
) -> None:
    good = [world.place_order((world.skus[0], 1)) for _ in range(2)]
    not_a_list = world.place_order((world.skus[1], 1))
    bad_state = world.place_order((world.skus[0], 1))
    bad_line = world.place_order((world.skus[1], 1))

    def bad_price(order: dict[str, Any]) -> object:
        lines = [{**line, "price": "12,50 €"} for line in order["orderlines"]]
        return {**order, "orderlines": lines}

    spoiler(world).spoil = {
        not_a_list: replace(orderlines="not a list"),
        bad_state: replace(state="abc"),
        bad_line: bad_price,
    }

    async with world.worker():
        result = await world.run_import()
        for order_id in good:
            await world.wait_for(order_id, lambda s: s.phase == "validated")

    assert result.seen == 2 and result.dispatched == 2
    assert stored_orders(world) == {good[0]: 1, good[1]: 1}
    recorded = {entry.external_ref: entry for entry in failures(world)}
    assert set(recorded) == {str(not_a_list), str(bad_state), str(bad_line)}
    for entry in recorded.values():
        assert entry.error_class == "BackMarketPayloadError"
        assert entry.kind == "order_import" and entry.direction == "pull"
    assert "orderlines" in (recorded[str(not_a_list)].detail or "")
    assert "state" in (recorded[str(bad_state)].detail or "")
    detail = recorded[str(bad_line)].detail or ""
    assert "orderlines.0.price" in detail and "12,50" not in detail


async def test_an_item_that_is_not_an_order_at_all_is_recorded_without_an_id(
    world: World,
) -> None:
    good = world.place_order((world.skus[0], 1))
    gone = world.place_order((world.skus[1], 1))
    spoiler(world).spoil = {gone: lambda order: None}

    async with world.worker():
        result = await world.run_import()

    assert result.dispatched == 1
    assert stored_orders(world) == {good: 1}
    [entry] = failures(world)
    assert entry.external_ref is None and "order ?" in (entry.detail or "")


async def test_an_order_the_database_refuses_leaves_no_half_order_behind(
    world: World,
) -> None:
    world.set_settings(organization_type="shipping_name")
    good = world.place_order((world.skus[0], 1))
    too_long = world.place_order((world.skus[1], 1))

    def long_currency(order: dict[str, Any]) -> object:
        lines = [{**line, "currency": "EUROS"} for line in order["orderlines"]]
        return {**order, "orderlines": lines, "currency": "EUROS"}

    spoiler(world).spoil = {too_long: long_currency}
    with world.session_factory() as session:
        customers_before = session.scalar(select(func.count()).select_from(Customer))

    async with world.worker():
        result = await world.run_import()

    assert result.seen == 2 and result.dispatched == 1
    assert stored_orders(world) == {good: 1}
    [entry] = failures(world)
    assert entry.external_ref == str(too_long)
    assert entry.error_class == "StringDataRightTruncation"
    assert "EUROS" not in (entry.detail or "")
    with world.session_factory() as session:
        customers = session.scalar(select(func.count()).select_from(Customer))
    assert customers == (customers_before or 0) + 1


async def test_a_page_that_is_not_json_fails_the_run_and_stores_nothing(
    world: World,
) -> None:
    world.place_order((world.skus[0], 1))
    spoiler(world).page_body = b"<html><body>Attention Required!</body></html>"

    async with world.worker():
        with pytest.raises(WorkflowFailureError) as failed:
            await world.run_import()
        assert stored_orders(world) == {}
        # The run after Back Market recovers imports the order.
        spoiler(world).page_body = None
        again = await world.run_import()

    assert "not JSON" in str(failed.value.cause.__cause__ or failed.value.cause)
    assert again.dispatched == 1
    with world.session_factory() as session:
        kinds = session.scalars(select(SyncCheckpoint.kind)).all()
    # The order checkpoint, and the mark of a complete read of Back Market's orders.
    assert sorted(kinds) == [CHECKPOINT_KIND, ORDERS_READ_CHECKPOINT]


class RewritingTransport(httpx.AsyncBaseTransport):
    """Passes requests to `inner`; `rewrite` may change the JSON of GET answers."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        rewrite: Callable[[str, Any], Any],
    ) -> None:
        self.inner = inner
        self.rewrite = rewrite

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method != "GET" or response.status_code != 200:
            return response
        await response.aread()
        body = self.rewrite(request.url.path, json.loads(response.content))
        return httpx.Response(200, json=body)


def spoil_listing(uuid: str, **fields: object) -> Callable[[str, Any], Any]:
    def rewrite(path: str, body: Any) -> Any:
        if path == "/ws/listings":
            body["results"] = [
                {**x, **fields} if x["id"] == uuid else x for x in body["results"]
            ]
        return body

    return rewrite


async def test_a_listing_that_does_not_fit_is_recorded_and_never_taken_for_gone(
    world: World,
) -> None:
    async with world.worker():
        first = await world.run_listing_import()
    sku = world.skus[0]
    bad_uuid = str(world.listing(sku).backmarket_uuid)
    world.set_settings(quantity_sync=True)
    world.transport = RewritingTransport(
        world.transport, spoil_listing(bad_uuid, quantity="plenty")
    )

    async with world.worker():
        again = await world.run_listing_import()
        reconciled = await world.run_reconcile()

    assert first.failed == 0
    assert again.failed == 1 and again.gone == 0
    assert again.seen == first.seen - 1
    assert not world.listing(sku).gone_from_backmarket
    assert reconciled.failed == 1 and reconciled.gone == 0
    assert reconciled.pushed == 1
    assert world.sandbox_quantity(world.skus[1]) == len(world.devices[world.skus[1]])
    assert world.sandbox_quantity(sku) == 500
    entries = [e for e in failures(world) if e.external_ref == bad_uuid]
    assert {e.kind for e in entries} == {"listing_import", "quantity_reconcile"}
    assert all(e.error_class == "BackMarketPayloadError" for e in entries)
    assert all("quantity" in (e.detail or "") for e in entries)


async def test_a_care_folder_that_does_not_fit_is_recorded_and_the_others_imported(
    world: World,
) -> None:
    orders = [world.place_order((world.skus[0], 1)) for _ in range(2)]
    folders = []
    for order_id in orders:
        line = world.sandbox.orders[order_id].lines[0]
        line.state = 3  # shipped, as care folders need
        folders.append(world.sandbox.open_care_folder(line.id).id)
    bad, good = folders

    def spoil_folder(path: str, body: Any) -> Any:
        if path == f"/ws/sav/{bad}":
            return {**body, "lines": "not a list"}
        return body

    world.transport = RewritingTransport(world.transport, spoil_folder)

    async with world.worker():
        result = await world.client.execute_workflow(
            ImportReturnsWorkflow.run,
            ImportReturnsInput(account_id=world.account_id),
            id=f"returns-{uuid.uuid4()}",
            task_queue=world.task_queue,
        )

    assert result.created == 1 and result.failed == 1
    with world.session_factory() as session:
        claims = session.scalars(select(Rma.care_folder_id)).all()
        checkpoints = session.scalar(select(func.count()).select_from(SyncCheckpoint))
    assert claims == [good]
    assert checkpoints == 1
    [entry] = [e for e in failures(world) if e.kind == "rma_import"]
    assert entry.external_ref == str(bad) and "lines" in (entry.detail or "")


async def test_a_failed_page_on_a_later_run_leaves_the_checkpoint_where_it_was(
    world: World,
) -> None:
    world.place_order((world.skus[0], 1))

    def checkpoint() -> object:
        with world.session_factory() as session:
            return session.scalar(
                select(SyncCheckpoint.value_at).where(
                    SyncCheckpoint.kind == CHECKPOINT_KIND
                )
            )

    async with world.worker():
        await world.run_import()
        before = checkpoint()
        later = world.place_order((world.skus[1], 1))
        spoiler(world).page_body = b"<html>Attention Required!</html>"
        with pytest.raises(WorkflowFailureError):
            await world.run_import()
        unchanged = checkpoint()
        spoiler(world).page_body = None
        again = await world.run_import()

    assert before is not None and unchanged == before
    assert again.dispatched >= 1
    assert later in stored_orders(world)
    assert checkpoint() != before
