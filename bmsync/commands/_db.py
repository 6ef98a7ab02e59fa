"""A database session for a command: DATABASE_URL, else the embedded Postgres."""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from bmsync.commands._tables import make_console
from database.migrate import upgrade
from database.session import make_engine, make_session_factory
from domain.text import error_message, quoted
from runtime.embedded import EmbeddedPostgres, StartError
from runtime.settings import get_settings

err = make_console(stderr=True)

# Back Market's ids are positive and fit Postgres' bigint.
MAX_ID = 2**63 - 1
OrderId = Annotated[
    int, typer.Argument(min=1, max=MAX_ID, help="Back Market's order id")
]
OrderlineId = Annotated[
    int, typer.Argument(min=1, max=MAX_ID, help="Back Market's orderline id")
]


def database_url() -> str:
    """The configured database, or the embedded one started (or reused) on demand.

    Migrations are applied either way, so a command never meets an old schema.
    """
    settings = get_settings()
    url = settings.database_url or _embedded_postgres(settings.state_dir)
    upgrade(url)
    return url


# The embedded Postgres servers this process started, by state directory: the
# command stops them when it ends (`stop_started_parts`). A second command that
# reused one meanwhile loses it then; only `bmsync up` keeps one running for others.
_started: dict[Path, EmbeddedPostgres] = {}


def _embedded_postgres(state_dir: Path) -> str:
    started = _started.get(state_dir)
    url = None if started is None else started.url()
    if url is not None:
        return url
    postgres = EmbeddedPostgres(state_dir / "postgres", on_create=say_new_database)
    try:
        url = postgres.start()
    except StartError as exc:
        fail(str(exc))
    if postgres.started_here:
        _started[state_dir] = postgres
    return url


def say_new_database(notice: str) -> None:
    """Say on stderr, on one line however narrow the terminal, that a database is
    being made afresh."""
    err.print(f"note: {notice}", soft_wrap=True, highlight=False, markup=False)


def stop_started_parts() -> None:
    """Stop the embedded Postgres this command started: it was not running before."""
    while _started:
        _, postgres = _started.popitem()
        postgres.stop()


@contextmanager
def command_session() -> Iterator[Session]:
    """A session committed when the command's block ends without an error."""
    engine = make_engine(database_url(), pool_size=1)
    try:
        with make_session_factory(engine)() as session, session.begin():
            yield session
    finally:
        engine.dispose()


def fail(message: str, code: int = 1) -> NoReturn:
    """Say what went wrong on stderr and leave with `code`; never a traceback."""
    # Never wrapped: an error is one line to read, search for and paste whole.
    err.print(
        f"[red]error:[/red] {message}", highlight=False, markup=True, soft_wrap=True
    )
    raise typer.Exit(code)


M = TypeVar("M", bound=BaseModel)


def fail_unknown_status(value: str, known: Sequence[str]) -> NoReturn:
    """Refuse a --status no row has, naming the ones there are."""
    fail(
        f"--status: unknown status {quoted(value)}; the statuses are "
        + ", ".join(known),
        2,
    )


def validated(model: type[M], names: dict[str, str], **values: object) -> M:
    """The model, or a usage error naming each argument that does not fit.

    `names` maps the model's fields to the arguments a person typed.
    """
    try:
        return model(**values)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0])
            problems.append(f"{names.get(field, field)}: {error_message(error)}")
        fail("; ".join(problems), 2)
