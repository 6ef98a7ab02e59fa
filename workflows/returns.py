"""The scheduled RMA import of one account."""

from temporalio import workflow

from domain.returns import (
    FetchCareFoldersInput,
    ImportReturnsInput,
    ImportReturnsResult,
    SaveReturnsCheckpointInput,
    StoreReturnsInput,
)
from workflows.policies import (
    BACKMARKET_HEARTBEAT,
    DATABASE_RETRY,
    DATABASE_TIMEOUT,
    IMPORT_FETCH_TIMEOUT,
    IMPORT_RETRY,
    LISTING_READ_HEARTBEAT,
    LISTING_READ_TIMEOUT,
)
from workflows.runs import logged_run

with workflow.unsafe.imports_passed_through():
    from activities.returns import ReturnActivities

# Care folders read per activity, so a failure repeats a few reads, not all.
FOLDERS_PER_BATCH = 100


@workflow.defn
class ImportReturnsWorkflow:
    """Read care folders changed since the checkpoint; returns become RMAs.

    The checkpoint moves only once every changed folder is stored, and each claim
    is one RMA whatever the number of reads, so repeating a run is harmless.
    """

    @workflow.run
    async def run(self, input: ImportReturnsInput) -> ImportReturnsResult:
        return await logged_run(
            input.account_id, "rma_import", "pull", self._run(input)
        )

    async def _run(self, input: ImportReturnsInput) -> ImportReturnsResult:
        plan = await workflow.execute_activity_method(
            ReturnActivities.plan_returns_import,
            input,
            start_to_close_timeout=DATABASE_TIMEOUT,
            retry_policy=DATABASE_RETRY,
        )
        if not plan.enabled:
            return ImportReturnsResult(skipped=True)

        fetched = await workflow.execute_activity_method(
            ReturnActivities.fetch_changed_care_folders,
            FetchCareFoldersInput(account_id=input.account_id, since=plan.since),
            start_to_close_timeout=IMPORT_FETCH_TIMEOUT,
            heartbeat_timeout=BACKMARKET_HEARTBEAT,
            retry_policy=IMPORT_RETRY,
        )
        result = ImportReturnsResult(folders=len(fetched.folder_ids))
        ids = fetched.folder_ids
        for start in range(0, len(ids), FOLDERS_PER_BATCH):
            stored = await workflow.execute_activity_method(
                ReturnActivities.store_returns,
                StoreReturnsInput(
                    account_id=input.account_id,
                    folder_ids=ids[start : start + FOLDERS_PER_BATCH],
                ),
                start_to_close_timeout=LISTING_READ_TIMEOUT,
                heartbeat_timeout=LISTING_READ_HEARTBEAT,
                retry_policy=IMPORT_RETRY,
            )
            result.created += stored.created
            result.updated += stored.updated
            result.failed += stored.failed

        checkpoint = fetched.newest_modification or plan.since
        if checkpoint is not None and checkpoint != plan.since:
            await workflow.execute_activity_method(
                ReturnActivities.save_returns_checkpoint,
                SaveReturnsCheckpointInput(
                    account_id=input.account_id, value=checkpoint
                ),
                start_to_close_timeout=DATABASE_TIMEOUT,
                retry_policy=DATABASE_RETRY,
            )
        result.checkpoint = checkpoint
        return result
