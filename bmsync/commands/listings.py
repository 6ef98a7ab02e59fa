"""`bmsync listings`: import, mapping, unmapped listings and opportunities."""

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from rich.markup import escape
from temporalio.client import Client, WorkflowFailureError
from temporalio.service import RPCError

from bmsync.commands._db import command_session, fail
from bmsync.commands._tables import key, make_console, make_table
from bmsync.commands._wake import wake_quantity_sync
from database.accounts import AccountError, require_account
from database.inventory import NotFound
from database.listings import (
    find_listing,
    listing_opportunities,
    map_listing,
    mapped_variations,
    resolve_variation,
    unmap_listing,
    unmapped_listings,
)
from database.models import Listing
from database.quantity import calculated_quantity
from domain.listings import ImportListingsInput, ImportListingsResult
from runtime.settings import get_settings
from runtime.stack import NotRunning, running_temporal
from runtime.temporal import failure_reason
from runtime.workers import NoWorker, require_worker
from workflows.listings import ImportListingsWorkflow

T = TypeVar("T")

app = typer.Typer(
    help="Back Market listings: import, map to stock, unmapped, opportunities.",
    no_args_is_help=True,
)
out = make_console()

Timeout = Annotated[
    float, typer.Option(help="seconds to wait for the worker to run the sync")
]


@app.command("sync")
def sync(account: str, timeout: Timeout = 300.0) -> None:
    """Import the account's listings now (a worker must be running)."""

    async def run(
        client: Client, task_queue: str, account_id: int
    ) -> ImportListingsResult:
        return await client.execute_workflow(
            ImportListingsWorkflow.run,
            ImportListingsInput(account_id=account_id, force=True),
            id=f"listings-import-{account_id}-now-{uuid.uuid4().hex[:8]}",
            task_queue=task_queue,
        )

    result = run_on_temporal(account, run, timeout)
    out.print(
        f"{result.seen} read: {result.added} added, {result.updated} updated, "
        f"{result.unchanged} unchanged, {result.gone} gone, {result.not_imported} "
        f"new not imported; {result.unmapped} unmapped"
    )
    if result.failed:
        out.print(
            f"{result.failed} listing(s) Back Market sent did not fit and were "
            f"left out: see bmsync log --account {escape(account)} --result failed"
        )


@app.command("map")
def map_(
    account: str,
    listing: Annotated[str, typer.Argument(help="our id, Back Market's uuid or SKU")],
    variation: Annotated[
        list[str] | None,
        typer.Option(help="a variation id or SKU code; repeat for several"),
    ] = None,
    by_sku: Annotated[
        bool, typer.Option("--by-sku", help="match through the listing's SKU")
    ] = False,
) -> None:
    """Map a listing to chosen variations, or back to matching by its SKU."""
    if variation and by_sku:
        fail("--variation and --by-sku cannot be combined: give one of them", 2)
    if not variation and not by_sku:
        fail("give --variation (one or more) or --by-sku", 2)
    with command_session() as session:
        try:
            account_id = require_account(session, account).id
            row = find_listing(session, account_id, listing)
            chosen = (
                None
                if by_sku
                else [
                    resolve_variation(session, account_id, v) for v in variation or []
                ]
            )
            map_listing(session, row, chosen)
            views = mapped_variations(session, row)
        except (AccountError, NotFound) as exc:
            fail(str(exc))
        sku = row.sku
    how = "by SKU" if by_sku else "to chosen variations"
    out.print(f"{escape(sku)} mapped {how}:")
    for view in views:
        out.print(f"  {view.variation_id}  {escape(view.label)}")
    if not views:
        out.print("  nothing yet: the SKU is not in the catalog")
    wake_quantity_sync("listing mapped")


@app.command("unmap")
def unmap(account: str, listing: str) -> None:
    """Map a listing to nothing: its quantity is no longer pushed."""
    with command_session() as session:
        try:
            row = find_listing(session, require_account(session, account).id, listing)
        except (AccountError, NotFound) as exc:
            fail(str(exc))
        unmap_listing(session, row)
        sku = row.sku
    out.print(f"{escape(sku)} unmapped: its quantity is no longer pushed")


@app.command("show")
def show(account: str, listing: str) -> None:
    """A listing: what Back Market holds, its mapping and its calculated quantity."""
    with command_session() as session:
        try:
            account_id = require_account(session, account).id
            row = find_listing(session, account_id, listing)
        except (AccountError, NotFound) as exc:
            fail(str(exc))
        views = mapped_variations(session, row)
        quantity = calculated_quantity(session, account_id, row.id)
        table = make_table("field", "value", show_header=False)
        table.add_row("listing", f"{row.id} ({row.backmarket_uuid})")
        table.add_row("sku", escape(row.sku))
        table.add_row("title", escape(row.title or ""))
        table.add_row(
            "on Back Market", "no (gone)" if row.gone_from_backmarket else "yes"
        )
        table.add_row("publication state", _known(row.publication_state))
        table.add_row("Back Market quantity", _known(row.quantity))
        table.add_row("last pushed", _last_pushed(row))
        table.add_row("mapping", row.mapping_mode)
        for view in views:
            table.add_row("  variation", f"{view.variation_id} {escape(view.label)}")
        if quantity is not None:
            if quantity.quantity is None:
                table.add_row("calculated quantity", f"none: {quantity.reason}")
            else:
                table.add_row(
                    "calculated quantity",
                    f"{quantity.quantity} = {quantity.available} available - "
                    f"{quantity.outstanding} outstanding - {quantity.buffer} buffer",
                )
        if row.foreign_write_at is not None:
            table.add_row(
                "another system writes it",
                f"{row.foreign_write_at}: {escape(row.foreign_write_note or '')}",
            )
    out.print(table)


@app.command("unmapped")
def unmapped(account: str) -> None:
    """Listings whose quantity is not pushed, and why."""
    with command_session() as session:
        try:
            account_id = require_account(session, account).id
        except AccountError as exc:
            fail(str(exc))
        rows = unmapped_listings(session, account_id)
    table = make_table(key("listing"), key("sku"), "title", "why")
    for item in rows:
        table.add_row(
            str(item.listing_id),
            escape(item.sku),
            escape(item.title or ""),
            item.reason,
        )
    out.print(table)
    out.print(f"{len(rows)} unmapped listing(s)")


@app.command("opportunities")
def opportunities(account: str) -> None:
    """Variations with sellable stock that no listing of the account covers."""
    with command_session() as session:
        try:
            account_id = require_account(session, account).id
        except AccountError as exc:
            fail(str(exc))
        rows = listing_opportunities(session, account_id)
    table = make_table(key("variation"), "product", key("SKUs"), "sellable")
    for item in rows:
        table.add_row(
            str(item.variation_id),
            escape(item.label),
            escape(", ".join(item.skus) or "-"),
            str(item.sellable),
        )
    out.print(table)
    if not rows:
        out.print("no opportunities: every variation with sellable stock has a listing")


def _known(value: int | None) -> str:
    return "not read yet" if value is None else str(value)


def _last_pushed(row: Listing) -> str:
    if row.last_pushed_at is None:
        return "never pushed"
    return f"{row.last_pushed_quantity} at {row.last_pushed_at:%Y-%m-%d %H:%M:%S}"


def _account_id(account: str) -> int:
    with command_session() as session:
        try:
            return require_account(session, account).id
        except AccountError as exc:
            fail(str(exc))


def run_on_temporal(
    account: str,
    action: Callable[[Client, str, int], Awaitable[T]],
    timeout: float,
) -> T:
    """Run `action` for the account's id on the worker; say so plainly when there is
    none, before anything else is looked up or started."""

    async def main() -> T:
        settings = get_settings()
        try:
            client = await running_temporal(settings)
            await require_worker(client, settings.task_queue)
        except (NotRunning, NoWorker) as exc:
            fail(str(exc))
        except RPCError as exc:
            fail(f"Temporal did not answer: {exc.message}")
        account_id = _account_id(account)
        try:
            return await asyncio.wait_for(
                action(client, settings.task_queue, account_id), timeout
            )
        except TimeoutError:
            fail(f"no answer in {timeout:g}s: is the worker busy? (bmsync status)")
        except WorkflowFailureError as exc:
            fail(f"the run failed: {failure_reason(exc)}")

    return asyncio.run(main())
