"""Sales orders addressed as the order workflows know them: account and Back Market ids.

The rules live in `database.inventory`; this module only finds the rows.
"""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from database import inventory as repo
from database.models import (
    AccountSettings,
    InventoryItem,
    OrderItem,
    SalesOrder,
    Shipment,
    Sku,
)
from domain.text import quoted


class CommitRejected(Exception):
    """A commit broke a rule; the message names the rule and the record."""


@dataclass(frozen=True)
class CommittedDevice:
    inventory_item_id: int
    imei: str | None
    serial: str | None
    fulfils_line: bool


def sales_order(session: Session, account_id: int, order_id: int) -> SalesOrder:
    found = repo.find_sales_order(session, account_id, order_id)
    if found is None:
        raise LookupError(f"order {order_id} of account {account_id} is not imported")
    return found


def order_item(
    session: Session, account_id: int, order_id: int, orderline_id: int
) -> OrderItem:
    order = sales_order(session, account_id, order_id)
    item = session.scalar(
        select(OrderItem).where(
            OrderItem.sales_order_id == order.id,
            OrderItem.external_orderline_id == orderline_id,
        )
    )
    if item is None:
        raise LookupError(f"order {order_id} has no orderline {orderline_id}")
    return item


def record_commit(
    session: Session,
    account_id: int,
    order_id: int,
    orderline_id: int,
    identifier: str,
    allow_mismatch: bool = False,
) -> CommittedDevice:
    """Commit the device with this IMEI or serial to an orderline, or nothing."""
    try:
        item = order_item(session, account_id, order_id, orderline_id)
    except LookupError as exc:
        raise CommitRejected(str(exc)) from None
    device = repo.find_item_by_identifier(session, identifier)
    if device is None:
        raise CommitRejected(
            f"no device in stock has IMEI or serial {quoted(identifier)}; add it to "
            "the inventory with its IMEI/ESN before committing"
        )
    try:
        outcome = repo.commit_item(session, item.id, device.id, allow_mismatch)
    except (repo.CommitRefused, repo.NotFound) as exc:
        raise CommitRejected(
            f"orderline {orderline_id} (SKU {line_sku(session, item)}), "
            f"device {identifier}: {exc}"
        ) from None
    return CommittedDevice(
        inventory_item_id=outcome.inventory_item_id,
        imei=outcome.imei,
        serial=outcome.serial,
        fulfils_line=outcome.fulfils_line,
    )


def line_sku(session: Session, item: OrderItem) -> str:
    """The SKU Back Market sold the line under, as we know it."""
    if item.sku_id is not None:
        sku = session.get(Sku, item.sku_id)
        if sku is not None:
            return sku.code
    return item.unknown_sku or "unknown"


def release_line_commits(
    session: Session, account_id: int, order_id: int, orderline_id: int
) -> int:
    try:
        item = order_item(session, account_id, order_id, orderline_id)
    except LookupError:
        return 0
    return repo.release_commits(session, item.id)


def record_shipment(
    session: Session,
    account_id: int,
    order_id: int,
    tracking_number: str,
    carrier: str | None,
    url: str | None,
) -> Shipment:
    order = sales_order(session, account_id, order_id)
    return repo.add_shipment(session, order.id, tracking_number, carrier, url)


def mark_shipment_sent(
    session: Session,
    account_id: int,
    order_id: int,
    tracking_number: str,
    carrier: str | None,
    url: str | None,
) -> None:
    order = sales_order(session, account_id, order_id)
    repo.mark_shipment_sent(session, order.id, tracking_number, carrier, url)


def set_order_phase(
    session: Session,
    account_id: int,
    order_id: int,
    phase: str,
    line_states: dict[int, int],
) -> None:
    """Move the sales order to the status the account maps the phase to."""
    order = sales_order(session, account_id, order_id)
    order.status_id = repo.status_for_phase(session, account_id, phase).id
    for item in session.scalars(
        select(OrderItem).where(OrderItem.sales_order_id == order.id)
    ):
        if item.external_orderline_id in line_states:
            item.external_state = line_states[item.external_orderline_id]


def device_imei(session: Session, inventory_item_id: int) -> str | None:
    device = session.get(InventoryItem, inventory_item_id)
    if device is None:
        raise LookupError(f"inventory item {inventory_item_id} does not exist")
    return device.imei


def account_settings(session: Session, account_id: int) -> AccountSettings:
    settings = session.get(AccountSettings, account_id)
    if settings is None:
        raise LookupError(f"account {account_id} does not exist")
    return settings
