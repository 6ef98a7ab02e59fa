"""From Back Market's order to what the database keeps and the workflows see."""

from backmarket.models import Order
from database.inventory import OrderData, OrderLineData, UpsertOrderResult
from domain.orders import LineObserved, OrderObserved


def order_data(order: Order) -> OrderData:
    address = order.shipping_address
    name = None
    email = None
    if address is not None:
        parts = [address.first_name or "", address.last_name or ""]
        name = " ".join(part for part in parts if part) or None
        email = address.email
    return OrderData(
        order_id=order.order_id,
        state=order.state,
        customer_name=name,
        customer_email=email,
        lines=[
            OrderLineData(
                orderline_id=line.id,
                sku=line.listing or "",
                quantity=max(line.quantity, 1),
                state=line.state,
                price=line.price,
                currency=line.currency or order.currency,
            )
            for line in order.orderlines
        ],
    )


def observed(order: Order, stored: UpsertOrderResult) -> OrderObserved:
    return OrderObserved(
        order_id=order.order_id,
        state=order.state,
        date_modification=order.date_modification,
        shipped_tracking=bool(order.tracking_number),
        lines=[
            LineObserved(
                orderline_id=line.orderline_id,
                state=line.state,
                sku=line.sku,
                quantity=line.quantity,
                unknown_sku=line.unknown_sku,
            )
            for line in stored.lines
        ],
    )
