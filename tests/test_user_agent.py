"""Every request names us as Back Market asks: BM-<company>-Sync;<contact email>."""

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker
from temporalio.exceptions import ApplicationError
from typer.testing import CliRunner

from activities.deps import BackMarketClients
from bmsync.cli import app
from database.accounts import create_account
from runtime.settings import Settings, get_settings

TOKEN_VARIABLE = "BMSYNC_TEST_UA_TOKEN"


def add_account(session_factory: sessionmaker[Session], base_url: str | None) -> int:
    with session_factory.begin() as session:
        account = create_account(
            session,
            name="shop",
            platform="eu",
            locale="fr-fr",
            token_ref=f"env:{TOKEN_VARIABLE}",
            base_url=base_url,
        )
        session.flush()
        return account.id


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_VARIABLE, "ua-test-token")


async def test_the_user_agent_comes_from_the_settings(
    session_factory: sessionmaker[Session],
) -> None:
    account_id = add_account(session_factory, base_url=None)
    agents: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        agents.append(request.headers["User-Agent"])
        return httpx.Response(200, json={"count": 0, "next": None, "results": []})

    settings = Settings(BMSYNC_COMPANY="AcmeRefurb", BMSYNC_CONTACT_EMAIL="ops@acme.fr")
    clients = BackMarketClients.for_settings(session_factory, settings)
    clients.transport = httpx.MockTransport(answer)
    try:
        client = await clients.get(account_id)
        await client.list_listings()
    finally:
        await clients.close()

    assert agents == ["BM-AcmeRefurb-Sync;ops@acme.fr"]


async def test_a_real_account_without_a_contact_email_is_refused_by_name(
    session_factory: sessionmaker[Session],
) -> None:
    account_id = add_account(session_factory, base_url=None)
    clients = BackMarketClients(session_factory)

    with pytest.raises(ApplicationError) as refused:
        await clients.get(account_id)

    assert refused.value.type == "AccountMissing" and refused.value.non_retryable
    assert "shop" in str(refused.value) and "BMSYNC_CONTACT_EMAIL" in str(refused.value)


@pytest.fixture
def runner(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("BMSYNC_CONTACT_EMAIL", "not an email", "an email address"),
        ("BMSYNC_COMPANY", "Acme-Refurb", "letters and digits"),
        ("BMSYNC_TEMPORAL_PORT", "seventy", "integer"),
    ],
)
def test_a_bad_setting_is_refused_by_name_without_echoing_the_environment(
    runner: CliRunner,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    named: str,
) -> None:
    monkeypatch.setenv(variable, value)
    monkeypatch.setenv("BMSYNC_PAYLOAD_KEY", "a-secret-payload-key")

    result = runner.invoke(app, ["accounts", "list"])

    assert result.exit_code == 2
    assert variable in result.stderr and named in result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert "a-secret-payload-key" not in result.output + result.stderr
