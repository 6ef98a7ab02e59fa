"""A deploy in the middle of a shipment: the worker gets SIGTERM while the
shipment's request to Back Market is in flight, and it still ships exactly once."""

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.client import Client

from bmsync.demo import MERCHANT, DemoConfig, DemoWorld, demo_sandbox, prepare_account
from bmsync.soak import WorkerProcess
from database.inventory import find_sku
from database.models import InventoryItem, Shipment
from domain.orders import (
    AddShipmentInput,
    CommitInventoryInput,
    ImportOrdersInput,
    OrderPhase,
    order_workflow_id,
)
from runtime.order_client import OrderClient
from sandbox.config import FaultRule
from sandbox.server import SandboxServer
from tests.conftest import PAYLOAD_KEY
from workflows import ImportOrdersWorkflow, OrderWorkflow

pytestmark = [pytest.mark.devserver, pytest.mark.timeout(240)]


async def pending_activities(client: Client, workflow_id: str) -> list[str]:
    described = await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(
            namespace=client.namespace, execution={"workflow_id": workflow_id}
        )
    )
    return [a.activity_type.name for a in described.pending_activities]


async def wait_until(check: Callable[[], Awaitable[bool]], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError("it never happened")


@pytest.mark.parametrize(
    ("grace_s", "latency_s"),
    [(10, 2), (1, 4)],
    ids=["finishes-within-grace", "handed-back-after-grace"],
)
async def test_sigterm_during_a_shipment_ships_it_once(
    dev_client: Client,
    database_url: str,
    session_factory: sessionmaker[Session],
    tmp_path: Path,
    grace_s: float,
    latency_s: float,
) -> None:
    task_queue = f"deploy-{uuid.uuid4()}"
    async with SandboxServer(demo_sandbox(3)) as sandbox:
        world = DemoWorld(
            session_factory=session_factory,
            temporal=dev_client,
            task_queue=task_queue,
            sandbox=sandbox.state,
            sandbox_url=sandbox.base_url,
            state_dir=tmp_path,
        )
        account_id, skus = prepare_account(world, DemoConfig(devices_per_sku=1))
        order_id = int(sandbox.state.place_order(MERCHANT, [(skus[0], 1)]).order_id)
        workflow_id = order_workflow_id(account_id, order_id)

        def worker() -> WorkerProcess:
            return WorkerProcess(
                database_url=database_url,
                temporal_address=dev_client.service_client.config.target_host,
                namespace=dev_client.namespace,
                task_queue=task_queue,
                state_dir=tmp_path,
                payload_key=PAYLOAD_KEY,
                log_file=tmp_path / "worker.log",
                grace_seconds=grace_s,
            )

        first = worker()
        first.start()
        try:
            await dev_client.execute_workflow(
                ImportOrdersWorkflow.run,
                ImportOrdersInput(account_id=account_id),
                id=f"import-{uuid.uuid4()}",
                task_queue=task_queue,
            )
            handle = dev_client.get_workflow_handle_for(OrderWorkflow.run, workflow_id)

            async def validated() -> bool:
                state = await handle.query(OrderWorkflow.state)
                return state.phase == OrderPhase.VALIDATED

            await wait_until(validated)
            line_id = sandbox.state.orders[order_id].lines[0].id
            device = a_device(session_factory, skus[0])
            orders = OrderClient(dev_client, task_queue)
            await orders.commit_inventory(
                account_id,
                order_id,
                CommitInventoryInput(orderline_id=line_id, identifier=device),
            )
            # The shipment's request takes a while to reach Back Market's answer.
            sandbox.state.set_faults(
                [
                    FaultRule(
                        method="POST",
                        path=f"/ws/orders/{order_id}",
                        latency_s=latency_s,
                    )
                ]
            )
            await orders.add_shipment(
                account_id, order_id, AddShipmentInput(tracking_number="DEPLOY-1")
            )

            async def shipping() -> bool:
                return "ship_order" in await pending_activities(dev_client, workflow_id)

            await wait_until(shipping)
            stopped_at = time.monotonic()
            code = await asyncio.to_thread(first.stop, grace_s + 15)
            stop_took = time.monotonic() - stopped_at
        finally:
            first.stop()

        second = worker()
        second.start()
        try:
            final = await asyncio.wait_for(handle.result(), 120)
        finally:
            await asyncio.to_thread(second.stop)

        ships = [
            w
            for w in sandbox.state.writes
            if w.method == "POST"
            and w.path == f"/ws/orders/{order_id}"
            and w.applied
            and w.body.get("new_state") == 3
        ]

    assert code == 0, (tmp_path / "worker.log").read_text()[-3000:]
    assert stop_took < grace_s + 10
    assert final.phase == OrderPhase.SHIPPED
    # However the answer to the first attempt came back, the order knows it shipped.
    assert final.shipment is not None and final.shipment.refusal is None
    assert not any("refused" in note for note in final.notes), final.notes
    with session_factory() as session:
        assert session.scalar(select(Shipment.sent_at)) is not None
    assert len(ships) == 1
    assert ships[0].body["tracking_number"] == "DEPLOY-1"
    assert ships[0].body["imei"] == device


def a_device(session_factory: sessionmaker[Session], sku: str) -> str:
    with session_factory() as session:
        found = find_sku(session, sku)
        assert found is not None
        imei = session.scalar(
            select(InventoryItem.imei).where(
                InventoryItem.variation_id == found.variation_id
            )
        )
        assert imei is not None
        return imei
