"""The main job on the real Temporal dev server and the sandbox over real HTTP."""

from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from bmsync.demo import DemoConfig, run_with_worker

pytestmark = pytest.mark.devserver


async def test_two_hundred_orders_each_accepted_and_shipped_exactly_once(
    dev_client: Client,
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
        seed=3,
    )

    report, _ = await run_with_worker(
        dev_client,
        task_queue,
        session_factory,
        tmp_path,
        config,
        fail_on_workflow_bugs=True,
    )

    assert report.problems == [], "\n".join(report.problems)
    figures = report.figures
    assert figures["orders_imported"] == 200
    assert figures["lines_validated"] == figures["lines_expected"]
    assert figures["orders_shipped"] == figures["orders_expected_shipped"]
    assert figures["imeis_sent"] == figures["lines_expected"]
    assert figures["returns_imported"] == 1
    assert figures["http_429"] == 0
