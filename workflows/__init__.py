"""Workflows: orchestration only, no IO; activities do the work."""

from workflows.order_import import ImportOrdersWorkflow
from workflows.orders import OrderWorkflow

ALL_WORKFLOWS: list[type] = [ImportOrdersWorkflow, OrderWorkflow]

__all__ = ["ALL_WORKFLOWS", "ImportOrdersWorkflow", "OrderWorkflow"]
