"""S8: S1 and S3 on PostgreSQL, the production database (DATABASE_URL=postgresql+psycopg://…).

The same scenarios, bodies and figures as on SQLite (tests/faults/test_delivery.py, S1;
tests/faults/test_s3_kill9.py, S3), against a throw-away PostgreSQL server this module starts
(tests/faults/postgres.py), one fresh database per test. Skipped, with the reason shown, only
where no PostgreSQL binaries exist (CI installs them: .ci/run).
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.bot_api_standin import BotApiStandIn
from hamdel import settings as settings_module
from hamdel.storage import db
from tests.bot.conftest import HarnessFactory
from tests.bot.fake_rasa import FakeRasa
from tests.faults.postgres import BIN_DIRS, fresh_database, throwaway_server
from tests.faults.test_delivery import store_outage_during_100_updates
from tests.faults.test_s3_kill9 import STEPS, check_kill9_at


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[str]:
    if not BIN_DIRS:
        pytest.skip("PostgreSQL is not installed (CI installs it: apt-get install postgresql)")
    with throwaway_server() as url:
        yield url


@pytest.fixture
def database_url(postgres_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Replaces the SQLite file of tests/conftest.py: a fresh, migrated PostgreSQL database."""
    url = fresh_database(postgres_server)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("HAMDEL_SPOOL", str(tmp_path / "spool" / "pending.jsonl"))
    monkeypatch.setenv("HAMDEL_HEARTBEAT", str(tmp_path / "bot.heartbeat"))
    monkeypatch.setenv("HAMDEL_SECRETS_DIR", str(tmp_path / "secrets"))
    monkeypatch.setenv("HAMDEL_INBOX_JOURNAL", str(tmp_path / "spool" / "inbox_journal.jsonl"))
    _clear_caches()
    db.migrate(url)
    yield url
    db.get_engine(url).dispose()
    _clear_caches()


def _clear_caches() -> None:
    settings_module.get_settings.cache_clear()
    db.get_engine.cache_clear()
    db.get_sessionmaker.cache_clear()


async def test_s8_s1_on_postgresql(make_harness: HarnessFactory, monkeypatch: pytest.MonkeyPatch,
                                   database_url: str) -> None:
    assert database_url.startswith("postgresql")
    await store_outage_during_100_updates(make_harness, monkeypatch, "S8 (S1 on PostgreSQL)")


@pytest.mark.parametrize("step", STEPS)
async def test_s8_s3_on_postgresql(step: str, standins: tuple[BotApiStandIn, FakeRasa], database_url: str,
                                   tmp_path: Path) -> None:
    assert database_url.startswith("postgresql")
    await check_kill9_at(step, standins, database_url, tmp_path, "S8 (S3 on PostgreSQL)")
