"""Requests to order workflows, for the command line and the HTTP API alike.

A request is a signal carrying an id of its own; the workflow acts on an id once and
keeps its answer under it, and the client reads the answer back with a query. A
caller that repeats a request with the same id (a retried webhook) gets the first
answer, even once the order has finished; a different request sent under an id
already used is refused ("RequestIdReused").

A commit or a shipment may arrive before the import has seen the order: it then
starts the order's workflow itself (signal-with-start), which reads the order from
Back Market before it answers.
"""

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
)
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from domain.orders import (
    AddShipmentInput,
    AddShipmentResult,
    AnswerQuery,
    CommitInventoryInput,
    CommitInventoryResult,
    OrderAnswer,
    OrderState,
    OrderWorkflowInput,
    ValidateOrderInput,
    ValidateOrderResult,
    order_workflow_id,
    request_fingerprint,
)
from runtime.temporal import failure_reason
from workflows.orders import OrderWorkflow

Answer = TypeVar("Answer")
Request = TypeVar("Request", CommitInventoryInput, AddShipmentInput, ValidateOrderInput)

# How often the answer to a request is looked for, and how long by default.
ANSWER_POLL_S = 0.2
ANSWER_TIMEOUT_S = 60.0
CLOSED_CHECK_EVERY = 5
# How long a query that the worker fails to answer is asked again.
QUERY_RETRY_S = 10.0


class OrderRequestError(Exception):
    """The workflow refused the request; the message says which rule.

    `kind` is the refusal's type, e.g. "CommitRejected", "OrderUnavailable" when
    Back Market does not know the order, or "RequestIdReused" when the request's id
    was already used for a different request.
    """

    def __init__(self, message: str, kind: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind


class OrderNotAnswered(OrderRequestError):
    """No answer came in time: the request may still take effect, or may not."""


class OrderClient:
    def __init__(
        self, client: Client, task_queue: str, timeout_s: float = ANSWER_TIMEOUT_S
    ) -> None:
        self.client = client
        self.task_queue = task_queue
        self.timeout_s = timeout_s

    async def commit_inventory(
        self, account_id: int, order_id: int, request: CommitInventoryInput
    ) -> CommitInventoryResult:
        answer = await self._request("request_commit", request, account_id, order_id)
        assert answer.commit is not None
        return answer.commit

    async def add_shipment(
        self, account_id: int, order_id: int, request: AddShipmentInput
    ) -> AddShipmentResult:
        answer = await self._request("request_shipment", request, account_id, order_id)
        assert answer.shipment is not None
        return answer.shipment

    async def validate(
        self, account_id: int, order_id: int, request: ValidateOrderInput
    ) -> ValidateOrderResult:
        answer = await self._request(
            "request_validation", request, account_id, order_id
        )
        assert answer.validation is not None
        return answer.validation

    async def _request(
        self, signal: str, request: Request, account_id: int, order_id: int
    ) -> OrderAnswer:
        """Send the request, starting the order's workflow if need be; await it."""
        request_id = request.request_id or str(uuid.uuid4())
        request = request.model_copy(update={"request_id": request_id})
        question = AnswerQuery(
            request_id=request_id, fingerprint=request_fingerprint(request)
        )
        try:
            handle = await self.client.start_workflow(
                OrderWorkflow.run,
                OrderWorkflowInput(account_id=account_id, order_id=order_id),
                id=order_workflow_id(account_id, order_id),
                task_queue=self.task_queue,
                # A finished order is not reopened by a late request.
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
                start_signal=signal,
                start_signal_args=[request],
            )
        except WorkflowAlreadyStartedError:
            # Finished: a request it answered before still gets that answer.
            earlier = await self._earlier_answer(account_id, order_id, question)
            if earlier is None:
                raise OrderRequestError(
                    f"order {order_id} has finished (shipped, cancelled or "
                    "refunded); it takes no more changes",
                    "OrderFinished",
                ) from None
            answer = earlier
        else:
            answer = await self._await_answer(handle, question, order_id)
        if answer.refusal is not None:
            raise OrderRequestError(answer.refusal, answer.refusal_type)
        return answer

    async def _await_answer(
        self,
        handle: WorkflowHandle[OrderWorkflow, OrderState],
        question: AnswerQuery,
        order_id: int,
    ) -> OrderAnswer:
        deadline = time.monotonic() + self.timeout_s
        polls = 0
        while (left := deadline - time.monotonic()) > 0:
            polls += 1
            try:
                # Temporal holds a query no worker takes for 30 s: bounded here, so
                # the caller hears within its timeout.
                answer = await handle.query(
                    OrderWorkflow.answer, question, rpc_timeout=timedelta(seconds=left)
                )
            except (RPCError, WorkflowQueryFailedError):
                # The workflow may be between a worker's restart and its replay.
                answer = None
            if answer is not None:
                return answer
            # Now and then, whether the run ended without taking the request up.
            if polls % CLOSED_CHECK_EVERY == 0 and await self._closed(handle):
                break
            await asyncio.sleep(ANSWER_POLL_S)
        else:
            raise OrderNotAnswered(
                f"order {order_id} did not answer in time; the request may still "
                "take effect: check the order before repeating it"
            )
        # The run ended before it took the request up: say why it ended.
        reason = await self._failure(handle)
        raise OrderRequestError(
            f"order {order_id} could not take the request"
            + (f": {reason}" if reason else ""),
            "OrderUnavailable" if reason else None,
        )

    async def _earlier_answer(
        self, account_id: int, order_id: int, question: AnswerQuery
    ) -> OrderAnswer | None:
        """The answer a finished order gave this request before, if it had one."""
        handle = self.client.get_workflow_handle_for(
            OrderWorkflow.run, order_workflow_id(account_id, order_id)
        )
        try:
            return await _query(lambda: handle.query(OrderWorkflow.answer, question))
        except RPCError:
            return None

    async def _closed(self, handle: WorkflowHandle[OrderWorkflow, OrderState]) -> bool:
        try:
            described = await handle.describe()
        except RPCError:
            return False
        return described.status != WorkflowExecutionStatus.RUNNING

    async def state(self, account_id: int, order_id: int) -> OrderState | None:
        """The workflow's view of the order, or None when it never ran.

        Raises OrderRequestError when the workflow exists but cannot be read now.
        """
        handle = self.client.get_workflow_handle_for(
            OrderWorkflow.run, order_workflow_id(account_id, order_id)
        )
        try:
            return await _query(lambda: handle.query(OrderWorkflow.state))
        except RPCError:
            return None

    async def failure(self, account_id: int, order_id: int) -> str | None:
        """Why the order's last workflow run failed, when it did."""
        handle = self.client.get_workflow_handle_for(
            OrderWorkflow.run, order_workflow_id(account_id, order_id)
        )
        return await self._failure(handle)

    async def _failure(
        self, handle: WorkflowHandle[OrderWorkflow, OrderState]
    ) -> str | None:
        try:
            described = await handle.describe()
        except RPCError:
            return None
        if described.status != WorkflowExecutionStatus.FAILED:
            return None
        try:
            await handle.result(follow_runs=False)
        except WorkflowFailureError as exc:
            return failure_reason(exc)
        return None


async def _query(ask: Callable[[], Awaitable[Answer]]) -> Answer:
    """A query, asked again for a few seconds when the worker cannot answer it.

    A worker that has just started answers a query about a workflow it has not run
    yet by replaying the workflow's history, and Temporal's SDK can fail that
    replay ("Nondeterminism error") while the workflow itself runs on unharmed; the
    same query succeeds once the worker has caught up with the workflow.
    """
    deadline = time.monotonic() + QUERY_RETRY_S
    while True:
        try:
            return await ask()
        except WorkflowQueryFailedError as exc:
            if time.monotonic() > deadline:
                raise OrderRequestError(
                    f"the order's workflow cannot be read just now: {exc}"
                ) from None
            await asyncio.sleep(ANSWER_POLL_S)
