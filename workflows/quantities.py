"""The quantity sync: a long-lived workflow per account, and the periodic reconcile."""

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ChildWorkflowError

from domain.orders import ImportOrdersInput
from domain.quantities import (
    AccountRef,
    PushQuantitiesInput,
    PushQuantitiesResult,
    QuantitySyncInput,
    QuantitySyncState,
    ReconcileQuantitiesInput,
    StockChanged,
)
from workflows.order_import import ImportOrdersWorkflow
from workflows.policies import (
    DATABASE_RETRY,
    DATABASE_TIMEOUT,
    QUANTITY_PASS_HEARTBEAT,
    QUANTITY_PASS_RETRY,
    QUANTITY_PASS_TIMEOUT,
)
from workflows.runs import logged_run, record_failure

with workflow.unsafe.imports_passed_through():
    from activities.quantities import QuantityActivities

# A burst of stock changes (a CSV import, an order of several lines) becomes one
# pass: the pass starts once no change has come for QUIET, or after GATHER_MAX.
QUIET = timedelta(seconds=1)
GATHER_MAX = timedelta(seconds=5)
# With nothing to do for this long the workflow ends; the next change starts it.
IDLE = timedelta(hours=6)
# After a failed pass (orders could not be imported, Back Market down), wait this
# long before trying again rather than pushing quantities computed without them.
RETRY_PAUSE = timedelta(seconds=30)
PASSES_PER_RUN = 200


@workflow.defn
class QuantitySyncWorkflow:
    """Pushes an account's changed quantities within seconds of a stock change.

    `stock_changed` signals (sent with signal-with-start by everything that moves
    stock) are gathered, then one pass imports the account's orders, computes every
    listing's quantity and writes those that differ. The workflow continues as new
    every PASSES_PER_RUN passes, so its history stays short.
    """

    @workflow.init
    def __init__(self, input: QuantitySyncInput) -> None:
        self.account_id = input.account_id
        self.pending = input.pending
        self.fresh = False
        self.passes = input.passes
        self.last_result: PushQuantitiesResult | None = None
        self.last_pass_at: datetime | None = None

    @workflow.run
    async def run(self, input: QuantitySyncInput) -> QuantitySyncState:
        passes_here = 0
        while True:
            try:
                await workflow.wait_condition(lambda: self.pending, timeout=IDLE)
            except TimeoutError:
                break
            await self._gather()
            self.pending = False

            settings = await workflow.execute_activity_method(
                QuantityActivities.load_quantity_settings,
                AccountRef(account_id=self.account_id),
                start_to_close_timeout=DATABASE_TIMEOUT,
                retry_policy=DATABASE_RETRY,
            )
            if not settings.enabled:
                if self.pending:
                    continue
                break
            try:
                self.last_result = await quantity_pass(self.account_id, full=False)
            except (ActivityError, ChildWorkflowError) as err:
                workflow.logger.warning(
                    "quantity pass failed; trying again",
                    extra={"account_id": self.account_id, "error": str(err.cause)},
                )
                await record_failure(self.account_id, "quantity_push", "push", err)
                self.pending = True
                await workflow.sleep(RETRY_PAUSE)
            self.passes += 1
            passes_here += 1
            self.last_pass_at = workflow.now()
            if passes_here >= PASSES_PER_RUN or (
                workflow.info().is_continue_as_new_suggested()
            ):
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(
                    QuantitySyncInput(
                        account_id=self.account_id,
                        pending=self.pending,
                        passes=self.passes,
                    )
                )
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state()

    @workflow.signal
    def stock_changed(self, change: StockChanged) -> None:
        """Stock or open orders moved; the next pass picks it up."""
        self.pending = True
        self.fresh = True

    @workflow.query
    def state(self) -> QuantitySyncState:
        return QuantitySyncState(
            account_id=self.account_id,
            passes=self.passes,
            pending=self.pending,
            last_result=self.last_result,
            last_pass_at=self.last_pass_at,
        )

    async def _gather(self) -> None:
        """Wait for a quiet moment, so a burst of changes makes one pass."""
        started = workflow.now()
        while workflow.now() - started < GATHER_MAX:
            self.fresh = False
            try:
                await workflow.wait_condition(lambda: self.fresh, timeout=QUIET)
            except TimeoutError:
                return


@workflow.defn
class ReconcileQuantitiesWorkflow:
    """Reads every listing from Back Market and repairs what drifted.

    Scheduled, and run on demand by `bmsync quantities sync`; it catches whatever a
    lost signal or another system changed since the last pass.
    """

    @workflow.run
    async def run(self, input: ReconcileQuantitiesInput) -> PushQuantitiesResult:
        return await logged_run(
            input.account_id, "quantity_reconcile", "push", self._run(input)
        )

    async def _run(self, input: ReconcileQuantitiesInput) -> PushQuantitiesResult:
        if not input.force:
            settings = await workflow.execute_activity_method(
                QuantityActivities.load_quantity_settings,
                AccountRef(account_id=input.account_id),
                start_to_close_timeout=DATABASE_TIMEOUT,
                retry_policy=DATABASE_RETRY,
            )
            if not settings.enabled:
                return PushQuantitiesResult(skipped_reason="quantity sync is off")
        return await quantity_pass(
            input.account_id, full=True, dry_run=input.dry_run, force=input.force
        )


async def quantity_pass(
    account_id: int, *, full: bool, dry_run: bool = False, force: bool = False
) -> PushQuantitiesResult:
    """Import orders, push what differs, then look again at what was held back.

    Orders come first so that every sale Back Market recorded is outstanding in the
    quantities. A listing that lost more units than imported orders explain is held
    back; orders are imported once more and only then is it written, or flagged as
    written by another system. A dry run imports nothing and writes nothing.
    """
    if not dry_run:
        await _import_orders(account_id)
    first = await _push(
        PushQuantitiesInput(
            account_id=account_id, full=full, dry_run=dry_run, force=force
        )
    )
    if not first.held or dry_run:
        return first
    await _import_orders(account_id)
    second = await _push(
        PushQuantitiesInput(
            account_id=account_id,
            full=False,
            force=force,
            hold_drops=False,
            listing_ids=first.held,
        )
    )
    return first.merged(second)


async def _import_orders(account_id: int) -> None:
    await workflow.execute_child_workflow(
        ImportOrdersWorkflow.run,
        ImportOrdersInput(account_id=account_id),
        id=f"quantity-orders-{account_id}-{workflow.uuid4()}",
    )


async def _push(input: PushQuantitiesInput) -> PushQuantitiesResult:
    return await workflow.execute_activity_method(
        QuantityActivities.push_quantities,
        input,
        start_to_close_timeout=QUANTITY_PASS_TIMEOUT,
        heartbeat_timeout=QUANTITY_PASS_HEARTBEAT,
        retry_policy=QUANTITY_PASS_RETRY,
    )
