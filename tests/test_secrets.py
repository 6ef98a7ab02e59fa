"""The token and the customer's details stay out of logs, histories and sync records.

One realistic order runs from import to shipment, through a failed page, a lost
answer and a refused commit, with every logger at DEBUG; then everything the engine
wrote or said is searched for the token and for the customer.
"""

import logging
import uuid
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from backmarket import BackMarketClient
from backmarket.errors import BackMarketError
from database.models import Base, SyncLogEntry
from domain.orders import ImportOrdersInput
from runtime.order_client import OrderRequestError
from sandbox.config import FaultRule, MerchantConfig, SandboxConfig
from tests.payloads import history_text
from tests.world import MERCHANT, TOKEN_VARIABLE, World, make_world
from workflows import ImportOrdersWorkflow

SECRET_TOKEN = "tok-7f3a9c-DO-NOT-LEAK-e51b"
CUSTOMER = {
    "first_name": "Zephyrine",
    "last_name": "Quackenbush",
    "email": "zephyrine.quackenbush@example.org",
    "street": "17 Rue des Secrets Bien Gardes",
    "postal_code": "75123",
    "city": "Villeprivee",
    "phone": "+33 6 98 76 54 32",
}
# What must never show outside the customer's own row: the country may, the rest no.
PERSONAL = [CUSTOMER[k] for k in ("last_name", "email", "street", "phone", "city")]


@pytest.fixture
def world(
    monkeypatch: pytest.MonkeyPatch,
    session_factory: sessionmaker[Session],
    workflow_env: WorkflowEnvironment,
    task_queue: str,
) -> World:
    monkeypatch.setenv(TOKEN_VARIABLE, SECRET_TOKEN)
    config = SandboxConfig(
        merchants=[MerchantConfig(name=MERCHANT, token=SECRET_TOKEN)], seed=11
    )
    world = make_world(session_factory, workflow_env.client, task_queue, config)
    # Customers named after the shipping name: the most personal data we keep.
    world.set_settings(organization_type="shipping_name")
    return world


async def test_no_token_or_customer_detail_leaks_anywhere(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    for name in (None, "httpx", "httpcore", "temporalio", "backmarket", "activities"):
        caplog.set_level(logging.DEBUG, logger=name)
    sku = world.skus[0]
    order = world.sandbox.place_order(MERCHANT, [(sku, 1)], customer=CUSTOMER)
    order_id = int(order.order_id)
    world.sandbox.set_faults(
        [
            # The first page fails once, the accept's answer is lost once.
            FaultRule(method="GET", path="/ws/orders", error_rate=1.0, remaining=1),
            FaultRule(
                method="POST",
                path=f"/ws/orders/{order_id}",
                lost_response_rate=1.0,
                remaining=1,
            ),
        ]
    )
    errors: list[BaseException] = []
    handles: list[WorkflowHandle[Any, Any]] = [world.order_handle(order_id)]

    async with world.worker():
        handles.append(await _import(world))
        state = await world.wait_for(order_id, lambda s: s.phase == "validated")
        line_id = state.lines[0].orderline_id
        handle = world.order_handle(order_id)
        with pytest.raises(OrderRequestError) as refused:
            await world.commit(order_id, line_id, "not-a-device")
        errors.append(refused.value)
        await world.commit(order_id, line_id, world.devices[sku][0])
        await world.ship(order_id, "TRK-SECRETS", carrier="UPS")
        final = await handle.result()
        handles.append(await _import(world))
    errors.extend(await _client_errors(world))

    assert final.phase == "shipped"
    assert world.sandbox.orders[order_id].state == 9

    logs = _log_text(caplog.records)
    assert "orders fetched" in logs, "the engine logged nothing"
    _assert_absent(SECRET_TOKEN, logs, "logs")
    _assert_absent(SECRET_TOKEN, _error_text(errors), "exceptions")
    for value in PERSONAL:
        _assert_absent(value, logs, "logs")
        _assert_absent(value, _error_text(errors), "exceptions")

    codec = world.client.data_converter.payload_codec
    for handle in handles:
        history = await handle.fetch_history()
        for text, where in (
            (await history_text(history, None), f"raw history of {handle.id}"),
            (await history_text(history, codec), f"decoded history of {handle.id}"),
        ):
            _assert_absent(SECRET_TOKEN, text, where)
            for value in PERSONAL:
                _assert_absent(value, text, where)
    decoded = await history_text(await handles[0].fetch_history(), codec)
    assert f'"order_id":{order_id}' in decoded, "the decoded history looks empty"

    with world.session_factory() as session:
        sync_log = _rows_text(session, [SyncLogEntry.__table__])
        everything = _rows_text(session, list(Base.metadata.sorted_tables))
    assert str(order_id) in sync_log
    _assert_absent(SECRET_TOKEN, everything, "the database")
    for value in PERSONAL:
        _assert_absent(value, sync_log, "sync_log")
    # The customer's own row is where the name belongs, and only there.
    assert CUSTOMER["last_name"] in everything


# --- helpers ----------------------------------------------------------------------


async def _import(world: World) -> WorkflowHandle[Any, Any]:
    handle = await world.client.start_workflow(
        ImportOrdersWorkflow.run,
        ImportOrdersInput(account_id=world.account_id),
        id=f"import-{uuid.uuid4()}",
        task_queue=world.task_queue,
    )
    await handle.result()
    return handle


async def _client_errors(world: World) -> list[BaseException]:
    """Errors of the client itself, for a missing order and a server failure."""
    errors: list[BaseException] = []
    client = BackMarketClient(
        SECRET_TOKEN,
        company="Acme",
        integration="Sync",
        contact_email="ops@example.com",
        base_url="http://sandbox.test",
        transport=world.transport,
    )
    world.sandbox.set_faults(
        [FaultRule(method="GET", path="/ws/orders/1", error_rate=1.0)]
    )
    async with client:
        for order_id in (999_999_999, 1):
            try:
                await client.get_order(order_id)
            except BackMarketError as exc:
                errors.append(exc)
    assert len(errors) == 2
    return errors


def _log_text(records: list[logging.LogRecord]) -> str:
    """Every record's message, arguments, extras and traceback."""
    parts = []
    for record in records:
        parts.append(record.getMessage())
        parts.append(repr(record.__dict__))
        if record.exc_info and record.exc_info[1] is not None:
            parts.append(_error_text([record.exc_info[1]]))
    return "\n".join(parts)


def _error_text(errors: list[BaseException]) -> str:
    """Messages, reprs, details and causes of every error, all the way down."""
    parts = []
    pending = list(errors)
    seen: set[int] = set()
    while pending:
        error = pending.pop()
        if id(error) in seen:
            continue
        seen.add(id(error))
        parts += [str(error), repr(error), repr(getattr(error, "details", ""))]
        parts.append(repr(getattr(error, "__dict__", {})))
        for linked in (
            error.__cause__,
            error.__context__,
            getattr(error, "cause", None),
        ):
            if isinstance(linked, BaseException):
                pending.append(linked)
    return "\n".join(parts)


def _rows_text(session: Session, tables: list[Any]) -> str:
    return "\n".join(
        repr(tuple(row)) for table in tables for row in session.execute(select(table))
    )


def _assert_absent(value: str, text: str, where: str) -> None:
    if value in text:
        at = text.index(value)
        context = text[max(0, at - 150) : at + 150]
        raise AssertionError(f"{value!r} found in {where}: ...{context}...")
