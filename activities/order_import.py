"""Activities of the scheduled order import."""

import asyncio
import logging
from datetime import timedelta

from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session
from temporalio import activity
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.deps import ActivityDeps
from activities.errors import backmarket_call
from activities.heartbeat import heartbeats
from activities.order_data import observed, order_data
from backmarket.client import SkippedItem
from backmarket.models import Order
from database.inventory import (
    ORDERS_READ_CHECKPOINT,
    get_checkpoint,
    log_sync,
    mark_orders_dispatched,
    set_checkpoint,
    upsert_backmarket_order,
)
from database.orders import account_settings
from domain.orders import (
    ORDER_PAID,
    ORDER_TO_SHIP,
    DispatchOrdersInput,
    FetchOrdersInput,
    FetchOrdersResult,
    ImportOrdersInput,
    ImportPlan,
    OrderObserved,
    OrderWorkflowInput,
    SaveCheckpointInput,
    order_workflow_id,
)

log = logging.getLogger(__name__)

CHECKPOINT_KIND = "orders"
# Back Market's date filters are lower bounds of unsure inclusiveness, and its clock
# is not ours: every run reads again what changed shortly before the checkpoint.
OVERLAP = timedelta(minutes=5)
DISPATCH_CONCURRENCY = 20
ORDER_WORKFLOW = "OrderWorkflow"


class OrderImportActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self.deps = deps

    @activity.defn
    def plan_order_import(self, input: ImportOrdersInput) -> ImportPlan:
        """Whether the account imports orders now, and from when."""
        with self.deps.session_factory() as session:
            settings = account_settings(session, input.account_id)
            checkpoint = get_checkpoint(session, input.account_id, CHECKPOINT_KIND)
            since = checkpoint.value_at if checkpoint is not None else None
            return ImportPlan(enabled=settings.order_import, since=since)

    @activity.defn
    @heartbeats
    async def fetch_changed_orders(self, input: FetchOrdersInput) -> FetchOrdersResult:
        """Read every page, then store every order; a failed page stores nothing.

        An order that does not fit our models, or that the database refuses, is
        recorded in the sync log as failed and left out; the others are imported.
        It is read again only when it changes on Back Market (the checkpoint moves
        past it), and a run that still finds it bad records it again.
        """
        client = await self.deps.clients.get(input.account_id)
        skipped: list[SkippedItem] = []
        with backmarket_call():
            if input.since is None:
                # The first run takes every open order, whenever it was placed.
                orders = await client.list_orders(state=ORDER_PAID, skipped=skipped)
                orders += await client.list_orders(state=ORDER_TO_SHIP, skipped=skipped)
            else:
                orders = await client.list_orders(
                    date_modification=input.since - OVERLAP, skipped=skipped
                )
        latest: dict[int, Order] = {}
        for order in orders:
            known = latest.get(order.order_id)
            if known is None or _modified(order) >= _modified(known):
                latest[order.order_id] = order
        changed = await asyncio.to_thread(
            self._store, input.account_id, list(latest.values()), skipped
        )
        newest = max(
            (o.date_modification for o in latest.values() if o.date_modification),
            default=None,
        )
        activity.logger.info(
            "orders fetched",
            extra={
                "account_id": input.account_id,
                "seen": len(latest),
                "changed": len(changed),
                "skipped": len(skipped),
            },
        )
        return FetchOrdersResult(
            changed=changed, seen=len(latest), newest_modification=newest
        )

    def _store(
        self, account_id: int, orders: list[Order], skipped: list[SkippedItem]
    ) -> list[OrderObserved]:
        changed = []
        with self.deps.session_factory.begin() as session:
            # Back Market answered every page: whatever failed before works again.
            # The checkpoint's own time (the database's clock, as the sync log's)
            # says when.
            set_checkpoint(session, account_id, ORDERS_READ_CHECKPOINT)
            for bad in skipped:
                kind, detail = bad.error.kind, str(bad.error)
                _log_skipped(session, account_id, bad.object_id, kind, detail)
            for order in orders:
                try:
                    # A savepoint per order: one the database refuses (a field too
                    # long, a number out of range) leaves the others to be stored.
                    with session.begin_nested():
                        upserted = upsert_backmarket_order(
                            session, account_id, order_data(order)
                        )
                except (DataError, IntegrityError) as exc:
                    # The database's message quotes the refused values: only its
                    # class is kept.
                    kind = type(exc.orig or exc).__name__
                    _log_skipped(
                        session,
                        account_id,
                        str(order.order_id),
                        kind,
                        "the database refused the order",
                    )
                    continue
                seen = observed(order, upserted)
                if upserted.dispatched != _view(seen):
                    changed.append(seen)
                if upserted.created:
                    log_sync(
                        session,
                        account_id=account_id,
                        kind="order_import",
                        direction="pull",
                        result="ok",
                        external_ref=str(order.order_id),
                        sales_order_id=upserted.sales_order_id,
                        detail=f"imported with {len(upserted.lines)} line(s)",
                    )
        return changed

    @activity.defn
    @heartbeats
    async def dispatch_orders(self, input: DispatchOrdersInput) -> int:
        """Start or signal each order's workflow with what the import saw."""
        semaphore = asyncio.Semaphore(DISPATCH_CONCURRENCY)

        async def dispatch(order: OrderObserved) -> None:
            async with semaphore:
                try:
                    await self.deps.temporal.start_workflow(
                        ORDER_WORKFLOW,
                        OrderWorkflowInput(
                            account_id=input.account_id, order_id=order.order_id
                        ),
                        id=order_workflow_id(input.account_id, order.order_id),
                        task_queue=self.deps.task_queue,
                        start_signal="observe",
                        start_signal_args=[order],
                        # A finished order keeps its one history; what Back Market
                        # says of it later is already stored on the sales order.
                        id_reuse_policy=(
                            WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY
                        ),
                    )
                except WorkflowAlreadyStartedError:
                    log.info(
                        "order finished; its workflow is not started again",
                        extra={"order_id": order.order_id},
                    )

        await asyncio.gather(*(dispatch(order) for order in input.orders))
        await asyncio.to_thread(self._mark_dispatched, input)
        return len(input.orders)

    def _mark_dispatched(self, input: DispatchOrdersInput) -> None:
        with self.deps.session_factory.begin() as session:
            mark_orders_dispatched(
                session,
                input.account_id,
                {order.order_id: _view(order) for order in input.orders},
            )

    @activity.defn
    def save_order_checkpoint(self, input: SaveCheckpointInput) -> None:
        with self.deps.session_factory.begin() as session:
            set_checkpoint(
                session, input.account_id, CHECKPOINT_KIND, value_at=input.value
            )


def _log_skipped(
    session: Session,
    account_id: int,
    order_id: str | None,
    error_class: str,
    detail: str,
) -> None:
    """Record an order left out of the import; `detail` must name no values."""
    log.warning(
        "order skipped",
        extra={"account_id": account_id, "order_id": order_id, "error": error_class},
    )
    log_sync(
        session,
        account_id=account_id,
        kind="order_import",
        direction="pull",
        result="failed",
        external_ref=None if order_id is None else order_id[:100],
        error_class=error_class,
        detail=detail,
    )


def _view(order: OrderObserved) -> str:
    """The part of an order its workflow acts on, to tell whether it was told."""
    return order.model_dump_json(include={"state", "lines", "shipped_tracking"})


def _modified(order: Order) -> float:
    return order.date_modification.timestamp() if order.date_modification else 0.0
