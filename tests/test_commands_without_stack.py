"""Commands run while the stack is down: they leave nothing running behind them, and
one that needs a worker says at once that there is none."""

import asyncio
import subprocess
import time
from pathlib import Path

import psutil
import pytest
from temporalio.client import Client
from typer.testing import CliRunner

from bmsync.cli import app
from runtime.embedded import EmbeddedPostgres, venv_binary
from runtime.settings import get_settings
from tests.processes import embedded_env

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def down_env(tmp_path: Path) -> dict[str, str]:
    """A state directory nothing runs on, and ports nothing listens on."""
    return embedded_env(
        tmp_path / "state", "BMSYNC_TEMPORAL_PORT", "BMSYNC_TEMPORAL_UI_PORT"
    )


def bmsync(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv_binary("bmsync")), *args],
        env=env,
        cwd=env["BMSYNC_STATE_DIR"].removesuffix("/state"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def running_on(state_dir: Path) -> list[str]:
    """Processes still running on the state directory."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if str(state_dir) in cmdline:
            found.append(f"{proc.info['pid']}: {cmdline}")
    return found


def test_a_command_stops_the_postgres_it_started(down_env: dict[str, str]) -> None:
    state_dir = Path(down_env["BMSYNC_STATE_DIR"])

    listed = bmsync(down_env, "accounts", "list")
    refused = bmsync(down_env, "orders", "list", "nobody")

    assert listed.returncode == 0, listed.stderr
    assert refused.returncode == 1 and "no account named" in refused.stderr
    assert EmbeddedPostgres(state_dir / "postgres").running_pid() is None
    assert running_on(state_dir) == []


def test_a_command_that_needs_a_worker_refuses_at_once_when_the_stack_is_down(
    down_env: dict[str, str],
) -> None:
    state_dir = Path(down_env["BMSYNC_STATE_DIR"])

    started = time.monotonic()
    listings = bmsync(down_env, "listings", "sync", "sandbox")
    quantities = bmsync(down_env, "quantities", "sync", "sandbox")
    took = time.monotonic() - started

    for result in (listings, quantities):
        assert result.returncode == 1, result.stderr
        assert result.stderr.strip() == (
            "error: the stack is not running: start it with `bmsync up`"
        )
    assert took < 30
    assert running_on(state_dir) == []


@pytest.mark.devserver
async def test_a_command_that_needs_a_worker_says_none_polls(
    dev_client: Client,
    database_url: str,
    task_queue: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("TEMPORAL_ADDRESS", dev_client.service_client.config.target_host)
    monkeypatch.setenv("TEMPORAL_NAMESPACE", dev_client.namespace)
    monkeypatch.setenv("BMSYNC_TASK_QUEUE", task_queue)
    monkeypatch.setenv("BMSYNC_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("BMSYNC_TOKEN", "a-token-0123456789")
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    runner = CliRunner()
    added = runner.invoke(
        app, ["accounts", "add", "acme", "--platform", "eu", "--no-check"]
    )
    assert added.exit_code == 0, added.stderr

    started = time.monotonic()
    results = [
        await asyncio.to_thread(runner.invoke, app, args)
        for args in (
            ["listings", "sync", "acme"],
            ["orders", "commit", "acme", "41000001", "52000001", "356938035643809"],
            ["orders", "ship", "acme", "41000001", "1Z-NOBODY"],
        )
    ]
    took = time.monotonic() - started
    get_settings.cache_clear()

    for result in results:
        assert result.exit_code == 1, result.output
        assert f"no worker polls the task queue {task_queue!r}" in result.stderr
        assert "bmsync worker" in result.stderr
    assert took < 30
