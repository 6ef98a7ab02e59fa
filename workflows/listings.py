"""The listing import of one account, scheduled and on demand."""

from temporalio import workflow

from domain.listings import ImportListingsInput, ImportListingsResult
from domain.quantities import NotifyStockChangedInput
from workflows.policies import (
    IMPORT_RETRY,
    LISTING_READ_HEARTBEAT,
    LISTING_READ_TIMEOUT,
    NOTIFY_RETRY,
    NOTIFY_TIMEOUT,
)
from workflows.runs import logged_run

with workflow.unsafe.imports_passed_through():
    from activities.listings import ListingActivities
    from activities.quantities import QuantityActivities


@workflow.defn
class ImportListingsWorkflow:
    """Read the account's listings and store them: added, updated or gone.

    New and changed listings may need a quantity, so the quantity sync is woken.
    """

    @workflow.run
    async def run(self, input: ImportListingsInput) -> ImportListingsResult:
        return await logged_run(
            input.account_id, "listing_import", "pull", self._run(input)
        )

    async def _run(self, input: ImportListingsInput) -> ImportListingsResult:
        result = await workflow.execute_activity_method(
            ListingActivities.import_listings,
            input,
            start_to_close_timeout=LISTING_READ_TIMEOUT,
            heartbeat_timeout=LISTING_READ_HEARTBEAT,
            retry_policy=IMPORT_RETRY,
        )
        if result.added or result.updated:
            await workflow.execute_activity_method(
                QuantityActivities.notify_stock_changed,
                NotifyStockChangedInput(
                    account_ids=[input.account_id], reason="listings imported"
                ),
                start_to_close_timeout=NOTIFY_TIMEOUT,
                retry_policy=NOTIFY_RETRY,
            )
        return result
