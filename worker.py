"""The long-lived worker: every workflow and activity, until SIGTERM or SIGINT.

On a signal it stops polling for new tasks and gives running activities the grace
period to finish; what does not finish in time is retried by Temporal elsewhere.
"""

import asyncio
import logging
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import (
    SandboxedWorkflowRunner,
    SandboxRestrictions,
)

from activities import ActivityDeps, build_activities
from activities.errors import DatabaseRefusals
from runtime.embedded import StartError
from runtime.logs import log_to_stderr
from runtime.process import run_then_exit
from runtime.settings import Settings, SettingsError, get_settings
from runtime.stack import Stack
from workflows import ALL_WORKFLOWS

log = logging.getLogger("bmsync.worker")

ACTIVITY_THREADS = 16


def build_worker(
    client: Client,
    task_queue: str,
    deps: ActivityDeps,
    grace_seconds: float,
    fail_on_workflow_bugs: bool = False,
) -> Worker:
    """A worker with every workflow and activity of the engine registered.

    In production a bug in workflow code leaves the workflow task retrying until a
    fixed worker is deployed; tests ask for `fail_on_workflow_bugs` to see it at once.
    """
    return Worker(
        client,
        task_queue=task_queue,
        workflows=ALL_WORKFLOWS,
        activities=build_activities(deps),
        activity_executor=ThreadPoolExecutor(ACTIVITY_THREADS),
        graceful_shutdown_timeout=timedelta(seconds=grace_seconds),
        workflow_runner=workflow_runner(),
        workflow_failure_exception_types=[Exception] if fail_on_workflow_bugs else [],
        interceptors=[DatabaseRefusals()],
    )


def workflow_runner() -> SandboxedWorkflowRunner:
    """The workflow sandbox, sharing the modules that must stay one per process.

    The input models are plain pydantic classes with no IO; sharing them keeps one
    class per model, which pydantic's checks rely on. rich renders log lines that
    workflows emit, and must not be imported afresh inside the sandbox.
    """
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(
            "domain", "rich"
        )
    )


async def run_worker(stack: Stack, stop: asyncio.Event) -> None:
    """Run until `stop` is set, then shut down gracefully."""
    settings = stack.settings
    deps = ActivityDeps.create(stack.database_url, stack.client, settings)
    try:
        worker = build_worker(
            stack.client, settings.task_queue, deps, settings.shutdown_grace_seconds
        )
        async with worker:
            log.info(
                "worker polling",
                extra={"task_queue": settings.task_queue},
            )
            await stop.wait()
            log.info("worker shutting down")
    finally:
        await deps.close()


def stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


async def main(
    settings: Settings | None = None,
    on_new_database: Callable[[str], None] | None = None,
) -> None:
    """Run the worker on the settings' parts, started when not running yet.

    `on_new_database` is told when an embedded database is made afresh; by default
    that is logged.
    """
    settings = settings or get_settings()
    stop = asyncio.Event()
    stop_on_signals(stop)
    async with Stack(settings, on_new_database=on_new_database) as stack:
        await run_worker(stack, stop)


def run() -> None:
    try:
        asyncio.run(main())
    except (SettingsError, StartError) as exc:
        sys.exit(f"error: {exc}")


if __name__ == "__main__":
    log_to_stderr()
    run_then_exit(run)
