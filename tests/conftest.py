"""Shared fixtures: one real Postgres and one Temporal environment per test session.

Each test that asks for `database_url` gets its own database, cloned from a migrated
template, so tests never see each other's rows and may commit freely.
"""

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import hypothesis  # noqa: F401
import psycopg
import pytest
from google.protobuf.duration_pb2 import Duration
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from database.migrate import upgrade
from database.session import make_engine, make_session_factory, normalize_url
from runtime.codec import generate_key
from runtime.embedded import EmbeddedPostgres, ensure_database, venv_binary
from runtime.settings import Settings
from runtime.temporal import data_converter

# hypothesis is imported above, before any worker thread runs: its pytest plugin
# otherwise imports it lazily at the end of a session, and CPython 3.11 can fail
# ("AST constructor recursion depth mismatch") compiling while other threads do.

TEMPLATE_DB = "bmsync_test_template"
# The session's payload key: tests never read or create a key file of the checkout.
PAYLOAD_KEY = generate_key()


def settings_with_test_key() -> Settings:
    """Process settings with the session's payload key."""
    return Settings().model_copy(update={"payload_key": SecretStr(PAYLOAD_KEY)})


@pytest.fixture(scope="session")
def postgres_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A URL of the test server's maintenance database."""
    configured = os.environ.get("DATABASE_URL")
    if configured:
        yield normalize_url(configured)
        return
    server = EmbeddedPostgres(tmp_path_factory.mktemp("pg") / "data")
    url = server.start()
    try:
        yield url
    finally:
        server.stop()


def _admin_conninfo(url: str) -> str:
    admin = make_url(url).set(database="postgres", drivername="postgresql")
    return admin.render_as_string(hide_password=False)


def _with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def template_database(postgres_server_url: str) -> str:
    """A database migrated to head, cloned for each test."""
    with psycopg.connect(_admin_conninfo(postgres_server_url), autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE_DB}" WITH (FORCE)')
    url = _with_database(postgres_server_url, TEMPLATE_DB)
    ensure_database(url)
    upgrade(url)
    return TEMPLATE_DB


@pytest.fixture
def database_url(postgres_server_url: str, template_database: str) -> Iterator[str]:
    """A fresh database of the test's own, already migrated."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = _admin_conninfo(postgres_server_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    try:
        yield _with_database(postgres_server_url, name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url, pool_size=2)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as session:
        yield session


@pytest.fixture(scope="session")
async def workflow_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server, shared by the session."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=data_converter(settings_with_test_key()),
        test_server_existing_path=str(venv_binary("temporal-test-server")),
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
async def dev_env(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[WorkflowEnvironment]:
    """The real Temporal dev server, for tests that need schedules or wall time."""
    db_file: Path = tmp_path_factory.mktemp("temporal") / "temporal.db"
    env = await WorkflowEnvironment.start_local(
        data_converter=data_converter(settings_with_test_key()),
        dev_server_existing_path=str(venv_binary("temporal")),
        dev_server_extra_args=["--db-filename", str(db_file)],
        ui=False,
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture
async def dev_client(dev_env: WorkflowEnvironment) -> Client:
    """A client of the dev server in a namespace of the test's own.

    Tests on the dev server reuse account and order ids (each has a fresh database),
    so their workflow and schedule ids would meet in one namespace.
    """
    namespace = f"test-{uuid.uuid4().hex[:16]}"
    await dev_env.client.workflow_service.register_namespace(
        RegisterNamespaceRequest(
            namespace=namespace,
            workflow_execution_retention_period=Duration(seconds=24 * 3600),
        )
    )
    return await Client.connect(
        dev_env.client.service_client.config.target_host,
        namespace=namespace,
        data_converter=dev_env.client.data_converter,
    )


@pytest.fixture
def task_queue() -> str:
    """A task queue of the test's own, so no two tests share workers."""
    return f"test-{uuid.uuid4()}"
