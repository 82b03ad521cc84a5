"""The production database: the same migrations and repository code on a real PostgreSQL server.

The test starts a throwaway PostgreSQL instance of its own (tests/faults/postgres.py, shared with
S8: initdb into a temporary folder, loopback only). CI installs PostgreSQL first (.ci/run);
elsewhere the test is skipped, with the reason shown, only when no PostgreSQL binaries exist.
"""
from __future__ import annotations

from collections.abc import Iterator

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
from tests.faults.postgres import BIN_DIRS, throwaway_server


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    if not BIN_DIRS:
        pytest.skip("PostgreSQL is not installed (CI installs it: apt-get install postgresql)")
    with throwaway_server() as server:
        yield f"{server.url}/postgres"


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
