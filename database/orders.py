"""Sales orders as the order workflows see them: upsert, commit, ship, status."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from database.models import (
    Account,
    AccountSettings,
    AccountStatusMap,
    BackMarketPhase,
    Commit,
    Customer,
    InventoryItem,
    Listing,
    OrderItem,
    OrganizationType,
    ProductVariation,
    SalesOrder,
    SalesOrderStatus,
    Shipment,
    Sku,
)

CHANNEL_NAME = "Backmarket"
CHANNEL_CUSTOMER = "Back Market"

# The status an order takes when the account maps nothing for its phase.
DEFAULT_STATUS_NAMES = {
    BackMarketPhase.NEW: "Open",
    BackMarketPhase.PAID: "Open",
    BackMarketPhase.VALIDATED: "Validated",
    BackMarketPhase.SHIPPED: "Shipped",
    BackMarketPhase.CANCELLED: "Cancelled",
    BackMarketPhase.REFUNDED: "Refunded",
}


class CommitRejected(Exception):
    """A commit broke a rule; the message names the rule and the record."""


@dataclass(frozen=True)
class OrderLineIn:
    orderline_id: int
    state: int
    sku: str
    quantity: int
    price: Decimal | None
    currency: str | None
    listing_id: int | None


@dataclass(frozen=True)
class OrderIn:
    """What the database keeps of a Back Market order; no address is stored."""

    order_id: int
    state: int
    customer_name: str | None
    customer_email: str | None
    lines: Sequence[OrderLineIn]


@dataclass(frozen=True)
class UpsertedLine:
    orderline_id: int
    state: int
    sku: str
    quantity: int
    unknown_sku: bool


@dataclass(frozen=True)
class UpsertedOrder:
    sales_order_id: int
    created: bool
    changed: bool
    lines: list[UpsertedLine]


@dataclass(frozen=True)
class CommittedDevice:
    inventory_item_id: int
    imei: str | None
    serial: str | None
    fulfils_line: bool


def phase_for_backmarket_state(state: int) -> BackMarketPhase:
    if state == 9:
        return BackMarketPhase.SHIPPED
    if state == 3:
        return BackMarketPhase.VALIDATED
    if state in (0, 10, 8):
        return BackMarketPhase.NEW
    return BackMarketPhase.PAID


def upsert_order(session: Session, account_id: int, order: OrderIn) -> UpsertedOrder:
    """Create or refresh a sales order and its items from Back Market's view."""
    sales_order = session.scalar(
        select(SalesOrder).where(
            SalesOrder.account_id == account_id,
            SalesOrder.external_order_id == order.order_id,
        )
    )
    created = sales_order is None
    changed = created
    if sales_order is None:
        statement = (
            insert(SalesOrder)
            .values(
                channel=CHANNEL_NAME,
                account_id=account_id,
                external_order_id=order.order_id,
                status_id=status_for_phase(
                    session, account_id, phase_for_backmarket_state(order.state)
                ),
                customer_id=_customer_for(session, account_id, order),
                backmarket_state=order.state,
            )
            .on_conflict_do_nothing(index_elements=["account_id", "external_order_id"])
        )
        session.execute(statement)
        sales_order = session.scalars(
            select(SalesOrder).where(
                SalesOrder.account_id == account_id,
                SalesOrder.external_order_id == order.order_id,
            )
        ).one()
    elif sales_order.backmarket_state != order.state:
        sales_order.backmarket_state = order.state
        sales_order.updated_at = datetime.now(UTC)
        changed = True

    existing = {
        item.external_orderline_id: item
        for item in session.scalars(
            select(OrderItem).where(OrderItem.sales_order_id == sales_order.id)
        )
    }
    upserted = []
    for line in order.lines:
        item = existing.get(line.orderline_id)
        if item is None:
            item = _new_item(session, account_id, sales_order.id, line)
            changed = True
        elif item.external_state != line.state:
            item.external_state = line.state
            changed = True
        upserted.append(
            UpsertedLine(
                orderline_id=line.orderline_id,
                state=line.state,
                sku=line.sku,
                quantity=line.quantity,
                unknown_sku=item.variation_id is None,
            )
        )
    session.flush()
    return UpsertedOrder(
        sales_order_id=sales_order.id, created=created, changed=changed, lines=upserted
    )


def _new_item(
    session: Session, account_id: int, sales_order_id: int, line: OrderLineIn
) -> OrderItem:
    sku = find_sku(session, account_id, line.sku)
    listing_id = None
    if line.listing_id is not None:
        listing_id = session.scalar(
            select(Listing.id).where(
                Listing.account_id == account_id,
                Listing.legacy_listing_id == line.listing_id,
            )
        )
    statement = (
        insert(OrderItem)
        .values(
            sales_order_id=sales_order_id,
            sku_id=sku.id if sku else None,
            variation_id=sku.variation_id if sku else None,
            listing_id=listing_id,
            unknown_sku=None if sku else line.sku,
            quantity=max(line.quantity, 1),
            price=line.price,
            currency=line.currency,
            external_orderline_id=line.orderline_id,
            external_state=line.state,
        )
        .on_conflict_do_nothing(index_elements=["external_orderline_id"])
    )
    session.execute(statement)
    return session.scalars(
        select(OrderItem).where(OrderItem.external_orderline_id == line.orderline_id)
    ).one()


def find_sku(session: Session, account_id: int, code: str) -> Sku | None:
    """The account's own SKU of that code, else the global one; case-insensitive."""
    rows = session.scalars(
        select(Sku)
        .where(
            func.lower(Sku.code) == code.strip().lower(),
            or_(Sku.account_id == account_id, Sku.account_id.is_(None)),
        )
        .order_by(Sku.account_id.is_(None))
    ).all()
    return rows[0] if rows else None


def _customer_for(session: Session, account_id: int, order: OrderIn) -> int:
    organization = session.scalar(
        select(AccountSettings.organization_type).where(
            AccountSettings.account_id == account_id
        )
    )
    if organization == OrganizationType.SHIPPING_NAME and order.customer_name:
        customer = Customer(name=order.customer_name, email=order.customer_email)
        session.add(customer)
        session.flush()
        return customer.id
    existing = session.scalar(
        select(Customer.id).where(Customer.name == CHANNEL_CUSTOMER).limit(1)
    )
    if existing is not None:
        return existing
    customer = Customer(name=CHANNEL_CUSTOMER)
    session.add(customer)
    session.flush()
    return customer.id


def status_for_phase(session: Session, account_id: int, phase: BackMarketPhase) -> int:
    """The account's mapped status for a phase, else the default of that name."""
    mapped = session.scalar(
        select(AccountStatusMap.sales_order_status_id).where(
            AccountStatusMap.account_id == account_id,
            AccountStatusMap.phase == phase.value,
        )
    )
    if mapped is not None:
        return mapped
    by_name = session.scalar(
        select(SalesOrderStatus.id).where(
            func.lower(SalesOrderStatus.name) == DEFAULT_STATUS_NAMES[phase].lower()
        )
    )
    if by_name is not None:
        return by_name
    raise LookupError(
        f"account {account_id} maps no sales order status for phase {phase.value!r}"
        f" and there is no status named {DEFAULT_STATUS_NAMES[phase]!r}"
    )


def set_order_phase(
    session: Session,
    account_id: int,
    order_id: int,
    phase: BackMarketPhase,
    line_states: dict[int, int],
) -> None:
    sales_order = _sales_order(session, account_id, order_id)
    sales_order.status_id = status_for_phase(session, account_id, phase)
    sales_order.updated_at = datetime.now(UTC)
    for orderline_id, state in line_states.items():
        session.execute(
            update(OrderItem)
            .where(
                OrderItem.sales_order_id == sales_order.id,
                OrderItem.external_orderline_id == orderline_id,
            )
            .values(external_state=state)
        )


def _sales_order(session: Session, account_id: int, order_id: int) -> SalesOrder:
    sales_order = session.scalar(
        select(SalesOrder).where(
            SalesOrder.account_id == account_id,
            SalesOrder.external_order_id == order_id,
        )
    )
    if sales_order is None:
        raise LookupError(f"order {order_id} of account {account_id} is not imported")
    return sales_order


def record_commit(
    session: Session,
    account_id: int,
    order_id: int,
    orderline_id: int,
    identifier: str,
    allow_mismatch: bool = False,
) -> CommittedDevice:
    """Commit a device to an orderline after every rule holds; else record nothing.

    Committing the same device to the same line again returns the first commit, so
    a retried call is harmless.
    """
    sales_order = _sales_order(session, account_id, order_id)
    item = session.scalar(
        select(OrderItem).where(
            OrderItem.sales_order_id == sales_order.id,
            OrderItem.external_orderline_id == orderline_id,
        )
    )
    if item is None:
        raise CommitRejected(f"order {order_id} has no orderline {orderline_id}")

    devices = session.scalars(
        select(InventoryItem)
        .where(
            or_(InventoryItem.imei == identifier, InventoryItem.serial == identifier)
        )
        .with_for_update()
    ).all()
    if not devices:
        raise CommitRejected(f"no inventory item has IMEI or serial {identifier!r}")
    if len(devices) > 1:
        raise CommitRejected(
            f"{len(devices)} inventory items share serial {identifier!r}; "
            "commit by IMEI"
        )
    device = devices[0]
    if device.imei is None and device.serial is None:
        raise CommitRejected(
            f"inventory item {device.id} has no IMEI/ESN; add it before committing"
        )

    open_commits = session.scalars(
        select(Commit).where(
            Commit.inventory_item_id == device.id, Commit.released_at.is_(None)
        )
    ).all()
    for existing in open_commits:
        if existing.order_item_id == item.id:
            return _committed(session, device, item)
        raise CommitRejected(
            f"inventory item {device.id} ({identifier}) is already committed to "
            "another order item"
        )

    line_commits = session.scalar(
        select(func.count())
        .select_from(Commit)
        .where(Commit.order_item_id == item.id, Commit.released_at.is_(None))
    )
    if (line_commits or 0) >= item.quantity:
        raise CommitRejected(
            f"orderline {orderline_id} already has {line_commits} of "
            f"{item.quantity} devices committed"
        )

    if item.variation_id is not None and device.variation_id != item.variation_id:
        if not allow_mismatch:
            raise CommitRejected(
                f"inventory item {device.id} is {_describe(session, device)}, but "
                f"orderline {orderline_id} sold SKU "
                f"{_line_sku(session, item)!r}: commit a matching device"
            )

    session.add(Commit(inventory_item_id=device.id, order_item_id=item.id))
    session.flush()
    return _committed(session, device, item)


def _committed(
    session: Session, device: InventoryItem, item: OrderItem
) -> CommittedDevice:
    fulfils = item.variation_id is not None and device.variation_id == item.variation_id
    return CommittedDevice(
        inventory_item_id=device.id,
        imei=device.imei,
        serial=device.serial,
        fulfils_line=fulfils,
    )


def _describe(session: Session, device: InventoryItem) -> str:
    variation = session.get(ProductVariation, device.variation_id)
    if variation is None:
        return f"variation {device.variation_id}"
    parts = [variation.storage, variation.colour, variation.grade]
    return "variation " + " ".join(part for part in parts if part)


def _line_sku(session: Session, item: OrderItem) -> str:
    if item.sku_id is None:
        return item.unknown_sku or "?"
    sku = session.get(Sku, item.sku_id)
    return sku.code if sku else "?"


def release_commits(
    session: Session, account_id: int, order_id: int, orderline_id: int
) -> int:
    """Put back every device committed to a line; returns how many."""
    sales_order = _sales_order(session, account_id, order_id)
    item_id = session.scalar(
        select(OrderItem.id).where(
            OrderItem.sales_order_id == sales_order.id,
            OrderItem.external_orderline_id == orderline_id,
        )
    )
    if item_id is None:
        return 0
    result = session.execute(
        update(Commit)
        .where(Commit.order_item_id == item_id, Commit.released_at.is_(None))
        .values(released_at=datetime.now(UTC))
    )
    return int(getattr(result, "rowcount", 0) or 0)


def record_shipment(
    session: Session,
    account_id: int,
    order_id: int,
    tracking_number: str,
    carrier: str | None,
    url: str | None,
) -> None:
    sales_order = _sales_order(session, account_id, order_id)
    session.execute(
        insert(Shipment)
        .values(
            sales_order_id=sales_order.id,
            tracking_number=tracking_number,
            carrier=carrier or "",
            url=url,
        )
        .on_conflict_do_nothing(index_elements=["sales_order_id", "tracking_number"])
    )


def mark_shipment_sent(
    session: Session, account_id: int, order_id: int, tracking_number: str
) -> None:
    sales_order = _sales_order(session, account_id, order_id)
    session.execute(
        update(Shipment)
        .where(
            Shipment.sales_order_id == sales_order.id,
            Shipment.tracking_number == tracking_number,
            Shipment.sent_at.is_(None),
        )
        .values(sent_at=datetime.now(UTC))
    )


def device_identifiers(
    session: Session, inventory_item_id: int
) -> tuple[str | None, str | None]:
    device = session.get(InventoryItem, inventory_item_id)
    if device is None:
        raise LookupError(f"inventory item {inventory_item_id} does not exist")
    return device.imei, device.serial


def account_settings(session: Session, account_id: int) -> AccountSettings:
    settings = session.get(AccountSettings, account_id)
    if settings is None or session.get(Account, account_id) is None:
        raise LookupError(f"account {account_id} does not exist")
    return settings
