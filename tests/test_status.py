"""`bmsync status`: a worker counts while it polls, not while Temporal remembers it."""

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.worker import Worker
from typer.testing import CliRunner, Result

import runtime.workers
from bmsync.cli import app
from runtime.settings import get_settings
from runtime.workers import RECENT_POLL, queue_pollers
from workflows.listings import ImportListingsWorkflow

pytestmark = pytest.mark.devserver


@pytest.fixture
def runner(
    database_url: str,
    dev_client: Client,
    task_queue: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[CliRunner]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("TEMPORAL_ADDRESS", dev_client.service_client.config.target_host)
    monkeypatch.setenv("TEMPORAL_NAMESPACE", dev_client.namespace)
    monkeypatch.setenv("BMSYNC_TASK_QUEUE", task_queue)
    monkeypatch.setenv("BMSYNC_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


@asynccontextmanager
async def polling_worker(client: Client, task_queue: str) -> AsyncIterator[None]:
    """A worker on the queue, once Temporal lists its poller."""
    async with Worker(
        client, task_queue=task_queue, workflows=[ImportListingsWorkflow]
    ):
        for _ in range(100):
            if (await queue_pollers(client, task_queue)).live:
                break
            await asyncio.sleep(0.1)
        yield


async def status_check(runner: CliRunner) -> Result:
    return await asyncio.to_thread(runner.invoke, app, ["status", "--check"])


async def test_a_poller_not_seen_for_longer_than_a_poll_is_stale(
    dev_client: Client, task_queue: str
) -> None:
    async with polling_worker(dev_client, task_queue):
        now = datetime.now(UTC)
        polling = await queue_pollers(dev_client, task_queue, now)
        later = now + RECENT_POLL + timedelta(seconds=30)
        gone = await queue_pollers(dev_client, task_queue, later)

    assert (polling.live, polling.stale) == (1, 0)
    assert (gone.live, gone.stale) == (0, 1)
    assert gone.describe(later).startswith("none polling (1 stale, last seen 2 min")


async def test_status_check_fails_once_the_worker_stopped_polling(
    runner: CliRunner,
    dev_client: Client,
    task_queue: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with polling_worker(dev_client, task_queue):
        running = await status_check(runner)
    # Temporal still lists the worker's poller; past the window it no longer counts.
    monkeypatch.setattr(runtime.workers, "RECENT_POLL", timedelta(seconds=1))
    await asyncio.sleep(1.5)
    stopped = await status_check(runner)

    assert running.exit_code == 0, running.output
    assert "1 poller(s)" in running.output
    assert stopped.exit_code == 1, stopped.output
    assert "none polling (1 stale" in stopped.output
