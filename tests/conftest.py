"""Fixtures shared by all tests: a migrated temporary database per test, and clean settings."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from hamdel import settings as settings_module
from hamdel.storage import db


def _clear_caches() -> None:
    settings_module.get_settings.cache_clear()
    db.get_engine.cache_clear()
    db.get_sessionmaker.cache_clear()


def use_database(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point every setting and file of the process at `url` and `tmp_path`, migrate, yield the URL,
    then let go of the engine (shared by the SQLite fixture below and the PostgreSQL one of S8)."""
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


@pytest.fixture
def database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh SQLite file, migrated with Alembic exactly as production databases are."""
    yield from use_database(f"sqlite:///{tmp_path / 'hamdel-test.db'}", tmp_path, monkeypatch)


@pytest.fixture
def session(database_url: str) -> Iterator[Session]:
    with db.session_scope(database_url) as s:
        yield s
