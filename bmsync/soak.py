"""The demo's orders under trouble: a worker killed and restarted, Postgres restarted,
Back Market failing, slow, throttling and losing answers to writes it applied.

The worker runs as its own process (`python worker.py`) so that it can be killed
with SIGKILL, which no graceful shutdown softens. The scenario, the operator and the
exactly-once checks are the demo's (`bmsync.demo.run_scenario`); this module adds the
trouble and the checks that only trouble makes interesting: no order or RMA stored
twice, no order workflow left running.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from bmsync.demo import MERCHANT, DemoConfig, DemoWorld, demo_sandbox, prepare_account
from bmsync.demo import run_scenario as run_demo_scenario
from database.inventory import (
    add_inventory_item,
    find_sku,
    inventory_status_by_name,
    warehouse_by_name,
)
from database.migrate import upgrade
from database.models import Rma, SalesOrder
from database.session import make_engine, make_session_factory
from domain.imei import luhn_check_digit
from runtime.codec import generate_key
from runtime.embedded import EmbeddedPostgres, venv_binary
from runtime.quantity_client import notify_stock_changed
from runtime.settings import Settings
from runtime.temporal import data_converter
from sandbox.config import FaultRule, RateWindow, SandboxLimits
from sandbox.server import SandboxServer
from sandbox.state import SandboxState
from starter import apply_schedules, desired_schedules, load_accounts

log = logging.getLogger("bmsync.soak")

ROOT = Path(__file__).resolve().parent.parent
# Statuses the fault rules answer with, distinct so that they can be counted apart.
ERROR_STATUS = 503
LOST_STATUS = 502
HANG_STATUS = 504
ORDER_WORKFLOW = "OrderWorkflow"
# The longest a throttling burst waits for a request to refuse.
THROTTLE_MAX_S = 30.0

Progress = Callable[[str], None]


@dataclass
class SoakConfig:
    orders: int = 300
    kills: int = 5
    postgres_restarts: int = 1
    stock_changes: int = 50
    throttle_bursts: int = 2
    seed: int = 1
    # Customers place orders over this many seconds; trouble is spread over it.
    placing_s: float = 240.0
    # How long every order may take once all are placed.
    timeout_s: float = 900.0
    error_rate: float = 0.05
    lost_response_rate: float = 0.08
    latency_s: float = 0.05
    timeout_rate: float = 0.005
    # Past the client's 30 s timeout, so the client gives up, not the sandbox.
    hang_s: float = 31.0
    # A kill waits this long for a moment with no activity running, then kills anyway.
    # A killed activity is retried only after its start-to-close timeout (90 s for a
    # Back Market write, 10 min for an order import's fetch), so a run that must be
    # quick kills between activities; 0 kills at the drawn moment whatever runs.
    quiet_wait_s: float = 0.0
    devices_per_sku: int = 12


@dataclass
class SoakReport:
    figures: dict[str, Any]
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> dict[str, Any]:
        """The figures whose names carry their units, for the last line of output."""
        keys = [
            "orders",
            "worker_kills",
            "kills_mid_activity",
            "postgres_restarts",
            "stock_changes",
            "duplicate_accepts",
            "duplicate_shipments",
            "duplicate_imeis",
            "duplicate_sales_orders",
            "duplicate_rmas",
            "orders_unfinished",
            "listings_out_of_step",
            "faults_injected",
            "http_429",
            "problems",
            "elapsed_s",
        ]
        return {key: self.figures[key] for key in keys if key in self.figures}


@dataclass
class _Trouble:
    """What the saboteurs did, for the report."""

    kills: int = 0
    kills_mid_activity: int = 0
    postgres_restarts: int = 0
    stock_changes: int = 0
    throttle_bursts: int = 0
    errors: list[str] = field(default_factory=list)


async def soak(
    config: SoakConfig,
    work_dir: Path,
    database_url: str | None = None,
    temporal: Client | None = None,
    payload_key: str | None = None,
    progress: Progress = lambda _: None,
) -> SoakReport:
    """Run the scenario under trouble and check what it left behind.

    Without `database_url` an embedded Postgres is started under `work_dir` (and is
    the one restarted); without `temporal` a Temporal dev server is. A `temporal`
    client must encode payloads with `payload_key`, which the worker process gets too.
    """
    started = time.monotonic()
    key = payload_key or generate_key()
    state_dir = (work_dir / "state").resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    async with AsyncExitStack() as stack:
        postgres: EmbeddedPostgres | None = None
        if database_url is None:
            postgres = EmbeddedPostgres(work_dir / "postgres")
            database_url = await asyncio.to_thread(postgres.start)
            stack.callback(postgres.stop)
        await asyncio.to_thread(upgrade, database_url)
        if temporal is None:
            env = await stack.enter_async_context(_dev_server(work_dir, key))
            temporal = env.client
        engine = make_engine(database_url)
        stack.callback(engine.dispose)
        sandbox = await stack.enter_async_context(
            SandboxServer(demo_sandbox(config.seed, faults=_faults(config)))
        )
        task_queue = f"soak-{uuid.uuid4()}"
        world = DemoWorld(
            session_factory=make_session_factory(engine),
            temporal=temporal,
            task_queue=task_queue,
            sandbox=sandbox.state,
            sandbox_url=sandbox.base_url,
            state_dir=state_dir,
        )
        demo = DemoConfig(
            orders=config.orders,
            placing_s=config.placing_s,
            timeout_s=config.timeout_s,
            seed=config.seed,
            devices_per_sku=config.devices_per_sku,
            throttling_expected=config.throttle_bursts > 0,
            failures_expected=True,
        )
        account_id, skus = prepare_account(world, demo)
        progress(f"account {account_id}: {len(skus)} listings stocked")

        worker = WorkerProcess(
            database_url=database_url,
            temporal_address=temporal.service_client.config.target_host,
            namespace=temporal.namespace,
            task_queue=task_queue,
            state_dir=state_dir,
            payload_key=key,
            log_file=work_dir / "worker.log",
        )
        worker.start()
        stack.callback(worker.stop)
        stack.push_async_callback(_close_open_workflows, temporal, task_queue)

        desired = [
            schedule
            for schedule in desired_schedules(load_accounts(world.session_factory))
            if schedule.schedule_id.endswith(f"-{account_id}")
        ]
        await apply_schedules(temporal, task_queue, desired, prune=False)
        stack.push_async_callback(
            _delete_schedules, temporal, [s.schedule_id for s in desired]
        )

        trouble = _Trouble()
        rng = random.Random(config.seed)
        saboteurs = [
            asyncio.create_task(
                _kill_worker(worker, temporal, task_queue, config, rng, trouble)
            ),
            asyncio.create_task(
                _change_stock(world, account_id, skus, config, rng, trouble)
            ),
            asyncio.create_task(_throttle(sandbox.state, config, rng, trouble)),
        ]
        if postgres is not None:
            saboteurs.append(
                asyncio.create_task(_restart_postgres(postgres, config, rng, trouble))
            )
        try:
            report = await run_demo_scenario(world, account_id, skus, demo, progress)
        except Exception as exc:
            # A workflow that fails its tasks (nondeterminism) fails its queries too.
            await _save_histories(temporal, task_queue, work_dir / "histories")
            return SoakReport(
                figures={"elapsed_s": round(time.monotonic() - started, 1)},
                problems=[f"the scenario stopped: {type(exc).__name__}: {exc}"],
            )
        finally:
            for task in saboteurs:
                task.cancel()
            await asyncio.gather(*saboteurs, return_exceptions=True)

        unfinished = await _running_orders(temporal, task_queue)
        if unfinished:
            await _save_histories(temporal, task_queue, work_dir / "histories")
        return _report(
            world,
            account_id,
            config,
            report.figures,
            report.problems,
            trouble,
            unfinished,
            time.monotonic() - started,
        )


class WorkerProcess:
    """`python worker.py` against the soak's database and Temporal, killable."""

    def __init__(
        self,
        database_url: str,
        temporal_address: str,
        namespace: str,
        task_queue: str,
        state_dir: Path,
        payload_key: str,
        log_file: Path,
        grace_seconds: float = 5,
    ) -> None:
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "TEMPORAL_ADDRESS": temporal_address,
            "TEMPORAL_NAMESPACE": namespace,
            "BMSYNC_TASK_QUEUE": task_queue,
            "BMSYNC_STATE_DIR": str(state_dir),
            "BMSYNC_PAYLOAD_KEY": payload_key,
            "BMSYNC_SHUTDOWN_GRACE_SECONDS": str(grace_seconds),
        }
        self.cwd = state_dir
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_file.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, str(ROOT / "worker.py")],
                cwd=self.cwd,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, running activities are simply lost."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self, timeout: float = 20) -> int | None:
        """SIGTERM, as operators stop it; SIGKILL if it outlasts `timeout`.

        Answers the exit code, or None when it had to be killed.
        """
        process = self.process
        if process is None or process.poll() is not None:
            return None if process is None else process.returncode
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
            return None

    @property
    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()


def _faults(config: SoakConfig) -> list[FaultRule]:
    """Every /ws/ request may fail, hang or lose its answer after being applied."""
    return [
        FaultRule(
            path="/ws/.*",
            error_rate=config.error_rate,
            error_status=ERROR_STATUS,
            latency_s=config.latency_s,
            timeout_rate=config.timeout_rate,
            hang_s=config.hang_s,
            lost_response_rate=config.lost_response_rate,
            lost_response_status=LOST_STATUS,
        )
    ]


@asynccontextmanager
async def _dev_server(work_dir: Path, payload_key: str) -> AsyncIterator[Any]:
    settings = Settings().model_copy(update={"payload_key": SecretStr(payload_key)})
    env = await WorkflowEnvironment.start_local(
        data_converter=data_converter(settings),
        dev_server_existing_path=str(venv_binary("temporal")),
        dev_server_extra_args=["--db-filename", str(work_dir / "temporal.db")],
        ui=False,
    )
    try:
        yield env
    finally:
        await env.shutdown()


def _moments(count: int, config: SoakConfig, rng: random.Random) -> list[float]:
    """Seconds from the start at which to strike, spread over the busy part."""
    busy = config.placing_s + 20.0
    return sorted(rng.uniform(0.1 * busy, busy) for _ in range(count))


async def _at_moments(
    moments: list[float], action: Callable[[], Awaitable[None]]
) -> None:
    start = time.monotonic()
    for moment in moments:
        await asyncio.sleep(max(0.0, start + moment - time.monotonic()))
        await action()


async def _kill_worker(
    worker: WorkerProcess,
    temporal: Client,
    task_queue: str,
    config: SoakConfig,
    rng: random.Random,
    trouble: _Trouble,
) -> None:
    async def strike() -> None:
        running = await _started_activities(temporal, task_queue)
        waited_until = time.monotonic() + config.quiet_wait_s
        while running and time.monotonic() < waited_until:
            await asyncio.sleep(0.2)
            running = await _started_activities(temporal, task_queue)
        await asyncio.to_thread(worker.kill)
        trouble.kills += 1
        trouble.kills_mid_activity += 1 if running else 0
        log.info("worker killed", extra={"activities_running": running})
        await asyncio.sleep(rng.uniform(0.5, 3.0))
        worker.start()

    await _at_moments(_moments(config.kills, config, rng), strike)


async def _restart_postgres(
    postgres: EmbeddedPostgres,
    config: SoakConfig,
    rng: random.Random,
    trouble: _Trouble,
) -> None:
    async def strike() -> None:
        await asyncio.to_thread(postgres.stop)
        await asyncio.sleep(rng.uniform(1.0, 4.0))
        await asyncio.to_thread(postgres.start)
        trouble.postgres_restarts += 1
        log.info("postgres restarted")

    await _at_moments(_moments(config.postgres_restarts, config, rng), strike)


async def _change_stock(
    world: DemoWorld,
    account_id: int,
    skus: list[str],
    config: SoakConfig,
    rng: random.Random,
    trouble: _Trouble,
) -> None:
    """Devices arrive in stock during the run; the quantity sync is told each time."""

    async def strike() -> None:
        sku = rng.choice(skus)
        imei = _imei(rng)
        try:
            await asyncio.to_thread(_receive_device, world.session_factory, sku, imei)
        except Exception as exc:  # Postgres may be restarting; skip this one.
            trouble.errors.append(f"stock change skipped: {type(exc).__name__}")
            return
        trouble.stock_changes += 1
        await notify_stock_changed(
            world.temporal, world.task_queue, [account_id], reason="soak"
        )

    await _at_moments(_moments(config.stock_changes, config, rng), strike)


async def _throttle(
    state: SandboxState, config: SoakConfig, rng: random.Random, trouble: _Trouble
) -> None:
    """For a few seconds at a time, Back Market's budget shrinks to a trickle."""
    normal = state.config.limits.model_copy(deep=True)
    tight = SandboxLimits(general=RateWindow(requests=2, per_s=5), general_block_s=2.0)

    async def strike() -> None:
        before = _refused(state)
        state.set_limits(tight)
        try:
            await asyncio.sleep(rng.uniform(4.0, 8.0))
            # A burst that met no request (the worker was down, say) lasts until
            # one is refused, so that every run exercises the throttling.
            deadline = time.monotonic() + THROTTLE_MAX_S
            while _refused(state) == before and time.monotonic() < deadline:
                await asyncio.sleep(0.5)
        finally:
            state.set_limits(normal)
        trouble.throttle_bursts += 1

    await _at_moments(_moments(config.throttle_bursts, config, rng), strike)


def _refused(state: SandboxState) -> int:
    with state.lock:
        return sum(state.limiter.refused.values())


def _receive_device(
    session_factory: sessionmaker[Session], sku_code: str, imei: str
) -> None:
    with session_factory.begin() as session:
        sku = find_sku(session, sku_code)
        status = inventory_status_by_name(session, "Available")
        warehouse = warehouse_by_name(session, "Main")
        assert sku is not None and status is not None and warehouse is not None
        add_inventory_item(
            session,
            variation_id=sku.variation_id,
            status_id=status.id,
            warehouse_id=warehouse.id,
            imei=imei,
        )


async def _started_activities(temporal: Client, task_queue: str) -> int:
    """Activities a worker has picked up and not finished, across open workflows."""
    query = f'TaskQueue="{task_queue}" AND ExecutionStatus="Running"'
    handles = [
        temporal.get_workflow_handle(execution.id, run_id=execution.run_id)
        async for execution in temporal.list_workflows(query)
    ]
    descriptions = await asyncio.gather(
        *(handle.describe() for handle in handles), return_exceptions=True
    )
    started = PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
    return sum(
        1
        for description in descriptions
        if not isinstance(description, BaseException)
        for pending in description.raw_description.pending_activities
        if pending.state == started
    )


async def _running_orders(temporal: Client, task_queue: str) -> list[str]:
    query = (
        f'TaskQueue="{task_queue}" AND ExecutionStatus="Running" '
        f'AND WorkflowType="{ORDER_WORKFLOW}"'
    )
    return [execution.id async for execution in temporal.list_workflows(query)]


async def _save_histories(temporal: Client, task_queue: str, folder: Path) -> None:
    """Keep the histories of what is still running, to replay and see why."""
    folder.mkdir(parents=True, exist_ok=True)
    query = f'TaskQueue="{task_queue}" AND ExecutionStatus="Running"'
    async for execution in temporal.list_workflows(query):
        handle = temporal.get_workflow_handle(execution.id, run_id=execution.run_id)
        history = await handle.fetch_history()
        (folder / f"{execution.id}.json").write_text(history.to_json())


async def _delete_schedules(temporal: Client, schedule_ids: list[str]) -> None:
    for schedule_id in schedule_ids:
        await temporal.get_schedule_handle(schedule_id).delete()


async def _close_open_workflows(temporal: Client, task_queue: str) -> None:
    """Leave nothing running on a server that may be shared: the queue is ours."""
    query = f'TaskQueue="{task_queue}" AND ExecutionStatus="Running"'
    async for execution in temporal.list_workflows(query):
        handle = temporal.get_workflow_handle(execution.id, run_id=execution.run_id)
        try:
            await handle.terminate(reason="soak finished")
        except Exception:  # finished meanwhile
            continue


def _report(
    world: DemoWorld,
    account_id: int,
    config: SoakConfig,
    demo_figures: dict[str, Any],
    demo_problems: list[str],
    trouble: _Trouble,
    running_orders: list[str],
    elapsed_s: float,
) -> SoakReport:
    problems = list(demo_problems)
    duplicate_orders, duplicate_rmas = _duplicates(world.session_factory, account_id)
    with world.sandbox.lock:
        served = world.sandbox.served.copy()
        writes = [w for w in world.sandbox.writes if w.merchant == MERCHANT]
    faults = served[ERROR_STATUS] + served[LOST_STATUS] + served[HANG_STATUS]
    lost_applied = sum(1 for w in writes if w.fault == "lost" and w.applied)

    if duplicate_orders:
        problems.append(f"{duplicate_orders} sales orders stored twice")
    if duplicate_rmas:
        problems.append(f"{duplicate_rmas} RMAs stored twice")
    for workflow_id in running_orders:
        problems.append(f"{workflow_id} still running after the deadline")
    if trouble.kills < config.kills:
        problems.append(
            f"the worker was killed {trouble.kills} of {config.kills} times"
        )
    figures = {
        "orders": demo_figures["orders_placed"],
        "worker_kills": trouble.kills,
        "kills_mid_activity": trouble.kills_mid_activity,
        "postgres_restarts": trouble.postgres_restarts,
        "stock_changes": trouble.stock_changes,
        "throttle_bursts": trouble.throttle_bursts,
        "duplicate_accepts": demo_figures["duplicate_accepts"],
        "duplicate_shipments": demo_figures["duplicate_shipments"],
        "duplicate_imeis": demo_figures["duplicate_imeis"],
        "duplicate_sales_orders": duplicate_orders,
        "duplicate_rmas": duplicate_rmas,
        "orders_unfinished": max(
            len(running_orders), demo_figures["orders_unfinished"]
        ),
        "listings_out_of_step": demo_figures["listings_out_of_step"],
        "faults_injected": faults,
        "writes_applied_answer_lost": lost_applied,
        "http_429": demo_figures["http_429"],
        "problems": len(problems),
        "elapsed_s": round(elapsed_s, 1),
        **{f"demo_{k}": v for k, v in demo_figures.items()},
        "saboteur_notes": trouble.errors,
    }
    return SoakReport(figures=figures, problems=problems)


def _duplicates(
    session_factory: sessionmaker[Session], account_id: int
) -> tuple[int, int]:
    """(sales orders beyond one per external id, RMAs beyond one per claim)."""
    with session_factory() as session:
        orders = session.execute(
            select(func.count())
            .where(SalesOrder.account_id == account_id)
            .group_by(SalesOrder.external_order_id)
            .having(func.count() > 1)
        ).scalars()
        rmas = session.execute(
            select(func.count())
            .where(Rma.account_id == account_id)
            .group_by(Rma.claim_id)
            .having(func.count() > 1)
        ).scalars()
        return sum(n - 1 for n in orders), sum(n - 1 for n in rmas)


def _imei(rng: random.Random) -> str:
    body = "35" + "".join(str(rng.randrange(10)) for _ in range(12))
    return body + luhn_check_digit(body)
