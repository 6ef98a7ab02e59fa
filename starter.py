"""Create or update the engine's Temporal Schedules, one set per Back Market account.

Idempotent: a schedule that already matches what the account's settings ask for is
left alone, one that differs is updated, and one no setting asks for any more is
deleted. Running it twice in a row changes nothing the second time.
"""

import asyncio
import hashlib
import json
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.converter import DataConverter

from database.models import Account, AccountSettings
from database.session import make_engine, make_session_factory
from domain.schedules import SCHEDULED_SYNCS, ScheduledSync
from runtime.embedded import StartError
from runtime.logs import log_to_stderr
from runtime.process import run_then_exit
from runtime.settings import Settings, SettingsError, get_settings
from runtime.stack import Stack

log = logging.getLogger("bmsync.starter")

SCHEDULE_PREFIX = "bmsync-"
FINGERPRINT_KEY = "bmsync_fingerprint"


@dataclass(frozen=True)
class DesiredSchedule:
    schedule_id: str
    workflow: str
    workflow_id: str
    argument: BaseModel
    every: timedelta

    def fingerprint(self, task_queue: str) -> str:
        body = json.dumps(
            {
                "workflow": self.workflow,
                "argument": self.argument.model_dump(mode="json"),
                "every_s": self.every.total_seconds(),
                "task_queue": task_queue,
            },
            sort_keys=True,
        )
        return hashlib.sha256(body.encode()).hexdigest()[:16]


@dataclass
class ApplyResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


def desired_schedules(
    accounts: Sequence[tuple[int, AccountSettings]],
    syncs: Sequence[ScheduledSync] = SCHEDULED_SYNCS,
) -> list[DesiredSchedule]:
    """What every account's settings ask to run, and how often."""
    desired = []
    for account_id, settings in accounts:
        for sync in syncs:
            if not getattr(settings, sync.enabled_setting):
                continue
            seconds = int(getattr(settings, sync.interval_setting))
            name = f"{sync.name}-{account_id}"
            desired.append(
                DesiredSchedule(
                    schedule_id=SCHEDULE_PREFIX + name,
                    workflow=sync.workflow,
                    workflow_id=name,
                    argument=sync.make_input(account_id),
                    every=timedelta(seconds=max(seconds, 1)),
                )
            )
    return desired


def load_accounts(
    session_factory: sessionmaker[Session],
) -> list[tuple[int, AccountSettings]]:
    with session_factory() as session:
        accounts = session.scalars(
            select(Account).options(selectinload(Account.settings)).order_by(Account.id)
        ).all()
        return [(a.id, a.settings) for a in accounts if a.settings is not None]


async def apply_schedules(
    client: Client,
    task_queue: str,
    desired: Sequence[DesiredSchedule],
    prune: bool = True,
) -> ApplyResult:
    """Make the server's schedules match `desired`; `prune` deletes the others."""
    result = ApplyResult()
    wanted = {d.schedule_id for d in desired}

    for item in desired:
        schedule = _schedule_for(item, task_queue)
        try:
            await client.create_schedule(item.schedule_id, schedule)
            result.created.append(item.schedule_id)
            continue
        except ScheduleAlreadyRunningError:
            pass
        handle = client.get_schedule_handle(item.schedule_id)
        description = await handle.describe()
        current = await _fingerprint_of(description.schedule, client.data_converter)
        if current == item.fingerprint(task_queue):
            result.unchanged.append(item.schedule_id)
            continue

        def replace(_: ScheduleUpdateInput, new: Schedule = schedule) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=new)

        await handle.update(replace)
        result.updated.append(item.schedule_id)

    if prune:
        async for listed in await client.list_schedules():
            if listed.id.startswith(SCHEDULE_PREFIX) and listed.id not in wanted:
                await client.get_schedule_handle(listed.id).delete()
                result.deleted.append(listed.id)

    log.info(
        "schedules applied",
        extra={
            "schedules_created": len(result.created),
            "schedules_updated": len(result.updated),
            "schedules_unchanged": len(result.unchanged),
            "schedules_deleted": len(result.deleted),
        },
    )
    return result


def _schedule_for(item: DesiredSchedule, task_queue: str) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            item.workflow,
            item.argument,
            id=item.workflow_id,
            task_queue=task_queue,
            memo={FINGERPRINT_KEY: item.fingerprint(task_queue)},
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=item.every)]),
        # A run that outlasts its interval queues exactly one more run rather than
        # skipping: the next sync starts as soon as the slow one ends.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.BUFFER_ONE),
    )


async def _fingerprint_of(schedule: Schedule, converter: DataConverter) -> str | None:
    action = schedule.action
    if not isinstance(action, ScheduleActionStartWorkflow) or not action.memo:
        return None
    raw = action.memo.get(FINGERPRINT_KEY)
    if raw is None:
        return None
    if isinstance(raw, str):
        return raw
    # A described schedule's memo comes back as stored, i.e. still encrypted.
    [value] = await converter.decode([raw], [str])
    return str(value)


async def apply_for_database(
    client: Client, database_url: str, task_queue: str
) -> ApplyResult:
    engine = make_engine(database_url, pool_size=1)
    try:
        accounts = load_accounts(make_session_factory(engine))
    finally:
        engine.dispose()
    return await apply_schedules(client, task_queue, desired_schedules(accounts))


async def main(
    settings: Settings | None = None,
    on_new_database: Callable[[str], None] | None = None,
) -> ApplyResult:
    """Apply the schedules of every account; `on_new_database` as in worker.main."""
    settings = settings or get_settings()
    async with Stack(settings, on_new_database=on_new_database) as stack:
        return await apply_for_database(
            stack.client, stack.database_url, settings.task_queue
        )


def run() -> None:
    try:
        asyncio.run(main())
    except (SettingsError, StartError) as exc:
        sys.exit(f"error: {exc}")


if __name__ == "__main__":
    log_to_stderr()
    run_then_exit(run)
