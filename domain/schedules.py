"""The scheduled syncs and the account settings that turn each one on."""

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel

from domain.listings import ImportListingsInput, RefreshPricingInput
from domain.orders import ImportOrdersInput
from domain.quantities import ReconcileQuantitiesInput
from domain.returns import ImportReturnsInput


@dataclass(frozen=True)
class ScheduledSync:
    name: str
    workflow: str
    enabled_setting: str
    interval_setting: str
    make_input: Callable[[int], BaseModel]


SCHEDULED_SYNCS: tuple[ScheduledSync, ...] = (
    ScheduledSync(
        name="orders-import",
        workflow="ImportOrdersWorkflow",
        enabled_setting="order_import",
        interval_setting="order_import_interval_s",
        make_input=lambda account_id: ImportOrdersInput(account_id=account_id),
    ),
    ScheduledSync(
        name="listings-import",
        workflow="ImportListingsWorkflow",
        enabled_setting="listing_import",
        interval_setting="listing_import_interval_s",
        make_input=lambda account_id: ImportListingsInput(account_id=account_id),
    ),
    ScheduledSync(
        name="quantity-reconcile",
        workflow="ReconcileQuantitiesWorkflow",
        enabled_setting="quantity_sync",
        interval_setting="quantity_reconcile_interval_s",
        make_input=lambda account_id: ReconcileQuantitiesInput(account_id=account_id),
    ),
    ScheduledSync(
        name="returns-import",
        workflow="ImportReturnsWorkflow",
        enabled_setting="rma_import",
        interval_setting="rma_import_interval_s",
        make_input=lambda account_id: ImportReturnsInput(account_id=account_id),
    ),
    ScheduledSync(
        name="pricing-refresh",
        workflow="RefreshPricingWorkflow",
        enabled_setting="backpricer",
        interval_setting="pricing_interval_s",
        make_input=lambda account_id: RefreshPricingInput(account_id=account_id),
    ),
)
