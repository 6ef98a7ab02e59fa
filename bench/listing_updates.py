"""Push listing updates through the client to the sandbox with its limits on.

    python bench/listing_updates.py [--updates 1000 --concurrency 16 --time-scale 0.05]

The sandbox runs in a process of its own. Client and sandbox share Back Market's
budgets, scaled by the same time scale so the run takes seconds instead of minutes
with the same ratios. Single listing updates are bound by the catalog budget (about
20 requests in 10 s); the figure that counts is the achieved rate as a share of that
allowed rate, and the 429s the sandbox served.
The last line of output is one JSON object whose keys carry their units.
"""

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backmarket import BackMarketClient, Limits  # noqa: E402
from backmarket.models import ListingUpdate  # noqa: E402
from runtime.embedded import free_or, port_answers, venv_binary  # noqa: E402
from sandbox.config import MerchantConfig, SandboxConfig, SandboxLimits  # noqa: E402

MERCHANT = "Bench Refurb"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--time-scale", type=float, default=0.05)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args))))


async def run(args: argparse.Namespace) -> dict[str, object]:
    token = f"bench-{uuid.uuid4().hex}"
    limits = SandboxLimits()
    config = SandboxConfig(
        merchants=[MerchantConfig(name=MERCHANT, token=token)],
        limits=limits,
        time_scale=args.time_scale,
        catalog_size=60,
    )
    with tempfile.TemporaryDirectory() as tmp, _sandbox_process(config, tmp) as url:
        async with httpx.AsyncClient(base_url=url) as admin:
            listings = [
                listing["id"]
                for listing in (await admin.get("/_sandbox/listings")).json()["results"]
            ]
            client = BackMarketClient(
                token,
                company="Bench",
                integration="bmsync",
                contact_email="bench@example.com",
                base_url=url,
                limits=Limits(time_scale=args.time_scale),
            )
            queue: asyncio.Queue[int] = asyncio.Queue()
            for index in range(args.updates):
                queue.put_nowait(index)
            errors = 0

            async def push() -> None:
                nonlocal errors
                while not queue.empty():
                    index = queue.get_nowait()
                    listing = listings[index % len(listings)]
                    try:
                        await client.update_listing(
                            listing, ListingUpdate(quantity=index % 7 + 1)
                        )
                    except Exception:
                        errors += 1

            started = time.monotonic()
            async with client:
                await asyncio.gather(*(push() for _ in range(args.concurrency)))
            elapsed = time.monotonic() - started
            throttled = (await admin.get("/_sandbox/throttled")).json()

    # Single updates spend the catalog budget; the SKU-line budget (2,000 an hour)
    # is far looser at these sizes.
    allowed_per_s = limits.catalog.requests / (limits.catalog.per_s * args.time_scale)
    achieved_per_s = args.updates / elapsed
    return {
        "updates": args.updates,
        "errors": errors,
        "elapsed_s": round(elapsed, 2),
        "time_scale": args.time_scale,
        "achieved_per_s": round(achieved_per_s, 2),
        "allowed_per_s": round(allowed_per_s, 2),
        "rate_share_of_allowed": round(achieved_per_s / allowed_per_s, 3),
        "http_429": throttled["total"],
    }


@contextlib.contextmanager
def _sandbox_process(config: SandboxConfig, tmp: str) -> Iterator[str]:
    """The sandbox in a process of its own, as Back Market is to a real client."""
    path = Path(tmp) / "sandbox.json"
    path.write_text(config.model_dump_json())
    port = free_or(8790)
    process = subprocess.Popen(
        [
            str(venv_binary("bmsync")),
            "sandbox",
            "--config",
            str(path),
            "--port",
            str(port),
            "--orders-per-minute",
            "0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not port_answers(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the sandbox did not start")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


if __name__ == "__main__":
    main()
