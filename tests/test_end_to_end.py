"""The main job on the real Temporal dev server and the sandbox over real HTTP."""

from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment

from activities.deps import ActivityDeps, BackMarketClients
from bmsync.demo import (
    DemoConfig,
    DemoWorld,
    demo_merchant,
    prepare_account,
    run_scenario,
)
from sandbox.config import SandboxConfig
from sandbox.server import SandboxServer
from starter import apply_schedules, desired_schedules, load_accounts
from worker import build_worker

pytestmark = pytest.mark.devserver


async def test_two_hundred_orders_each_accepted_and_shipped_exactly_once(
    dev_env: WorkflowEnvironment,
    session_factory: sessionmaker[Session],
    task_queue: str,
    tmp_path: Path,
) -> None:
    config = DemoConfig(
        orders=200,
        multi_line_share=0.25,
        cancel_share=0.1,
        import_interval_s=2,
        placing_s=20,
        timeout_s=240,
    )
    async with SandboxServer(
        SandboxConfig(merchants=[demo_merchant()], seed=3)
    ) as sandbox:
        world = DemoWorld(
            session_factory=session_factory,
            temporal=dev_env.client,
            task_queue=task_queue,
            sandbox=sandbox.state,
            sandbox_url=sandbox.base_url,
            state_dir=tmp_path,
        )
        account_id, skus = prepare_account(world, config)
        deps = ActivityDeps(
            session_factory=session_factory,
            clients=BackMarketClients(session_factory, state_dir=tmp_path),
            temporal=dev_env.client,
            task_queue=task_queue,
        )
        desired = [
            schedule
            for schedule in desired_schedules(load_accounts(session_factory))
            if schedule.schedule_id.endswith(f"-{account_id}")
        ]
        worker = build_worker(
            dev_env.client, task_queue, deps, 5, fail_on_workflow_bugs=True
        )
        async with worker:
            await apply_schedules(dev_env.client, task_queue, desired, prune=False)
            try:
                report = await run_scenario(world, account_id, skus, config)
            finally:
                for schedule in desired:
                    handle = dev_env.client.get_schedule_handle(schedule.schedule_id)
                    await handle.delete()
        await deps.clients.close()

    assert report.problems == []
    figures = report.figures
    assert figures["orders_imported"] == 200
    assert figures["lines_validated"] == figures["lines_expected"]
    assert figures["orders_shipped"] == figures["orders_expected_shipped"]
    assert figures["imeis_sent"] == figures["lines_expected"]
    assert figures["http_429"] == 0
