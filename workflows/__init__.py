"""Workflows: orchestration only, no IO; activities do the work."""

from workflows.listings import ImportListingsWorkflow
from workflows.order_import import ImportOrdersWorkflow
from workflows.orders import OrderWorkflow
from workflows.pricing import RefreshPricingWorkflow
from workflows.quantities import QuantitySyncWorkflow, ReconcileQuantitiesWorkflow
from workflows.returns import ImportReturnsWorkflow

ALL_WORKFLOWS: list[type] = [
    ImportOrdersWorkflow,
    OrderWorkflow,
    ImportListingsWorkflow,
    QuantitySyncWorkflow,
    ReconcileQuantitiesWorkflow,
    ImportReturnsWorkflow,
    RefreshPricingWorkflow,
]

__all__ = [
    "ALL_WORKFLOWS",
    "ImportListingsWorkflow",
    "ImportOrdersWorkflow",
    "ImportReturnsWorkflow",
    "OrderWorkflow",
    "QuantitySyncWorkflow",
    "ReconcileQuantitiesWorkflow",
    "RefreshPricingWorkflow",
]
