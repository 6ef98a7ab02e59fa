"""Soak the engine: the demo's orders while the worker is SIGKILLed and restarted,
Postgres restarts, stock changes, and Back Market fails, hangs, throttles and loses
answers to writes it applied.

    python bench/soak.py [--orders 300 --kills 5 --stock-changes 50 --seed 1]

Starts an embedded Postgres (unless DATABASE_URL is set), the Temporal dev server
(unless TEMPORAL_ADDRESS is set; then BMSYNC_PAYLOAD_KEY must be the key its other
clients use) and the sandbox over real HTTP; the worker runs as `python worker.py`.
Prints the figures; the last line is one JSON object whose keys carry their units.
Exits 1 when any check fails.
"""

import argparse
import asyncio
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from temporalio.client import Client  # noqa: E402

from bmsync.soak import SoakConfig, SoakReport, soak  # noqa: E402
from runtime.settings import Settings  # noqa: E402
from runtime.temporal import data_converter  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--postgres-restarts", type=int, default=1)
    parser.add_argument("--stock-changes", type=int, default=50)
    parser.add_argument("--throttle-bursts", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--placing-s", type=float, help="seconds over which orders are placed"
    )
    parser.add_argument("--timeout-s", type=float, default=900.0)
    parser.add_argument(
        "--quiet-wait-s",
        type=float,
        default=0.0,
        help="wait up to this long for no running activity before a kill",
    )
    args = parser.parse_args()
    config = SoakConfig(
        orders=args.orders,
        kills=args.kills,
        postgres_restarts=args.postgres_restarts,
        stock_changes=args.stock_changes,
        throttle_bursts=args.throttle_bursts,
        seed=args.seed,
        placing_s=args.placing_s or max(10.0, args.orders * 0.5),
        timeout_s=args.timeout_s,
        quiet_wait_s=args.quiet_wait_s,
    )
    logging.basicConfig(level=logging.WARNING)
    report = asyncio.run(_run(config))
    for key, value in report.figures.items():
        print(f"{key:>36}: {value}")  # noqa: T201
    for problem in report.problems[:50]:
        print(f"PROBLEM: {problem}")  # noqa: T201
    print(json.dumps(report.summary()))  # noqa: T201
    sys.exit(0 if report.ok else 1)


async def _run(config: SoakConfig) -> SoakReport:
    started = time.monotonic()

    def progress(message: str) -> None:
        print(f"[{time.monotonic() - started:7.1f}s] {message}", flush=True)  # noqa: T201

    with tempfile.TemporaryDirectory(prefix="bmsync-soak-") as work:
        temporal, key = await _configured_temporal()
        return await soak(
            config,
            Path(work),
            database_url=os.environ.get("DATABASE_URL"),
            temporal=temporal,
            payload_key=key,
            progress=progress,
        )


async def _configured_temporal() -> tuple[Client | None, str | None]:
    """A client of the server in TEMPORAL_ADDRESS, if set, and its payload key."""
    settings = Settings()
    if not settings.temporal_address:
        return None, None
    if settings.payload_key is None:
        raise SystemExit("TEMPORAL_ADDRESS is set: set BMSYNC_PAYLOAD_KEY too")
    client = await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
    )
    return client, settings.payload_key.get_secret_value()


if __name__ == "__main__":
    main()
