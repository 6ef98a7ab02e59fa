"""Time the calculated quantity of every listing of an account on a large inventory.

    python bench/quantity.py [--listings 10000 --items 200000 --open-items 20000]

Builds the data with COPY in a fresh database (an embedded Postgres in a temporary
directory unless DATABASE_URL is set), then reports the median of several runs. The
last line of output is one JSON object whose keys carry their units.
"""

import argparse
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from database.accounts import create_account  # noqa: E402
from database.migrate import upgrade  # noqa: E402
from database.quantity import calculated_quantities  # noqa: E402
from database.session import make_engine, make_session_factory  # noqa: E402
from runtime.embedded import EmbeddedPostgres, ensure_database  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=10_000)
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--open-items", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    configured = os.environ.get("DATABASE_URL")
    with tempfile.TemporaryDirectory(prefix="bmsync-bench-") as tmp:
        server = None
        if configured:
            base = configured
        else:
            server = EmbeddedPostgres(Path(tmp) / "pg")
            base = server.start()
        url = make_url(base).set(database=f"bench_{uuid.uuid4().hex[:10]}")
        url_text = url.render_as_string(hide_password=False)
        try:
            ensure_database(url_text)
            upgrade(url_text)
            result = run(url_text, args)
        finally:
            _drop(url_text)
            if server is not None:
                server.stop()
    print(json.dumps(result))


def run(url: str, args: argparse.Namespace) -> dict[str, object]:
    rng = random.Random(args.seed)
    engine = make_engine(url, pool_size=1)
    sessions = make_session_factory(engine)
    with sessions() as session:
        account = create_account(
            session, name="bench", platform="eu", locale="fr-fr", token_ref="env:X"
        )
        session.commit()
        account_id = account.id

    started = time.perf_counter()
    _build(url, account_id, args, rng)
    build_s = time.perf_counter() - started
    print(f"built data in {build_s:.1f}s", file=sys.stderr)

    timings = []
    tracemalloc.start()
    with sessions() as session:
        for _ in range(args.runs):
            started = time.perf_counter()
            quantities = calculated_quantities(session, account_id)
            timings.append(time.perf_counter() - started)
            session.rollback()
    _, peak_py = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    engine.dispose()

    mapped = sum(1 for q in quantities if q.quantity is not None)
    return {
        "listings": args.listings,
        "items": args.items,
        "open_items": args.open_items,
        "mapped_listings": mapped,
        "runs": args.runs,
        "build_s": round(build_s, 1),
        "compute_s": round(statistics.median(timings), 3),
        "compute_min_s": round(min(timings), 3),
        "peak_python_alloc_mb": round(peak_py / 2**20, 1),
        "peak_rss_mb": round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
        ),
        "cpus": os.cpu_count(),
    }


def _build(
    url: str, account_id: int, args: argparse.Namespace, rng: random.Random
) -> None:
    n_variations = max(10, args.listings // 2)
    n_products = max(1, n_variations // 50)
    conninfo = (
        make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    )
    with psycopg.connect(conninfo) as conn:
        status_ids = [
            r[0] for r in conn.execute("SELECT id FROM inventory_statuses ORDER BY id")
        ]
        warehouse = conn.execute("SELECT id FROM warehouses").fetchone()
        assert warehouse is not None
        second = conn.execute(
            "INSERT INTO warehouses (name) VALUES ('Overflow') RETURNING id"
        ).fetchone()
        assert second is not None
        warehouse_ids = [warehouse[0], second[0]]
        order_status_ids = [
            r[0]
            for r in conn.execute("SELECT id FROM sales_order_statuses ORDER BY id")
        ]

        _copy(
            conn,
            "products (id, manufacturer, model)",
            ((p, "Maker", f"Model {p}") for p in range(1, n_products + 1)),
        )
        _copy(
            conn,
            "product_variations"
            " (id, product_id, grade, condition, storage, colour, network)",
            (
                (
                    v,
                    1 + v % n_products,
                    "Good",
                    "Refurbished",
                    f"{v}GB",
                    "Black",
                    "Unlocked",
                )
                for v in range(1, n_variations + 1)
            ),
        )
        skus = [(v, v, f"SKU-{v}") for v in range(1, n_variations + 1)]
        extra = n_variations + 1
        for v in rng.sample(range(1, n_variations + 1), n_variations // 5):
            skus.append((extra, v, f"ALT-{v}"))
            extra += 1
        _copy(conn, "skus (id, variation_id, code)", skus)

        listings = []
        chosen = []
        for lid in range(1, args.listings + 1):
            kind = rng.random()
            if kind < 0.70:
                code = rng.choice(skus)[2].lower()
                listings.append((lid, account_id, str(uuid.uuid4()), code, "sku"))
            elif kind < 0.95:
                listings.append(
                    (lid, account_id, str(uuid.uuid4()), f"BM-{lid}", "variations")
                )
                for v in rng.sample(range(1, n_variations + 1), rng.randint(1, 3)):
                    chosen.append((lid, v))
            else:
                listings.append(
                    (lid, account_id, str(uuid.uuid4()), f"UNKNOWN-{lid}", "sku")
                )
        _copy(
            conn,
            "listings (id, account_id, backmarket_uuid, sku, mapping_mode)",
            listings,
        )
        _copy(conn, "listing_variations (listing_id, variation_id)", chosen)

        weights = [80, 5, 5, 5, 5][: len(status_ids)]
        _copy(
            conn,
            "inventory_items (id, imei, variation_id, status_id, warehouse_id)",
            (
                (
                    i,
                    f"{i:015d}",
                    rng.randint(1, n_variations),
                    rng.choices(status_ids, weights)[0],
                    warehouse_ids[0] if rng.random() < 0.9 else warehouse_ids[1],
                )
                for i in range(1, args.items + 1)
            ),
        )

        n_orders = max(1, args.open_items * 3 // 4)
        _copy(
            conn,
            "sales_orders (id, channel, account_id, external_order_id, status_id)",
            (
                (o, "Backmarket", account_id, o, rng.choice(order_status_ids))
                for o in range(1, n_orders + 1)
            ),
        )
        order_items = []
        for oi in range(1, args.open_items + 1):
            unknown = rng.random() < 0.03
            order_items.append(
                (
                    oi,
                    rng.randint(1, n_orders),
                    None if unknown else rng.randint(1, n_variations),
                    rng.randint(1, args.listings) if unknown else None,
                    "UNKNOWN" if unknown else None,
                    rng.choice((1, 1, 1, 2)),
                    oi,
                )
            )
        _copy(
            conn,
            "order_items (id, sales_order_id, variation_id, listing_id,"
            " unknown_sku, quantity, external_orderline_id)",
            order_items,
        )
        committed_items = rng.sample(
            range(1, args.items + 1), min(args.items, args.open_items // 3)
        )
        _copy(
            conn,
            "commits (inventory_item_id, order_item_id)",
            ((item, rng.randint(1, args.open_items)) for item in committed_items),
        )
        conn.execute("ANALYZE")
        conn.commit()
        for table in (
            "products",
            "product_variations",
            "skus",
            "listings",
            "inventory_items",
            "sales_orders",
            "order_items",
        ):
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        conn.commit()


def _copy(
    conn: psycopg.Connection, target: str, rows: Iterable[Sequence[object]]
) -> None:
    with conn.cursor().copy(f"COPY {target} FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _drop(url: str) -> None:
    parsed = make_url(url)
    admin = parsed.set(database="postgres", drivername="postgresql")
    try:
        with psycopg.connect(
            admin.render_as_string(hide_password=False), autocommit=True
        ) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
    except psycopg.Error:
        pass


if __name__ == "__main__":
    main()
