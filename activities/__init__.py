"""Activities: every Back Market call and database write the workflows make."""

from collections.abc import Callable
from typing import Any

from activities.deps import ActivityDeps
from activities.listings import ListingActivities
from activities.order_import import OrderImportActivities
from activities.orders import OrderActivities
from activities.pricing import PricingActivities
from activities.quantities import QuantityActivities
from activities.returns import ReturnActivities
from activities.runs import RunActivities


def build_activities(deps: ActivityDeps) -> list[Callable[..., Any]]:
    """Every activity of the engine, bound to this worker's connections."""
    orders = OrderActivities(deps)
    imports = OrderImportActivities(deps)
    listings = ListingActivities(deps)
    quantities = QuantityActivities(deps)
    returns = ReturnActivities(deps)
    pricing = PricingActivities(deps)
    runs = RunActivities(deps)
    return [
        orders.refresh_order,
        orders.load_order_settings,
        orders.accept_line,
        orders.record_commit,
        orders.release_commits,
        orders.send_line_imei,
        orders.record_shipment,
        orders.ship_order,
        orders.set_order_status,
        imports.plan_order_import,
        imports.fetch_changed_orders,
        imports.dispatch_orders,
        imports.save_order_checkpoint,
        listings.import_listings,
        quantities.load_quantity_settings,
        quantities.push_quantities,
        quantities.notify_stock_changed,
        returns.plan_returns_import,
        returns.fetch_changed_care_folders,
        returns.store_returns,
        returns.save_returns_checkpoint,
        pricing.refresh_backbox,
        pricing.set_pricing,
        runs.record_failed_run,
    ]


__all__ = ["ActivityDeps", "build_activities"]
