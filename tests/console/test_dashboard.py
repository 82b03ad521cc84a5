"""Dashboard and tickets: the figures of `followups.report` over a Jalali range, the ticket list's
filters and pages, and a ticket with its transcript and events — for a logged-in viewer."""
from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from console.dashboard import date_range, format_jalali_input, parse_jalali, stacked_bars
from console.tables import Role
from hamdel.storage.db import session_scope
from hamdel.storage.models import Category, Customer, Severity, Ticket, TicketEvent, TicketStatus, TranscriptLine

# 1405/08/01 is 2026-10-23; Tehran is UTC+3:30 all year now.
DAY = datetime(2026, 10, 23, 9, 0, tzinfo=timezone.utc)


def add_ticket(session: Session, number: str, *, category: Category = Category.DELIVERY,
               status: TicketStatus = TicketStatus.OPEN, received: datetime = DAY,
               first_response_hours: float | None = None, resolved_hours: float | None = None,
               csat: int | None = None, reopened: int = 0, order_id: str | None = None) -> Ticket:
    customer = Customer(channel="telegram", external_id=number, display_name="مریم")
    ticket = Ticket(
        number=number, customer=customer, conversation_id=f"telegram:{number}", channel="telegram",
        category=category, story="سفارشم دو هفته است نرسیده.", key_words=[], reflection="سفارش‌تان نرسیده.",
        anger=1, severity=Severity.MEDIUM, status=status, received_at=received, order_id=order_id,
        first_human_response_at=None if first_response_hours is None else received + timedelta(hours=first_response_hours),
        resolved_at=None if resolved_hours is None else received + timedelta(hours=resolved_hours),
        csat_score=csat, reopened_count=reopened,
    )
    session.add(ticket)
    session.flush()
    return ticket


def test_jalali_dates_are_read_in_persian_or_latin_digits() -> None:
    assert parse_jalali("۱۴۰۵/۰۸/۰۱") == date(2026, 10, 23)
    assert parse_jalali("1405-8-1") == date(2026, 10, 23)
    assert format_jalali_input(date(2026, 10, 23)) == "۱۴۰۵/۰۸/۰۱"
    for wrong in ("۱۴۰۵/۱۳/۰۱", "دیروز", "2026-10-23x"):
        with pytest.raises(ValueError):
            parse_jalali(wrong)


def test_a_blank_or_wrong_range_falls_back_to_the_last_30_days_and_says_why() -> None:
    blank = date_range(None, None)
    assert (blank.end - blank.start).days == 29 and blank.error is None
    wrong = date_range("۱۴۰۵/۰۸/۴۰", None)
    assert wrong.error and (wrong.start, wrong.end) == (blank.start, blank.end)
    backwards = date_range("۱۴۰۵/۰۸/۱۰", "۱۴۰۵/۰۸/۰۱")
    assert backwards.error and "پیش از" in backwards.error


def test_the_chart_draws_one_segment_per_status_with_persian_labels() -> None:
    svg = stacked_bars([("ارسال و تحویل", {"open": 2, "resolved": 1}), ("کالا", {})],
                       [("open", "در حال بررسی"), ("resolved", "حل‌شده")], title="دسته‌ها")
    assert svg.count('class="s-open" x=') == 2  # the bar and the legend
    assert "ارسال و تحویل" in svg and "۳" in svg and 'direction="rtl"' in svg


def test_dashboard_shows_the_reports_figures_for_the_chosen_jalali_range(
        login_as: Callable[..., TestClient]) -> None:
    with session_scope() as session:
        add_ticket(session, "HM-100001", status=TicketStatus.RESOLVED, first_response_hours=2, resolved_hours=10, csat=5)
        add_ticket(session, "HM-100002", category=Category.BILLING, status=TicketStatus.RESOLVED,
                   first_response_hours=4, resolved_hours=30, csat=2, reopened=1)
        add_ticket(session, "HM-100003", status=TicketStatus.OPEN)
        add_ticket(session, "HM-100004", received=DAY + timedelta(days=40))  # outside the range
    viewer = login_as(Role.VIEWER)
    page = viewer.get("/dashboard", params={"from": "۱۴۰۵/۰۸/۰۱", "to": "۱۴۰۵/۰۸/۳۰"})
    assert page.status_code == 200
    html = page.text
    assert 'id="kpi-tickets">۳<' in html
    assert 'id="kpi-first-response">۳٫۰<' in html  # median of 2 h and 4 h
    assert 'id="kpi-csat">۵۰٫۰٪<' in html  # one of two ratings is 4 or 5
    assert 'id="kpi-reopen">۵۰٫۰٪<' in html  # one of two resolved tickets came back
    assert "<svg" in html and "پرداخت و صورت‌حساب" in html
    assert 'value="۱۴۰۵/۰۸/۰۱"' in html


def test_a_wrong_date_keeps_the_page_and_explains_the_format(login_as: Callable[..., TestClient]) -> None:
    page = login_as(Role.VIEWER).get("/dashboard", params={"from": "فردا"})
    assert page.status_code == 200
    assert "۱۴۰۵/۰۸/۰۱" in page.text and 'class="error"' in page.text


def test_ticket_list_filters_by_status_category_range_and_number(login_as: Callable[..., TestClient]) -> None:
    with session_scope() as session:
        add_ticket(session, "HM-200001", status=TicketStatus.ESCALATED)
        add_ticket(session, "HM-200002", category=Category.PRODUCT)
        add_ticket(session, "HM-300003", received=DAY + timedelta(days=40))
    viewer = login_as(Role.VIEWER)

    def numbers(**params: str) -> set[str]:
        page = viewer.get("/tickets", params=params)
        assert page.status_code == 200
        return {n for n in ("HM-200001", "HM-200002", "HM-300003") if f'data-number="{n}"' in page.text}

    assert numbers() == {"HM-200001", "HM-200002", "HM-300003"}
    assert numbers(status="escalated") == {"HM-200001"}
    assert numbers(category="product") == {"HM-200002"}
    assert numbers(**{"from": "۱۴۰۵/۰۸/۰۱", "to": "۱۴۰۵/۰۸/۳۰"}) == {"HM-200001", "HM-200002"}
    assert numbers(q="۲۰۰۰۰۲") == {"HM-200002"}
    assert numbers(q="hm-3") == {"HM-300003"}


def test_ticket_list_is_paginated(login_as: Callable[..., TestClient]) -> None:
    with session_scope() as session:
        for i in range(30):
            add_ticket(session, f"HM-4{i:05d}", received=DAY + timedelta(minutes=i))
    viewer = login_as(Role.VIEWER)
    first, second = viewer.get("/tickets"), viewer.get("/tickets", params={"page": 2})
    assert first.text.count('class="ticket-row"') == 25 and second.text.count('class="ticket-row"') == 5
    assert 'data-number="HM-400029"' in first.text  # newest first
    assert 'rel="next"' in first.text and 'rel="prev"' in second.text


def test_a_ticket_page_shows_its_fields_transcript_and_events(login_as: Callable[..., TestClient]) -> None:
    with session_scope() as session:
        ticket = add_ticket(session, "HM-500001", order_id="ORD-77")
        session.add_all([
            TranscriptLine(conversation_id=ticket.conversation_id, ticket_id=ticket.id, speaker="customer",
                           text="سفارشم دو هفته است نرسیده.", created_at=DAY),
            TranscriptLine(conversation_id=ticket.conversation_id, ticket_id=ticket.id, speaker="bot",
                           text="متأسفم که منتظر مانده‌اید.", created_at=DAY + timedelta(seconds=5)),
            TicketEvent(ticket_id=ticket.id, kind="status", actor="bot", body="ثبت شد", created_at=DAY),
        ])
    page = login_as(Role.VIEWER).get("/tickets/HM-500001")
    assert page.status_code == 200
    html = page.text
    assert html.index("سفارشم دو هفته است نرسیده.") < html.index("متأسفم که منتظر مانده‌اید.")
    assert "ORD-77" in html and "ثبت شد" in html and "مریم" in html
    assert login_as(Role.VIEWER).get("/tickets/HM-999999").status_code == 404
