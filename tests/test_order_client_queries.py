"""A query a freshly started worker fails to answer is asked again, for a while."""

import pytest
from temporalio.client import WorkflowQueryFailedError

from runtime import order_client
from runtime.order_client import OrderRequestError


async def test_a_query_that_fails_while_the_worker_catches_up_is_asked_again() -> None:
    answers: list[str | Exception] = [
        WorkflowQueryFailedError("[TMPRL1100] Nondeterminism error"),
        WorkflowQueryFailedError("[TMPRL1100] Nondeterminism error"),
        "state",
    ]
    asked = 0

    async def ask() -> str:
        nonlocal asked
        answer = answers[asked]
        asked += 1
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert await order_client._query(ask) == "state"
    assert asked == 3


async def test_a_query_that_keeps_failing_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(order_client, "QUERY_RETRY_S", 0.3)

    async def ask() -> str:
        raise WorkflowQueryFailedError("[TMPRL1100] Nondeterminism error")

    with pytest.raises(OrderRequestError, match="cannot be read just now"):
        await order_client._query(ask)
