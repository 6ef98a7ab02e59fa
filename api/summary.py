"""A sales order as the API and the command line show it: ids and states, no customer.

The customer's name and email stay out on purpose: whatever calls the API or reads a
terminal gets what it needs to act on the order, not personal data.
"""

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from database.inventory import find_sales_order
from database.models import (
    Commit,
    InventoryItem,
    OrderItem,
    SalesOrderStatus,
    Shipment,
    Sku,
)


class OrderLineSummary(BaseModel):
    orderline_id: int | None
    sku: str | None
    unknown_sku: bool
    variation_id: int | None
    quantity: int
    backmarket_state: int | None
    committed_item_ids: list[int]
    committed_imeis: list[str]


class ShipmentSummary(BaseModel):
    tracking_number: str
    carrier: str | None
    url: str | None
    created_at: datetime
    sent_at: datetime | None


class OrderSummary(BaseModel):
    """Our sales order of a Back Market order."""

    sales_order_id: int
    order_id: int
    channel: str
    status: str
    status_counts_as_open: bool
    backmarket_state: int | None
    created_at: datetime
    updated_at: datetime
    lines: list[OrderLineSummary]
    shipments: list[ShipmentSummary]


def order_summary(
    session: Session, account_id: int, order_id: int
) -> OrderSummary | None:
    """The stored sales order of a Back Market order; None when not imported."""
    order = find_sales_order(session, account_id, order_id)
    if order is None:
        return None
    status = session.get(SalesOrderStatus, order.status_id)
    assert status is not None, "status_id is a foreign key"

    items = session.execute(
        select(OrderItem, Sku.code)
        .outerjoin(Sku, Sku.id == OrderItem.sku_id)
        .where(OrderItem.sales_order_id == order.id)
        .order_by(OrderItem.external_orderline_id, OrderItem.id)
    ).all()
    commits = session.execute(
        select(Commit.order_item_id, InventoryItem.id, InventoryItem.imei)
        .join(InventoryItem, InventoryItem.id == Commit.inventory_item_id)
        .where(
            Commit.order_item_id.in_([item.id for item, _ in items]),
            Commit.released_at.is_(None),
        )
        .order_by(Commit.id)
    ).all()
    lines = []
    for item, code in items:
        mine = [
            (device_id, imei) for owner, device_id, imei in commits if owner == item.id
        ]
        lines.append(
            OrderLineSummary(
                orderline_id=item.external_orderline_id,
                sku=code or item.unknown_sku,
                unknown_sku=item.variation_id is None and item.unknown_sku is not None,
                variation_id=item.variation_id,
                quantity=item.quantity,
                backmarket_state=item.external_state,
                committed_item_ids=[device_id for device_id, _ in mine],
                committed_imeis=[imei for _, imei in mine if imei],
            )
        )
    shipments = session.scalars(
        select(Shipment)
        .where(Shipment.sales_order_id == order.id)
        .order_by(Shipment.created_at, Shipment.id)
    )
    return OrderSummary(
        sales_order_id=order.id,
        order_id=order_id,
        channel=order.channel,
        status=status.name,
        status_counts_as_open=status.counts_as_open,
        backmarket_state=order.backmarket_state,
        created_at=order.created_at,
        updated_at=order.updated_at,
        lines=lines,
        shipments=[
            ShipmentSummary(
                tracking_number=s.tracking_number,
                carrier=s.carrier,
                url=s.url,
                created_at=s.created_at,
                sent_at=s.sent_at,
            )
            for s in shipments
        ],
    )
