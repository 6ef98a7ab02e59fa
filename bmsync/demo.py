"""The main job end to end, against the sandbox: what `make demo` runs.

The sandbox's customers place orders; the engine imports and accepts them; a scripted
operator commits matching devices and adds shipments through the same client the
`bmsync orders` commands use; the report is read back from the database and from the
sandbox's record of every write it received.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from activities.deps import ActivityDeps, BackMarketClients
from database.accounts import create_account, encrypt_token, get_account
from database.inventory import (
    add_inventory_item,
    add_sku,
    find_sku,
    get_or_create_variation,
    inventory_status_by_name,
    warehouse_by_name,
)
from database.listings import forget_backmarket_quantities
from database.models import (
    AccountStatusMap,
    BackMarketPhase,
    Commit,
    InventoryItem,
    Listing,
    OrderItem,
    Rma,
    SalesOrder,
    SalesOrderStatus,
    Sku,
    SyncLogEntry,
)
from database.quantity import calculated_quantities
from domain.imei import luhn_check_digit
from domain.inventory import VariationSpec
from domain.listings import ImportListingsInput
from domain.orders import (
    LINE_STATES_CLOSED,
    AddShipmentInput,
    CommitInventoryInput,
    OrderPhase,
    OrderState,
)
from domain.quantities import PushQuantitiesResult, ReconcileQuantitiesInput
from domain.returns import ImportReturnsInput
from runtime.order_client import OrderClient, OrderRequestError
from sandbox.config import MerchantConfig, SandboxConfig
from sandbox.server import SandboxServer
from sandbox.state import Order as SandboxOrder
from sandbox.state import SandboxState
from starter import apply_schedules, desired_schedules, load_accounts
from worker import build_worker
from workflows import (
    ImportListingsWorkflow,
    ImportReturnsWorkflow,
    ReconcileQuantitiesWorkflow,
)

MERCHANT = "Demo Refurb"
OPERATORS = 16
IN_STEP_GRACE_S = 30.0
SANDBOX_TOKEN = "sandbox-demo-token"
FINAL_PHASES = {OrderPhase.SHIPPED, OrderPhase.CANCELLED, OrderPhase.REFUNDED}
COMMIT_PHASES = {OrderPhase.VALIDATED, OrderPhase.WAITING_FOR_COMMIT}
SHIP_PHASES = {
    OrderPhase.COMMITTED,
    OrderPhase.IMEI_SENT,
    OrderPhase.WAITING_FOR_SHIPMENT,
}


def demo_merchant() -> MerchantConfig:
    return MerchantConfig(name=MERCHANT, token=SANDBOX_TOKEN, company="DemoRefurb")


def demo_sandbox(seed: int, **changes: Any) -> SandboxConfig:
    """The sandbox a demo runs against; its bulk tasks take seconds, not minutes."""
    return SandboxConfig(
        merchants=[demo_merchant()], seed=seed, task_delay_s=5, **changes
    )


async def run_with_worker(
    temporal: Client,
    task_queue: str,
    session_factory: sessionmaker[Session],
    state_dir: Path,
    config: DemoConfig,
    fail_on_workflow_bugs: bool = False,
) -> tuple[DemoReport, SandboxState]:
    """The scenario with a worker and the account's schedules of its own.

    For tests and benchmarks on a Temporal server that others may share: it adds
    only its account's schedules and removes them when done.
    """
    async with SandboxServer(demo_sandbox(config.seed)) as sandbox:
        world = DemoWorld(
            session_factory=session_factory,
            temporal=temporal,
            task_queue=task_queue,
            sandbox=sandbox.state,
            sandbox_url=sandbox.base_url,
            state_dir=state_dir,
        )
        account_id, skus = prepare_account(world, config)
        deps = ActivityDeps(
            session_factory=session_factory,
            clients=BackMarketClients(session_factory, state_dir=state_dir),
            temporal=temporal,
            task_queue=task_queue,
        )
        desired = [
            schedule
            for schedule in desired_schedules(load_accounts(session_factory))
            if schedule.schedule_id.endswith(f"-{account_id}")
        ]
        worker = build_worker(
            temporal, task_queue, deps, 5, fail_on_workflow_bugs=fail_on_workflow_bugs
        )
        try:
            async with worker:
                await apply_schedules(temporal, task_queue, desired, prune=False)
                try:
                    report = await run_scenario(world, account_id, skus, config)
                finally:
                    for schedule in desired:
                        handle = temporal.get_schedule_handle(schedule.schedule_id)
                        await handle.delete()
        finally:
            await deps.clients.close()
    return report, sandbox.state


@dataclass
class DemoConfig:
    orders: int = 30
    multi_line_share: float = 0.2
    cancel_share: float = 0.1
    devices_per_sku: int = 6
    import_interval_s: int = 5
    # Customers place orders over this many seconds rather than all at once.
    placing_s: float = 10.0
    timeout_s: float = 240.0
    seed: int = 7
    # A run that tightens the sandbox's limits on purpose expects some 429s.
    throttling_expected: bool = False
    # A run that breaks things on purpose expects some syncs to fail and retry.
    failures_expected: bool = False


@dataclass
class PlacedOrder:
    order_id: int
    placed_at: float
    skus: dict[int, str]
    cancelled: set[int] = field(default_factory=set)

    @property
    def open_lines(self) -> list[int]:
        return [line for line in self.skus if line not in self.cancelled]


@dataclass
class DemoReport:
    figures: dict[str, Any]
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class DemoWorld:
    """What a scenario runs against: our database, Temporal and the sandbox."""

    session_factory: sessionmaker[Session]
    temporal: Client
    task_queue: str
    sandbox: SandboxState
    sandbox_url: str
    state_dir: Path


Progress = Callable[[str], None]


def prepare_account(
    world: DemoWorld, config: DemoConfig, name: str | None = None
) -> tuple[int, list[str]]:
    """An account on the sandbox merchant, its catalog, and devices in stock.

    With a `name` that exists already, the account is pointed at this sandbox and
    keeps the stock it has; otherwise a new account is stocked.
    """
    # Fresh IMEIs every run: a database may hold an earlier run's devices.
    rng = random.Random(uuid.uuid4().int)
    with world.sandbox.lock:
        listings = sorted(
            (
                listing
                for listing in world.sandbox.listings.values()
                if listing.merchant == MERCHANT and listing.publication_state == 2
            ),
            key=lambda listing: listing.sku,
        )
    with world.session_factory.begin() as session:
        account = get_account(session, name) if name else None
        if account is not None:
            account.base_url = world.sandbox_url
            account_id = account.id
            stock_it = False
            # A new sandbox knows nothing of our earlier pushes: what we believed
            # it held would make every difference look like another system's write.
            forget_backmarket_quantities(session, account_id)
        else:
            account = create_account(
                session,
                name=name or f"demo-{uuid.uuid4().hex[:8]}",
                platform="eu",
                locale="fr-fr",
                token_ref=encrypt_token(SANDBOX_TOKEN, world.state_dir),
                base_url=world.sandbox_url,
            )
            account.settings.auto_validate = True
            account.settings.order_import_interval_s = config.import_interval_s
            account.settings.quantity_sync = True
            account_id = account.id
            stock_it = True
        status = inventory_status_by_name(session, "Available")
        warehouse = warehouse_by_name(session, "Main")
        assert status is not None and warehouse is not None
        for listing in listings:
            product = listing.product
            variation = get_or_create_variation(
                session,
                VariationSpec(
                    manufacturer=product.model.brand,
                    model=product.model.name,
                    grade=product.grade,
                    storage=f"{product.storage} GB",
                    colour=product.colour,
                    network="Unlocked",
                ),
            )
            if find_sku(session, listing.sku) is None:
                add_sku(session, listing.sku, variation.id)
            for _ in range(config.devices_per_sku if stock_it else 0):
                add_inventory_item(
                    session,
                    variation_id=variation.id,
                    status_id=status.id,
                    warehouse_id=warehouse.id,
                    imei=_imei(rng),
                )
    return account_id, [listing.sku for listing in listings]


async def sync_listings(world: DemoWorld, account_id: int) -> PushQuantitiesResult:
    """Import the account's listings, then push every quantity that differs."""
    await world.temporal.execute_workflow(
        ImportListingsWorkflow.run,
        ImportListingsInput(account_id=account_id),
        id=f"demo-listings-{uuid.uuid4()}",
        task_queue=world.task_queue,
    )
    return await world.temporal.execute_workflow(
        ReconcileQuantitiesWorkflow.run,
        ReconcileQuantitiesInput(account_id=account_id),
        id=f"demo-reconcile-{uuid.uuid4()}",
        task_queue=world.task_queue,
    )


async def run_scenario(
    world: DemoWorld,
    account_id: int,
    skus: list[str],
    config: DemoConfig,
    progress: Progress = lambda _: None,
) -> DemoReport:
    """Customers order, the engine and a scripted operator do the rest; then check."""
    rng = random.Random(config.seed)
    orders = OrderClient(world.temporal, world.task_queue)
    pushed = await sync_listings(world, account_id)
    progress(f"listings imported; {pushed.pushed} quantities pushed to Back Market")
    pools = _device_pools(world, skus)
    placed = await _place_orders(world, skus, config, rng, progress)
    progress(f"{len(placed)} orders placed by the sandbox's customers")

    deadline = time.monotonic() + config.timeout_s
    waiting = {order.order_id: order for order in placed}
    # What the operators last saw of each order, to say why one did not finish.
    seen: dict[int, OrderState] = {}
    # A bench of several people: orders are tended side by side.
    bench = asyncio.Semaphore(OPERATORS)

    async def tend(order: PlacedOrder) -> None:
        async with bench:
            try:
                state = await orders.state(account_id, order.order_id)
            except OrderRequestError as exc:
                progress(f"order {order.order_id}: {exc}; trying again")
                return
            if state is None:
                return
            seen[order.order_id] = state
            if state.phase in FINAL_PHASES:
                waiting.pop(order.order_id, None)
                return
            await _operate(orders, account_id, order, state, pools, progress)

    last_report = 0.0
    while waiting and time.monotonic() < deadline:
        await asyncio.gather(*(tend(order) for order in list(waiting.values())))
        if time.monotonic() - last_report > 5:
            done = len(placed) - len(waiting)
            progress(f"{done}/{len(placed)} orders shipped or closed")
            last_report = time.monotonic()
        await asyncio.sleep(0.5)

    returned = await _return_one(world, account_id, placed, progress)
    # The last shipments move stock; the quantity sync gets its few seconds to
    # follow them even when the orders used up the whole time.
    in_step = await _wait_in_step(
        world, account_id, placed, max(deadline, time.monotonic() + IN_STEP_GRACE_S)
    )
    return _report(
        world,
        account_id,
        placed,
        {order_id: _why_unfinished(seen.get(order_id)) for order_id in waiting},
        returned,
        in_step,
        throttling_expected=config.throttling_expected,
        failures_expected=config.failures_expected,
    )


async def _return_one(
    world: DemoWorld,
    account_id: int,
    placed: list[PlacedOrder],
    progress: Progress,
) -> int | None:
    """A customer sends a device back; the returns import makes it an RMA."""
    with world.sandbox.lock:
        shipped = [
            line.id
            for order in placed
            for line in world.sandbox.orders[order.order_id].lines
            if line.state == 3
        ]
    if not shipped:
        return None
    world.sandbox.open_care_folder(shipped[0], return_label=True)
    await world.temporal.execute_workflow(
        ImportReturnsWorkflow.run,
        ImportReturnsInput(account_id=account_id),
        id=f"demo-returns-{uuid.uuid4()}",
        task_queue=world.task_queue,
    )
    progress(f"a customer returned the device of orderline {shipped[0]}")
    return shipped[0]


async def _wait_in_step(
    world: DemoWorld, account_id: int, placed: list[PlacedOrder], deadline: float
) -> tuple[int, list[OutOfStep]]:
    """(mapped listings, those whose Back Market quantity is not their target).

    Waits, too, for every sales order to reach the status its outcome maps to: an
    order's status is recorded just after its workflow moves on.
    """
    while True:
        mapped, out_of_step = _listings_in_step(world, account_id)
        settled = not _status_mismatches(world, account_id, placed)
        if (not out_of_step and settled) or time.monotonic() > deadline:
            return mapped, out_of_step
        await asyncio.sleep(1)


def _status_mismatches(
    world: DemoWorld, account_id: int, placed: list[PlacedOrder]
) -> list[str]:
    """Sales orders whose status is not the one their outcome maps to."""
    expected = {
        order.order_id: (
            BackMarketPhase.SHIPPED if order.open_lines else BackMarketPhase.CANCELLED
        )
        for order in placed
    }
    with world.session_factory() as session:
        mapped: dict[str, str] = dict(
            session.execute(
                select(AccountStatusMap.phase, SalesOrderStatus.name)
                .join(
                    SalesOrderStatus,
                    SalesOrderStatus.id == AccountStatusMap.sales_order_status_id,
                )
                .where(AccountStatusMap.account_id == account_id)
            ).all()
        )
        actual: dict[int | None, str] = dict(
            session.execute(
                select(SalesOrder.external_order_id, SalesOrderStatus.name)
                .join(SalesOrderStatus, SalesOrderStatus.id == SalesOrder.status_id)
                .where(SalesOrder.account_id == account_id)
            ).all()
        )
    problems = []
    for order_id, phase in expected.items():
        wanted = mapped.get(phase.value)
        if wanted is not None and actual.get(order_id) != wanted:
            problems.append(
                f"order {order_id}: sales order status {actual.get(order_id)}, "
                f"not {wanted}"
            )
    return problems


@dataclass
class OutOfStep:
    """A mapped listing whose quantity on Back Market is not the one stock gives."""

    sku: str
    target: int
    on_backmarket: int | None
    foreign_write_note: str | None

    def __str__(self) -> str:
        held = "gone" if self.on_backmarket is None else str(self.on_backmarket)
        flagged = (
            f"; flagged as written by another system: {self.foreign_write_note}"
            if self.foreign_write_note
            else ""
        )
        return (
            f"listing {self.sku}: Back Market holds {held}, "
            f"stock gives {self.target}{flagged}"
        )


def _listings_in_step(world: DemoWorld, account_id: int) -> tuple[int, list[OutOfStep]]:
    """(mapped listings, those whose Back Market quantity is not their target)."""
    with world.session_factory() as session:
        targets = {
            row.listing_id: row.quantity
            for row in calculated_quantities(session, account_id)
            if row.quantity is not None
        }
        rows = session.execute(
            select(Listing.id, Listing.sku, Listing.foreign_write_note).where(
                Listing.id.in_(list(targets))
            )
        )
        listings = {row.id: row for row in rows}
    out: list[OutOfStep] = []
    for listing_id, target in targets.items():
        row = listings[listing_id]
        listing = world.sandbox.find_by_sku(MERCHANT, row.sku)
        held = None if listing is None else listing.quantity
        if held != target:
            out.append(OutOfStep(row.sku, target, held, row.foreign_write_note))
    return len(targets), out


async def _place_orders(
    world: DemoWorld,
    skus: list[str],
    config: DemoConfig,
    rng: random.Random,
    progress: Progress,
) -> list[PlacedOrder]:
    placed = []
    pause = config.placing_s / max(config.orders, 1)
    for _ in range(config.orders):
        count = 2 if rng.random() < config.multi_line_share else 1
        # Customers can only buy what Back Market shows in stock.
        with world.sandbox.lock:
            orderable = [
                sku
                for sku in skus
                if (listing := world.sandbox.find_by_sku(MERCHANT, sku)) is not None
                and listing.quantity > 0
                and listing.publication_state == 2
            ]
        if len(orderable) < count:
            progress("the sandbox's listings are sold out; no more orders")
            break
        chosen = rng.sample(orderable, count)
        order: SandboxOrder = world.sandbox.place_order(
            MERCHANT, [(sku, 1) for sku in chosen]
        )
        record = PlacedOrder(
            order_id=order.order_id,
            placed_at=time.time(),
            skus={line.id: line.listing.sku for line in order.lines},
        )
        if rng.random() < config.cancel_share:
            # The customer changes their mind before the merchant accepts.
            line_id = rng.choice(list(record.skus))
            world.sandbox.customer_cancel(line_id)
            record.cancelled.add(line_id)
        placed.append(record)
        await asyncio.sleep(pause)
    return placed


async def _operate(
    orders: OrderClient,
    account_id: int,
    order: PlacedOrder,
    state: OrderState,
    pools: dict[str, list[str]],
    progress: Progress,
) -> None:
    """What a person at the packing bench does with an order in this phase."""
    if state.phase in COMMIT_PHASES:
        for line in state.lines:
            if not line.validated or line.closed or line.fully_committed:
                continue
            pool = pools.get(line.sku) or []
            if not pool:
                progress(f"order {order.order_id}: no device left for {line.sku}")
                continue
            identifier = pool.pop()
            try:
                await orders.commit_inventory(
                    account_id,
                    order.order_id,
                    CommitInventoryInput(
                        orderline_id=line.orderline_id, identifier=identifier
                    ),
                )
            except OrderRequestError as exc:
                progress(f"order {order.order_id}: commit refused: {exc}")
    elif state.phase in SHIP_PHASES and state.shipment is None:
        # The same tracking number again is the same shipment, so a request
        # whose answer was lost may simply be repeated.
        try:
            await orders.add_shipment(
                account_id,
                order.order_id,
                AddShipmentInput(
                    tracking_number=f"DEMO{order.order_id}",
                    carrier="Colissimo",
                    url=f"https://tracking.example/DEMO{order.order_id}",
                ),
            )
        except OrderRequestError as exc:
            progress(f"order {order.order_id}: shipment not taken yet: {exc}")


def _device_pools(world: DemoWorld, skus: list[str]) -> dict[str, list[str]]:
    committed = select(Commit.id).where(
        Commit.inventory_item_id == InventoryItem.id, Commit.released_at.is_(None)
    )
    with world.session_factory() as session:
        rows = session.execute(
            select(Sku.code, InventoryItem.imei)
            .join(InventoryItem, InventoryItem.variation_id == Sku.variation_id)
            .where(
                Sku.code.in_(skus),
                InventoryItem.imei.is_not(None),
                ~committed.exists(),
            )
            .order_by(InventoryItem.id)
        ).all()
    pools: dict[str, list[str]] = {}
    for code, imei in rows:
        if imei is not None:
            pools.setdefault(code, []).append(imei)
    return pools


def _report(
    world: DemoWorld,
    account_id: int,
    placed: list[PlacedOrder],
    unfinished: dict[int, str],
    returned: int | None,
    in_step: tuple[int, list[OutOfStep]],
    throttling_expected: bool = False,
    failures_expected: bool = False,
) -> DemoReport:
    problems: list[str] = []
    with world.sandbox.lock:
        writes = [w for w in world.sandbox.writes if w.merchant == MERCHANT]
        sandbox_orders = {o.order_id: o for o in world.sandbox.orders.values()}
        throttled = sum(world.sandbox.limiter.refused.values())
        requests = sum(world.sandbox.served.values())
    accepts: Counter[tuple[int, str]] = Counter()
    ships: Counter[int] = Counter()
    imeis: Counter[int] = Counter()
    for write in writes:
        if not write.applied or not isinstance(write.body, dict):
            continue
        body = write.body
        if write.method == "POST" and write.path.startswith("/ws/orders/"):
            order_id = int(write.path.rsplit("/", 1)[1])
            if body.get("new_state") == 2:
                accepts[(order_id, str(body.get("sku")))] += 1
            elif body.get("new_state") == 3:
                ships[order_id] += 1
                if body.get("imei"):
                    imeis[order_id] += 1
        elif write.method == "PATCH" and write.path.startswith("/ws/orderlines/"):
            line_id = int(write.path.rsplit("/", 1)[1])
            owner = next((p for p in placed if line_id in p.skus), None)
            if owner is not None:
                imeis[owner.order_id] += 1

    expected_lines = sum(len(p.open_lines) for p in placed)
    expected_shipped = sum(1 for p in placed if p.open_lines)
    for order in placed:
        for line_id in order.open_lines:
            count = accepts[(order.order_id, order.skus[line_id])]
            if count != 1:
                problems.append(
                    f"order {order.order_id} line {line_id}: {count} accepts"
                )
        wanted_ships = 1 if order.open_lines else 0
        if ships[order.order_id] != wanted_ships:
            problems.append(
                f"order {order.order_id}: {ships[order.order_id]} shipments sent"
            )
        if imeis[order.order_id] != len(order.open_lines):
            problems.append(
                f"order {order.order_id}: {imeis[order.order_id]} IMEIs sent for "
                f"{len(order.open_lines)} devices"
            )
        final = sandbox_orders[order.order_id]
        if final.state != 9:
            problems.append(
                f"order {order.order_id}: Back Market state {final.state}, not 9"
            )
        lines_closed = all(
            line.state in LINE_STATES_CLOSED or line.state == 3 for line in final.lines
        )
        if not lines_closed:
            problems.append(
                f"order {order.order_id}: a line is neither shipped nor closed"
            )
    for order_id, why in unfinished.items():
        problems.append(f"order {order_id} did not finish in time: {why}")

    problems.extend(_status_mismatches(world, account_id, placed))
    statuses = _statuses(world.session_factory, account_id)
    imported = sum(statuses.values())
    if imported != len(placed):
        problems.append(f"{imported} of {len(placed)} orders imported")
    failed_syncs = _failed_syncs(world.session_factory, account_id)
    if failed_syncs and not failures_expected:
        problems.append(
            f"{failed_syncs} sync(s) failed: see bmsync log --result failed"
        )
    listings_mapped, out_of_step = in_step
    listings_in_step = listings_mapped - len(out_of_step)
    problems.extend(str(listing) for listing in out_of_step)
    rmas = _rmas(world.session_factory, account_id)
    if returned is not None and rmas != [returned]:
        problems.append(f"the return of orderline {returned} gave RMAs {rmas}")
    if throttled and not throttling_expected:
        problems.append(f"the sandbox refused {throttled} requests with 429")

    figures = {
        "orders_placed": len(placed),
        "orders_imported": imported,
        "lines_validated": sum(accepts.values()),
        "lines_expected": expected_lines,
        "orders_shipped": sum(ships.values()),
        "orders_expected_shipped": expected_shipped,
        "imeis_sent": sum(imeis.values()),
        "duplicate_accepts": _repeats(accepts),
        "duplicate_shipments": _repeats(ships),
        "duplicate_imeis": sum(
            max(0, imeis[p.order_id] - len(p.open_lines)) for p in placed
        ),
        "listings_in_step_with_stock": f"{listings_in_step}/{listings_mapped}",
        "listings_out_of_step": listings_mapped - listings_in_step,
        "orders_unfinished": len(unfinished),
        "returns_imported": len(rmas),
        "sales_order_statuses": dict(statuses),
        "api_requests": requests,
        "api_writes": len(writes),
        "http_429": throttled,
        "failed_syncs": failed_syncs,
    }
    return DemoReport(figures=figures, problems=problems)


def _why_unfinished(state: OrderState | None) -> str:
    """Where an order stood when time ran out, in the words an operator reads."""
    if state is None:
        return "its workflow never answered (not imported?)"
    lines = ", ".join(
        f"line {line.orderline_id} state {line.backmarket_state}"
        f"{' validated' if line.validated else ''}"
        f" {len(line.commits)}/{line.quantity} committed"
        for line in state.lines
    )
    shipment = (
        "no shipment"
        if state.shipment is None
        else (
            f"shipment {'sent' if state.shipment.sent else 'held'}"
            + (f" ({state.shipment.refusal})" if state.shipment.refusal else "")
        )
    )
    last_note = f"; last note: {state.notes[-1]}" if state.notes else ""
    return f"{state.phase.value}; {lines}; {shipment}{last_note}"


def _repeats(counts: Counter[Any]) -> int:
    """Writes beyond the first of each kind: what exactly-once forbids."""
    return sum(count - 1 for count in counts.values() if count > 1)


def _statuses(session_factory: sessionmaker[Session], account_id: int) -> Counter[str]:
    with session_factory() as session:
        rows = session.execute(
            select(SalesOrderStatus.name, func.count())
            .join(SalesOrder, SalesOrder.status_id == SalesOrderStatus.id)
            .where(SalesOrder.account_id == account_id)
            .group_by(SalesOrderStatus.name)
        ).all()
    return Counter({name: int(count) for name, count in rows})


def _rmas(session_factory: sessionmaker[Session], account_id: int) -> list[int]:
    """The orderlines of the account's RMAs that are linked to a device."""
    with session_factory() as session:
        rows = session.execute(
            select(OrderItem.external_orderline_id)
            .join(Rma, Rma.order_item_id == OrderItem.id)
            .where(Rma.account_id == account_id, Rma.inventory_item_id.is_not(None))
        ).scalars()
        return [int(row) for row in rows if row is not None]


def _failed_syncs(session_factory: sessionmaker[Session], account_id: int) -> int:
    with session_factory() as session:
        count = session.scalar(
            select(func.count())
            .select_from(SyncLogEntry)
            .where(
                SyncLogEntry.account_id == account_id, SyncLogEntry.result == "failed"
            )
        )
    return int(count or 0)


def _imei(rng: random.Random) -> str:
    body = "35" + "".join(str(rng.randrange(10)) for _ in range(12))
    return body + luhn_check_digit(body)


__all__ = [
    "DemoConfig",
    "DemoReport",
    "DemoWorld",
    "prepare_account",
    "run_scenario",
]
