"""The demo's orders while the worker is killed, Postgres restarts and Back Market
misbehaves: every write still happens exactly once and every order finishes."""

from pathlib import Path

import pytest
from temporalio.client import Client

from bmsync.soak import SoakConfig, soak
from tests.conftest import PAYLOAD_KEY

pytestmark = [pytest.mark.devserver, pytest.mark.timeout(300)]


async def test_orders_survive_kills_restarts_and_faults(
    dev_client: Client, tmp_path: Path
) -> None:
    config = SoakConfig(
        orders=30,
        kills=2,
        postgres_restarts=1,
        stock_changes=5,
        throttle_bursts=1,
        placing_s=15.0,
        # Room for one kill that lands mid-activity and waits out its timeout.
        timeout_s=150.0,
        # Hangs cost the client's full 30 s timeout; latency and 5xx stand in.
        timeout_rate=0.0,
        # Kills between activities: one killed mid-activity waits out its timeout.
        quiet_wait_s=15.0,
        devices_per_sku=6,
    )

    report = await soak(config, tmp_path, temporal=dev_client, payload_key=PAYLOAD_KEY)

    assert report.problems == [], "\n".join(report.problems)
    figures = report.figures
    assert figures["worker_kills"] == 2
    assert figures["postgres_restarts"] == 1
    assert figures["faults_injected"] > 0
    assert figures["http_429"] > 0
    assert figures["orders_unfinished"] == 0
    assert figures["listings_out_of_step"] == 0
