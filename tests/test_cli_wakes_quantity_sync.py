"""Stock changed from the command line reaches the quantity sync within seconds."""

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from typer.testing import CliRunner

from bmsync.cli import app
from database.accounts import create_account
from domain.imei import luhn_check_digit
from domain.quantities import quantity_sync_workflow_id
from runtime.settings import get_settings
from tests.conftest import PAYLOAD_KEY

pytestmark = pytest.mark.devserver


@pytest.fixture
def runner(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CliRunner]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("BMSYNC_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("BMSYNC_PAYLOAD_KEY", PAYLOAD_KEY)
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def syncing_account(session_factory: sessionmaker[Session]) -> int:
    with session_factory.begin() as session:
        account = create_account(
            session, name="shop", platform="eu", locale="fr-fr", token_ref="env:X"
        )
        account.settings.quantity_sync = True
        session.flush()
        return account.id


def imei(body: str) -> str:
    return body + luhn_check_digit(body)


async def invoke(runner: CliRunner, *args: str) -> tuple[int, str]:
    # The commands run their own event loop, so they run off the test's.
    result = await asyncio.to_thread(runner.invoke, app, list(args))
    return result.exit_code, f"{result.output}{result.stderr}"


async def test_a_device_added_from_the_command_line_wakes_the_quantity_sync(
    runner: CliRunner,
    dev_client: Client,
    session_factory: sessionmaker[Session],
    task_queue: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", dev_client.service_client.config.target_host)
    monkeypatch.setenv("TEMPORAL_NAMESPACE", dev_client.namespace)
    monkeypatch.setenv("BMSYNC_TASK_QUEUE", task_queue)
    account_id = syncing_account(session_factory)
    assert (await invoke(runner, "catalog", "seed-sample"))[0] == 0

    code, output = await invoke(
        runner,
        "inventory",
        "add",
        "--sku",
        "IP12-128-BLK-EXC",
        "--imei",
        imei("35000000000001"),
    )

    assert code == 0, output
    handle = dev_client.get_workflow_handle(quantity_sync_workflow_id(account_id))
    described = await handle.describe()
    assert described.task_queue == task_queue
    assert "not reachable" not in output


async def test_a_device_is_stored_even_when_temporal_cannot_be_told(
    runner: CliRunner,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", "127.0.0.1:9")
    syncing_account(session_factory)
    assert (await invoke(runner, "catalog", "seed-sample"))[0] == 0

    code, output = await invoke(
        runner,
        "inventory",
        "add",
        "--sku",
        "IP12-128-BLK-EXC",
        "--imei",
        imei("35000000000002"),
    )
    listed = await invoke(runner, "inventory", "list")

    assert code == 0, output
    assert "quantity sync was not told" in output
    assert imei("35000000000002") in listed[1]
