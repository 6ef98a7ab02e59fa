"""Run orders end to end against the sandbox at Back Market's real rate limits.

    python bench/orders.py [--orders 60 --import-interval 30 --placing-s 60]

Starts an embedded Postgres (unless DATABASE_URL is set), the Temporal dev server and
the sandbox over real HTTP with its limits on, then lets the sandbox's customers
place orders while the worker imports and accepts them and a scripted operator
commits devices and ships. The last line of output is one JSON object whose keys
carry their units.
"""

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy.orm import Session, sessionmaker  # noqa: E402
from temporalio.testing import WorkflowEnvironment  # noqa: E402

from bmsync.demo import MERCHANT, DemoConfig, run_with_worker  # noqa: E402
from database.migrate import upgrade  # noqa: E402
from database.session import make_engine, make_session_factory  # noqa: E402
from runtime.embedded import EmbeddedPostgres, venv_binary  # noqa: E402
from runtime.temporal import data_converter  # noqa: E402
from sandbox.state import SandboxState  # noqa: E402

# Back Market's general budget: about 200 requests in any 10 seconds.
GENERAL_BUDGET_PER_S = 200 / 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=60)
    parser.add_argument("--import-interval", type=int, default=30)
    parser.add_argument("--placing-s", type=float, default=60.0)
    parser.add_argument("--timeout-s", type=float, default=600.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args))))


async def run(args: argparse.Namespace) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="bmsync-bench-") as tmp:
        state = Path(tmp)
        server = None
        database_url = os.environ.get("DATABASE_URL")
        if database_url is None:
            server = EmbeddedPostgres(state / "pg")
            database_url = server.start()
        upgrade(database_url)
        engine = make_engine(database_url)
        try:
            return await _measure(args, state, make_session_factory(engine))
        finally:
            engine.dispose()
            if server is not None:
                server.stop()


async def _measure(
    args: argparse.Namespace, state: Path, factory: sessionmaker[Session]
) -> dict[str, object]:
    config = DemoConfig(
        orders=args.orders,
        import_interval_s=args.import_interval,
        placing_s=args.placing_s,
        timeout_s=args.timeout_s,
        devices_per_sku=8,
    )
    env = await WorkflowEnvironment.start_local(
        data_converter=data_converter(),
        dev_server_existing_path=str(venv_binary("temporal")),
        ui=False,
    )
    try:
        started = time.monotonic()
        report, sandbox = await run_with_worker(
            env.client, "bench-orders", factory, state, config
        )
        elapsed = time.monotonic() - started
    finally:
        await env.shutdown()
    for problem in report.problems:
        print(f"problem: {problem}", file=sys.stderr)
    latencies = _validation_latencies(sandbox)
    with sandbox.lock:
        requests = sum(sandbox.served.values())
        throttled = sum(sandbox.limiter.refused.values())

    finished = int(report.figures["orders_placed"])
    return {
        "orders": finished,
        "problems": len(report.problems),
        "elapsed_s": round(elapsed, 1),
        "orders_per_s": round(finished / elapsed, 3),
        "api_requests": requests,
        "api_budget_used_share": round(requests / (elapsed * GENERAL_BUDGET_PER_S), 3),
        "http_429": throttled,
        "import_interval_s": args.import_interval,
        "validated_p50_s": round(statistics.median(latencies), 2),
        "validated_p95_s": round(_percentile(latencies, 0.95), 2),
    }


def _validation_latencies(sandbox: SandboxState) -> list[float]:
    """Seconds from an order appearing on Back Market to its last line accepted."""
    with sandbox.lock:
        created = {
            order.order_id: order.date_creation.timestamp()
            for order in sandbox.orders.values()
            if order.merchant == MERCHANT
        }
        accepted: dict[int, float] = {}
        for write in sandbox.writes:
            body = write.body if isinstance(write.body, dict) else {}
            if write.applied and body.get("new_state") == 2:
                order_id = int(write.path.rsplit("/", 1)[1])
                stamp = datetime.fromisoformat(write.time).timestamp()
                accepted[order_id] = max(accepted.get(order_id, 0.0), stamp)
    return [accepted[key] - created[key] for key in accepted if key in created]


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


if __name__ == "__main__":
    main()
