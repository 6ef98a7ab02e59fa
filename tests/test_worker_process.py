"""The worker as operators run it: a long-lived process that stops cleanly."""

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.devserver


async def pollers(client: Client, task_queue: str) -> int:
    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
    )
    return len(response.pollers)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
async def test_the_worker_polls_then_stops_cleanly_on_a_signal(
    dev_client: Client,
    database_url: str,
    task_queue: str,
    tmp_path: Path,
    stop_signal: signal.Signals,
) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "TEMPORAL_ADDRESS": dev_client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": dev_client.namespace,
        "BMSYNC_TASK_QUEUE": task_queue,
        "BMSYNC_STATE_DIR": str(tmp_path),
        "BMSYNC_SHUTDOWN_GRACE_SECONDS": "5",
    }
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "worker.py")],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(100):
            if await pollers(dev_client, task_queue) > 0 or process.poll() is not None:
                break
            await asyncio.sleep(0.2)
        assert process.poll() is None, process.stdout and process.stdout.read()
        assert await pollers(dev_client, task_queue) > 0

        process.send_signal(stop_signal)
        code = await asyncio.to_thread(process.wait, 20)
    finally:
        if process.poll() is None:
            process.kill()
    output = process.stdout.read().decode() if process.stdout else ""
    assert code == 0, output
    assert "worker shutting down" in output
