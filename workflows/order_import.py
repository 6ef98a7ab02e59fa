"""The scheduled order import of one account."""

from temporalio import workflow
from temporalio.exceptions import ActivityError

from domain.orders import (
    DispatchOrdersInput,
    FetchOrdersInput,
    ImportOrdersInput,
    ImportOrdersResult,
    SaveCheckpointInput,
)
from domain.quantities import NotifyStockChangedInput
from workflows.policies import (
    BACKMARKET_HEARTBEAT,
    BACKMARKET_TIMEOUT,
    DATABASE_RETRY,
    DATABASE_TIMEOUT,
    IMPORT_FETCH_TIMEOUT,
    IMPORT_RETRY,
    NOTIFY_RETRY,
    NOTIFY_TIMEOUT,
)
from workflows.runs import logged_run

with workflow.unsafe.imports_passed_through():
    from activities.order_import import OrderImportActivities
    from activities.quantities import QuantityActivities


@workflow.defn
class ImportOrdersWorkflow:
    """Read every order changed since the checkpoint and hand each to its workflow.

    All pages are read and stored before any order workflow is started or signalled,
    and the checkpoint moves only after that: a failed page leaves it where it was,
    and the next run reads the same window again. Each order remembers what its
    workflow was last told, so a run that stored orders but died before telling
    their workflows leaves them to be told by the next.
    """

    @workflow.run
    async def run(self, input: ImportOrdersInput) -> ImportOrdersResult:
        return await logged_run(
            input.account_id, "order_import", "pull", self._run(input)
        )

    async def _run(self, input: ImportOrdersInput) -> ImportOrdersResult:
        plan = await workflow.execute_activity_method(
            OrderImportActivities.plan_order_import,
            input,
            start_to_close_timeout=DATABASE_TIMEOUT,
            retry_policy=DATABASE_RETRY,
        )
        if not plan.enabled:
            return ImportOrdersResult(skipped=True)

        fetched = await workflow.execute_activity_method(
            OrderImportActivities.fetch_changed_orders,
            FetchOrdersInput(account_id=input.account_id, since=plan.since),
            start_to_close_timeout=IMPORT_FETCH_TIMEOUT,
            heartbeat_timeout=BACKMARKET_HEARTBEAT,
            retry_policy=IMPORT_RETRY,
        )
        if fetched.changed:
            await workflow.execute_activity_method(
                OrderImportActivities.dispatch_orders,
                DispatchOrdersInput(
                    account_id=input.account_id, orders=fetched.changed
                ),
                start_to_close_timeout=BACKMARKET_TIMEOUT,
                heartbeat_timeout=BACKMARKET_HEARTBEAT,
                retry_policy=IMPORT_RETRY,
            )
            await self._notify_stock_changed(input.account_id)
        checkpoint = fetched.newest_modification or plan.since
        if checkpoint is not None and checkpoint != plan.since:
            await workflow.execute_activity_method(
                OrderImportActivities.save_order_checkpoint,
                SaveCheckpointInput(account_id=input.account_id, value=checkpoint),
                start_to_close_timeout=DATABASE_TIMEOUT,
                retry_policy=DATABASE_RETRY,
            )
        return ImportOrdersResult(
            seen=fetched.seen, dispatched=len(fetched.changed), checkpoint=checkpoint
        )

    async def _notify_stock_changed(self, account_id: int) -> None:
        """New and changed orders move outstanding units: wake the quantity sync."""
        try:
            await workflow.execute_activity_method(
                QuantityActivities.notify_stock_changed,
                NotifyStockChangedInput(account_ids=[account_id], reason="orders"),
                start_to_close_timeout=NOTIFY_TIMEOUT,
                retry_policy=NOTIFY_RETRY,
            )
        except ActivityError:
            # The periodic reconcile catches what a lost notification misses.
            workflow.logger.warning(
                "could not notify the quantity sync", extra={"account_id": account_id}
            )
