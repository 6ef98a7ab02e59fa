"""`bmsync inventory`: put devices in stock and see them."""

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from sqlalchemy import func, literal_column, select
from sqlalchemy.exc import IntegrityError

from bmsync.commands._db import command_session, err, fail, fail_unknown_status
from bmsync.commands._tables import key, make_console, make_table, whole
from bmsync.commands._wake import wake_quantity_sync
from database import inventory as repo
from database.accounts import AccountError, require_account
from database.models import (
    Commit,
    InventoryItem,
    InventoryStatus,
    OrderItem,
    Product,
    ProductVariation,
    SalesOrder,
    SalesOrderStatus,
    Sku,
    Warehouse,
)
from domain.imei import InvalidImei, parse_serial
from domain.inventory import (
    DEFAULT_STATUS,
    DEFAULT_WAREHOUSE,
    StockImportError,
    parse_cost,
)
from domain.text import quoted

app = typer.Typer(help="Devices in stock.", no_args_is_help=True)
out = make_console()


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    account: Annotated[
        str | None, typer.Option(help="resolve SKUs as this account's codes")
    ] = None,
) -> None:
    """Import a stock CSV: every line or, when any line is bad, none.

    Columns: imei, serial, sku, manufacturer, model, grade, condition, storage,
    colour, network, status, warehouse, cost, received_date (see samples/stock.csv).
    """
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        fail(
            f"{file} is not UTF-8 text (at byte offset {exc.start}); save it as UTF-8 "
            "CSV"
        )
    lines = text.count("\n")
    large = lines > repo.IMPORT_BATCH
    if large:
        err.print(f"checking {lines:,} lines of {file}", highlight=False, markup=False)
    try:
        with command_session() as session:
            account_id = (
                None if account is None else require_account(session, account).id
            )
            result = repo.import_stock_csv(
                session, text, account_id, _progress if large else None
            )
    except AccountError as exc:
        fail(str(exc))
    except StockImportError as exc:
        table = make_table("line", "field", "problem", title="nothing was imported")
        for problem in exc.problems:
            table.add_row(str(problem.line), problem.field, escape(problem.message))
        err.print(table)
        fail(f"{len(exc.problems)} bad line(s) in {file}")
    out.print(
        f"{result.created} device(s) added, {result.unchanged} already in stock, "
        f"{result.variations_created} new variation(s)"
    )
    if result.created:
        wake_quantity_sync("stock imported")


@app.command("add")
def add(
    sku: Annotated[str, typer.Option(help="our SKU code")],
    imei: Annotated[str | None, typer.Option()] = None,
    serial: Annotated[str | None, typer.Option()] = None,
    status: Annotated[str, typer.Option()] = DEFAULT_STATUS,
    warehouse: Annotated[str, typer.Option()] = DEFAULT_WAREHOUSE,
    cost: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Put one device in stock."""
    imei = (imei or "").strip() or None
    serial = None if not (serial or "").strip() else _serial(serial or "")
    if imei is None and serial is None:
        fail("give --imei or --serial", 2)
    amount = None if cost is None else _cost(cost)
    try:
        with command_session() as session:
            found_sku = repo.find_sku(session, sku)
            status_row = repo.inventory_status_by_name(session, status)
            warehouse_row = repo.warehouse_by_name(session, warehouse)
            if found_sku is None:
                fail(f"unknown SKU {quoted(sku)}", 2)
            if status_row is None:
                fail(f"unknown inventory status {quoted(status)}", 2)
            if warehouse_row is None:
                fail(f"unknown warehouse {quoted(warehouse)}", 2)
            item = repo.add_inventory_item(
                session,
                imei=imei,
                serial=serial,
                variation_id=found_sku.variation_id,
                status_id=status_row.id,
                warehouse_id=warehouse_row.id,
                cost=amount,
            )
            item_id = item.id
    except InvalidImei as exc:
        fail(str(exc), 2)
    except repo.IdentifierTaken as exc:
        fail(f"--{exc.field}: {exc}")
    except IntegrityError:
        # Another process stored the same device since the check.
        fail("a device with this IMEI or serial is already in stock")
    out.print(f"device {item_id} added")
    wake_quantity_sync("stock added")


@app.command("list")
def list_(
    limit: Annotated[
        int, typer.Option(min=1, max=100_000, help="at most this many devices")
    ] = 100,
    sku: Annotated[
        str | None, typer.Option(help="only devices this SKU code sells")
    ] = None,
    status: Annotated[str | None, typer.Option()] = None,
    warehouse: Annotated[str | None, typer.Option()] = None,
    free: Annotated[
        bool, typer.Option("--free", help="only devices no order holds")
    ] = False,
) -> None:
    """Devices in stock, newest first, with the SKU codes that sell them and the
    order each committed device is held for (with that order's status)."""
    with command_session() as session:
        codes = (
            select(func.string_agg(Sku.code, literal_column("', '")))
            .where(Sku.variation_id == InventoryItem.variation_id)
            .correlate(InventoryItem)
            .scalar_subquery()
        )
        # A device is held by one open commit at most (a unique index says so).
        held = (
            select(
                Commit.inventory_item_id,
                SalesOrder.id.label("sales_order_id"),
                SalesOrder.external_order_id,
                SalesOrderStatus.name.label("order_status"),
            )
            .join(OrderItem, OrderItem.id == Commit.order_item_id)
            .join(SalesOrder, SalesOrder.id == OrderItem.sales_order_id)
            .join(SalesOrderStatus, SalesOrderStatus.id == SalesOrder.status_id)
            .where(Commit.released_at.is_(None))
            .subquery()
        )
        query = (
            select(
                InventoryItem.id,
                InventoryItem.imei,
                InventoryItem.serial,
                codes,
                Product.manufacturer,
                Product.model,
                ProductVariation.storage,
                ProductVariation.colour,
                ProductVariation.grade,
                InventoryStatus.name,
                Warehouse.name,
                InventoryItem.cost,
                held.c.sales_order_id,
                held.c.external_order_id,
                held.c.order_status,
            )
            .join(ProductVariation, ProductVariation.id == InventoryItem.variation_id)
            .join(Product, Product.id == ProductVariation.product_id)
            .join(InventoryStatus, InventoryStatus.id == InventoryItem.status_id)
            .outerjoin(Warehouse, Warehouse.id == InventoryItem.warehouse_id)
            .outerjoin(held, held.c.inventory_item_id == InventoryItem.id)
            .order_by(InventoryItem.id.desc())
            .limit(limit)
        )
        if sku is not None:
            found = repo.find_sku(session, sku)
            if found is None:
                fail(f"--sku: unknown SKU {quoted(sku)}", 2)
            query = query.where(InventoryItem.variation_id == found.variation_id)
        if status is not None:
            status_row = repo.inventory_status_by_name(session, status)
            if status_row is None:
                known = session.scalars(
                    select(InventoryStatus.name).order_by(InventoryStatus.id)
                ).all()
                fail_unknown_status(status, known)
            query = query.where(InventoryItem.status_id == status_row.id)
        if warehouse is not None:
            warehouse_row = repo.warehouse_by_name(session, warehouse)
            if warehouse_row is None:
                fail(f"--warehouse: unknown warehouse {quoted(warehouse)}", 2)
            query = query.where(InventoryItem.warehouse_id == warehouse_row.id)
        if free:
            query = query.where(held.c.inventory_item_id.is_(None))
        rows = session.execute(query).all()
    table = make_table(
        key("id"),
        key("imei"),
        key("serial"),
        key("sku"),
        "device",
        "grade",
        whole("status"),
        "warehouse",
        whole("cost"),
        key("held for order"),
    )
    for row in rows:
        id_, imei, serial, skus, make, model, storage, colour, grade, st, wh, cost = (
            row[:12]
        )
        table.add_row(
            str(id_),
            imei or "",
            escape(serial or ""),
            escape(skus or ""),
            escape(" ".join(part for part in (make, model, storage, colour) if part)),
            escape(grade or ""),
            escape(st),
            escape(wh or "(none)"),
            "" if cost is None else str(cost),
            _held_for(*row[12:]),
        )
    out.print(table)
    if not rows:
        out.print("no matching devices")


@app.command("move")
def move(
    identifier: Annotated[str, typer.Argument(help="the device's IMEI or serial")],
    status: Annotated[str | None, typer.Option(help="its new inventory status")] = None,
    warehouse: Annotated[str | None, typer.Option(help="its new warehouse")] = None,
) -> None:
    """Give a device a new status or warehouse, e.g. Testing -> Available."""
    if status is None and warehouse is None:
        fail("give --status, --warehouse or both", 2)
    with command_session() as session:
        device = repo.find_item_by_identifier(session, identifier)
        if device is None:
            fail(
                f"no device in stock has IMEI or serial {quoted(identifier.strip())}", 2
            )
        before = (device.status_id, device.warehouse_id)
        if status is not None:
            status_row = repo.inventory_status_by_name(session, status)
            if status_row is None:
                fail(f"--status: unknown inventory status {quoted(status)}", 2)
            device.status_id = status_row.id
        if warehouse is not None:
            warehouse_row = repo.warehouse_by_name(session, warehouse)
            if warehouse_row is None:
                fail(f"--warehouse: unknown warehouse {quoted(warehouse)}", 2)
            device.warehouse_id = warehouse_row.id
        item_id = device.id
        unchanged = (device.status_id, device.warehouse_id) == before
        if unchanged:
            state = session.get(InventoryStatus, device.status_id)
            where = session.get(Warehouse, device.warehouse_id or 0)
            already = (
                f"device {item_id} is already {escape(state.name if state else '?')}"
                f" in {escape(where.name) if where else 'no warehouse'}; "
                "nothing changed"
            )
        else:
            device.updated_at = datetime.now(UTC)
    if unchanged:
        out.print(already)
        return
    out.print(f"device {item_id} moved")
    wake_quantity_sync("stock moved")


def _held_for(
    sales_order_id: int | None, order_id: int | None, order_status: str | None
) -> str:
    """The order a device is committed to and its status, e.g. "7001 Shipped"."""
    if sales_order_id is None:
        return ""
    # An order from another channel has no Back Market id: our own id, marked.
    order = str(order_id) if order_id is not None else f"#{sales_order_id}"
    return escape(f"{order} {order_status}")


def _progress(done: int, total: int) -> None:
    # On stderr, so output piped elsewhere stays the summary line alone.
    err.print(f"{done:,} of {total:,} devices stored", highlight=False)


def _serial(text: str) -> str:
    try:
        return parse_serial(text)
    except ValueError as exc:
        fail(f"--serial: {exc}", 2)


def _cost(text: str) -> Decimal:
    try:
        return parse_cost(text)
    except ValueError as exc:
        fail(f"--cost: {exc}", 2)
