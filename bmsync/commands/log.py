"""`bmsync log`: what the syncs pushed and pulled, newest first."""

from typing import Annotated

import typer
from rich.markup import escape
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from bmsync.commands._db import MAX_ID, command_session, fail
from bmsync.commands._tables import key, make_console, make_table, whole
from database.accounts import AccountError, require_account
from database.listings import lookup_listing
from database.models import Account, SalesOrder, SyncLogEntry, SyncResult
from domain.text import quoted

out = make_console()


def register(app: typer.Typer) -> None:
    app.command("log")(log)


def log(
    account: Annotated[str | None, typer.Option(help="account name")] = None,
    listing: Annotated[
        str | None,
        typer.Option(help="our listing id, uuid, legacy id or SKU (needs --account)"),
    ] = None,
    order: Annotated[
        int | None, typer.Option(min=1, max=MAX_ID, help="Back Market order id")
    ] = None,
    result: Annotated[str | None, typer.Option(help="ok, skipped or failed")] = None,
    kind: Annotated[str | None, typer.Option(help="e.g. order_validate")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 50,
) -> None:
    """The sync history: what was pushed or pulled, when, and how it went."""
    if result is not None and result not in {r.value for r in SyncResult}:
        fail(f"--result must be one of ok, skipped, failed, not {quoted(result)}", 2)
    if listing is not None and account is None:
        fail("--listing needs --account", 2)
    with command_session() as session:
        query = select(SyncLogEntry, Account.name).outerjoin(
            Account, Account.id == SyncLogEntry.account_id
        )
        try:
            query = query.where(*_conditions(session, account, listing, order))
        except (AccountError, LookupError) as exc:
            fail(str(exc))
        if result is not None:
            query = query.where(SyncLogEntry.result == result)
        if kind is not None:
            query = query.where(SyncLogEntry.kind == kind)
        rows = session.execute(
            query.order_by(SyncLogEntry.at.desc(), SyncLogEntry.id.desc()).limit(limit)
        ).all()

    table = make_table(
        whole("at"),
        "account",
        "kind",
        "dir",
        whole("result"),
        key("ref"),
        "error",
        "detail",
    )
    for entry, account_name in rows:
        colour = {"ok": "green", "failed": "red"}.get(entry.result, "yellow")
        ref = entry.external_ref or ""
        if entry.listing_id is not None:
            ref = f"listing {entry.listing_id} {ref}".strip()
        table.add_row(
            entry.at.strftime("%Y-%m-%d %H:%M:%S"),
            escape(account_name or ""),
            escape(entry.kind),
            entry.direction,
            f"[{colour}]{entry.result}[/{colour}]",
            escape(ref),
            escape(entry.error_class or ""),
            escape(entry.detail or ""),
        )
    out.print(table)
    if not rows:
        out.print("no matching entries")


def _conditions(
    session: Session, account: str | None, listing: str | None, order: int | None
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    account_id = None
    if account is not None:
        account_id = require_account(session, account).id
        conditions.append(SyncLogEntry.account_id == account_id)
    if listing is not None:
        assert account_id is not None
        found = lookup_listing(session, account_id, listing)
        if found is None:
            raise LookupError(
                f"no listing {quoted(listing)} in account {quoted(account or '')}"
            )
        conditions.append(
            or_(
                SyncLogEntry.listing_id == found.id,
                SyncLogEntry.external_ref == str(found.backmarket_uuid),
            )
        )
    if order is not None:
        # Order activities log the Back Market id; others link the sales order.
        sales_orders = select(SalesOrder.id).where(
            SalesOrder.external_order_id == order
        )
        if account_id is not None:
            sales_orders = sales_orders.where(SalesOrder.account_id == account_id)
        conditions.append(
            or_(
                SyncLogEntry.external_ref == str(order),
                SyncLogEntry.sales_order_id.in_(sales_orders),
            )
        )
    return conditions
