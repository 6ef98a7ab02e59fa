"""Commands that start and inspect the running parts: up, status, worker, db, schedules."""

import typer


def register(app: typer.Typer) -> None:
    db = typer.Typer(help="The database schema.", no_args_is_help=True)
    app.add_typer(db, name="db")
