"""`bmsync returns`: the RMAs imported from Back Market's customer care."""

from typing import Annotated

import typer
from rich.markup import escape
from sqlalchemy import select

from bmsync.commands._db import command_session, fail
from bmsync.commands._tables import key, make_console, make_table
from database.accounts import AccountError, require_account
from database.models import InventoryItem, Rma, SalesOrder

app = typer.Typer(help="Returns (RMAs) from Back Market.", no_args_is_help=True)
out = make_console()


@app.command("list")
def list_(
    account: str,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 50,
) -> None:
    """An account's RMAs, newest first: the care folder, the order and orderline,
    the returned device and the state of the return label."""
    with command_session() as session:
        try:
            account_id = require_account(session, account).id
        except AccountError as exc:
            fail(str(exc))
        rows = session.execute(
            select(
                Rma.id,
                Rma.care_folder_id,
                Rma.claim_id,
                SalesOrder.external_order_id,
                Rma.orderline_id,
                InventoryItem.imei,
                InventoryItem.serial,
                Rma.label_state,
                Rma.created_at,
            )
            .outerjoin(SalesOrder, SalesOrder.id == Rma.sales_order_id)
            .outerjoin(InventoryItem, InventoryItem.id == Rma.inventory_item_id)
            .where(Rma.account_id == account_id)
            .order_by(Rma.created_at.desc(), Rma.id.desc())
            .limit(limit)
        ).all()

    table = make_table(
        key("rma"),
        key("care folder"),
        key("claim"),
        key("order"),
        key("orderline"),
        key("device"),
        "label",
        "created",
    )
    for rma_id, folder, claim, order, orderline, imei, serial, label, created in rows:
        table.add_row(
            str(rma_id),
            str(folder),
            str(claim),
            "" if order is None else str(order),
            "" if orderline is None else str(orderline),
            escape(imei or serial or ""),
            escape(label or ""),
            created.strftime("%Y-%m-%d %H:%M"),
        )
    out.print(table)
    if not rows:
        out.print("no returns imported")
