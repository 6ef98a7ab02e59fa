"""Activities of the order workflow: Back Market writes, each safe to repeat."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deps import ActivityDeps
from activities.errors import backmarket_call, refused, rejected
from activities.heartbeat import heartbeats
from activities.order_data import observed, order_data
from backmarket import BackMarketClient
from backmarket.errors import BadRequestError, UnprocessableError
from backmarket.models import Order
from database import orders as order_db
from database.inventory import (
    ShipmentRefused,
    UpsertOrderResult,
    log_sync,
    upsert_backmarket_order,
)
from database.models import BackMarketPhase
from domain.imei import is_valid_imei
from domain.orders import (
    LINE_ACCEPTED,
    LINE_PAID,
    LINE_SHIPPED,
    ORDER_SHIPPED,
    AcceptLineInput,
    AcceptLineResult,
    CommittedItem,
    OrderObserved,
    OrderPhase,
    OrderRef,
    OrderSettings,
    RecordCommitInput,
    RecordShipmentInput,
    ReleaseCommitsInput,
    SendLineImeiInput,
    SendLineImeiResult,
    SetOrderStatusInput,
    ShipOrderInput,
    ShipOrderResult,
)

log = logging.getLogger(__name__)

PHASE_TO_BACKMARKET = {
    OrderPhase.IMPORTED: BackMarketPhase.PAID,
    OrderPhase.VALIDATED: BackMarketPhase.VALIDATED,
    OrderPhase.WAITING_FOR_COMMIT: BackMarketPhase.VALIDATED,
    OrderPhase.COMMITTED: BackMarketPhase.VALIDATED,
    OrderPhase.IMEI_SENT: BackMarketPhase.VALIDATED,
    OrderPhase.WAITING_FOR_SHIPMENT: BackMarketPhase.VALIDATED,
    OrderPhase.SHIPPED: BackMarketPhase.SHIPPED,
    OrderPhase.CANCELLED: BackMarketPhase.CANCELLED,
    OrderPhase.REFUNDED: BackMarketPhase.REFUNDED,
}


class OrderActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self.deps = deps

    @activity.defn
    @heartbeats
    async def refresh_order(self, input: OrderRef) -> OrderObserved:
        """Read one order from Back Market and store it."""
        order = await self._read_order(input)
        upserted = await asyncio.to_thread(self._store, input.account_id, order)
        return observed(order, upserted)

    def _store(self, account_id: int, order: Order) -> UpsertOrderResult:
        with self.deps.session_factory.begin() as session:
            return upsert_backmarket_order(session, account_id, order_data(order))

    @activity.defn
    def load_order_settings(self, input: OrderRef) -> OrderSettings:
        with self.deps.session_factory() as session:
            try:
                settings = order_db.account_settings(session, input.account_id)
            except LookupError as exc:
                raise rejected(str(exc), "AccountMissing") from None
            return OrderSettings(
                auto_validate=settings.auto_validate, imei_sync=settings.imei_sync
            )

    @activity.defn
    @heartbeats
    async def accept_line(self, input: AcceptLineInput) -> AcceptLineResult:
        """Accept one orderline; a line Back Market already accepted counts as done."""
        async with self._refusal_logged(
            input.account_id,
            "order_validate",
            input.order_id,
            f"orderline {input.orderline_id}",
        ):
            return await self._accept_line(input)

    async def _accept_line(self, input: AcceptLineInput) -> AcceptLineResult:
        client = await self.deps.clients.get(input.account_id)
        state = await self._line_state(client, input) if _is_retry() else LINE_PAID
        if state != LINE_PAID:
            return _accept_settled(state)
        with backmarket_call():
            try:
                await client.accept_orderline(input.order_id, input.sku)
            except BadRequestError:
                # The line may have moved since the import read it: a customer who
                # cancelled, or another tool that accepted it first.
                state = await self._line_state(client, input)
                if state == LINE_PAID:
                    raise
                return _accept_settled(state)
        await asyncio.to_thread(
            self._log,
            input.account_id,
            "order_validate",
            input.order_id,
            f"accepted orderline {input.orderline_id}",
        )
        return AcceptLineResult(
            accepted=True, backmarket_state=LINE_ACCEPTED, note="accepted"
        )

    async def _line_state(
        self, client: BackMarketClient, input: AcceptLineInput
    ) -> int:
        with backmarket_call():
            order = await client.get_order(input.order_id)
        for line in order.orderlines:
            if line.id == input.orderline_id:
                return line.state
        raise rejected(f"order {input.order_id} has no orderline {input.orderline_id}")

    @activity.defn
    def record_commit(self, input: RecordCommitInput) -> CommittedItem:
        """Check every commit rule and record the commit, or record nothing."""
        try:
            with self.deps.session_factory.begin() as session:
                device = order_db.record_commit(
                    session,
                    input.account_id,
                    input.order_id,
                    input.orderline_id,
                    input.identifier,
                    input.allow_mismatch,
                )
        except (order_db.CommitRejected, LookupError) as exc:
            raise refused(str(exc)) from None
        return CommittedItem(
            inventory_item_id=device.inventory_item_id,
            imei=device.imei,
            serial=device.serial,
            fulfils_line=device.fulfils_line,
        )

    @activity.defn
    def release_commits(self, input: ReleaseCommitsInput) -> int:
        with self.deps.session_factory.begin() as session:
            return order_db.release_line_commits(
                session, input.account_id, input.order_id, input.orderline_id
            )

    @activity.defn
    @heartbeats
    async def send_line_imei(self, input: SendLineImeiInput) -> SendLineImeiResult:
        """Set one orderline's IMEI; an IMEI already there and equal counts as sent."""
        async with self._refusal_logged(
            input.account_id,
            "imei_sync",
            input.order_id,
            f"the IMEI of orderline {input.orderline_id}",
        ):
            return await self._send_line_imei(input)

    async def _send_line_imei(self, input: SendLineImeiInput) -> SendLineImeiResult:
        imei = await asyncio.to_thread(self._imei_of, input.inventory_item_id)
        if imei is None:
            return SendLineImeiResult(sent=False, note="the device has no valid IMEI")
        client = await self.deps.clients.get(input.account_id)
        if _is_retry():
            current = await self._orderline_imei(client, input)
            if current is not None:
                return _imei_outcome(current, imei)
        with backmarket_call():
            try:
                await client.set_orderline_identifiers(input.orderline_id, imei=imei)
            except UnprocessableError:
                # Back Market already holds an identifier for the line: ours or not?
                current = await self._orderline_imei(client, input)
                if current is None:
                    raise
                return _imei_outcome(current, imei)
        await asyncio.to_thread(
            self._log,
            input.account_id,
            "imei_sync",
            input.order_id,
            f"IMEI sent for orderline {input.orderline_id}",
        )
        return SendLineImeiResult(sent=True, note="IMEI sent")

    async def _orderline_imei(
        self, client: BackMarketClient, input: SendLineImeiInput
    ) -> str | None:
        with backmarket_call():
            order = await client.get_order(input.order_id)
        for line in order.orderlines:
            if line.id == input.orderline_id:
                return line.imei or None
        return None

    def _imei_of(self, inventory_item_id: int) -> str | None:
        with self.deps.session_factory() as session:
            imei = order_db.device_imei(session, inventory_item_id)
        return imei if imei is not None and is_valid_imei(imei) else None

    @activity.defn
    def record_shipment(self, input: RecordShipmentInput) -> None:
        try:
            with self.deps.session_factory.begin() as session:
                order_db.record_shipment(
                    session,
                    input.account_id,
                    input.order_id,
                    input.shipment.tracking_number.strip(),
                    input.shipment.carrier,
                    input.shipment.url,
                )
        except ShipmentRefused as exc:
            raise refused(
                f"order {input.order_id}: {exc}", "ShipmentRejected"
            ) from None

    @activity.defn
    @heartbeats
    async def ship_order(self, input: ShipOrderInput) -> ShipOrderResult:
        """Send the shipment, with the IMEI of a single-device order; once only."""
        async with self._refusal_logged(
            input.account_id,
            "shipment",
            input.order_id,
            f"shipment {input.shipment.tracking_number.strip()}",
        ):
            return await self._ship_order(input)

    async def _ship_order(self, input: ShipOrderInput) -> ShipOrderResult:
        client = await self.deps.clients.get(input.account_id)
        imei = None
        if input.inventory_item_id is not None:
            imei = await asyncio.to_thread(self._imei_of, input.inventory_item_id)
        if _is_retry():
            with backmarket_call():
                order = await client.get_order(input.order_id)
            if order.state == ORDER_SHIPPED:
                return await self._shipped_already(input, order, imei)
        tracking = input.shipment.tracking_number.strip()
        with backmarket_call():
            try:
                await self._ship(client, input, imei)
            except BadRequestError:
                # Refused: already shipped (by an earlier attempt whose answer came
                # late, or from the back office), or for an IMEI someone else set,
                # which cannot change.
                order = await client.get_order(input.order_id)
                if order.state == ORDER_SHIPPED:
                    return await self._shipped_already(input, order, imei)
                held = order.orderlines[0].imei if len(order.orderlines) == 1 else None
                if imei is None or not held:
                    raise
                await self._ship(client, input, None)
                await asyncio.to_thread(self._mark_sent, input)
                return ShipOrderResult(
                    shipped=True,
                    imei_sent=held == imei,
                    note=f"shipped with tracking {tracking}; Back Market already "
                    "held an IMEI for the line",
                )
        await asyncio.to_thread(self._mark_sent, input)
        note = f"shipped with tracking {tracking}"
        if imei is not None:
            note += " and the device's IMEI"
        return ShipOrderResult(shipped=True, imei_sent=imei is not None, note=note)

    async def _ship(
        self, client: BackMarketClient, input: ShipOrderInput, imei: str | None
    ) -> None:
        shipment = input.shipment
        await client.ship_order(
            input.order_id,
            tracking_number=shipment.tracking_number.strip(),
            tracking_url=shipment.url,
            shipper=shipment.carrier,
            imei=imei,
        )

    async def _shipped_already(
        self, input: ShipOrderInput, order: Order, imei: str | None
    ) -> ShipOrderResult:
        await asyncio.to_thread(self._mark_sent, input)
        sent_imei = imei is not None and any(
            line.imei == imei for line in order.orderlines
        )
        return ShipOrderResult(
            shipped=True, imei_sent=sent_imei, note="already shipped"
        )

    def _mark_sent(self, input: ShipOrderInput) -> None:
        with self.deps.session_factory.begin() as session:
            order_db.mark_shipment_sent(
                session,
                input.account_id,
                input.order_id,
                input.shipment.tracking_number.strip(),
                input.shipment.carrier,
                input.shipment.url,
            )
            log_sync(
                session,
                account_id=input.account_id,
                kind="shipment",
                direction="push",
                result="ok",
                external_ref=str(input.order_id),
                detail="shipment sent",
            )

    @activity.defn
    def set_order_status(self, input: SetOrderStatusInput) -> None:
        """Move the sales order to the status the account maps its phase to."""
        with self.deps.session_factory.begin() as session:
            order_db.set_order_phase(
                session,
                input.account_id,
                input.order_id,
                PHASE_TO_BACKMARKET[input.phase].value,
                input.line_states,
            )

    async def _read_order(self, input: OrderRef) -> Order:
        client = await self.deps.clients.get(input.account_id)
        with backmarket_call():
            return await client.get_order(input.order_id)

    @asynccontextmanager
    async def _refusal_logged(
        self, account_id: int, kind: str, order_id: int, what: str
    ) -> AsyncIterator[None]:
        """A write refused for good leaves a failed line in the sync log.

        The order's workflow notes the refusal and goes on without the write, which
        is not repeated by itself: `bmsync log` and `bmsync doctor` read it here.
        """
        try:
            yield
        except ApplicationError as exc:
            if exc.non_retryable:
                try:
                    await asyncio.to_thread(
                        self._log_refused, account_id, kind, order_id, what, exc
                    )
                except Exception as failure:
                    # The refusal is the answer the workflow needs; a sync log that
                    # cannot be written must not turn it into a retried write.
                    log.warning(
                        "refusal not logged",
                        extra={
                            "order_id": order_id,
                            "kind": kind,
                            "error_class": type(failure).__name__,
                        },
                    )
            raise

    def _log(self, account_id: int, kind: str, order_id: int, detail: str) -> None:
        with self.deps.session_factory.begin() as session:
            log_sync(
                session,
                account_id=account_id,
                kind=kind,
                direction="push",
                result="ok",
                external_ref=str(order_id),
                detail=detail,
            )

    def _log_refused(
        self,
        account_id: int,
        kind: str,
        order_id: int,
        what: str,
        error: ApplicationError,
    ) -> None:
        with self.deps.session_factory.begin() as session:
            log_sync(
                session,
                account_id=account_id,
                kind=kind,
                direction="push",
                result="failed",
                external_ref=str(order_id),
                error_class=error.type or type(error).__name__,
                detail=f"Back Market refused {what}: {error.message}",
            )


def _is_retry() -> bool:
    """A repeated attempt may follow a write whose answer was lost."""
    return activity.info().attempt > 1


def _accept_settled(state: int) -> AcceptLineResult:
    """What accepting a line comes to when Back Market shows it already decided."""
    if state in (LINE_ACCEPTED, LINE_SHIPPED):
        return AcceptLineResult(
            accepted=True, backmarket_state=state, note="already accepted"
        )
    return AcceptLineResult(
        accepted=False,
        backmarket_state=state,
        note=f"Back Market shows the line in state {state}: not accepted",
    )


def _imei_outcome(current: str, ours: str) -> SendLineImeiResult:
    if current == ours:
        return SendLineImeiResult(sent=True, note="IMEI already on Back Market")
    return SendLineImeiResult(
        sent=False,
        note="Back Market already holds another IMEI for this line; it cannot change",
    )
