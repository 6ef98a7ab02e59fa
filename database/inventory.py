"""Repository functions for the catalog, stock, sales orders and sync bookkeeping.

They flush but never commit: the caller owns the transaction, so an activity can do
several of these and commit once.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    String,
    any_,
    bindparam,
    delete,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import QueryableAttribute, Session

from database.models import (
    AccountSettings,
    AccountStatusMap,
    Commit,
    Customer,
    InventoryItem,
    InventoryStatus,
    Listing,
    ListingVariation,
    OrderItem,
    OrganizationType,
    Product,
    ProductVariation,
    SalesOrder,
    SalesOrderStatus,
    Shipment,
    Sku,
    SyncCheckpoint,
    SyncLogEntry,
    Warehouse,
)
from domain.imei import InvalidImei, parse_imei
from domain.inventory import (
    VARIATION_ATTRIBUTES,
    RowProblem,
    StockImportError,
    StockRow,
    VariationSpec,
    backmarket_phase,
    parse_stock_csv,
    sample_catalog,
)
from domain.text import quoted

BACKMARKET_CHANNEL = "Backmarket"
BACKMARKET_CUSTOMER = "Back Market"
SYNC_DETAIL_MAX = 500
# How a failed scheduled run's line in the sync log begins; the rest is its reason.
RUN_FAILED = "the run failed: "
# Touched each time an order import has read Back Market's changed orders to the
# end (its `updated_at`), so a failed import can be told from one since put right.
ORDERS_READ_CHECKPOINT = "orders_read"


class NotFound(LookupError):
    """A row named by the caller does not exist."""


class CommitRefused(ValueError):
    """A device cannot be committed to an order item; the message says why."""


# --- names operators type ---------------------------------------------------------


def warehouse_by_name(session: Session, name: str) -> Warehouse | None:
    return session.scalar(
        select(Warehouse).where(func.lower(Warehouse.name) == name.strip().lower())
    )


def add_warehouse(session: Session, name: str) -> Warehouse:
    warehouse = Warehouse(name=name.strip())
    session.add(warehouse)
    session.flush()
    return warehouse


def inventory_status_by_name(session: Session, name: str) -> InventoryStatus | None:
    return session.scalar(
        select(InventoryStatus).where(
            func.lower(InventoryStatus.name) == name.strip().lower()
        )
    )


def add_inventory_status(session: Session, name: str) -> InventoryStatus:
    status = InventoryStatus(name=name.strip())
    session.add(status)
    session.flush()
    return status


def sales_order_status_by_name(session: Session, name: str) -> SalesOrderStatus | None:
    return session.scalar(
        select(SalesOrderStatus).where(
            func.lower(SalesOrderStatus.name) == name.strip().lower()
        )
    )


def add_sales_order_status(
    session: Session, name: str, counts_as_open: bool
) -> SalesOrderStatus:
    status = SalesOrderStatus(name=name.strip(), counts_as_open=counts_as_open)
    session.add(status)
    session.flush()
    return status


# --- catalog ------------------------------------------------------------------------


def find_variation(session: Session, spec: VariationSpec) -> ProductVariation | None:
    """The variation with exactly these attributes, compared case-insensitively."""
    return session.scalar(
        select(ProductVariation)
        .join(Product)
        .where(
            func.lower(Product.manufacturer) == spec.manufacturer.lower(),
            func.lower(Product.model) == spec.model.lower(),
            func.lower(ProductVariation.grade) == spec.grade.lower(),
            func.lower(ProductVariation.condition) == spec.condition.lower(),
            func.lower(ProductVariation.storage) == spec.storage.lower(),
            func.lower(ProductVariation.colour) == spec.colour.lower(),
            func.lower(ProductVariation.network) == spec.network.lower(),
        )
    )


def find_product(session: Session, manufacturer: str, model: str) -> Product | None:
    """The product of this manufacturer and model, compared case-insensitively."""
    return session.scalar(
        select(Product).where(
            func.lower(Product.manufacturer) == manufacturer.lower(),
            func.lower(Product.model) == model.lower(),
        )
    )


def get_or_create_product(session: Session, manufacturer: str, model: str) -> Product:
    product = find_product(session, manufacturer, model)
    if product is None:
        product = Product(manufacturer=manufacturer, model=model)
        session.add(product)
        session.flush()
    return product


def get_or_create_variation(session: Session, spec: VariationSpec) -> ProductVariation:
    """The variation for `spec`, created with its product when missing."""
    found = find_variation(session, spec)
    if found is not None:
        return found
    product = get_or_create_product(session, spec.manufacturer, spec.model)
    variation = ProductVariation(
        product_id=product.id,
        grade=spec.grade,
        condition=spec.condition,
        storage=spec.storage,
        colour=spec.colour,
        network=spec.network,
    )
    session.add(variation)
    session.flush()
    return variation


def variation_spec(session: Session, variation_id: int) -> VariationSpec:
    variation = session.get(ProductVariation, variation_id)
    if variation is None:
        raise NotFound(f"no variation {variation_id}")
    return VariationSpec(
        variation.product.manufacturer,
        variation.product.model,
        variation.grade,
        variation.condition,
        variation.storage,
        variation.colour,
        variation.network,
    )


def add_sku(
    session: Session, code: str, variation_id: int, account_id: int | None = None
) -> Sku:
    """A SKU code for a variation, for every account (None) or one account only."""
    sku = Sku(code=code.strip(), variation_id=variation_id, account_id=account_id)
    session.add(sku)
    session.flush()
    return sku


def find_sku(session: Session, code: str, account_id: int | None = None) -> Sku | None:
    """The SKU a code means for an account: its own code first, else a global one."""
    scope: ColumnElement[bool] = Sku.account_id.is_(None)
    if account_id is not None:
        scope = scope | (Sku.account_id == account_id)
    return session.scalar(
        select(Sku)
        .where(func.lower(Sku.code) == code.strip().lower(), scope)
        .order_by(Sku.account_id.is_(None))
        .limit(1)
    )


def seed_sample_catalog(session: Session) -> int:
    """Create the sample catalog's variations and SKUs; how many SKUs were new."""
    created = 0
    for sample in sample_catalog():
        variation = get_or_create_variation(session, sample.variation)
        if find_sku(session, sample.sku) is None:
            add_sku(session, sample.sku, variation.id)
            created += 1
    return created


# --- stock ------------------------------------------------------------------------


def add_inventory_item(
    session: Session,
    *,
    variation_id: int,
    status_id: int,
    warehouse_id: int | None,
    imei: str | None = None,
    serial: str | None = None,
    cost: Decimal | None = None,
    received_on: date | None = None,
) -> InventoryItem:
    """A device put in stock; the IMEI is validated first.

    IdentifierTaken when another device has the IMEI or the serial number.
    """
    imei = None if imei is None else parse_imei(imei)
    taken = identifier_taken(session, imei, serial)
    if taken is not None:
        raise IdentifierTaken(*taken)
    item = InventoryItem(
        imei=imei,
        serial=serial,
        variation_id=variation_id,
        status_id=status_id,
        warehouse_id=warehouse_id,
        cost=cost,
        received_on=received_on,
    )
    session.add(item)
    session.flush()
    return item


class IdentifierTaken(ValueError):
    """Another device in stock has this IMEI or serial number."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def identifier_taken(
    session: Session, imei: str | None, serial: str | None
) -> tuple[str, str] | None:
    """The field and why, when another device already has this IMEI or serial.

    A serial equal to another device's IMEI counts too, either way round: a device
    is found by IMEI first, so the one known by that serial could never be named.
    """
    for name, label, column, value in (
        ("imei", "IMEI", InventoryItem.imei, imei),
        ("serial", "serial", InventoryItem.serial, serial),
    ):
        if value is None:
            continue
        found = session.scalar(select(InventoryItem.id).where(column == value))
        if found is not None:
            message = (
                f"a device with {label} {value} is already in stock (item {found})"
            )
            return name, message
    for name, label, column, value in (
        ("imei", "serial", InventoryItem.serial, imei),
        ("serial", "IMEI", InventoryItem.imei, serial),
    ):
        if value is None:
            continue
        found = session.scalar(select(InventoryItem.id).where(column == value))
        if found is not None:
            return name, _holds_as(value, label, found)
    return None


def _holds_as(value: str, label: str, item_id: int) -> str:
    return f"{value} is the {label} of a device already in stock (item {item_id})"


def find_item_by_identifier(session: Session, identifier: str) -> InventoryItem | None:
    """The device with this IMEI, else the one with this serial number."""
    value = identifier.strip()
    try:
        imei = parse_imei(value)
    except InvalidImei:
        imei = None
    if imei is not None:
        found = session.scalar(select(InventoryItem).where(InventoryItem.imei == imei))
        if found is not None:
            return found
    return session.scalar(select(InventoryItem).where(InventoryItem.serial == value))


@dataclass(frozen=True)
class StockImportResult:
    created: int
    unchanged: int
    variations_created: int


# Told how many devices of how many are stored, as the import goes.
Progress = Callable[[int, int], None]
# Devices inserted per statement, and between two reports of progress.
IMPORT_BATCH = 10_000


def import_stock_csv(
    session: Session,
    text: str,
    account_id: int | None = None,
    progress: Progress | None = None,
) -> StockImportResult:
    """Import a stock CSV (layout in `domain.inventory`): every line, or none."""
    rows, problems = parse_stock_csv(text)
    # The lines that parsed are still checked against the database, so one run
    # reports every problem of the file.
    return _import_stock(session, rows, account_id, problems, progress)


def import_stock(
    session: Session, rows: Sequence[StockRow], account_id: int | None = None
) -> StockImportResult:
    """Put the rows' devices in stock, or raise StockImportError and change nothing.

    Keyed by IMEI (by serial for devices without one): a device already in stock with
    the same data is left as is, so importing the same file twice changes nothing;
    with different data it is a problem, never a silent overwrite. Missing products
    and variations are created from the variation columns; an unknown SKU is a
    problem, since a SKU code is a decision an operator makes.
    """
    return _import_stock(session, rows, account_id, [])


def _import_stock(
    session: Session,
    rows: Sequence[StockRow],
    account_id: int | None,
    problems: list[RowProblem],
    progress: Progress | None = None,
) -> StockImportResult:
    problems = list(problems)
    warehouses = {w.name.lower(): w for w in session.scalars(select(Warehouse))}
    statuses = {s.name.lower(): s for s in session.scalars(select(InventoryStatus))}
    # Looked up once for the whole file, not once a line.
    skus = _skus_by_code(session, {row.sku for row in rows if row.sku}, account_id)
    found_variations: dict[tuple[str, ...], int | None] = {}

    resolved: list[tuple[StockRow, int | None, VariationSpec]] = []
    for row in rows:
        if row.warehouse.lower() not in warehouses:
            problems.append(
                RowProblem(
                    row.line, "warehouse", f"unknown warehouse {quoted(row.warehouse)}"
                )
            )
        if row.status.lower() not in statuses:
            problems.append(
                RowProblem(row.line, "status", f"unknown status {quoted(row.status)}")
            )
        variation_id: int | None = None
        spec = row.variation
        too_long = _too_long(row.line, spec)
        if too_long:
            problems.extend(too_long)
            continue
        if row.sku is not None:
            sku = skus.get(row.sku.strip().lower())
            if sku is None:
                problems.append(
                    RowProblem(row.line, "sku", f"unknown SKU {quoted(row.sku)}")
                )
                continue
            variation_id, known = sku
            if spec is not None and spec.key() != known.key():
                problems.append(
                    RowProblem(
                        row.line,
                        "sku",
                        f"{row.sku} is a different variation than the row's columns",
                    )
                )
                continue
            spec = known
        elif spec is not None:
            if spec.key() not in found_variations:
                found = find_variation(session, spec)
                found_variations[spec.key()] = None if found is None else found.id
            variation_id = found_variations[spec.key()]
        assert spec is not None, "parse_stock_csv requires a sku or a variation"
        resolved.append((row, variation_id, spec))

    existing = _existing_items(session, [row for row, _, _ in resolved])
    serial_owners = _serial_owners(session, [row for row, _, _ in resolved])
    imei_owners, imeis_as_serials = _crossed_owners(
        session, [row for row, _, _ in resolved]
    )
    to_create: list[tuple[StockRow, int | None, VariationSpec]] = []
    unchanged = 0
    for row, variation_id, spec in resolved:
        current = existing.get(_row_key(row))
        owner = serial_owners.get(row.serial) if row.serial else None
        if owner is not None and (current is None or owner != current.id):
            problems.append(
                RowProblem(
                    row.line,
                    "serial",
                    f"{row.serial} is the serial of another device (item {owner})",
                )
            )
            continue
        crossed = [
            ("serial", row.serial, "IMEI", imei_owners.get(row.serial or "")),
            ("imei", row.imei, "serial", imeis_as_serials.get(row.imei or "")),
        ]
        clash = next(
            (
                RowProblem(row.line, field, _holds_as(value, label, holder))
                for field, value, label, holder in crossed
                if value is not None
                and holder is not None
                and (current is None or holder != current.id)
            ),
            None,
        )
        if clash is not None:
            problems.append(clash)
            continue
        if current is None:
            to_create.append((row, variation_id, spec))
            continue
        differences = _differences(current, row, variation_id, warehouses, statuses)
        if differences:
            field = "imei" if row.imei is not None else "serial"
            problems.append(
                RowProblem(
                    row.line,
                    field,
                    "already in stock with a different " + ", ".join(differences),
                )
            )
        else:
            unchanged += 1

    if problems:
        raise StockImportError(sorted(problems, key=lambda p: p.line))

    variations_created = 0
    created_variations: dict[tuple[str, ...], int] = {}
    values = []
    for row, variation_id, spec in to_create:
        if variation_id is None:
            variation_id = created_variations.get(spec.key())
        if variation_id is None:
            variation_id = get_or_create_variation(session, spec).id
            created_variations[spec.key()] = variation_id
            variations_created += 1
        values.append(
            {
                "imei": row.imei,
                "serial": row.serial,
                "variation_id": variation_id,
                "status_id": statuses[row.status.lower()].id,
                "warehouse_id": warehouses[row.warehouse.lower()].id,
                "cost": row.cost,
                "received_on": row.received_date,
            }
        )
    for start in range(0, len(values), IMPORT_BATCH):
        batch = values[start : start + IMPORT_BATCH]
        session.execute(insert(InventoryItem), batch)
        if progress is not None:
            progress(start + len(batch), len(values))
    session.flush()
    return StockImportResult(len(to_create), unchanged, variations_created)


def _one_of(
    column: ColumnElement[str] | QueryableAttribute[str | None], values: Iterable[str]
) -> ColumnElement[bool]:
    """`column` is one of `values`, sent as one array: a file's worth of IN
    parameters would pass the 65,535 a statement may carry."""
    return column == any_(bindparam(None, list(values), type_=ARRAY(String)))


def _skus_by_code(
    session: Session, codes: set[str], account_id: int | None
) -> dict[str, tuple[int, VariationSpec]]:
    """Each code's variation and its spec, as `find_sku` resolves the code."""
    if not codes:
        return {}
    scope: ColumnElement[bool] = Sku.account_id.is_(None)
    if account_id is not None:
        scope = scope | (Sku.account_id == account_id)
    found = session.execute(
        select(
            func.lower(Sku.code),
            Sku.variation_id,
            Product.manufacturer,
            Product.model,
            ProductVariation.grade,
            ProductVariation.condition,
            ProductVariation.storage,
            ProductVariation.colour,
            ProductVariation.network,
        )
        .join(ProductVariation, ProductVariation.id == Sku.variation_id)
        .join(Product, Product.id == ProductVariation.product_id)
        .where(_one_of(func.lower(Sku.code), {code.strip().lower() for code in codes}))
        .where(scope)
        # The account's own code wins over a global one, as in find_sku.
        .order_by(Sku.account_id.is_(None).desc())
    )
    return {
        code: (variation_id, VariationSpec(*spec))
        for code, variation_id, *spec in found
    }


def _too_long(line: int, spec: VariationSpec | None) -> list[RowProblem]:
    """A problem for each variation column longer than the column that stores it."""
    if spec is None:
        return []
    problems = []
    for name, column in (
        ("manufacturer", Product.manufacturer),
        ("model", Product.model),
        *((name, getattr(ProductVariation, name)) for name in VARIATION_ATTRIBUTES),
    ):
        limit = column.type.length
        if len(getattr(spec, name)) > limit:
            problems.append(RowProblem(line, name, f"longer than {limit} characters"))
    return problems


def _row_key(row: StockRow) -> tuple[str, str]:
    if row.imei is not None:
        return ("imei", row.imei)
    assert row.serial is not None
    return ("serial", row.serial)


def _existing_items(
    session: Session, rows: Iterable[StockRow]
) -> dict[tuple[str, str], InventoryItem]:
    imeis = [row.imei for row in rows if row.imei is not None]
    serials = [row.serial for row in rows if row.imei is None and row.serial]
    found: dict[tuple[str, str], InventoryItem] = {}
    if imeis:
        for item in session.scalars(
            select(InventoryItem).where(_one_of(InventoryItem.imei, imeis))
        ):
            assert item.imei is not None
            found[("imei", item.imei)] = item
    if serials:
        for item in session.scalars(
            select(InventoryItem).where(
                InventoryItem.imei.is_(None), _one_of(InventoryItem.serial, serials)
            )
        ):
            assert item.serial is not None
            found[("serial", item.serial)] = item
    return found


def _serial_owners(session: Session, rows: Iterable[StockRow]) -> dict[str, int]:
    """Which device in stock holds each of the rows' serial numbers."""
    serials = [row.serial for row in rows if row.serial]
    if not serials:
        return {}
    found = session.execute(
        select(InventoryItem.serial, InventoryItem.id).where(
            _one_of(InventoryItem.serial, serials)
        )
    )
    return {serial: item_id for serial, item_id in found if serial is not None}


def _crossed_owners(
    session: Session, rows: Iterable[StockRow]
) -> tuple[dict[str, int], dict[str, int]]:
    """The devices in stock whose IMEI is one of the rows' serials, and those whose
    serial is one of the rows' IMEIs."""
    rows = list(rows)
    serials = [row.serial for row in rows if row.serial]
    imeis = [row.imei for row in rows if row.imei]
    by_imei: dict[str, int] = {}
    by_serial: dict[str, int] = {}
    if serials:
        for imei, item_id in session.execute(
            select(InventoryItem.imei, InventoryItem.id).where(
                _one_of(InventoryItem.imei, serials)
            )
        ):
            if imei is not None:
                by_imei[imei] = item_id
    if imeis:
        for serial, item_id in session.execute(
            select(InventoryItem.serial, InventoryItem.id).where(
                _one_of(InventoryItem.serial, imeis)
            )
        ):
            if serial is not None:
                by_serial[serial] = item_id
    return by_imei, by_serial


def _differences(
    item: InventoryItem,
    row: StockRow,
    variation_id: int | None,
    warehouses: dict[str, Warehouse],
    statuses: dict[str, InventoryStatus],
) -> list[str]:
    differences = []
    if variation_id != item.variation_id:
        differences.append("variation")
    if row.imei is not None and (row.serial or None) != item.serial:
        differences.append("serial")
    if statuses[row.status.lower()].id != item.status_id:
        differences.append("status")
    if warehouses[row.warehouse.lower()].id != item.warehouse_id:
        differences.append("warehouse")
    if row.cost != item.cost:
        differences.append("cost")
    if row.received_date != item.received_on:
        differences.append("received_date")
    return differences


# --- sales orders -----------------------------------------------------------------


@dataclass(frozen=True)
class LineResolution:
    """What an orderline's SKU means here: a SKU and variation, or an unknown SKU."""

    sku_id: int | None
    variation_id: int | None
    listing_id: int | None
    unknown_sku: str | None


def resolve_line(session: Session, account_id: int, sku_code: str) -> LineResolution:
    """Our SKU (and variation) for a Back Market orderline's SKU.

    When the code is not in our catalog, a listing mapped by hand to exactly one
    variation still tells which variation was sold; otherwise the line keeps the
    code as an unknown SKU, and its listing (if imported) so it still counts against
    that listing's quantity.
    """
    listing_id = session.scalar(
        select(Listing.id)
        .where(
            Listing.account_id == account_id,
            func.lower(Listing.sku) == sku_code.strip().lower(),
        )
        .order_by(Listing.gone_from_backmarket, Listing.id.desc())
        .limit(1)
    )
    sku = find_sku(session, sku_code, account_id)
    if sku is not None:
        return LineResolution(sku.id, sku.variation_id, listing_id, None)
    if listing_id is not None:
        chosen = session.scalars(
            select(ListingVariation.variation_id)
            .join(Listing, Listing.id == ListingVariation.listing_id)
            .where(
                ListingVariation.listing_id == listing_id,
                Listing.mapping_mode == "variations",
            )
        ).all()
        if len(chosen) == 1:
            return LineResolution(None, chosen[0], listing_id, None)
    return LineResolution(None, None, listing_id, sku_code.strip())


def status_for_phase(session: Session, account_id: int, phase: str) -> SalesOrderStatus:
    """Our sales order status for a Back Market phase, per the account's mapping."""
    status = session.scalar(
        select(SalesOrderStatus)
        .join(
            AccountStatusMap,
            AccountStatusMap.sales_order_status_id == SalesOrderStatus.id,
        )
        .where(
            AccountStatusMap.account_id == account_id, AccountStatusMap.phase == phase
        )
    )
    if status is None:
        raise NotFound(f"account {account_id} maps no status for phase {phase!r}")
    return status


@dataclass(frozen=True)
class OrderLineData:
    """An orderline as Back Market sent it, reduced to what the sales order keeps."""

    orderline_id: int
    sku: str
    quantity: int
    state: int
    price: Decimal | None = None
    currency: str | None = None


@dataclass(frozen=True)
class OrderData:
    """A Back Market order, reduced to what the sales order keeps."""

    order_id: int
    state: int
    lines: Sequence[OrderLineData]
    customer_name: str | None = None
    customer_email: str | None = None


@dataclass(frozen=True)
class UpsertedLine:
    """An order item as stored; `unknown_sku` when no variation could be resolved."""

    orderline_id: int
    sku: str
    quantity: int
    state: int
    unknown_sku: bool


@dataclass(frozen=True)
class UpsertOrderResult:
    sales_order_id: int
    created: bool
    status: str
    unknown_skus: list[str]
    lines: list[UpsertedLine] = field(default_factory=list)
    # What the order's workflow was last told of it by an import, if anything.
    dispatched: str | None = None


ORDERS_LOCK_NAMESPACE = 0x4F_5244
# The two-int form of the lock: account ids past 2**31 share a key, harmlessly.
_LOCK_ORDERS = text(
    "SELECT pg_advisory_xact_lock(:ns, CAST(:account % 2147483647 AS int))"
)


def upsert_backmarket_order(
    session: Session, account_id: int, order: OrderData
) -> UpsertOrderResult:
    """Create or update the sales order of a Back Market order, idempotently.

    The status follows the account's mapping of the order's phase. Lines are keyed
    by orderline id; an existing line keeps its SKU and variation (they may have
    been fixed by hand) and only takes the new state.
    """
    settings = session.get(AccountSettings, account_id)
    if settings is None:
        raise NotFound(f"no account {account_id}")
    # Two imports of one account (the schedule's and a quantity pass's) may meet
    # the same new order: one at a time, the second finds what the first stored.
    session.execute(_LOCK_ORDERS, {"ns": ORDERS_LOCK_NAMESPACE, "account": account_id})
    phase = backmarket_phase(order.state, [line.state for line in order.lines])
    status = status_for_phase(session, account_id, phase)

    sales_order = session.scalar(
        select(SalesOrder)
        .where(
            SalesOrder.account_id == account_id,
            SalesOrder.external_order_id == order.order_id,
        )
        .with_for_update()
    )
    created = sales_order is None
    if sales_order is None:
        sales_order = SalesOrder(
            channel=BACKMARKET_CHANNEL,
            account_id=account_id,
            external_order_id=order.order_id,
            status_id=status.id,
            customer_id=_customer_for(session, settings, order).id,
            backmarket_state=order.state,
        )
        session.add(sales_order)
        session.flush()
    else:
        sales_order.status_id = status.id
        sales_order.backmarket_state = order.state
        sales_order.updated_at = datetime.now(UTC)

    existing = {
        item.external_orderline_id: item
        for item in session.scalars(
            select(OrderItem).where(OrderItem.sales_order_id == sales_order.id)
        )
    }
    unknown: list[str] = []
    stored: list[UpsertedLine] = []
    for line in order.lines:
        item = existing.get(line.orderline_id)
        if item is not None:
            item.external_state = line.state
            if item.unknown_sku is not None and item.variation_id is None:
                unknown.append(item.unknown_sku)
        else:
            resolution = resolve_line(session, account_id, line.sku)
            if resolution.unknown_sku is not None:
                unknown.append(resolution.unknown_sku)
            item = OrderItem(
                sales_order_id=sales_order.id,
                sku_id=resolution.sku_id,
                variation_id=resolution.variation_id,
                listing_id=resolution.listing_id,
                unknown_sku=resolution.unknown_sku,
                quantity=line.quantity,
                price=line.price,
                currency=line.currency,
                external_orderline_id=line.orderline_id,
                external_state=line.state,
            )
            session.add(item)
            if resolution.listing_id is not None:
                _listing_sold(session, resolution.listing_id, line.quantity)
        stored.append(
            UpsertedLine(
                orderline_id=line.orderline_id,
                sku=line.sku,
                quantity=line.quantity,
                state=line.state,
                unknown_sku=item.variation_id is None,
            )
        )
    session.flush()
    return UpsertOrderResult(
        sales_order.id,
        created,
        status.name,
        unknown,
        stored,
        sales_order.dispatched,
    )


def imported_orderline_ids(session: Session, orderline_ids: Sequence[int]) -> set[int]:
    """Which of these Back Market orderlines are stored as order items."""
    if not orderline_ids:
        return set()
    found = session.scalars(
        select(OrderItem.external_orderline_id).where(
            OrderItem.external_orderline_id.in_(list(orderline_ids))
        )
    )
    return {orderline_id for orderline_id in found if orderline_id is not None}


def mark_orders_dispatched(
    session: Session, account_id: int, dispatched: dict[int, str]
) -> None:
    """Record what each order's workflow was told, keyed by Back Market order id."""
    for order_id, view in dispatched.items():
        session.execute(
            update(SalesOrder)
            .where(
                SalesOrder.account_id == account_id,
                SalesOrder.external_order_id == order_id,
            )
            .values(dispatched=view)
        )


def _listing_sold(session: Session, listing_id: int, units: int) -> None:
    """Back Market lowered the listing's quantity when the customer ordered.

    Keeping that in what we believe Back Market holds lets the quantity sync see
    the difference, and push the units back, when the line is later cancelled.
    """
    session.execute(
        update(Listing)
        .where(Listing.id == listing_id, Listing.quantity.is_not(None))
        .values(quantity=func.greatest(Listing.quantity - units, 0))
    )


def _customer_for(
    session: Session, settings: AccountSettings, order: OrderData
) -> Customer:
    if (
        settings.organization_type == OrganizationType.SHIPPING_NAME
        and order.customer_name
    ):
        customer = Customer(name=order.customer_name, email=order.customer_email)
        session.add(customer)
        session.flush()
        return customer
    shared = session.scalar(
        select(Customer)
        .where(Customer.name == BACKMARKET_CUSTOMER, Customer.email.is_(None))
        .order_by(Customer.id)
        .limit(1)
    )
    if shared is None:
        shared = Customer(name=BACKMARKET_CUSTOMER)
        session.add(shared)
        session.flush()
    return shared


def find_sales_order(
    session: Session, account_id: int, external_order_id: int
) -> SalesOrder | None:
    return session.scalar(
        select(SalesOrder).where(
            SalesOrder.account_id == account_id,
            SalesOrder.external_order_id == external_order_id,
        )
    )


def order_item_by_orderline(session: Session, orderline_id: int) -> OrderItem | None:
    return session.scalar(
        select(OrderItem).where(OrderItem.external_orderline_id == orderline_id)
    )


def _described(session: Session, commit: Commit) -> str:
    """The order and orderline a commit holds its device for, as Back Market names
    them when it can."""
    row = session.execute(
        select(SalesOrder.external_order_id, OrderItem.external_orderline_id)
        .join(OrderItem, OrderItem.sales_order_id == SalesOrder.id)
        .where(OrderItem.id == commit.order_item_id)
    ).one_or_none()
    if row is None or row.external_order_id is None:
        return f"order item {commit.order_item_id}"
    return f"orderline {row.external_orderline_id} of order {row.external_order_id}"


def order_item_variation(session: Session, order_item: OrderItem) -> int | None:
    """The variation an order item asks for, through its SKU if not set directly."""
    if order_item.variation_id is not None:
        return order_item.variation_id
    if order_item.sku_id is not None:
        return session.scalar(
            select(Sku.variation_id).where(Sku.id == order_item.sku_id)
        )
    return None


@dataclass(frozen=True)
class CommitOutcome:
    commit_id: int
    inventory_item_id: int
    fulfils_line: bool
    imei: str | None
    serial: str | None


def commit_item(
    session: Session,
    order_item_id: int,
    inventory_item_id: int,
    allow_mismatch: bool = False,
) -> CommitOutcome:
    """Commit a device to an order item.

    The device must be of the item's variation unless `allow_mismatch` (then it is
    recorded but does not fulfil the line, so no IMEI goes to Back Market). Refused
    when the item already has as many devices as units, or when the device is
    committed elsewhere (the database enforces that one too, against races).
    """
    order_item = session.scalar(
        select(OrderItem).where(OrderItem.id == order_item_id).with_for_update()
    )
    if order_item is None:
        raise NotFound(f"no order item {order_item_id}")
    device = session.get(InventoryItem, inventory_item_id)
    if device is None:
        raise NotFound(f"no inventory item {inventory_item_id}")

    open_commits = session.scalars(
        select(Commit).where(
            Commit.released_at.is_(None),
            (
                (Commit.order_item_id == order_item_id)
                | (Commit.inventory_item_id == inventory_item_id)
            ),
        )
    ).all()
    for commit in open_commits:
        if commit.inventory_item_id == inventory_item_id:
            if commit.order_item_id == order_item_id:
                return _outcome(commit, device, session, order_item)
            raise CommitRefused(
                f"the device is already committed to {_described(session, commit)}"
            )
    if len(open_commits) >= order_item.quantity:
        raise CommitRefused(f"order item {order_item_id} is fully committed")

    wanted = order_item_variation(session, order_item)
    fulfils = wanted is not None and wanted == device.variation_id
    if not fulfils and not allow_mismatch:
        raise CommitRefused(
            "the device is not the variation the order item asks for"
            if wanted is not None
            else "the order item has an unknown SKU; fix the item first"
        )
    commit = Commit(inventory_item_id=inventory_item_id, order_item_id=order_item_id)
    session.add(commit)
    session.flush()
    return _outcome(commit, device, session, order_item)


def _outcome(
    commit: Commit, device: InventoryItem, session: Session, order_item: OrderItem
) -> CommitOutcome:
    wanted = order_item_variation(session, order_item)
    return CommitOutcome(
        commit_id=commit.id,
        inventory_item_id=device.id,
        fulfils_line=wanted is not None and wanted == device.variation_id,
        imei=device.imei,
        serial=device.serial,
    )


def release_commits(session: Session, order_item_id: int) -> int:
    """Release every open commit of an order item; how many were released."""
    result = session.execute(
        update(Commit)
        .where(Commit.order_item_id == order_item_id, Commit.released_at.is_(None))
        .values(released_at=func.now())
        .returning(Commit.id)
    )
    return len(result.all())


class ShipmentRefused(Exception):
    """A shipment the order can no longer take; the message names the order."""


def add_shipment(
    session: Session,
    sales_order_id: int,
    tracking_number: str,
    carrier: str | None = None,
    url: str | None = None,
) -> Shipment:
    """Record the order's shipment, replacing one not sent yet.

    An order goes out once, with one tracking number: a different shipment added
    before it is sent corrects the first (a mistyped tracking number, another
    carrier), so the first is dropped rather than left waiting for good. Once one is
    sent, the order takes no other.
    """
    tracking_number = tracking_number.strip()
    # Taken in order id order by every writer of an order's shipments, so a
    # replacement and the record of a send cannot interleave.
    session.execute(
        select(SalesOrder.id).where(SalesOrder.id == sales_order_id).with_for_update()
    )
    sent = session.scalar(
        select(Shipment).where(
            Shipment.sales_order_id == sales_order_id, Shipment.sent_at.is_not(None)
        )
    )
    if sent is not None:
        if sent.tracking_number == tracking_number:
            return sent
        raise ShipmentRefused(
            f"the order already went out with tracking number {sent.tracking_number}"
        )
    session.execute(
        delete(Shipment).where(
            Shipment.sales_order_id == sales_order_id,
            Shipment.tracking_number != tracking_number,
        )
    )
    statement = insert(Shipment).values(
        sales_order_id=sales_order_id,
        tracking_number=tracking_number,
        carrier=carrier,
        url=url,
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["sales_order_id", "tracking_number"],
            set_={"carrier": statement.excluded.carrier, "url": statement.excluded.url},
        )
    )
    shipment = session.scalar(
        select(Shipment)
        .where(
            Shipment.sales_order_id == sales_order_id,
            Shipment.tracking_number == tracking_number,
        )
        .execution_options(populate_existing=True)
    )
    assert shipment is not None
    return shipment


def mark_shipment_sent(
    session: Session,
    sales_order_id: int,
    tracking_number: str,
    carrier: str | None = None,
    url: str | None = None,
) -> None:
    """Record that Back Market has the order's shipment under this tracking number.

    Back Market's word wins over ours: a shipment it took (from an earlier attempt
    whose answer was lost, say) stands, and any other recorded for the order goes.
    """
    tracking_number = tracking_number.strip()
    session.execute(
        select(SalesOrder.id).where(SalesOrder.id == sales_order_id).with_for_update()
    )
    session.execute(
        delete(Shipment).where(
            Shipment.sales_order_id == sales_order_id,
            Shipment.tracking_number != tracking_number,
            Shipment.sent_at.is_(None),
        )
    )
    statement = insert(Shipment).values(
        sales_order_id=sales_order_id,
        tracking_number=tracking_number,
        carrier=carrier,
        url=url,
        sent_at=func.now(),
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["sales_order_id", "tracking_number"],
            set_={
                "sent_at": func.coalesce(Shipment.sent_at, func.now()),
                "carrier": func.coalesce(statement.excluded.carrier, Shipment.carrier),
                "url": func.coalesce(statement.excluded.url, Shipment.url),
            },
        )
    )


# --- sync bookkeeping -------------------------------------------------------------


def get_checkpoint(
    session: Session, account_id: int, kind: str
) -> SyncCheckpoint | None:
    return session.scalar(
        select(SyncCheckpoint).where(
            SyncCheckpoint.account_id == account_id, SyncCheckpoint.kind == kind
        )
    )


def set_checkpoint(
    session: Session,
    account_id: int,
    kind: str,
    value_at: datetime | None = None,
    value_text: str | None = None,
) -> None:
    """Create or move a checkpoint."""
    statement = insert(SyncCheckpoint).values(
        account_id=account_id, kind=kind, value_at=value_at, value_text=value_text
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["account_id", "kind"],
            set_={
                "value_at": statement.excluded.value_at,
                "value_text": statement.excluded.value_text,
                "updated_at": func.now(),
            },
        )
    )


def log_sync(
    session: Session,
    *,
    account_id: int | None,
    kind: str,
    direction: str,
    result: str,
    listing_id: int | None = None,
    sales_order_id: int | None = None,
    external_ref: str | None = None,
    error_class: str | None = None,
    detail: str | None = None,
) -> None:
    """Add a line to the sync history; `detail` is cut short, never a payload."""
    if detail is not None and len(detail) > SYNC_DETAIL_MAX:
        detail = detail[: SYNC_DETAIL_MAX - 1] + "…"
    session.add(
        SyncLogEntry(
            account_id=account_id,
            kind=kind,
            direction=direction,
            result=result,
            listing_id=listing_id,
            sales_order_id=sales_order_id,
            external_ref=external_ref,
            error_class=error_class,
            detail=detail,
        )
    )
    session.flush()
