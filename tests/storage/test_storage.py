"""Storage: migrations match the models, status changes stamp ISO 10002 times, spool survives."""
from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hamdel.followup_policy import load_followup_policy, parse_duration
from hamdel.storage import spool
from hamdel.storage.db import get_engine
from hamdel.storage.models import Base, Category, Customer, FollowUpKind, FollowUpStatus, Severity, TicketStatus
import console.tables  # noqa: F401 - its tables are part of the schema the migrations must match
from hamdel.storage.tickets import get_or_create_customer, severity_for, ticket_for_turn
from hamdel.ticket_service import open_ticket, set_status


def test_migrations_create_exactly_the_models(database_url: str) -> None:
    with get_engine(database_url).connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_severity_grows_with_anger_and_weight_of_the_topic() -> None:
    assert severity_for(Category.DELIVERY, 0) is Severity.LOW
    assert severity_for(Category.BILLING, 0) is Severity.MEDIUM
    assert severity_for(Category.DELIVERY, 2) is Severity.HIGH
    assert severity_for(Category.STAFF, 3) is Severity.CRITICAL


def test_resolving_stamps_the_time_and_cancels_pending_check_ins(session: Session) -> None:
    customer = get_or_create_customer(session=session, channel="telegram", external_id="7")
    ticket = open_ticket(session=session, customer=customer, conversation_id="telegram:7", category=Category.PRODUCT,
                         story="خرابه", key_words=[], reflection="خرابه.", order_id=None, remedy_sought="repair",
                         remedy_sought_text=None, remedy_offered=None, anger=0, followup_policy=load_followup_policy())
    set_status(session=session, ticket=ticket, status=TicketStatus.RESOLVED, actor="agent:5")
    assert ticket.resolved_at is not None
    check_in = next(f for f in ticket.followups if f.kind is FollowUpKind.CHECK_IN)
    assert check_in.status is FollowUpStatus.CANCELLED
    assert [e.body for e in ticket.events] == ["open", "resolved"]


def test_one_turn_of_a_customer_holds_one_ticket_in_the_database(session: Session) -> None:
    def ticket_for(customer: Customer, turn_id: str | None) -> None:
        open_ticket(session=session, customer=customer, conversation_id=f"telegram:{customer.external_id}",
                    category=Category.PRODUCT, story="خرابه", key_words=[], reflection="خرابه.", order_id=None,
                    remedy_sought=None, remedy_sought_text=None, remedy_offered=None, anger=0,
                    followup_policy=load_followup_policy(), turn_id=turn_id)
        session.flush()

    maryam = get_or_create_customer(session=session, channel="telegram", external_id="11")
    ali = get_or_create_customer(session=session, channel="telegram", external_id="12")
    for customer, turn_id in [(maryam, "tg:1"), (ali, "tg:1"), (maryam, None), (maryam, None)]:
        ticket_for(customer, turn_id)  # the same turn id of someone else, and tickets without one, are fine
    with pytest.raises(IntegrityError), session.begin_nested():
        ticket_for(maryam, "tg:1")
    assert ticket_for_turn(session=session, customer_id=maryam.id, turn_id="tg:1") is not None
    assert ticket_for_turn(session=session, customer_id=maryam.id, turn_id=None) is None


def test_customers_are_created_once(session: Session) -> None:
    first = get_or_create_customer(session=session, channel="telegram", external_id="9", display_name="علی")
    again = get_or_create_customer(session=session, channel="telegram", external_id="9", display_name="علی رضایی")
    assert first.id == again.id and again.display_name == "علی رضایی"


def test_durations_read_like_the_policy_file() -> None:
    assert parse_duration("24h").total_seconds() == 86400
    assert parse_duration("5s").total_seconds() == 5
    assert parse_duration("30m").total_seconds() == 1800


def test_spooled_records_that_still_fail_stay_spooled(tmp_path: Path) -> None:
    path = tmp_path / "pending.jsonl"
    spool.save({"n": 1}, path)
    spool.save({"n": 2}, path)

    def only_first(record: dict) -> None:
        if record["n"] == 2:
            raise RuntimeError("still down")

    assert spool.drain(only_first, path) == 1
    assert spool.drain(lambda record: None, path) == 1
    assert not path.exists() or path.read_text() == ""


def test_a_drain_that_crashed_is_finished_by_the_next_one(tmp_path: Path) -> None:
    path = tmp_path / "pending.jsonl"
    spool.save({"n": 1}, path)
    spool.save({"n": 2}, path)
    path.rename(path.with_suffix(".draining"))  # the previous drain claimed the file, then crashed
    spool.save({"n": 3}, path)  # and a ticket was spooled since
    replayed: list[int] = []
    assert spool.drain(lambda record: replayed.append(record["n"]), path) == 3
    assert replayed == [1, 2, 3]
    assert not path.with_suffix(".draining").exists()


def test_a_torn_line_is_set_aside_and_the_records_after_it_are_replayed(tmp_path: Path) -> None:
    path = tmp_path / "pending.jsonl"
    spool.save({"n": 1}, path)
    with path.open("a", encoding="utf-8") as handle:
        handle.write('{"n": 2, "story": "سفارشم نرس\n')  # a crash in the middle of a write
    spool.save({"n": 3}, path)
    replayed: list[int] = []
    assert spool.drain(lambda record: replayed.append(record["n"]), path) == 2
    assert replayed == [1, 3]
    assert "سفارشم نرس" in path.with_suffix(".rejected").read_text(encoding="utf-8")
