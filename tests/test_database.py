"""The per-test database is real Postgres, migrated, and private to the test."""

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from database.migrate import current_revision, head_revision
from database.models import Account, AccountSettings


def test_each_test_gets_a_migrated_database(database_url: str) -> None:
    assert head_revision() is not None
    assert current_revision(database_url) == head_revision()


def test_rows_written_by_one_test_are_private(session: Session) -> None:
    account = Account(
        name="acme-eu", platform="eu", locale="fr-fr", token_ref="env:BM_TOKEN"
    )
    account.settings = AccountSettings()
    session.add(account)
    session.commit()

    assert session.scalar(select(Account.name)) == "acme-eu"
    assert (
        session.execute(text("select version()")).scalar_one().startswith("PostgreSQL")
    )


def test_a_new_account_gets_safe_defaults(session: Session) -> None:
    assert session.scalar(select(Account)) is None
    account = Account(
        name="acme-us", platform="us", locale="en-us", token_ref="env:BM_TOKEN"
    )
    account.settings = AccountSettings()
    session.add(account)
    session.commit()
    session.refresh(account)

    assert account.settings.quantity_sync is False
    assert account.settings.auto_validate is False
    assert account.settings.order_import is True
    assert account.settings.safety_buffer == 0
