"""`bmsync orders`: see orders, validate them, commit devices, add shipments.

Changes go through the order's workflow (runtime.order_client), never straight to
the database, so the command line follows the same rules as the HTTP API.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, TypeVar

import typer
from rich.markup import escape
from sqlalchemy import func, select
from temporalio.service import RPCError

from api.summary import OrderSummary, order_summary
from bmsync.commands._db import (
    OrderId,
    OrderlineId,
    command_session,
    fail,
    fail_unknown_status,
    validated,
)
from bmsync.commands._tables import key, make_console, make_table, whole
from database import inventory as repo
from database.accounts import AccountError, require_account
from database.models import (
    Commit,
    OrderItem,
    SalesOrder,
    SalesOrderStatus,
    Shipment,
)
from domain.orders import (
    LINE_CANCELLED,
    LINE_PAYMENT_REFUSED,
    LINE_REFUNDED_AFTER_SHIPPING,
    LINE_REFUNDED_BEFORE_SHIPPING,
    AddShipmentInput,
    CommitInventoryInput,
    LineStatus,
    OrderState,
    ValidateOrderInput,
    order_workflow_id,
)
from domain.text import quoted
from runtime.order_client import OrderClient, OrderRequestError
from runtime.settings import get_settings
from runtime.stack import NotRunning, running_temporal
from runtime.workers import NoWorker, require_worker

T = TypeVar("T")

app = typer.Typer(
    help="Back Market orders: list, show, validate, commit devices, ship.",
    no_args_is_help=True,
)
out = make_console()

Timeout = Annotated[
    float,
    typer.Option(
        min=1, max=3600, help="seconds to wait for the order's workflow to answer"
    ),
]
# How a closed orderline reads, by its Back Market state.
CLOSED_LINES = {
    LINE_CANCELLED: "cancelled",
    LINE_REFUNDED_BEFORE_SHIPPING: "refunded before shipping",
    LINE_REFUNDED_AFTER_SHIPPING: "refunded after shipping",
    LINE_PAYMENT_REFUSED: "cancelled: payment refused",
}
RequestId = Annotated[
    str | None,
    typer.Option(
        help="an id of your own: the same request sent again under it is acted on once"
    ),
]


@app.command("list")
def list_(
    account: str,
    status: Annotated[str | None, typer.Option(help="our sales order status")] = None,
    state: Annotated[int | None, typer.Option(help="Back Market order state")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 50,
) -> None:
    """An account's sales orders, newest first."""
    with command_session() as session:
        try:
            account_id = require_account(session, account).id
        except AccountError as exc:
            fail(str(exc))
        units = (
            select(func.coalesce(func.sum(OrderItem.quantity), 0))
            .where(OrderItem.sales_order_id == SalesOrder.id)
            .scalar_subquery()
        )
        committed = (
            select(func.count(Commit.id))
            .join(OrderItem, OrderItem.id == Commit.order_item_id)
            .where(
                OrderItem.sales_order_id == SalesOrder.id,
                Commit.released_at.is_(None),
            )
            .scalar_subquery()
        )
        tracking = (
            select(func.string_agg(Shipment.tracking_number, ", "))
            .where(Shipment.sales_order_id == SalesOrder.id)
            .scalar_subquery()
        )
        query = (
            select(
                SalesOrder.external_order_id,
                SalesOrderStatus.name,
                SalesOrder.backmarket_state,
                units,
                committed,
                tracking,
                SalesOrder.created_at,
            )
            .join(SalesOrderStatus, SalesOrderStatus.id == SalesOrder.status_id)
            .where(SalesOrder.account_id == account_id)
            .order_by(SalesOrder.created_at.desc(), SalesOrder.id.desc())
            .limit(limit)
        )
        if status is not None:
            status_row = repo.sales_order_status_by_name(session, status)
            if status_row is None:
                known = session.scalars(
                    select(SalesOrderStatus.name).order_by(SalesOrderStatus.id)
                ).all()
                fail_unknown_status(status, known)
            query = query.where(SalesOrder.status_id == status_row.id)
        if state is not None:
            query = query.where(SalesOrder.backmarket_state == state)
        rows = session.execute(query).all()

    table = make_table(
        key("order"),
        whole("status"),
        "BM state",
        "units",
        "committed",
        key("tracking"),
        whole("imported"),
    )
    for order_id, status_name, bm_state, total, done, tracked, created in rows:
        table.add_row(
            str(order_id),
            escape(status_name),
            "" if bm_state is None else str(bm_state),
            str(total),
            str(done),
            escape(tracked or ""),
            created.strftime("%Y-%m-%d %H:%M"),
        )
    out.print(table)
    if not rows:
        out.print("no matching orders")


@app.command("show")
def show(account: str, order_id: OrderId, timeout: Timeout = 10.0) -> None:
    """One order: its stored rows, its workflow's state, and its Temporal UI link."""
    account_id = _account_id(account)
    with command_session() as session:
        summary = order_summary(session, account_id, order_id)

    state: OrderState | None = None
    unavailable = None
    failure = None
    try:
        failure = _run(lambda orders: orders.failure(account_id, order_id), timeout)
        state = _run(lambda orders: orders.state(account_id, order_id), timeout)
    except (_Unanswered, OrderRequestError) as exc:
        unavailable = str(exc)
    if summary is None and failure is not None:
        fail(
            f"order {order_id} of account {quoted(account)} is not imported: {failure}"
        )
    if summary is None and state is None:
        fail(
            f"order {order_id} of account {quoted(account)} is not imported and has no "
            "workflow" + (f" ({unavailable})" if unavailable else "")
        )

    settings = get_settings()
    workflow_id = order_workflow_id(account_id, order_id)
    out.print(f"[bold]order {order_id}[/bold] of {escape(account)}")
    if summary is not None:
        _print_summary(summary)
    else:
        out.print("not imported yet")
    if failure is not None:
        out.print(
            f"[red]workflow failed:[/red] {escape(failure)}; the next import of "
            "the order, or the next request for it, starts it again"
        )
    if state is not None:
        _print_state(state)
    else:
        out.print(f"workflow: {escape(unavailable or 'never ran')}")
    out.print(
        f"{settings.ui_url()}/namespaces/{settings.temporal_namespace}"
        f"/workflows/{workflow_id}",
        highlight=False,
        soft_wrap=True,
    )


@app.command("validate")
def validate(
    account: str,
    order_id: OrderId,
    line: Annotated[
        list[int] | None,
        typer.Option(help="only this orderline; repeat for several"),
    ] = None,
    timeout: Timeout = 60.0,
) -> None:
    """Accept the order's lines on Back Market (every paid line by default)."""
    account_id = _account_id(account)
    request = ValidateOrderInput(orderline_ids=line or None)
    result = _change(
        lambda orders: orders.validate(account_id, order_id, request), timeout
    )
    accepted = ", ".join(map(str, result.accepted)) or "none"
    out.print(f"accepted: {accepted}")
    if result.skipped:
        out.print(
            f"not accepted (not paid, or already done): "
            f"{', '.join(map(str, result.skipped))}"
        )
    for refusal in result.refusals:
        out.print(refusal)


@app.command("commit")
def commit(
    account: str,
    order_id: OrderId,
    orderline: OrderlineId,
    identifier: Annotated[str, typer.Argument(help="the device's IMEI or serial")],
    allow_mismatch: Annotated[
        bool,
        typer.Option(help="record a device of another variation; no IMEI is sent"),
    ] = False,
    request_id: RequestId = None,
    timeout: Timeout = 60.0,
) -> None:
    """Commit a device to an orderline."""
    if not identifier.strip():
        fail("the identifier is empty", 2)
    request = validated(
        CommitInventoryInput,
        {"identifier": "identifier", "request_id": "--request-id"},
        orderline_id=orderline,
        identifier=identifier.strip(),
        allow_mismatch=allow_mismatch,
        request_id=request_id,
    )
    account_id = _account_id(account)
    result = _change(
        lambda orders: orders.commit_inventory(account_id, order_id, request), timeout
    )
    out.print(
        f"device {result.inventory_item_id} committed to orderline "
        f"{result.orderline_id}: {escape(result.note)}"
    )
    if not result.fulfils_line:
        out.print("[yellow]the device does not fulfil the line[/yellow]")


@app.command("ship")
def ship(
    account: str,
    order_id: OrderId,
    tracking: str,
    carrier: Annotated[str | None, typer.Option()] = None,
    url: Annotated[str | None, typer.Option(help="the tracking page")] = None,
    request_id: RequestId = None,
    timeout: Timeout = 60.0,
) -> None:
    """Add a shipment; it goes out once every line is validated and committed."""
    if not tracking.strip():
        fail("the tracking number is empty", 2)
    request = validated(
        AddShipmentInput,
        {
            "tracking_number": "tracking",
            "carrier": "--carrier",
            "url": "--url",
            "request_id": "--request-id",
        },
        tracking_number=tracking.strip(),
        carrier=carrier,
        url=url,
        request_id=request_id,
    )
    account_id = _account_id(account)
    result = _change(
        lambda orders: orders.add_shipment(account_id, order_id, request), timeout
    )
    out.print(f"shipment {escape(request.tracking_number)}: {escape(result.note)}")


# --- helpers ----------------------------------------------------------------------


class _Unanswered(Exception):
    """Temporal or the order's workflow did not answer."""


def _account_id(account: str) -> int:
    with command_session() as session:
        try:
            return require_account(session, account).id
        except AccountError as exc:
            fail(str(exc))


def _change(action: Callable[[OrderClient], Awaitable[T]], timeout: float) -> T:
    try:
        return _run(action, timeout, need_worker=True)
    except OrderRequestError as exc:
        fail(str(exc))
    except _Unanswered as exc:
        fail(str(exc))


def _run(
    action: Callable[[OrderClient], Awaitable[T]],
    timeout: float,
    need_worker: bool = False,
) -> T:
    async def run() -> T:
        async with _order_client(need_worker) as orders:
            try:
                return await asyncio.wait_for(action(orders), timeout)
            except TimeoutError:
                raise _Unanswered(
                    f"the order's workflow did not answer within {timeout:g} s; "
                    "is the worker running? (bmsync status)"
                ) from None

    return asyncio.run(run())


@asynccontextmanager
async def _order_client(need_worker: bool) -> AsyncIterator[OrderClient]:
    """A client of the running Temporal; nothing is started for a command."""
    settings = get_settings()
    try:
        client = await running_temporal(settings)
        if need_worker:
            await require_worker(client, settings.task_queue)
    except (NotRunning, NoWorker) as exc:
        raise _Unanswered(str(exc)) from None
    except RPCError as exc:
        raise _Unanswered(f"Temporal did not answer: {exc.message}") from None
    yield OrderClient(client, settings.task_queue)


def _print_summary(summary: OrderSummary) -> None:
    open_note = "counts as open" if summary.status_counts_as_open else "closed"
    out.print(
        f"status {escape(summary.status)} ({open_note}), Back Market state "
        f"{summary.backmarket_state}, imported {summary.created_at:%Y-%m-%d %H:%M}"
    )
    lines = make_table(
        key("orderline"), key("sku"), "qty", "BM state", key("committed IMEIs")
    )
    for line in summary.lines:
        sku = escape(line.sku or "")
        if line.unknown_sku:
            sku += " [red](unknown SKU)[/red]"
        lines.add_row(
            str(line.orderline_id),
            sku,
            str(line.quantity),
            "" if line.backmarket_state is None else str(line.backmarket_state),
            ", ".join(line.committed_imeis)
            or ", ".join(f"item {i}" for i in line.committed_item_ids),
        )
    out.print(lines)
    for shipment in summary.shipments:
        sent = (
            f"sent {shipment.sent_at:%Y-%m-%d %H:%M}"
            if shipment.sent_at
            else "not sent yet"
        )
        out.print(
            f"shipment {escape(shipment.tracking_number)} "
            f"{escape(shipment.carrier or '')} {sent}".replace("  ", " ")
        )


def _print_state(state: OrderState) -> None:
    out.print(f"workflow phase: [bold]{state.phase.value}[/bold]")
    for line in state.lines:
        out.print(f"  orderline {line.orderline_id}: {escape('; '.join(_flags(line)))}")
    if state.shipment is not None:
        held = "sent" if state.shipment.sent else "held"
        if state.shipment.refusal:
            held = f"not sent: {state.shipment.refusal}"
        out.print(
            f"  shipment {escape(state.shipment.tracking_number)}: {escape(held)}"
        )
    for note in state.notes:
        out.print(f"  note: {escape(note)}")


def _flags(line: LineStatus) -> list[str]:
    """Where one orderline stands, in the order an operator asks."""
    if line.closed:
        # Its devices went back to stock when it closed: no count to show.
        flags = [CLOSED_LINES.get(line.backmarket_state, "closed")]
    else:
        flags = [
            "validated" if line.validated else "not validated",
            f"{len(line.commits)}/{line.quantity} committed",
        ]
    if line.imei_sent:
        # The send's own note says how it went ("IMEI already on Back Market").
        flags.append(line.imei_note or "IMEI sent")
    elif line.imei_note:
        flags.append(line.imei_note)
    if line.accept_refusal:
        flags.append(line.accept_refusal)
    return flags
