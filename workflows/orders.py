"""One durable workflow per Back Market order: validate, commit, IMEI, ship."""

import asyncio
from collections.abc import Awaitable, Callable

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

from domain.orders import (
    LINE_ACCEPTED,
    LINE_CANCELLED,
    LINE_PAID,
    LINE_PAYMENT_REFUSED,
    LINE_SHIPPED,
    ORDER_SHIPPED,
    AcceptLineInput,
    AddShipmentInput,
    AddShipmentResult,
    AnswerQuery,
    CommitInventoryInput,
    CommitInventoryResult,
    CommittedItem,
    LineStatus,
    OrderAnswer,
    OrderObserved,
    OrderPhase,
    OrderRef,
    OrderRequest,
    OrderSettings,
    OrderState,
    OrderWorkflowInput,
    RecordCommitInput,
    RecordShipmentInput,
    ReleaseCommitsInput,
    SendLineImeiInput,
    SetOrderStatusInput,
    ShipmentStatus,
    ShipOrderInput,
    ValidateOrderInput,
    ValidateOrderResult,
    request_fingerprint,
    request_id_reused,
)
from domain.quantities import NotifyStockChangedInput
from workflows.policies import (
    BACKMARKET_HEARTBEAT,
    BACKMARKET_RETRY,
    BACKMARKET_TIMEOUT,
    DATABASE_RETRY,
    DATABASE_TIMEOUT,
    NOTIFY_RETRY,
    NOTIFY_TIMEOUT,
)

with workflow.unsafe.imports_passed_through():
    from activities.orders import OrderActivities
    from activities.quantities import QuantityActivities

Answerable = CommitInventoryResult | AddShipmentResult | ValidateOrderResult


@workflow.defn
class OrderWorkflow:
    """Carries one order from import to shipment, line by line.

    Back Market's view arrives as `observe` signals from the import; operators and
    the HTTP API send `request_validation`, `request_commit` and `request_shipment`
    signals and read the answer back with the `answer` query. Every write to Back
    Market is an activity that checks the order before it repeats itself, so a lost
    answer never sends anything twice.
    """

    @workflow.init
    def __init__(self, input: OrderWorkflowInput) -> None:
        self.account_id = input.account_id
        self.order_id = input.order_id
        self.lines: dict[int, LineStatus] = {}
        self.order_state: int | None = None
        self.observations: list[OrderObserved] = []
        self.shipment: ShipmentStatus | None = None
        # The tracking number on its way to Back Market, while it is.
        self.sending: str | None = None
        self.phase = OrderPhase.IMPORTED
        self.recorded_phase: OrderPhase | None = None
        self.notes: list[str] = []
        self.loaded = False
        # Why the order cannot be read, when it cannot; requests are refused with it.
        self.unavailable: str | None = None
        self.wake = False
        self.write_lock = asyncio.Lock()
        self.notices: set[asyncio.Future[int]] = set()
        # Answers to operators' requests by request id, and those being handled.
        self.answers: dict[str, OrderAnswer] = {}
        self.requests_open: set[str] = set()
        # The fingerprint of the request each id was first used for, so a repeat
        # can be told from a different request sent under the same id.
        self.fingerprints: dict[str, str] = {}

    @workflow.run
    async def run(self, input: OrderWorkflowInput) -> OrderState:
        if not self.observations:
            # Started by a commit or a shipment rather than by the import.
            try:
                observed = await workflow.execute_activity_method(
                    OrderActivities.refresh_order,
                    OrderRef(account_id=self.account_id, order_id=self.order_id),
                    start_to_close_timeout=BACKMARKET_TIMEOUT,
                    heartbeat_timeout=BACKMARKET_HEARTBEAT,
                    retry_policy=BACKMARKET_RETRY,
                )
            except ActivityError as err:
                # Back Market does not know the order (or the account is broken):
                # answer the waiting requests with why, then fail this run so that
                # a later request may start afresh.
                refusal = _rule_broken(err)
                if (
                    isinstance(refusal, ApplicationError)
                    and refusal.type == "BackMarketNotFound"
                ):
                    refusal = ApplicationError(
                        f"Back Market has no order {self.order_id} for this account",
                        type="OrderUnavailable",
                        non_retryable=True,
                    )
                self.unavailable = _sentence(refusal)
                await workflow.wait_condition(workflow.all_handlers_finished)
                raise refusal from None
            self.observations.append(observed)

        while True:
            self.wake = False
            await self._apply_observations()
            if self._finished():
                break
            await self._validate_if_automatic()
            await self._send_line_imeis()
            await self._ship_if_ready()
            await self._record_phase()
            if self._finished():
                break
            await workflow.wait_condition(lambda: self.wake)

        await self._record_phase()
        await workflow.wait_condition(
            lambda: workflow.all_handlers_finished() and not self.notices
        )
        return self.state()

    @workflow.signal
    def observe(self, observed: OrderObserved) -> None:
        """Back Market's current view of the order, sent by the import."""
        self.observations.append(observed)
        self.wake = True

    @workflow.query
    def state(self) -> OrderState:
        return OrderState(
            account_id=self.account_id,
            order_id=self.order_id,
            phase=self.phase,
            lines=[self.lines[key] for key in sorted(self.lines)],
            shipment=self.shipment,
            notes=self.notes[-20:],
        )

    @workflow.query
    def answer(self, input: AnswerQuery) -> OrderAnswer | None:
        """What became of a request, once the workflow has dealt with it.

        Asked with a fingerprint that differs from the request acted on under the
        id, the answer refuses: that id belongs to another request.
        """
        acted_on = self.fingerprints.get(input.request_id)
        if input.fingerprint is not None and acted_on not in (None, input.fingerprint):
            return request_id_reused(input.request_id)
        return self.answers.get(input.request_id)

    @workflow.signal
    async def request_validation(self, input: ValidateOrderInput) -> None:
        """Accept lines on Back Market, as an operator asked."""
        await self._answer(input, lambda: self._validate(input))

    @workflow.signal
    async def request_commit(self, input: CommitInventoryInput) -> None:
        """Record which device fulfils an orderline; its IMEI follows when it may."""
        await self._answer(input, lambda: self._commit(input))

    @workflow.signal
    async def request_shipment(self, input: AddShipmentInput) -> None:
        """Record a shipment; it goes out once every line is validated and committed."""
        await self._answer(input, lambda: self._add_shipment(input))

    async def _answer(
        self, request: OrderRequest, handle: Callable[[], Awaitable[Answerable]]
    ) -> None:
        """Handle a request once, and keep its result or refusal for the asker.

        A client that repeats a request it has no answer to yet sends the same id,
        so the repeat is not acted on twice; nor is a different request under that
        id, which the `answer` query refuses.
        """
        request_id = request.request_id
        if request_id is not None:
            if request_id in self.answers or request_id in self.requests_open:
                return
            self.requests_open.add(request_id)
            self.fingerprints[request_id] = request_fingerprint(request)
        try:
            result = await handle()
        except (ApplicationError, ActivityError) as err:
            # A refused request is an answer, never a failure of the order.
            refusal = _rule_broken(err) if isinstance(err, ActivityError) else err
            answer = OrderAnswer(
                request_id=request_id or "",
                refusal=_sentence(refusal),
                refusal_type=getattr(refusal, "type", None),
            )
        else:
            answer = OrderAnswer(request_id=request_id or "", **{_slot(result): result})
        if request_id is not None:
            self.requests_open.discard(request_id)
            self.answers[request_id] = answer

    async def _validate(self, input: ValidateOrderInput) -> ValidateOrderResult:
        await self._wait_loaded()
        for orderline_id in input.orderline_ids or []:
            if orderline_id not in self.lines:
                raise ApplicationError(
                    f"order {self.order_id} has no orderline {orderline_id}",
                    type="ValidateRejected",
                    non_retryable=True,
                )
        wanted = input.orderline_ids or list(self.lines)
        accepted, skipped, refusals = [], [], []
        for orderline_id in wanted:
            if await self._accept(orderline_id):
                accepted.append(orderline_id)
                continue
            skipped.append(orderline_id)
            refusal = self.lines[orderline_id].accept_refusal
            if refusal is not None:
                refusals.append(refusal)
        self.wake = True
        return ValidateOrderResult(
            accepted=accepted, skipped=skipped, refusals=refusals
        )

    async def _commit(self, input: CommitInventoryInput) -> CommitInventoryResult:
        await self._wait_loaded()
        line = self.lines.get(input.orderline_id)
        if line is not None and not line.closed:
            # A device sent again to a line it already fills is a repeat, even
            # when the line has all its devices.
            for item in line.commits:
                if input.identifier.strip() in (item.imei, item.serial):
                    return self._committed_again(line, item)
        self._check_line_open_for_commit(input.orderline_id)
        line = self.lines[input.orderline_id]
        try:
            item = await workflow.execute_activity_method(
                OrderActivities.record_commit,
                RecordCommitInput(
                    account_id=self.account_id,
                    order_id=self.order_id,
                    orderline_id=input.orderline_id,
                    identifier=input.identifier,
                    allow_mismatch=input.allow_mismatch,
                ),
                start_to_close_timeout=DATABASE_TIMEOUT,
                retry_policy=DATABASE_RETRY,
            )
        except ActivityError as err:
            raise _rule_broken(err) from None
        imei_will_sync, note = self._imei_outlook(line, item)
        if any(c.inventory_item_id == item.inventory_item_id for c in line.commits):
            # The same device again: it fulfils one unit, however often it is sent.
            return self._committed_again(line, item)
        line.commits.append(item)
        if not imei_will_sync:
            line.imei_note = note
        self.wake = True
        return CommitInventoryResult(
            orderline_id=input.orderline_id,
            inventory_item_id=item.inventory_item_id,
            fulfils_line=item.fulfils_line,
            imei_will_sync=imei_will_sync,
            note=note,
        )

    def _committed_again(
        self, line: LineStatus, item: CommittedItem
    ) -> CommitInventoryResult:
        imei_will_sync, _ = self._imei_outlook(line, item)
        return CommitInventoryResult(
            orderline_id=line.orderline_id,
            inventory_item_id=item.inventory_item_id,
            fulfils_line=item.fulfils_line,
            imei_will_sync=imei_will_sync and not line.imei_sent,
            note="already committed to this orderline",
        )

    async def _add_shipment(self, input: AddShipmentInput) -> AddShipmentResult:
        await self._wait_loaded()
        self._check_can_ship()
        shipment = input.model_copy(update={"request_id": None})
        await workflow.execute_activity_method(
            OrderActivities.record_shipment,
            RecordShipmentInput(
                account_id=self.account_id, order_id=self.order_id, shipment=shipment
            ),
            start_to_close_timeout=DATABASE_TIMEOUT,
            retry_policy=DATABASE_RETRY,
        )
        # A send that began while the shipment was being recorded goes on with
        # what it took; the record of that send drops this one.
        self._check_can_ship()
        replaced = self.shipment
        self.shipment = ShipmentStatus(
            tracking_number=input.tracking_number.strip(),
            carrier=input.carrier,
            url=input.url,
        )
        self.wake = True
        note = _replacement(replaced, self.shipment)
        if self._ready_to_ship():
            return AddShipmentResult(held=False, note=note + "sending to Back Market")
        return AddShipmentResult(
            held=True, note=f"{note}held: {self._shipment_waits()}"
        )

    async def _wait_loaded(self) -> None:
        await workflow.wait_condition(
            lambda: self.loaded or self.unavailable is not None
        )
        if self.unavailable is not None:
            raise ApplicationError(
                self.unavailable, type="OrderUnavailable", non_retryable=True
            )

    def _check_line_open_for_commit(self, orderline_id: int) -> None:
        self._check_not_finished()
        line = self.lines.get(orderline_id)
        if line is None:
            raise ApplicationError(
                f"order {self.order_id} has no orderline {orderline_id}",
                type="CommitRejected",
                non_retryable=True,
            )
        if line.closed:
            raise ApplicationError(
                f"orderline {orderline_id} is cancelled or refunded",
                type="CommitRejected",
                non_retryable=True,
            )
        if line.fully_committed:
            raise ApplicationError(
                f"orderline {orderline_id} already has {len(line.commits)} of "
                f"{line.quantity} devices committed",
                type="CommitRejected",
                non_retryable=True,
            )

    def _check_not_finished(self) -> None:
        if self._finished():
            raise ApplicationError(
                f"order {self.order_id} is {self._current_phase().value}; "
                "it takes no more changes",
                type="OrderFinished",
                non_retryable=True,
            )

    def _check_can_ship(self) -> None:
        if self.shipment is not None and self.shipment.sent:
            raise ApplicationError(
                f"order {self.order_id} is already shipped",
                type="ShipmentRejected",
                non_retryable=True,
            )
        if self.sending is not None:
            raise ApplicationError(
                f"order {self.order_id}'s shipment {self.sending} is being sent to "
                "Back Market; it can no longer be replaced",
                type="ShipmentRejected",
                non_retryable=True,
            )
        if self.lines and all(line.closed for line in self.lines.values()):
            raise ApplicationError(
                f"every line of order {self.order_id} is cancelled or refunded",
                type="ShipmentRejected",
                non_retryable=True,
            )

    async def _apply_observations(self) -> None:
        observations, self.observations = self.observations, []
        for observed in observations:
            self.order_state = observed.state
            for seen in observed.lines:
                line = self.lines.get(seen.orderline_id)
                if line is None:
                    line = LineStatus(
                        orderline_id=seen.orderline_id,
                        sku=seen.sku,
                        quantity=seen.quantity,
                        backmarket_state=seen.state,
                        unknown_sku=seen.unknown_sku,
                    )
                    self.lines[seen.orderline_id] = line
                line.unknown_sku = seen.unknown_sku
                await self._line_moved(line, seen.state)
            if observed.state == ORDER_SHIPPED and self.shipment is not None:
                self.shipment.sent = True
        self.loaded = self.loaded or bool(self.lines)

    async def _line_moved(self, line: LineStatus, state: int) -> None:
        """Take the line's state on Back Market; a closing line frees its devices."""
        was_closed = line.closed
        line.backmarket_state = state
        if state in (LINE_ACCEPTED, LINE_SHIPPED):
            line.validated = True
        if line.closed and not was_closed and line.commits:
            await self._release(line)

    async def _release(self, line: LineStatus) -> None:
        await workflow.execute_activity_method(
            OrderActivities.release_commits,
            ReleaseCommitsInput(
                account_id=self.account_id,
                order_id=self.order_id,
                orderline_id=line.orderline_id,
            ),
            start_to_close_timeout=DATABASE_TIMEOUT,
            retry_policy=DATABASE_RETRY,
        )
        self.notes.append(
            f"released {len(line.commits)} device(s) of cancelled orderline "
            f"{line.orderline_id}"
        )
        line.commits = []

    async def _validate_if_automatic(self) -> None:
        waiting = [
            line.orderline_id
            for line in self.lines.values()
            if line.backmarket_state == LINE_PAID
            and not line.validated
            and line.accept_refusal is None
        ]
        if not waiting:
            return
        settings = await self._settings()
        if not settings.auto_validate:
            return
        for orderline_id in waiting:
            await self._accept(orderline_id)

    async def _accept(self, orderline_id: int) -> bool:
        async with self.write_lock:
            line = self.lines.get(orderline_id)
            if line is None or line.validated or line.backmarket_state != LINE_PAID:
                return False
            try:
                result = await workflow.execute_activity_method(
                    OrderActivities.accept_line,
                    AcceptLineInput(
                        account_id=self.account_id,
                        order_id=self.order_id,
                        orderline_id=orderline_id,
                        sku=line.sku,
                    ),
                    start_to_close_timeout=BACKMARKET_TIMEOUT,
                    heartbeat_timeout=BACKMARKET_HEARTBEAT,
                    retry_policy=BACKMARKET_RETRY,
                )
            except ActivityError as err:
                line.accept_refusal = self._refused(err, f"orderline {orderline_id}")
                return False
            line.accept_refusal = None
            await self._line_moved(line, result.backmarket_state)
            line.validated = result.accepted
            if not result.accepted:
                self.notes.append(f"orderline {orderline_id}: {result.note}")
            return result.accepted

    async def _send_line_imeis(self) -> None:
        """Orders of several devices get each IMEI on its own orderline."""
        if self._single_device():
            return
        candidates = [
            line
            for line in self.lines.values()
            if line.validated
            and not line.closed
            and not line.imei_sent
            and line.imei_refusal is None
            and line.commits
            and self._imei_outlook(line, line.commits[0])[0]
        ]
        if not candidates:
            return
        settings = await self._settings()
        if not settings.imei_sync:
            return
        for line in candidates:
            async with self.write_lock:
                try:
                    result = await workflow.execute_activity_method(
                        OrderActivities.send_line_imei,
                        SendLineImeiInput(
                            account_id=self.account_id,
                            order_id=self.order_id,
                            orderline_id=line.orderline_id,
                            inventory_item_id=line.commits[0].inventory_item_id,
                        ),
                        start_to_close_timeout=BACKMARKET_TIMEOUT,
                        heartbeat_timeout=BACKMARKET_HEARTBEAT,
                        retry_policy=BACKMARKET_RETRY,
                    )
                except ActivityError as err:
                    refusal = self._refused(
                        err, f"IMEI of orderline {line.orderline_id}"
                    )
                    line.imei_refusal = line.imei_note = refusal
                    continue
            line.imei_sent = result.sent
            line.imei_note = result.note

    async def _ship_if_ready(self) -> None:
        if not self._shipment_due():
            return
        imei_item: int | None = None
        if self._single_device():
            line = next(iter(self.lines.values()))
            if line.commits and self._imei_outlook(line, line.commits[0])[0]:
                settings = await self._settings()
                if settings.imei_sync:
                    imei_item = line.commits[0].inventory_item_id
        async with self.write_lock:
            # Asked again: the shipment may have been replaced while this waited.
            shipment = self.shipment
            if shipment is None or not self._shipment_due():
                return
            self.sending = shipment.tracking_number
            try:
                result = await workflow.execute_activity_method(
                    OrderActivities.ship_order,
                    ShipOrderInput(
                        account_id=self.account_id,
                        order_id=self.order_id,
                        shipment=AddShipmentInput(
                            tracking_number=shipment.tracking_number,
                            carrier=shipment.carrier,
                            url=shipment.url,
                        ),
                        inventory_item_id=imei_item,
                    ),
                    start_to_close_timeout=BACKMARKET_TIMEOUT,
                    heartbeat_timeout=BACKMARKET_HEARTBEAT,
                    retry_policy=BACKMARKET_RETRY,
                )
            except ActivityError as err:
                shipment.refusal = self._refused(err, "the shipment")
                return
            finally:
                self.sending = None
        shipment.sent = result.shipped
        self.notes.append(result.note)
        if result.shipped:
            self.order_state = ORDER_SHIPPED
            for line in self.lines.values():
                if line.validated and not line.closed:
                    line.backmarket_state = LINE_SHIPPED
                    if imei_item is not None and result.imei_sent:
                        line.imei_sent = True

    def _refused(self, err: ActivityError, what: str) -> str:
        """Note a write Back Market refused for good; the order goes on without it."""
        refusal = f"Back Market refused {what}: {_sentence(_rule_broken(err))}"
        self.notes.append(refusal)
        workflow.logger.warning(
            "write refused", extra={"order_id": self.order_id, "what": what}
        )
        return refusal

    def _shipment_due(self) -> bool:
        return (
            self.shipment is not None
            and not self.shipment.sent
            and self.shipment.refusal is None
            and self._ready_to_ship()
        )

    def _ready_to_ship(self) -> bool:
        """Every open line validated and with its devices committed.

        A shipment sent before its devices are committed would close the order and
        put back on sale stock that has left the building.
        """
        open_lines = [line for line in self.lines.values() if not line.closed]
        return bool(open_lines) and all(
            line.validated and line.fully_committed for line in open_lines
        )

    def _shipment_waits(self) -> str:
        """What a held shipment waits for, in an operator's words."""
        waits = []
        for line in self.lines.values():
            if line.closed:
                continue
            if not line.validated:
                waits.append(f"orderline {line.orderline_id} is validated")
            missing = line.quantity - len(line.commits)
            if missing > 0:
                devices = "1 device is" if missing == 1 else f"{missing} devices are"
                waits.append(f"{devices} committed to orderline {line.orderline_id}")
        return "it is sent once " + " and ".join(waits)

    def _single_device(self) -> bool:
        lines = list(self.lines.values())
        return len(lines) == 1 and lines[0].quantity == 1

    def _imei_outlook(self, line: LineStatus, item: CommittedItem) -> tuple[bool, str]:
        """Whether this device's IMEI may go to Back Market, and why not."""
        if line.unknown_sku:
            return False, "the orderline has an unknown SKU: no IMEI is sent"
        if not item.fulfils_line:
            return False, "the device does not fulfil the orderline: no IMEI is sent"
        if item.imei is None:
            return False, "the device has no IMEI: nothing to send"
        if line.quantity > 1:
            return False, "Back Market holds one IMEI per orderline: none is sent"
        if line.imei_refusal is not None:
            return False, line.imei_refusal
        if self._single_device():
            return True, "the IMEI goes to Back Market with the shipment"
        if line.validated:
            return True, "the line is validated: the IMEI is being sent to Back Market"
        return True, "the IMEI goes to Back Market once the line is validated"

    async def _settings(self) -> OrderSettings:
        return await workflow.execute_activity_method(
            OrderActivities.load_order_settings,
            OrderRef(account_id=self.account_id, order_id=self.order_id),
            start_to_close_timeout=DATABASE_TIMEOUT,
            retry_policy=DATABASE_RETRY,
        )

    def _finished(self) -> bool:
        if self.order_state == ORDER_SHIPPED:
            return True
        if self.shipment is not None and self.shipment.sent:
            return True
        return bool(self.lines) and all(line.closed for line in self.lines.values())

    def _current_phase(self) -> OrderPhase:
        lines = list(self.lines.values())
        if lines and all(line.closed for line in lines):
            cancelled = {LINE_CANCELLED, LINE_PAYMENT_REFUSED}
            if all(line.backmarket_state in cancelled for line in lines):
                return OrderPhase.CANCELLED
            return OrderPhase.REFUNDED
        if self._finished():
            return OrderPhase.SHIPPED
        open_lines = [line for line in lines if not line.closed]
        if not all(line.validated for line in open_lines):
            return OrderPhase.IMPORTED
        committed = sum(len(line.commits) for line in open_lines)
        if committed == 0:
            return OrderPhase.VALIDATED
        if not all(line.fully_committed for line in open_lines):
            return OrderPhase.WAITING_FOR_COMMIT
        if not self._single_device():
            pending = [
                line
                for line in open_lines
                if not line.imei_sent
                and line.imei_refusal is None
                and self._imei_outlook(line, line.commits[0])[0]
            ]
            if pending:
                return OrderPhase.COMMITTED
            if any(line.imei_sent for line in open_lines):
                return OrderPhase.IMEI_SENT
        return OrderPhase.WAITING_FOR_SHIPMENT

    async def _record_phase(self) -> None:
        self.phase = self._current_phase()
        if self.phase == self.recorded_phase:
            return
        await workflow.execute_activity_method(
            OrderActivities.set_order_status,
            SetOrderStatusInput(
                account_id=self.account_id,
                order_id=self.order_id,
                phase=self.phase,
                line_states={
                    key: line.backmarket_state for key, line in self.lines.items()
                },
            ),
            start_to_close_timeout=DATABASE_TIMEOUT,
            retry_policy=DATABASE_RETRY,
        )
        self.recorded_phase = self.phase
        workflow.logger.info(
            "order phase", extra={"order_id": self.order_id, "phase": self.phase}
        )
        self._notify_stock_changed()

    def _notify_stock_changed(self) -> None:
        """Every phase change may move stock; the order does not wait for it."""
        notice = workflow.start_activity_method(
            QuantityActivities.notify_stock_changed,
            NotifyStockChangedInput(
                account_ids=[self.account_id], reason=f"order {self.phase.value}"
            ),
            start_to_close_timeout=NOTIFY_TIMEOUT,
            retry_policy=NOTIFY_RETRY,
        )
        self.notices.add(notice)
        notice.add_done_callback(self._notice_done)

    def _notice_done(self, notice: asyncio.Future[int]) -> None:
        self.notices.discard(notice)
        if not notice.cancelled() and notice.exception() is not None:
            # The periodic reconcile catches what a lost notification misses.
            workflow.logger.warning(
                "could not notify the quantity sync", extra={"order_id": self.order_id}
            )


def _slot(result: Answerable) -> str:
    """The field of OrderAnswer that carries this kind of result."""
    if isinstance(result, CommitInventoryResult):
        return "commit"
    if isinstance(result, AddShipmentResult):
        return "shipment"
    return "validation"


def _replacement(earlier: ShipmentStatus | None, shipment: ShipmentStatus) -> str:
    """How a shipment changes the one the order held, for the operator's answer."""
    if earlier is None:
        return ""
    if earlier.tracking_number != shipment.tracking_number:
        why = "Back Market refused" if earlier.refusal else "was not sent"
        return f"replaces shipment {earlier.tracking_number}, which {why}; "
    if (earlier.carrier, earlier.url) != (shipment.carrier, shipment.url):
        return f"shipment {shipment.tracking_number} now has its new carrier and url; "
    return ""


def _sentence(refusal: BaseException) -> str:
    """A refusal as people read it: its message, without the error type in front.

    `str()` of an ApplicationError puts its type first ("CommitRejected: ..."); the
    type travels on its own, in `OrderAnswer.refusal_type`.
    """
    if isinstance(refusal, ApplicationError):
        return refusal.message
    return str(refusal)


def _rule_broken(err: ActivityError) -> BaseException:
    """The activity's own refusal, so the caller reads the rule, not a wrapper."""
    cause = err.cause
    if isinstance(cause, ApplicationError):
        return ApplicationError(cause.message, type=cause.type, non_retryable=True)
    return err
