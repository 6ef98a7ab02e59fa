"""Requests to order workflows, for the command line and the HTTP API alike.

A commit or a shipment may arrive before the import has seen the order: it then
starts the order's workflow itself (update-with-start), which reads the order from
Back Market before it answers.
"""

from contextlib import suppress
from typing import TypeVar

from pydantic import BaseModel
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError
from temporalio.workflow import UpdateMethodMultiParam

from domain.orders import (
    AddShipmentInput,
    AddShipmentResult,
    CommitInventoryInput,
    CommitInventoryResult,
    OrderState,
    OrderWorkflowInput,
    ValidateOrderInput,
    ValidateOrderResult,
    order_workflow_id,
)
from runtime.temporal import failure_reason
from workflows.orders import OrderWorkflow

In = TypeVar("In", bound=BaseModel)
Out = TypeVar("Out", bound=BaseModel)


class OrderRequestError(Exception):
    """The workflow refused the request; the message says which rule.

    `kind` is the refusal's type, e.g. "CommitRejected", or "OrderUnavailable" when
    Back Market does not know the order.
    """

    def __init__(self, message: str, kind: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind


class OrderClient:
    def __init__(self, client: Client, task_queue: str) -> None:
        self.client = client
        self.task_queue = task_queue

    async def commit_inventory(
        self, account_id: int, order_id: int, request: CommitInventoryInput
    ) -> CommitInventoryResult:
        return await self._update(
            OrderWorkflow.commit_inventory, request, account_id, order_id
        )

    async def add_shipment(
        self, account_id: int, order_id: int, request: AddShipmentInput
    ) -> AddShipmentResult:
        return await self._update(
            OrderWorkflow.add_shipment, request, account_id, order_id
        )

    async def validate(
        self, account_id: int, order_id: int, request: ValidateOrderInput
    ) -> ValidateOrderResult:
        return await self._update(OrderWorkflow.validate, request, account_id, order_id)

    async def _update(
        self,
        update: UpdateMethodMultiParam[[OrderWorkflow, In], Out],
        request: In,
        account_id: int,
        order_id: int,
    ) -> Out:
        start = self._start(account_id, order_id)
        try:
            return await self.client.execute_update_with_start_workflow(
                update, request, start_workflow_operation=start
            )
        except WorkflowAlreadyStartedError:
            # A finished order's workflow is not reopened by a late request.
            with suppress(Exception):
                await start.workflow_handle()
            raise OrderRequestError(
                f"order {order_id} has finished (shipped, cancelled or refunded); "
                "it takes no more changes",
                "OrderFinished",
            ) from None
        except WorkflowUpdateRPCTimeoutOrCancelledError:
            raise OrderRequestError(
                f"order {order_id} did not answer in time; the request may still "
                "take effect: check the order before repeating it"
            ) from None
        except (WorkflowUpdateFailedError, RPCError) as exc:
            # The start half failed with the update; collect it so it is not
            # reported as an exception nobody read.
            with suppress(Exception):
                await start.workflow_handle()
            raise OrderRequestError(_reason(exc, order_id), _kind(exc)) from None

    async def state(self, account_id: int, order_id: int) -> OrderState | None:
        """The workflow's view of the order, or None when it never ran."""
        handle = self.client.get_workflow_handle_for(
            OrderWorkflow.run, order_workflow_id(account_id, order_id)
        )
        try:
            return await handle.query(OrderWorkflow.state)
        except RPCError:
            return None

    async def failure(self, account_id: int, order_id: int) -> str | None:
        """Why the order's last workflow run failed, when it did."""
        handle = self.client.get_workflow_handle_for(
            OrderWorkflow.run, order_workflow_id(account_id, order_id)
        )
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

    def _start(
        self, account_id: int, order_id: int
    ) -> WithStartWorkflowOperation[OrderWorkflow, OrderState]:
        return WithStartWorkflowOperation(
            OrderWorkflow.run,
            OrderWorkflowInput(account_id=account_id, order_id=order_id),
            id=order_workflow_id(account_id, order_id),
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            # A finished order is not reopened by a late request.
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        )


def _kind(exc: Exception) -> str | None:
    cause: BaseException | None = getattr(exc, "cause", None)
    while cause is not None and not isinstance(cause, ApplicationError):
        cause = cause.__cause__
    return cause.type if isinstance(cause, ApplicationError) else None


def _reason(exc: Exception, order_id: int) -> str:
    if isinstance(exc, WorkflowUpdateFailedError):
        cause: BaseException | None = exc.cause
        while cause is not None and not isinstance(cause, ApplicationError):
            cause = cause.__cause__
        if isinstance(cause, ApplicationError):
            return cause.message
        return str(exc.cause or exc)
    if isinstance(exc, RPCError) and "already" in str(exc).lower():
        return f"order {order_id} has finished; it takes no more changes"
    return str(exc)
