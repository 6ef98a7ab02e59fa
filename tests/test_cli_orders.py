"""`bmsync orders` end to end: Postgres, the sandbox, a worker on the test server."""

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy.orm import Session, sessionmaker
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from bmsync.cli import app
from database.models import AccountSettings
from runtime.settings import get_settings
from tests.conftest import PAYLOAD_KEY
from tests.world import TOKEN, TOKEN_VARIABLE, World, make_world


@pytest.fixture
def world(
    monkeypatch: pytest.MonkeyPatch,
    session_factory: sessionmaker[Session],
    workflow_env: WorkflowEnvironment,
    task_queue: str,
) -> World:
    monkeypatch.setenv(TOKEN_VARIABLE, TOKEN)
    return make_world(session_factory, workflow_env.client, task_queue)


@pytest.fixture
def runner(
    world: World,
    database_url: str,
    workflow_env: WorkflowEnvironment,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[CliRunner]:
    """The command line pointed at the test's database, Temporal and task queue."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv(
        "TEMPORAL_ADDRESS", workflow_env.client.service_client.config.target_host
    )
    monkeypatch.setenv("BMSYNC_TASK_QUEUE", world.task_queue)
    monkeypatch.setenv("BMSYNC_PAYLOAD_KEY", PAYLOAD_KEY)
    monkeypatch.setenv("BMSYNC_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("TEMPORAL_UI_URL", "http://ui.test")
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def account_name(world: World) -> str:
    with world.session_factory() as session:
        settings = session.get(AccountSettings, world.account_id)
        assert settings is not None
        return settings.account.name


async def bmsync(runner: CliRunner, *args: str) -> Result:
    # The command runs its own event loop, so it runs in a thread of its own while
    # this test's loop keeps the worker going.
    return await asyncio.to_thread(runner.invoke, app, list(args))


def assert_one_line_error(result: Result, text: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert text in result.stderr
    assert "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


async def test_an_order_is_validated_committed_shown_and_shipped(
    world: World, runner: CliRunner
) -> None:
    world.set_settings(auto_validate=False)
    sku, other_sku = world.skus
    order_id = world.place_order((sku, 1))
    account = account_name(world)
    order = str(order_id)

    async with world.worker():
        await world.run_import()
        state = await world.wait_for(order_id, lambda s: len(s.lines) == 1)
        line = str(state.lines[0].orderline_id)

        listed = await bmsync(runner, "orders", "list", account, "--status", "open")
        validated = await bmsync(runner, "orders", "validate", account, order)
        refused = await bmsync(
            runner,
            "orders",
            "commit",
            account,
            order,
            line,
            world.devices[other_sku][0],
        )
        committed = await bmsync(
            runner, "orders", "commit", account, order, line, world.devices[sku][0]
        )
        shown = await bmsync(runner, "orders", "show", account, order)
        shipped = await bmsync(
            runner, "orders", "ship", account, order, "1Z-CLI", "--carrier", "UPS"
        )
        final = await world.order_handle(order_id).result()

    assert listed.exit_code == 0, listed.output
    assert order in listed.output and "Open" in listed.output
    assert validated.exit_code == 0, validated.output
    assert f"accepted: {line}" in validated.output
    assert_one_line_error(refused, "not the variation")
    # A sentence, not the name of the rule's class in front of it.
    assert refused.stderr.startswith("error: orderline ")
    assert "Rejected" not in refused.stderr
    assert committed.exit_code == 0, committed.output
    assert f"committed to orderline {line}" in committed.output

    assert shown.exit_code == 0, shown.output
    assert "workflow phase: waiting_for_shipment" in shown.output
    assert world.devices[sku][0] in shown.output
    assert (
        f"http://ui.test/namespaces/default/workflows/order-{world.account_id}-{order}"
        in shown.output
    )
    assert shipped.exit_code == 0, shipped.output
    assert "shipment 1Z-CLI" in shipped.output
    assert final.phase == "shipped"


async def test_a_request_id_reused_for_a_different_shipment_is_refused(
    world: World, runner: CliRunner
) -> None:
    world.set_settings(auto_validate=False)
    order_id = world.place_order((world.skus[0], 1))
    account = account_name(world)
    order = str(order_id)
    ship = ("orders", "ship", account, order)

    async with world.worker():
        first = await bmsync(runner, *ship, "1Z-S1", "--request-id", "s-1")
        again = await bmsync(runner, *ship, "1Z-S1", "--request-id", "s-1")
        other = await bmsync(runner, *ship, "OTHER", "--request-id", "s-1")
        state = await world.wait_for(order_id, lambda s: s.shipment is not None)

    assert first.exit_code == again.exit_code == 0, first.output + first.stderr
    assert again.output == first.output
    assert_one_line_error(other, "'s-1' was already used for a different request")
    assert "RequestIdReused" not in other.stderr
    assert state.shipment is not None and state.shipment.tracking_number == "1Z-S1"


async def test_show_says_a_sent_imei_once_and_a_cancelled_line_is_cancelled(
    world: World, runner: CliRunner
) -> None:
    world.set_settings(auto_validate=False)
    order_id = world.place_order((world.skus[0], 1), (world.skus[1], 1))
    account = account_name(world)
    order = str(order_id)

    async with world.worker():
        await world.run_import()
        state = await world.wait_for(order_id, lambda s: len(s.lines) == 2)
        kept, cancelled = state.lines
        await world.validate(order_id, [kept.orderline_id])
        world.sandbox.customer_cancel(cancelled.orderline_id)
        await world.run_import()
        await world.wait_for(order_id, lambda s: s.lines[1].closed)
        committed = await bmsync(
            runner,
            "orders",
            "commit",
            account,
            order,
            str(kept.orderline_id),
            world.devices[kept.sku][0],
        )
        await world.wait_for(order_id, lambda s: s.lines[0].imei_sent)
        shown = await bmsync(runner, "orders", "show", account, order)

    assert committed.exit_code == 0, committed.output + committed.stderr
    assert "the IMEI is being sent to Back Market" in committed.output
    assert "once the line is validated" not in committed.output
    assert shown.exit_code == 0, shown.output
    assert (
        f"orderline {kept.orderline_id}: validated; 1/1 committed; IMEI sent\n"
        in shown.output
    )
    assert f"orderline {cancelled.orderline_id}: cancelled\n" in shown.output


async def test_orders_are_listed_by_status_and_state(
    world: World, runner: CliRunner
) -> None:
    world.set_settings(auto_validate=False)
    first = world.place_order((world.skus[0], 1))
    second = world.place_order((world.skus[1], 1))
    account = account_name(world)

    async with world.worker():
        await world.run_import()
        await world.wait_for(second, lambda s: len(s.lines) == 1)

    paid = await bmsync(runner, "orders", "list", account, "--state", "1")
    shipped = await bmsync(runner, "orders", "list", account, "--status", "Shipped")

    assert paid.exit_code == 0 and shipped.exit_code == 0
    assert str(first) in paid.output and str(second) in paid.output
    assert str(first) not in shipped.output and "no matching orders" in shipped.output


async def test_mistakes_get_one_line_on_stderr_and_exit_1(
    world: World, runner: CliRunner
) -> None:
    account = account_name(world)
    unknown = "99999999"

    async with world.worker():
        no_account = await bmsync(runner, "orders", "list", "nobody")
        commit = await bmsync(
            runner, "orders", "commit", account, unknown, "1", "356938035643809"
        )
        ship = await bmsync(runner, "orders", "ship", account, unknown, "T-1")
        show = await bmsync(runner, "orders", "show", "nobody", "1")

    assert_one_line_error(no_account, "no account named 'nobody'")
    assert_one_line_error(commit, f"Back Market has no order {unknown}")
    assert_one_line_error(ship, f"Back Market has no order {unknown}")
    for result in (commit, ship):
        assert result.stderr.startswith(f"error: Back Market has no order {unknown}")
        assert "OrderUnavailable" not in result.stderr
    assert_one_line_error(show, "no account named 'nobody'")


async def test_an_order_back_market_does_not_know_is_shown_as_such(
    world: World, runner: CliRunner
) -> None:
    account = account_name(world)
    unknown = "99999998"

    async with world.worker():
        await bmsync(runner, "orders", "ship", account, unknown, "T-1")
        shown = await bmsync(runner, "orders", "show", account, unknown)

    assert_one_line_error(shown, f"Back Market has no order {unknown}")


async def test_arguments_that_cannot_be_stored_are_usage_errors(
    world: World, runner: CliRunner
) -> None:
    account = account_name(world)
    order_id = world.place_order((world.skus[0], 1))

    huge = await bmsync(runner, "orders", "show", account, "9" * 23)
    negative = await bmsync(runner, "doctor", "order", account, "-5")
    long_tracking = await bmsync(
        runner, "orders", "ship", account, str(order_id), "A" * 300
    )
    long_carrier = await bmsync(
        runner, "orders", "ship", account, str(order_id), "T-1", "--carrier", "C" * 101
    )

    for result in (huge, negative, long_tracking, long_carrier):
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output + result.stderr
    assert "order_id" in huge.stderr
    assert "tracking" in long_tracking.stderr and "100" in long_tracking.stderr
    assert "--carrier" in long_carrier.stderr
    assert world.applied_bodies(order_id) == []
