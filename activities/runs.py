"""The sync log's record of runs that failed, so no sync stops in silence."""

from temporalio import activity

from activities.deps import ActivityDeps
from database.inventory import RUN_FAILED, log_sync
from domain.runs import RecordFailedRunInput


class RunActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self.deps = deps

    @activity.defn
    def record_failed_run(self, input: RecordFailedRunInput) -> None:
        with self.deps.session_factory.begin() as session:
            log_sync(
                session,
                account_id=input.account_id,
                kind=input.kind,
                direction=input.direction,
                result="failed",
                error_class=input.error_class,
                detail=RUN_FAILED + input.reason,
            )
