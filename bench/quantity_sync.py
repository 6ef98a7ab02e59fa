"""Time the quantity sync end to end: stock change to Back Market, and a reconcile.

    python bench/quantity_sync.py [--listings 10000 --changed 100 --samples 20]

Runs everything for real in one process: Postgres (embedded in a temporary directory
unless DATABASE_URL is set), the Temporal dev server from the venv, the Back Market
sandbox as an HTTP server with Back Market's own rate limits, and a worker.

1. Latency: one device is added to a listing's variation and the quantity workflow
   notified, one listing at a time; the time until the sandbox holds the new
   quantity is measured.
2. Reconcile: `--changed` listings get a device without any notification, then one
   reconcile reads every listing and repairs them; its listing writes are counted.

The sandbox's limits and the client's pacing run at `--time-scale` (1 = Back Market's
real windows: reading 10,000 listings then takes about 100 s at 20 requests per 10 s).
The last line of output is one JSON object whose keys carry their units.
"""

import argparse
import asyncio
import json
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url
from temporalio.testing import WorkflowEnvironment

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from activities.deps import ActivityDeps, BackMarketClients  # noqa: E402
from backmarket.pacing import Limits, pacer_for_token  # noqa: E402
from database.accounts import create_account  # noqa: E402
from database.migrate import upgrade  # noqa: E402
from database.session import make_engine, make_session_factory  # noqa: E402
from domain.quantities import ReconcileQuantitiesInput  # noqa: E402
from runtime.embedded import EmbeddedPostgres, ensure_database, venv_binary  # noqa: E402
from runtime.quantity_client import notify_stock_changed  # noqa: E402
from runtime.temporal import data_converter  # noqa: E402
from sandbox import catalog  # noqa: E402
from sandbox.config import MerchantConfig, SandboxConfig  # noqa: E402
from sandbox.server import SandboxServer  # noqa: E402
from worker import build_worker  # noqa: E402
from workflows import ReconcileQuantitiesWorkflow  # noqa: E402

MERCHANT = "Bench Refurb"
TOKEN_VARIABLE = "BMSYNC_BENCH_TOKEN"
DEVICES_PER_LISTING = 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=10_000)
    parser.add_argument("--changed", type=int, default=100)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument(
        "--task-delay", type=float, default=10.0, help="sandbox bulk task seconds"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    configured = os.environ.get("DATABASE_URL")
    with tempfile.TemporaryDirectory(prefix="bmsync-qbench-") as tmp:
        server = None
        if configured:
            base = configured
        else:
            server = EmbeddedPostgres(Path(tmp) / "pg")
            base = server.start()
        url = make_url(base).set(database=f"qbench_{uuid.uuid4().hex[:10]}")
        url_text = url.render_as_string(hide_password=False)
        try:
            ensure_database(url_text)
            upgrade(url_text)
            result = asyncio.run(run(url_text, args, Path(tmp)))
        finally:
            _drop(url_text)
            if server is not None:
                server.stop()
    print(json.dumps(result))


async def run(url: str, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    token = f"bench-{uuid.uuid4().hex}"
    os.environ[TOKEN_VARIABLE] = token
    pacer_for_token(token, Limits(time_scale=args.time_scale))
    config = SandboxConfig(
        merchants=[MerchantConfig(name=MERCHANT, token=token)],
        catalog_size=0,
        time_scale=args.time_scale,
        task_delay_s=args.task_delay / args.time_scale,
    )
    engine = make_engine(url, pool_size=10)
    sessions = make_session_factory(engine)
    env = await WorkflowEnvironment.start_local(
        data_converter=data_converter(),
        dev_server_existing_path=str(venv_binary("temporal")),
        dev_server_extra_args=["--db-filename", str(tmp / "temporal.db")],
        ui=False,
    )
    try:
        async with SandboxServer(config) as sandbox:
            started = time.perf_counter()
            listings = _sandbox_listings(sandbox, args.listings)
            account_id = _build(url, sessions, sandbox.base_url, listings)
            took = time.perf_counter() - started
            _log(f"built {len(listings)} listings in {took:.1f}s")

            task_queue = f"bench-{uuid.uuid4()}"
            deps = ActivityDeps(
                session_factory=sessions,
                clients=BackMarketClients(sessions),
                temporal=env.client,
                task_queue=task_queue,
            )
            worker = build_worker(env.client, task_queue, deps, grace_seconds=5)
            async with worker:
                latencies = await _latencies(
                    env, task_queue, sandbox, url, account_id, listings, args.samples
                )
                reconcile = await _reconcile(
                    env, task_queue, sandbox, url, account_id, listings, args
                )
            await deps.close()
            refused = sandbox.state.counts()["throttled"]
    finally:
        await env.shutdown()
        engine.dispose()

    ordered = sorted(latencies)
    return {
        "listings": args.listings,
        "changed": args.changed,
        "samples": len(latencies),
        "time_scale": args.time_scale,
        "stock_change_to_backmarket_p50_s": round(statistics.median(ordered), 3),
        "stock_change_to_backmarket_p95_s": round(_percentile(ordered, 0.95), 3),
        "stock_change_to_backmarket_max_s": round(ordered[-1], 3),
        "reconcile_listing_writes": reconcile["writes"],
        "reconcile_listings_repaired": reconcile["repaired"],
        "reconcile_s": round(reconcile["seconds"], 1),
        "reconcile_bulk": reconcile["bulk"],
        "http_429": refused,
        "cpus": os.cpu_count(),
    }


def _sandbox_listings(sandbox: SandboxServer, count: int) -> list[tuple[str, str, int]]:
    """`count` listings of the merchant: (uuid, sku, quantity), created in bulk."""
    products = catalog.all_products()
    rows = [
        {
            "sku": f"BENCH-{i:05d}",
            "product_id": products[i % len(products)].product_id,
            "grade": products[i % len(products)].grade,
            "quantity": str(DEVICES_PER_LISTING),
        }
        for i in range(count)
    ]
    state = sandbox.state
    task = state.queue_bulk(MERCHANT, rows)
    task.due = state.clock.monotonic()
    state.tick()
    found = []
    for row in rows:
        listing = state.find_by_sku(MERCHANT, row["sku"])
        assert listing is not None
        found.append((listing.id, listing.sku, listing.quantity))
    return found


def _build(
    url: str,
    sessions: Any,
    base_url: str,
    listings: Sequence[tuple[str, str, int]],
) -> int:
    """Our side: one variation, SKU and two devices per listing, all in sync."""
    with sessions.begin() as session:
        account = create_account(
            session,
            name="bench",
            platform="eu",
            locale="fr-fr",
            token_ref=f"env:{TOKEN_VARIABLE}",
            base_url=base_url,
        )
        account.settings.quantity_sync = True
        account_id: int = account.id
    now = datetime.now(UTC)
    with psycopg.connect(_conninfo(url)) as conn:
        status = conn.execute(
            "SELECT id FROM inventory_statuses WHERE name = 'Available'"
        ).fetchone()
        warehouse = conn.execute("SELECT id FROM warehouses").fetchone()
        assert status is not None and warehouse is not None
        _copy(conn, "products (id, manufacturer, model)", [(1, "Bench", "Phone")])
        _copy(
            conn,
            "product_variations (id, product_id, storage)",
            ((v + 1, 1, f"S{v}") for v in range(len(listings))),
        )
        _copy(
            conn,
            "skus (id, variation_id, code)",
            ((v + 1, v + 1, sku) for v, (_, sku, _) in enumerate(listings)),
        )
        _copy(
            conn,
            "inventory_items (id, imei, variation_id, status_id, warehouse_id)",
            (
                (
                    n + 1,
                    f"{n + 1:015d}",
                    n // DEVICES_PER_LISTING + 1,
                    status[0],
                    warehouse[0],
                )
                for n in range(len(listings) * DEVICES_PER_LISTING)
            ),
        )
        _copy(
            conn,
            "listings (id, account_id, backmarket_uuid, sku, quantity, "
            "publication_state, last_pushed_quantity, last_pushed_at, "
            "quantity_seen_at, mapping_mode)",
            (
                (v + 1, account_id, key, sku, q, 2, q, now, now, "sku")
                for v, (key, sku, q) in enumerate(listings)
            ),
        )
        for table in ("products", "product_variations", "skus", "inventory_items"):
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        conn.execute(
            "SELECT setval(pg_get_serial_sequence('listings', 'id'), "
            "(SELECT max(id) FROM listings))"
        )
        conn.commit()
    return account_id


async def _latencies(
    env: WorkflowEnvironment,
    task_queue: str,
    sandbox: SandboxServer,
    url: str,
    account_id: int,
    listings: Sequence[tuple[str, str, int]],
    samples: int,
) -> list[float]:
    seconds = []
    step = max(1, len(listings) // max(1, samples))
    for n in range(samples):
        index = (n * step) % len(listings)
        _, sku, _ = listings[index]
        expected = sandbox.state.find_by_sku(MERCHANT, sku)
        assert expected is not None
        target = expected.quantity + 1
        _add_devices(url, [index + 1])
        started = time.perf_counter()
        await notify_stock_changed(env.client, task_queue, [account_id], "bench")
        while expected.quantity != target:
            if time.perf_counter() - started > 60:
                raise RuntimeError(f"{sku} never reached {target}")
            await asyncio.sleep(0.01)
        seconds.append(time.perf_counter() - started)
        # Let the pass finish, so the next change starts a pass of its own.
        await asyncio.sleep(1.5)
    return seconds


async def _reconcile(
    env: WorkflowEnvironment,
    task_queue: str,
    sandbox: SandboxServer,
    url: str,
    account_id: int,
    listings: Sequence[tuple[str, str, int]],
    args: argparse.Namespace,
) -> dict[str, Any]:
    state = sandbox.state
    step = max(1, len(listings) // max(1, args.changed))
    chosen = sorted({(i * step + 7) % len(listings) for i in range(args.changed)})
    _add_devices(url, [index + 1 for index in chosen])
    writes_before = len(state.writes)
    tasks_before = set(state.tasks)
    started = time.perf_counter()
    result = await env.client.execute_workflow(
        ReconcileQuantitiesWorkflow.run,
        ReconcileQuantitiesInput(account_id=account_id),
        id=f"bench-reconcile-{uuid.uuid4()}",
        task_queue=task_queue,
    )
    seconds = time.perf_counter() - started
    with state.lock:
        new_writes = state.writes[writes_before:]
        singles = sum(
            1
            for write in new_writes
            if write.applied and write.path.startswith("/ws/listings/")
        )
        bulk_lines = sum(
            len(task.rows)
            for key, task in state.tasks.items()
            if key not in tasks_before
        )
    repaired = sum(
        1
        for index in chosen
        if (found := state.find_by_sku(MERCHANT, listings[index][1])) is not None
        and found.quantity == DEVICES_PER_LISTING + 1
    )
    return {
        "writes": singles + bulk_lines,
        "repaired": repaired,
        "seconds": seconds,
        "bulk": result.bulk,
    }


def _add_devices(url: str, variation_ids: Iterable[int]) -> None:
    with psycopg.connect(_conninfo(url)) as conn:
        status = conn.execute(
            "SELECT id FROM inventory_statuses WHERE name = 'Available'"
        ).fetchone()
        warehouse = conn.execute("SELECT id FROM warehouses").fetchone()
        assert status is not None and warehouse is not None
        for variation_id in variation_ids:
            conn.execute(
                "INSERT INTO inventory_items (imei, variation_id, status_id, "
                "warehouse_id) VALUES (%s, %s, %s, %s)",
                (
                    f"9{uuid.uuid4().int % 10**14:014d}",
                    variation_id,
                    status[0],
                    warehouse[0],
                ),
            )
        conn.commit()


def _percentile(ordered: Sequence[float], share: float) -> float:
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def _copy(
    conn: psycopg.Connection[Any], target: str, rows: Iterable[tuple[Any, ...]]
) -> None:
    with conn.cursor() as cursor, cursor.copy(f"COPY {target} FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _conninfo(url: str) -> str:
    return (
        make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    )


def _drop(url: str) -> None:
    name = make_url(url).database
    admin = make_url(url).set(database="postgres", drivername="postgresql")
    try:
        with psycopg.connect(
            admin.render_as_string(hide_password=False), autocommit=True
        ) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except psycopg.Error:
        pass


def _log(message: str) -> None:
    print(message, file=sys.stderr)


if __name__ == "__main__":
    main()
