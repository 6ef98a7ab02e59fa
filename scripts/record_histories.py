"""Record workflow histories for the replay test, from the current workflow code.

    .venv/bin/python scripts/record_histories.py

Runs one scenario per workflow type against an embedded Postgres, the time-skipping
Temporal server and the sandbox, and writes each history as JSON under
`tests/histories/`. Record again only when a change is meant to break the workflows
already running; the replay test exists to catch the changes that are not.
"""

import asyncio
import json
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from database.migrate import upgrade  # noqa: E402
from database.session import make_engine, make_session_factory  # noqa: E402
from domain.listings import ImportListingsInput, RefreshPricingInput  # noqa: E402
from domain.orders import (  # noqa: E402
    CommitInventoryInput,
    ImportOrdersInput,
)
from domain.quantities import ReconcileQuantitiesInput  # noqa: E402
from domain.returns import ImportReturnsInput  # noqa: E402
from runtime.embedded import EmbeddedPostgres, venv_binary  # noqa: E402
from runtime.order_client import OrderClient  # noqa: E402
from tests.world import World, fast_world  # noqa: E402
from workflows import (  # noqa: E402
    ImportListingsWorkflow,
    ImportOrdersWorkflow,
    ImportReturnsWorkflow,
    ReconcileQuantitiesWorkflow,
    RefreshPricingWorkflow,
)

OUT = ROOT / "tests" / "histories"


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        postgres = EmbeddedPostgres(Path(tmp) / "pg")
        url = postgres.start()
        upgrade(url)
        engine = make_engine(url)
        # Plain payloads: the replay test needs no key to read them.
        env = await WorkflowEnvironment.start_time_skipping(
            data_converter=pydantic_data_converter,
            test_server_existing_path=str(venv_binary("temporal-test-server")),
        )
        monkeypatch = pytest.MonkeyPatch()
        try:
            world = fast_world(
                monkeypatch, make_session_factory(engine), env, f"rec-{uuid.uuid4()}"
            )
            async with world.worker():
                await record_all(world, env.client)
        finally:
            monkeypatch.undo()
            await env.shutdown()
            engine.dispose()
            postgres.stop()


async def record_all(world: World, client: Client) -> None:
    OUT.mkdir(exist_ok=True)
    saved: dict[str, WorkflowHandle[Any, Any]] = {}

    async def run(name: str, workflow: Any, argument: Any) -> None:
        handle = await client.start_workflow(
            workflow,
            argument,
            id=f"{name}-{uuid.uuid4()}",
            task_queue=world.task_queue,
        )
        await handle.result()
        saved[name] = handle

    account = world.account_id
    # Listings first, so that the quantity sync has something to push.
    await run(
        "ImportListingsWorkflow",
        ImportListingsWorkflow.run,
        ImportListingsInput(account_id=account),
    )
    world.set_settings(quantity_sync=True)
    await run(
        "ReconcileQuantitiesWorkflow",
        ReconcileQuantitiesWorkflow.run,
        ReconcileQuantitiesInput(account_id=account),
    )

    sku, other = world.skus[0], world.skus[1]
    single = world.place_order((sku, 1))
    await run(
        "ImportOrdersWorkflow",
        ImportOrdersWorkflow.run,
        ImportOrdersInput(account_id=account),
    )
    state = await world.wait_for(single, lambda s: s.phase == "validated")
    handle = world.order_handle(single)
    await world.commit(single, state.lines[0].orderline_id, world.devices[sku][0])
    await world.ship(single, "REC-1")
    await handle.result()
    saved["OrderWorkflow-single-device-shipped"] = handle

    world.set_settings(auto_validate=False)
    pair = world.place_order((sku, 1), (other, 1))
    await world.run_import()
    state = await world.wait_for(pair, lambda s: len(s.lines) == 2)
    first, second = (line.orderline_id for line in state.lines)
    handle = world.order_handle(pair)
    await world.validate(pair, [first])
    await world.commit(pair, first, world.devices[sku][1])
    await world.commit(pair, second, world.devices[other][1])
    await world.ship(pair, "REC-2")
    world.sandbox.customer_cancel(second)
    await world.run_import()
    await handle.result()
    saved["OrderWorkflow-two-lines-one-cancelled"] = handle

    world.set_settings(auto_validate=True)
    early = world.place_order((other, 1))
    line_id = world.sandbox.orders[early].lines[0].id
    await OrderClient(client, world.task_queue).commit_inventory(
        world.account_id,
        early,
        CommitInventoryInput(orderline_id=line_id, identifier=world.devices[other][2]),
    )
    await world.wait_for(early, lambda s: s.phase == "waiting_for_shipment")
    saved["OrderWorkflow-started-by-a-commit"] = world.order_handle(early)

    sync = client.get_workflow_handle(f"quantity-sync-{world.account_id}")
    saved["QuantitySyncWorkflow"] = sync

    world.set_settings(backpricer=True)
    await run(
        "RefreshPricingWorkflow",
        RefreshPricingWorkflow.run,
        RefreshPricingInput(account_id=account),
    )
    await run(
        "ImportReturnsWorkflow",
        ImportReturnsWorkflow.run,
        ImportReturnsInput(account_id=account),
    )

    for name, handle in saved.items():
        history = await handle.fetch_history()
        path = OUT / f"{name}.json"
        path.write_text(json.dumps(json.loads(history.to_json()), indent=1) + "\n")
        print(f"wrote {path.relative_to(ROOT)}")  # noqa: T201


if __name__ == "__main__":
    asyncio.run(main())
