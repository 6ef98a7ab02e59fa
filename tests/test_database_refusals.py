"""A value Postgres refuses fails the activity once, for good, not on every retry."""

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity, workflow
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.errors import DatabaseRefusals
from workflows.policies import DATABASE_RETRY


class StoreText:
    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory
        self.attempts = 0

    @activity.defn(name="store_text")
    def store_text(self, value: str) -> None:
        self.attempts += 1
        with self.session_factory() as session:
            session.execute(text("SELECT CAST(:value AS text)"), {"value": value})


@workflow.defn(sandboxed=False)
class StoreTextWorkflow:
    @workflow.run
    async def run(self, value: str) -> None:
        await workflow.execute_activity(
            "store_text",
            value,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=DATABASE_RETRY,
        )


async def test_a_nul_character_fails_the_activity_once_as_bad_data(
    workflow_env: WorkflowEnvironment, session_factory: sessionmaker[Session]
) -> None:
    store = StoreText(session_factory)
    task_queue = f"refusals-{uuid.uuid4()}"
    worker = Worker(
        workflow_env.client,
        task_queue=task_queue,
        workflows=[StoreTextWorkflow],
        activities=[store.store_text],
        activity_executor=ThreadPoolExecutor(2),
        workflow_runner=UnsandboxedWorkflowRunner(),
        interceptors=[DatabaseRefusals()],
    )

    async with worker:
        with pytest.raises(WorkflowFailureError) as failed:
            await workflow_env.client.execute_workflow(
                StoreTextWorkflow.run,
                "ab\x00cd",
                id=f"refusal-{uuid.uuid4()}",
                task_queue=task_queue,
            )

    cause = failed.value.cause
    assert isinstance(cause, ActivityError)
    assert isinstance(cause.cause, ApplicationError)
    assert cause.cause.type == "BadData" and cause.cause.non_retryable
    assert "the database refused a value" in cause.cause.message
    assert store.attempts == 1
