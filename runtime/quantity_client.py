"""Waking each account's quantity sync when its stock may have changed.

Anything that changes a calculated quantity calls `notify_stock_changed`: stock
added or imported, a commit made or released, an order created, cancelled or
shipped. Each account's long-lived quantity workflow is started if it is not
running and signalled if it is; it gathers a burst of signals into one pass, and
decides itself whether the account syncs quantities at all.
"""

from datetime import UTC, datetime

from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy

from domain.quantities import QuantitySyncInput, StockChanged, quantity_sync_workflow_id

QUANTITY_SYNC_WORKFLOW = "QuantitySyncWorkflow"
STOCK_CHANGED_SIGNAL = "stock_changed"


async def notify_stock_changed(
    client: Client,
    task_queue: str,
    account_ids: list[int],
    reason: str | None = None,
) -> None:
    """Signal-with-start the quantity workflow of each account."""
    for account_id in sorted(set(account_ids)):
        await client.start_workflow(
            QUANTITY_SYNC_WORKFLOW,
            QuantitySyncInput(account_id=account_id),
            id=quantity_sync_workflow_id(account_id),
            task_queue=task_queue,
            start_signal=STOCK_CHANGED_SIGNAL,
            start_signal_args=[StockChanged(reason=reason, at=datetime.now(UTC))],
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        )
