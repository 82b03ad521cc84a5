"""The production database: the same migrations and repository code on a real PostgreSQL server.

The test starts a throwaway PostgreSQL instance of its own (initdb into a temporary folder, loopback
only). CI installs PostgreSQL first (.ci/run); elsewhere the test is skipped, with the reason shown,
only when no PostgreSQL binaries exist at all.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, select

from hamdel.followup_policy import load_followup_policy
from hamdel.storage.db import migrate, session_scope
from hamdel.storage.models import Base, Category, Ticket
import console.tables  # noqa: F401 - its tables are part of the schema the migrations must match
from hamdel.storage.tickets import customer_tickets, get_or_create_customer
from hamdel.ticket_service import open_ticket

BIN_DIRS = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    if not BIN_DIRS:
        pytest.skip("PostgreSQL is not installed (CI installs it: apt-get install postgresql)")
    bindir = Path(BIN_DIRS[0])
    # Not under pytest's temporary folder: that one is private to root, and initdb refuses to run
    # as root, so the server runs as the `postgres` user in a folder it owns.
    data = Path(tempfile.mkdtemp(prefix="hamdel-pg-"))
    as_postgres: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    subprocess.run([*as_postgres, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "hamdel",
                    "--encoding", "UTF8", "--locale", "C"], check=True, capture_output=True)
    subprocess.run([*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(data / "server.log"), "-w",
                    "-o", f"-p {port} -k {data} -c listen_addresses=127.0.0.1", "start"], check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg://hamdel@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"], capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


def test_migrations_build_the_schema_on_postgresql(postgres_url: str) -> None:
    migrate(postgres_url)
    engine = create_engine(postgres_url)
    with engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    engine.dispose()


def test_a_ticket_round_trips_with_persian_text_and_aware_times(postgres_url: str) -> None:
    migrate(postgres_url)
    with session_scope(postgres_url) as session:
        customer = get_or_create_customer(session=session, channel="telegram", external_id="31", display_name="زهرا")
        open_ticket(session=session, customer=customer, conversation_id="telegram:31", category=Category.BILLING,
                    story="پولم دو بار کم شده", key_words=["پول", "دو بار"], reflection="پولتان دو بار کم شده.",
                    order_id="5512345", remedy_sought="refund", remedy_sought_text=None, remedy_offered=None,
                    anger=1, followup_policy=load_followup_policy())
    with session_scope(postgres_url) as session:
        customer = get_or_create_customer(session=session, channel="telegram", external_id="31")
        (ticket,) = customer_tickets(session=session, customer_id=customer.id)
        assert ticket.key_words == ["پول", "دو بار"] and ticket.story == "پولم دو بار کم شده"
        assert ticket.received_at.tzinfo is not None
        assert session.scalar(select(Ticket.number).where(Ticket.order_id == "5512345")) == ticket.number
