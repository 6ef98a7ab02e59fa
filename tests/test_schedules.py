"""The starter leaves exactly the schedules the accounts' settings ask for."""

import uuid

from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from database.models import Account, AccountSettings
from starter import SCHEDULE_PREFIX, apply_for_database


def add_account(session_factory: sessionmaker[Session], **settings: object) -> int:
    with session_factory.begin() as session:
        account = Account(
            name=f"acct-{uuid.uuid4().hex[:8]}",
            platform="eu",
            locale="fr-fr",
            token_ref="env:BM_TOKEN_UNUSED",
        )
        account.settings = AccountSettings(**settings)
        session.add(account)
        session.flush()
        return account.id


async def our_schedules(client: Client, account_id: int) -> dict[str, float]:
    found = {}
    async for listed in await client.list_schedules():
        if listed.id.startswith(SCHEDULE_PREFIX) and listed.id.endswith(
            f"-{account_id}"
        ):
            description = await client.get_schedule_handle(listed.id).describe()
            every = description.schedule.spec.intervals[0].every
            found[listed.id] = every.total_seconds()
    return found


async def test_applying_twice_changes_nothing_the_second_time(
    dev_client: Client,
    database_url: str,
    session_factory: sessionmaker[Session],
    task_queue: str,
) -> None:
    account_id = add_account(session_factory, order_import=True)
    client = dev_client

    first = await apply_for_database(client, database_url, task_queue)
    second = await apply_for_database(client, database_url, task_queue)

    expected = f"{SCHEDULE_PREFIX}orders-import-{account_id}"
    assert expected in first.created
    assert second.created == [] and second.updated == []
    assert expected in second.unchanged
    description = await client.get_schedule_handle(expected).describe()
    assert description.schedule.spec.intervals[0].every.total_seconds() == 30
    await client.get_schedule_handle(expected).delete()


async def test_settings_changes_update_or_remove_schedules(
    dev_client: Client,
    database_url: str,
    session_factory: sessionmaker[Session],
    task_queue: str,
) -> None:
    account_id = add_account(session_factory, order_import=True)
    client = dev_client
    schedule_id = f"{SCHEDULE_PREFIX}orders-import-{account_id}"
    await apply_for_database(client, database_url, task_queue)

    with session_factory.begin() as session:
        settings = session.get(AccountSettings, account_id)
        assert settings is not None
        settings.order_import_interval_s = 45
    updated = await apply_for_database(client, database_url, task_queue)
    assert updated.updated == [schedule_id]
    description = await client.get_schedule_handle(schedule_id).describe()
    assert description.schedule.spec.intervals[0].every.total_seconds() == 45

    with session_factory.begin() as session:
        settings = session.get(AccountSettings, account_id)
        assert settings is not None
        settings.order_import = False
    removed = await apply_for_database(client, database_url, task_queue)
    assert schedule_id in removed.deleted
    assert schedule_id not in await our_schedules(client, account_id)
