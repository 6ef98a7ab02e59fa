"""`bmsync catalog`: products, variations, SKUs, warehouses and statuses."""

from typing import Annotated

import typer
from rich.markup import escape
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bmsync.commands._db import command_session, fail
from bmsync.commands._tables import key, make_console, make_table
from bmsync.commands._text import fitting
from database import inventory as repo
from database.accounts import AccountError, require_account
from database.models import (
    Account,
    InventoryStatus,
    Product,
    ProductVariation,
    SalesOrderStatus,
    Sku,
    Warehouse,
)
from domain.inventory import VariationSpec
from domain.text import quoted

app = typer.Typer(
    help="The product catalog and the names stock uses.", no_args_is_help=True
)
products = typer.Typer(help="Products (manufacturer and model).", no_args_is_help=True)
variations = typer.Typer(help="Product variations.", no_args_is_help=True)
skus = typer.Typer(help="SKU codes of variations.", no_args_is_help=True)
warehouses = typer.Typer(help="Warehouses.", no_args_is_help=True)
statuses = typer.Typer(help="Sales order statuses.", no_args_is_help=True)
inventory_statuses = typer.Typer(help="Inventory statuses.", no_args_is_help=True)
app.add_typer(products, name="products")
app.add_typer(variations, name="variations")
app.add_typer(skus, name="skus")
app.add_typer(warehouses, name="warehouses")
app.add_typer(statuses, name="statuses")
app.add_typer(inventory_statuses, name="inventory-statuses")
out = make_console()

Colour = Annotated[str, typer.Option("--colour", "--color")]


@app.command("seed-sample")
def seed_sample() -> None:
    """Create the variations and SKUs that samples/stock.csv uses."""
    with command_session() as session:
        created = repo.seed_sample_catalog(session)
    out.print(f"{created} sample SKU(s) created")


@products.command("add")
def product_add(manufacturer: str, model: str) -> None:
    """Add a product."""
    manufacturer = fitting(manufacturer, "the manufacturer", Product.manufacturer)
    model = fitting(model, "the model", Product.model)
    with command_session() as session:
        product = repo.get_or_create_product(session, manufacturer, model)
        out.print(f"product {product.id}: {escape(manufacturer)} {escape(model)}")


@products.command("list")
def product_list() -> None:
    """Every product."""
    with command_session() as session:
        rows = session.execute(
            select(Product.id, Product.manufacturer, Product.model).order_by(
                Product.manufacturer, Product.model
            )
        ).all()
    table = make_table("id", "manufacturer", "model")
    for id_, manufacturer, model in rows:
        table.add_row(str(id_), escape(manufacturer), escape(model))
    out.print(table)


@variations.command("add")
def variation_add(
    manufacturer: str,
    model: str,
    grade: Annotated[str, typer.Option()] = "",
    condition: Annotated[str, typer.Option()] = "",
    storage: Annotated[str, typer.Option()] = "",
    colour: Colour = "",
    network: Annotated[str, typer.Option()] = "",
    sku: Annotated[str | None, typer.Option(help="also add this SKU code")] = None,
) -> None:
    """Add a variation (and its product when new)."""
    spec = VariationSpec(
        fitting(manufacturer, "the manufacturer", Product.manufacturer),
        fitting(model, "the model", Product.model),
        *(
            fitting(value, f"--{name}", getattr(ProductVariation, name), False)
            for name, value in (
                ("grade", grade),
                ("condition", condition),
                ("storage", storage),
                ("colour", colour),
                ("network", network),
            )
        ),
    )
    if sku is not None:
        sku = fitting(sku, "the SKU code (--sku)", Sku.code)
    try:
        with command_session() as session:
            variation = repo.get_or_create_variation(session, spec)
            if sku is not None:
                repo.add_sku(session, sku, variation.id)
            variation_id = variation.id
    except IntegrityError:
        fail(f"SKU {quoted(sku or '')} exists already")
    out.print(f"variation {variation_id}")


@variations.command("list")
def variation_list() -> None:
    """Every variation with its SKU codes."""
    with command_session() as session:
        rows = session.execute(
            select(
                ProductVariation.id,
                Product.manufacturer,
                Product.model,
                ProductVariation.grade,
                ProductVariation.condition,
                ProductVariation.storage,
                ProductVariation.colour,
                ProductVariation.network,
                func.string_agg(Sku.code, ", "),
            )
            .join(Product, Product.id == ProductVariation.product_id)
            .outerjoin(Sku, Sku.variation_id == ProductVariation.id)
            .group_by(ProductVariation.id, Product.id)
            .order_by(Product.manufacturer, Product.model, ProductVariation.id)
        ).all()
    table = make_table(
        "id", "product", "grade", "condition", "storage", "colour", "network", "skus"
    )
    for id_, make, model, *attributes, codes in rows:
        table.add_row(
            str(id_),
            escape(f"{make} {model}"),
            *(escape(a) for a in attributes),
            escape(codes or ""),
        )
    out.print(table)


@skus.command("add")
def sku_add(
    code: str,
    variation: Annotated[int, typer.Option(help="the variation id")],
    account: Annotated[
        str | None, typer.Option(help="only for this account; else for all")
    ] = None,
) -> None:
    """Give a variation one more SKU code."""
    code = fitting(code, "the SKU code", Sku.code)
    try:
        with command_session() as session:
            if session.get(ProductVariation, variation) is None:
                fail(f"no variation {variation}", 2)
            account_id = (
                None if account is None else require_account(session, account).id
            )
            repo.add_sku(session, code, variation, account_id)
    except AccountError as exc:
        fail(str(exc))
    except IntegrityError:
        fail(f"SKU {quoted(code)} exists already in that scope")
    out.print(f"SKU {escape(code)} -> variation {variation}")


@skus.command("list")
def sku_list() -> None:
    """Every SKU code and what it names."""
    with command_session() as session:
        rows = session.execute(
            select(
                Sku.code,
                Account.name,
                Sku.variation_id,
                Product.manufacturer,
                Product.model,
                ProductVariation.storage,
                ProductVariation.colour,
                ProductVariation.grade,
            )
            .join(ProductVariation, ProductVariation.id == Sku.variation_id)
            .join(Product, Product.id == ProductVariation.product_id)
            .outerjoin(Account, Account.id == Sku.account_id)
            .order_by(Sku.code)
        ).all()
    table = make_table(key("sku"), "account", key("variation"), "device")
    for code, account, variation_id, *device in rows:
        table.add_row(
            escape(code),
            escape(account or "(all)"),
            str(variation_id),
            escape(" ".join(part for part in device if part)),
        )
    out.print(table)


@warehouses.command("add")
def warehouse_add(name: str) -> None:
    """Add a warehouse."""
    name = fitting(name, "the warehouse name", Warehouse.name)
    try:
        with command_session() as session:
            repo.add_warehouse(session, name)
    except IntegrityError:
        fail(f"warehouse {quoted(name)} exists already")
    out.print(f"warehouse {escape(name)} added")


@warehouses.command("list")
def warehouse_list() -> None:
    """Every warehouse."""
    _names(Warehouse)


@inventory_statuses.command("add")
def inventory_status_add(name: str) -> None:
    """Add an inventory status."""
    name = fitting(name, "the inventory status name", InventoryStatus.name)
    try:
        with command_session() as session:
            repo.add_inventory_status(session, name)
    except IntegrityError:
        fail(f"inventory status {quoted(name)} exists already")
    out.print(f"inventory status {escape(name)} added")


@inventory_statuses.command("list")
def inventory_status_list() -> None:
    """Every inventory status."""
    _names(InventoryStatus)


@statuses.command("add")
def status_add(
    name: str,
    open_: Annotated[
        bool,
        typer.Option(
            "--open/--not-open", help="whether its orders' units are outstanding"
        ),
    ],
) -> None:
    """Add a sales order status."""
    name = fitting(name, "the sales order status name", SalesOrderStatus.name)
    try:
        with command_session() as session:
            repo.add_sales_order_status(session, name, open_)
    except IntegrityError:
        fail(f"sales order status {quoted(name)} exists already")
    out.print(f"sales order status {escape(name)} added")


@statuses.command("list")
def status_list() -> None:
    """Sales order statuses and whether they count as open."""
    with command_session() as session:
        rows = session.execute(
            select(SalesOrderStatus.name, SalesOrderStatus.counts_as_open).order_by(
                SalesOrderStatus.id
            )
        ).all()
    table = make_table("status", "counts as open")
    for name, is_open in rows:
        table.add_row(escape(name), "yes" if is_open else "no")
    out.print(table)


def _names(model: type[Warehouse] | type[InventoryStatus]) -> None:
    with command_session() as session:
        names = session.scalars(select(model.name).order_by(model.id)).all()
    table = make_table("name")
    for name in names:
        table.add_row(escape(name))
    out.print(table)
