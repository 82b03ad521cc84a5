"""Engine and sessions, created once per process, and the migration entry point.

Every engine hides statement parameters in its errors and logs (`hide_parameters=True`): they are
customers' words, names and phone numbers, and exceptions end up in logs.

SQLite is the embedded default; it is put in WAL mode with a busy timeout so the action server, the
bot and the scheduler (separate processes) can share one file. PostgreSQL needs nothing special.
Rasa's SQLite tracker file gets the same journal mode from `use_wal` (WAL persists in the file), so
several Rasa workers can write it while the console reads.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlite3

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from hamdel.settings import get_settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Readers never block the writer, and writers from several processes take turns (busy timeout).
SQLITE_JOURNAL_MODE = "WAL"


def use_wal(path: Path | str) -> None:
    """Put the SQLite file at `path` (created if missing) in WAL mode; the mode stays with the file,
    so a process that opens it later (Rasa's tracker store) writes it that way too."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=30)
    try:
        mode = connection.execute(f"PRAGMA journal_mode={SQLITE_JOURNAL_MODE}").fetchone()[0]
    finally:
        connection.close()
    if str(mode).upper() != SQLITE_JOURNAL_MODE:
        raise RuntimeError(f"{path} refused journal_mode={SQLITE_JOURNAL_MODE} (it stayed {mode})")


def make_engine(url: str) -> Engine:
    """Create an engine with the pragmas that make SQLite safe for several processes."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA journal_mode={SQLITE_JOURNAL_MODE}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)


@lru_cache(maxsize=4)
def get_engine(url: str | None = None) -> Engine:
    return make_engine(url or get_settings().database_url)


@lru_cache(maxsize=4)
def get_sessionmaker(url: str | None = None) -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(url), expire_on_commit=False)


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A unit of work: commits on success, rolls back on any error, always closes."""
    session = get_sessionmaker(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def migrate(url: str | None = None) -> None:
    """Upgrade the database at `url` (default: settings) to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", (url or get_settings().database_url).replace("%", "%%"))
    engine_url = url or get_settings().database_url
    if engine_url.startswith("sqlite"):
        get_engine(engine_url)  # creates the parent folder
    command.upgrade(config, "head")


if __name__ == "__main__":
    migrate()
    print("database is at the newest revision")
