"""Turning failures into what Temporal should do with them."""

from collections.abc import Iterator
from contextlib import contextmanager

from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

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


def refused(message: str) -> ApplicationError:
    """A request an operator made that breaks a rule: answered, not an incident.

    Benign, so the worker logs it quietly rather than as a failure with a trace.
    """
    return ApplicationError(
        message,
        type="CommitRejected",
        non_retryable=True,
        category=ApplicationErrorCategory.BENIGN,
    )
