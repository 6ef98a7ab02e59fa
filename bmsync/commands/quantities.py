"""`bmsync quantities`: what a sync would push, and a sync run now."""

import asyncio
import uuid
from typing import Annotated

import typer
from rich.markup import escape
from temporalio.client import Client

from activities.deps import BackMarketClients
from activities.quantities import QuantityPass
from bmsync.commands._db import database_url, fail
from bmsync.commands._tables import key, make_console, make_table
from bmsync.commands.listings import Timeout, _account_id, run_on_temporal
from database.session import make_engine, make_session_factory
from domain.quantities import (
    PushQuantitiesInput,
    PushQuantitiesResult,
    ReconcileQuantitiesInput,
)
from runtime.settings import get_settings
from workflows.quantities import ReconcileQuantitiesWorkflow

app = typer.Typer(
    help="Listing quantities: plan (dry run) and sync now.", no_args_is_help=True
)
out = make_console()

Full = Annotated[
    bool,
    typer.Option(
        "--full",
        help="read every listing from Back Market, not only those that changed here",
    ),
]


@app.command("plan")
def plan(account: str, full: Full = False) -> None:
    """What a sync would push now, without pushing anything or importing orders."""
    account_id = _account_id(account)
    engine = make_engine(database_url(), pool_size=2)
    session_factory = make_session_factory(engine)

    async def run() -> PushQuantitiesResult:
        clients = BackMarketClients.for_settings(session_factory, get_settings())
        try:
            client = await clients.get(account_id)
            return await QuantityPass(
                session_factory,
                client,
                PushQuantitiesInput(
                    account_id=account_id, full=full, dry_run=True, force=True
                ),
            ).run()
        finally:
            await clients.close()

    try:
        result = asyncio.run(run())
    except Exception as exc:  # noqa: BLE001 - the operator reads the reason
        fail(f"{type(exc).__name__}: {exc}")
    finally:
        engine.dispose()
    table = make_table(
        key("listing"), key("sku"), "Back Market", "target", "action", "note"
    )
    for item in result.plan:
        table.add_row(
            str(item.listing_id),
            escape(item.sku),
            "" if item.backmarket_quantity is None else str(item.backmarket_quantity),
            "" if item.target is None else str(item.target),
            item.action,
            escape(item.note or ""),
        )
    out.print(table)
    _summary(result, "would push")


@app.command("sync")
def sync(
    account: str,
    force: Annotated[
        bool, typer.Option(help="run even if the account's quantity sync is off")
    ] = False,
    timeout: Timeout = 900.0,
) -> None:
    """Import orders, read every listing and push what differs (a worker runs it)."""

    async def run(
        client: Client, task_queue: str, account_id: int
    ) -> PushQuantitiesResult:
        return await client.execute_workflow(
            ReconcileQuantitiesWorkflow.run,
            ReconcileQuantitiesInput(account_id=account_id, force=force),
            id=f"quantity-reconcile-{account_id}-now-{uuid.uuid4().hex[:8]}",
            task_queue=task_queue,
        )

    _summary(run_on_temporal(account, run, timeout), "pushed")


def _summary(result: PushQuantitiesResult, verb: str) -> None:
    if result.skipped_reason:
        out.print(f"nothing done: {result.skipped_reason}")
        return
    out.print(
        f"{verb} {result.pushed}, unchanged {result.unchanged}, skipped "
        f"{result.skipped}, failed {result.failed}, another system's writes "
        f"{result.flagged}, gone {result.gone}, deferred {result.deferred}, held "
        f"{len(result.held)}" + (" (bulk)" if result.bulk else "")
    )
