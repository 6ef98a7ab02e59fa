"""Turning failures into what Temporal should do with them."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.exc import DataError
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from backmarket.errors import BackMarketError


@contextmanager
def backmarket_call() -> Iterator[None]:
    """A 4xx or a payload that does not fit fails for good; the rest retries."""
    try:
        yield
    except BackMarketError as exc:
        raise ApplicationError(
            str(exc),
            exc.details(),
            type=exc.kind,
            non_retryable=not exc.retryable,
        ) from None


def rejected(message: str, kind: str = "BadData") -> ApplicationError:
    """A rule a person must fix; retrying would give the same answer."""
    return ApplicationError(message, type=kind, non_retryable=True)


def refused(message: str, kind: str = "CommitRejected") -> ApplicationError:
    """A request an operator made that breaks a rule: answered, not an incident.

    Benign, so the worker logs it quietly rather than as a failure with a trace.
    """
    return ApplicationError(
        message,
        type=kind,
        non_retryable=True,
        category=ApplicationErrorCategory.BENIGN,
    )


class DatabaseRefusals(Interceptor):
    """Data the database refuses fails the activity for good instead of retrying.

    A value Postgres cannot store (a NUL character, text that is not valid UTF-8, a
    number out of range) is refused the same way on every attempt; retrying would
    only hold up the workflow that is waiting for it.
    """

    def intercept_activity(
        self, next: ActivityInboundInterceptor
    ) -> ActivityInboundInterceptor:
        return _DatabaseRefusalsInbound(next)


class _DatabaseRefusalsInbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        try:
            return await self.next.execute_activity(input)
        except (DataError, UnicodeEncodeError) as exc:
            # The driver's message may quote the value: only its first line is kept.
            first_line = (str(exc) or type(exc).__name__).splitlines()[0]
            raise rejected(f"the database refused a value: {first_line}") from None
