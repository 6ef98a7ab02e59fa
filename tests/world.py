"""A small world for order tests: our database, a sandbox Back Market, a worker.

The Back Market client reaches the sandbox's ASGI app in-process, so the same client
code that talks to Back Market runs against a real implementation of the contract.
"""

import asyncio
import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.deps import ActivityDeps, BackMarketClients
from backmarket.pacing import Limits, pacer_for_token
from database.accounts import create_account
from database.inventory import (
    add_inventory_item,
    add_sku,
    find_sku,
    get_or_create_variation,
    inventory_status_by_name,
    warehouse_by_name,
)
from database.models import AccountSettings, Commit, Listing
from domain.imei import luhn_check_digit
from domain.inventory import VariationSpec
from domain.listings import ImportListingsInput, ImportListingsResult
from domain.orders import (
    AddShipmentInput,
    AddShipmentResult,
    CommitInventoryInput,
    CommitInventoryResult,
    ImportOrdersInput,
    ImportOrdersResult,
    OrderState,
    ValidateOrderInput,
    ValidateOrderResult,
    order_workflow_id,
)
from domain.quantities import PushQuantitiesResult, ReconcileQuantitiesInput
from runtime.order_client import OrderClient
from sandbox.app import create_app
from sandbox.config import MerchantConfig, SandboxConfig
from sandbox.state import SandboxState
from worker import build_worker
from workflows import (
    ImportListingsWorkflow,
    ImportOrdersWorkflow,
    OrderWorkflow,
    ReconcileQuantitiesWorkflow,
)

MERCHANT = "Test Refurb"
TOKEN_VARIABLE = "BMSYNC_TEST_SANDBOX_TOKEN"
TOKEN = "sandbox-test-token"

# Back Market's windows and penalties, a thousand times shorter on both sides.
SCALE = 0.001

_serials = itertools.count(1)


def _random_id() -> int:
    return 1000 + uuid.uuid4().int % 10**9


def new_imei() -> str:
    body = f"35{next(_serials) + uuid.uuid4().int % 10**8:012d}"[:14]
    return body + luhn_check_digit(body)


@dataclass
class World:
    sandbox: SandboxState
    transport: httpx.AsyncBaseTransport
    session_factory: sessionmaker[Session]
    client: Client
    task_queue: str
    account_id: int
    skus: list[str]
    devices: dict[str, list[str]] = field(default_factory=dict)

    def place_order(self, *lines: tuple[str, int]) -> int:
        order = self.sandbox.place_order(MERCHANT, list(lines))
        return int(order.order_id)

    def writes(self, method: str, path_prefix: str) -> list[Any]:
        with self.sandbox.lock:
            return [
                write
                for write in self.sandbox.writes
                if write.method == method and write.path.startswith(path_prefix)
            ]

    def applied_bodies(self, order_id: int) -> list[dict[str, Any]]:
        return [
            write.body
            for write in self.writes("POST", f"/ws/orders/{order_id}")
            if write.applied
        ]

    async def run_import(self) -> ImportOrdersResult:
        return await self.client.execute_workflow(
            ImportOrdersWorkflow.run,
            ImportOrdersInput(account_id=self.account_id),
            id=f"import-{uuid.uuid4()}",
            task_queue=self.task_queue,
        )

    @property
    def orders(self) -> OrderClient:
        """Requests to order workflows, as operators and the HTTP API send them."""
        return OrderClient(self.client, self.task_queue)

    async def commit(
        self, order_id: int, orderline_id: int, identifier: str, **options: Any
    ) -> CommitInventoryResult:
        return await self.orders.commit_inventory(
            self.account_id,
            order_id,
            CommitInventoryInput(
                orderline_id=orderline_id, identifier=identifier, **options
            ),
        )

    async def ship(
        self, order_id: int, tracking_number: str, **options: Any
    ) -> AddShipmentResult:
        return await self.orders.add_shipment(
            self.account_id,
            order_id,
            AddShipmentInput(tracking_number=tracking_number, **options),
        )

    async def validate(
        self, order_id: int, orderline_ids: list[int] | None = None
    ) -> ValidateOrderResult:
        return await self.orders.validate(
            self.account_id, order_id, ValidateOrderInput(orderline_ids=orderline_ids)
        )

    def order_handle(self, order_id: int) -> WorkflowHandle[Any, Any]:
        return self.client.get_workflow_handle_for(
            OrderWorkflow.run, order_workflow_id(self.account_id, order_id)
        )

    async def wait_for(
        self,
        order_id: int,
        condition: Callable[[OrderState], bool],
        timeout: float = 30.0,
    ) -> OrderState:
        handle = self.order_handle(order_id)
        deadline = asyncio.get_running_loop().time() + timeout
        state = None
        while asyncio.get_running_loop().time() < deadline:
            try:
                state = await handle.query(OrderWorkflow.state)
            except Exception:
                state = None
            if state is not None and condition(state):
                return state
            await asyncio.sleep(0.1)
        raise AssertionError(f"order {order_id} never got there; last state {state}")

    def set_settings(self, **values: object) -> None:
        with self.session_factory.begin() as session:
            settings = session.get(AccountSettings, self.account_id)
            assert settings is not None
            for key, value in values.items():
                setattr(settings, key, value)

    def open_commits(self) -> int:
        with self.session_factory() as session:
            count = session.scalar(
                select(func.count())
                .select_from(Commit)
                .where(Commit.released_at.is_(None))
            )
            return int(count or 0)

    async def run_listing_import(self) -> ImportListingsResult:
        return await self.client.execute_workflow(
            ImportListingsWorkflow.run,
            ImportListingsInput(account_id=self.account_id),
            id=f"listings-{uuid.uuid4()}",
            task_queue=self.task_queue,
        )

    async def run_reconcile(self, dry_run: bool = False) -> PushQuantitiesResult:
        return await self.client.execute_workflow(
            ReconcileQuantitiesWorkflow.run,
            ReconcileQuantitiesInput(account_id=self.account_id, dry_run=dry_run),
            id=f"reconcile-{uuid.uuid4()}",
            task_queue=self.task_queue,
        )

    def listing(self, sku: str) -> Listing:
        with self.session_factory() as session:
            found = session.scalar(
                select(Listing).where(
                    Listing.account_id == self.account_id,
                    func.lower(Listing.sku) == sku.lower(),
                )
            )
            assert found is not None, f"listing {sku} is not imported"
            return found

    def sandbox_quantity(self, sku: str) -> int:
        listing = self.sandbox.find_by_sku(MERCHANT, sku)
        assert listing is not None
        return listing.quantity

    def quantity_writes(self) -> list[tuple[str, int]]:
        """(listing uuid, quantity) of every applied single listing update."""
        return [
            (write.path.rsplit("/", 1)[1], write.body["quantity"])
            for write in self.writes("POST", "/ws/listings/")
            if write.applied and "quantity" in (write.body or {})
        ]

    def add_devices(self, sku: str, count: int) -> None:
        """Put `count` more devices of the SKU's variation in counted stock."""
        with self.session_factory.begin() as session:
            found = find_sku(session, sku, self.account_id)
            status = inventory_status_by_name(session, "Available")
            warehouse = warehouse_by_name(session, "Main")
            assert found is not None and status is not None and warehouse is not None
            for _ in range(count):
                imei = new_imei()
                add_inventory_item(
                    session,
                    variation_id=found.variation_id,
                    status_id=status.id,
                    warehouse_id=warehouse.id,
                    imei=imei,
                )
                self.devices.setdefault(sku, []).append(imei)

    def deps(self) -> ActivityDeps:
        return ActivityDeps(
            session_factory=self.session_factory,
            clients=BackMarketClients(self.session_factory, transport=self.transport),
            temporal=self.client,
            task_queue=self.task_queue,
        )

    def worker(self) -> Worker:
        return build_worker(
            self.client,
            self.task_queue,
            self.deps(),
            grace_seconds=5,
            fail_on_workflow_bugs=True,
        )


def make_world(
    session_factory: sessionmaker[Session],
    client: Client,
    task_queue: str,
    config: SandboxConfig | None = None,
    devices_per_sku: int = 4,
    mapped_skus: int = 2,
) -> World:
    """A sandbox merchant, its account here, and stock for some of its SKUs."""
    config = config or SandboxConfig(
        merchants=[MerchantConfig(name=MERCHANT, token=TOKEN)], seed=11
    )
    app = create_app(config)
    sandbox: SandboxState = app.state.sandbox
    listings = sorted(
        (x for x in sandbox.listings.values() if x.merchant == MERCHANT),
        key=lambda listing: listing.sku,
    )[:mapped_skus]
    for listing in listings:
        # Enough stock that every test's orders find the listing online.
        sandbox.set_quantity(MERCHANT, listing.sku, 500)
    skus = [listing.sku for listing in listings]

    devices: dict[str, list[str]] = {}
    with session_factory.begin() as session:
        # Workflow ids hold the account id, and every test shares one Temporal
        # server: a random account id keeps each test's order workflows its own.
        session.execute(
            text(f"ALTER SEQUENCE accounts_id_seq RESTART WITH {_random_id()}")
        )
        account = create_account(
            session,
            name=f"test-{uuid.uuid4().hex[:6]}",
            platform="eu",
            locale="fr-fr",
            token_ref=f"env:{TOKEN_VARIABLE}",
            base_url="http://sandbox.test",
        )
        account.settings.auto_validate = True
        status = inventory_status_by_name(session, "Available")
        warehouse = warehouse_by_name(session, "Main")
        assert status is not None and warehouse is not None
        for index, sku in enumerate(skus):
            variation = get_or_create_variation(
                session,
                VariationSpec(
                    manufacturer="Test", model=f"Phone {index}", grade="GOOD"
                ),
            )
            add_sku(session, sku, variation.id)
            devices[sku] = []
            for _ in range(devices_per_sku):
                imei = new_imei()
                add_inventory_item(
                    session,
                    variation_id=variation.id,
                    status_id=status.id,
                    warehouse_id=warehouse.id,
                    imei=imei,
                )
                devices[sku].append(imei)
        account_id = account.id

    return World(
        sandbox=sandbox,
        transport=httpx.ASGITransport(app=app),
        session_factory=session_factory,
        client=client,
        task_queue=task_queue,
        account_id=account_id,
        skus=skus,
        devices=devices,
    )


def fast_world(
    monkeypatch: pytest.MonkeyPatch,
    session_factory: sessionmaker[Session],
    env: WorkflowEnvironment,
    task_queue: str,
    *,
    mapped_skus: int = 2,
    catalog_size: int = 60,
    devices_per_sku: int = 4,
) -> World:
    """A world on a token of its own, its pacing scaled, quantity sync still off.

    Tests turn the sync on once listings are imported, so the quantity workflow
    the import wakes does not race the pass under test.
    """
    token = f"quantity-{uuid.uuid4().hex}"
    pacer_for_token(token, Limits(time_scale=SCALE))
    monkeypatch.setenv(TOKEN_VARIABLE, token)
    config = SandboxConfig(
        merchants=[MerchantConfig(name=MERCHANT, token=token)],
        seed=11,
        time_scale=SCALE,
        catalog_size=catalog_size,
    )
    world = make_world(
        session_factory,
        env.client,
        task_queue,
        config=config,
        mapped_skus=mapped_skus,
        devices_per_sku=devices_per_sku,
    )
    return world
