"""From Back Market's order to what the database keeps and the workflows see."""

from backmarket.models import Order
from database.orders import OrderIn, OrderLineIn, UpsertedOrder
from domain.orders import LineObserved, OrderObserved


def order_in(order: Order) -> OrderIn:
    address = order.shipping_address
    name = None
    email = None
    if address is not None:
        parts = [address.first_name or "", address.last_name or ""]
        name = " ".join(part for part in parts if part) or None
        email = address.email
    return OrderIn(
        order_id=order.order_id,
        state=order.state,
        customer_name=name,
        customer_email=email,
        lines=[
            OrderLineIn(
                orderline_id=line.id,
                state=line.state,
                sku=line.listing or "",
                quantity=line.quantity,
                price=line.price,
                currency=line.currency or order.currency,
                listing_id=line.listing_id,
            )
            for line in order.orderlines
        ],
    )


def observed(order: Order, upserted: UpsertedOrder) -> OrderObserved:
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
            for line in upserted.lines
        ],
    )
