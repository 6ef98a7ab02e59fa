"""A scheduled run that fails says so in the account's sync log, then fails."""

from collections.abc import Awaitable
from typing import TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError

from domain.runs import RecordFailedRunInput
from workflows.policies import DATABASE_RETRY, DATABASE_TIMEOUT

with workflow.unsafe.imports_passed_through():
    from activities.runs import RunActivities

T = TypeVar("T")


async def logged_run(
    account_id: int, kind: str, direction: str, run: Awaitable[T]
) -> T:
    """Await `run`; when an activity or child of it fails, record why and re-raise."""
    try:
        return await run
    except (ActivityError, ChildWorkflowError) as err:
        await record_failure(account_id, kind, direction, err)
        raise


async def record_failure(
    account_id: int,
    kind: str,
    direction: str,
    err: ActivityError | ChildWorkflowError,
) -> None:
    """Write the failure's innermost reason to the account's sync log."""
    cause: BaseException = err
    while (inner := getattr(cause, "cause", None)) is not None:
        cause = inner
    error_class = cause.type if isinstance(cause, ApplicationError) else None
    reason = cause.message if isinstance(cause, ApplicationError) else str(cause)
    await workflow.execute_activity_method(
        RunActivities.record_failed_run,
        RecordFailedRunInput(
            account_id=account_id,
            kind=kind,
            direction=direction,
            error_class=error_class or type(cause).__name__,
            reason=reason[:300],
        ),
        start_to_close_timeout=DATABASE_TIMEOUT,
        retry_policy=DATABASE_RETRY,
    )
