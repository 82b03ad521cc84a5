"""The report's figures against a fixture computed by hand (see the comments beside each ticket)."""
from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from followups.business_hours import business_duration
from followups.report import compute_report, format_table, main
from hamdel.followup_policy import FollowUpPolicy
from hamdel.persian import to_persian_digits
from hamdel.storage.db import session_scope
from hamdel.storage.models import Category, Ticket, TicketStatus
from tests.followups.conftest import TicketFactory

TEHRAN = ZoneInfo("Asia/Tehran")


def tehran(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=TEHRAN)


@pytest.fixture
def november(make_ticket: TicketFactory) -> None:
    """Five tickets in November (business days Sat–Wed 08:00–17:00) and one in October.

    ticket  category  received      first response  resolved        calendar h     business h   rating
    T1      delivery  Sun 1  09:00  Sun 1  11:00    Sun 1  13:00    2 / 4          2 / 4        5
    T2      billing   Wed 4  16:00  Sat 7  09:00    Sat 7  12:00    65 / 68        2 / 5        2  (reopened once, closed)
    T3      delivery  Sat 7  10:00  Sat 7  10:30    —               0.5 / —        0.5 / —      —  (escalated)
    T4      product   Mon 9  07:00  Mon 9  09:00    Tue 10 09:00    2 / 26         1 / 10       4
    T5      delivery  Tue 10 20:00  —               —               — / —          — / —        —  (open)
    T6      delivery  Oct 30        (outside the range)                                          1
    """
    rows = [
        (Category.DELIVERY, tehran(1, 9), tehran(1, 11), tehran(1, 13), 5, 0, TicketStatus.RESOLVED),
        (Category.BILLING, tehran(4, 16), tehran(7, 9), tehran(7, 12), 2, 1, TicketStatus.CLOSED),
        (Category.DELIVERY, tehran(7, 10), tehran(7, 10, 30), None, None, 0, TicketStatus.ESCALATED),
        (Category.PRODUCT, tehran(9, 7), tehran(9, 9), tehran(10, 9), 4, 0, TicketStatus.RESOLVED),
        (Category.DELIVERY, tehran(10, 20), None, None, None, 0, TicketStatus.OPEN),
        (Category.DELIVERY, tehran(30, 12, month=10), tehran(30, 13, month=10), None, 1, 0, TicketStatus.RESOLVED),
    ]
    for i, (category, received, responded, resolved, score, reopened, status) in enumerate(rows):
        ticket = make_ticket(9000 + i, category=category, at=received)
        with session_scope() as session:
            t = session.get(Ticket, ticket.id)
            t.first_human_response_at, t.resolved_at, t.csat_score = responded, resolved, score
            t.reopened_count, t.status = reopened, status


def test_the_report_matches_the_hand_computed_figures(november: None, policy: FollowUpPolicy) -> None:
    with session_scope() as session:
        report = compute_report(session=session, start=date(2026, 11, 1), end=date(2026, 11, 30), policy=policy)

    assert report.tickets == 5
    assert report.by_category_status["delivery"] == {"resolved": 1, "escalated": 1, "open": 1}
    assert report.by_category_status["billing"] == {"closed": 1}
    assert report.by_category_status["product"] == {"resolved": 1}
    assert report.by_category_status["staff"] == {}

    fr = report.first_response
    # calendar [0.5, 2, 2, 65]: median 2; p90 at rank 2.7 → 2 + 0.7 × 63 = 46.1
    assert (fr.count, fr.missing) == (4, 1)
    assert fr.median_hours == pytest.approx(2) and fr.p90_hours == pytest.approx(46.1)
    # business [0.5, 1, 2, 2]: median 1.5; p90 2
    assert fr.median_business_hours == pytest.approx(1.5) and fr.p90_business_hours == pytest.approx(2)

    res = report.resolution
    # calendar [4, 26, 68]: median 26; p90 at rank 1.8 → 26 + 0.8 × 42 = 59.6
    assert (res.count, res.missing) == (3, 2)
    assert res.median_hours == pytest.approx(26) and res.p90_hours == pytest.approx(59.6)
    # business [4, 5, 10]: median 5; p90 5 + 0.8 × 5 = 9
    assert res.median_business_hours == pytest.approx(5) and res.p90_business_hours == pytest.approx(9)

    assert report.ratings == 3 and report.csat_percent == pytest.approx(200 / 3)  # 5 and 4 of 5, 2, 4
    assert (report.reopened, report.resolved_once) == (1, 3)
    assert report.reopen_rate_percent == pytest.approx(100 / 3)


def test_business_hours_skip_the_weekend_and_holidays(policy: FollowUpPolicy) -> None:
    wednesday_evening, saturday_morning = tehran(4, 16), tehran(7, 9)
    assert business_duration(wednesday_evening, saturday_morning, policy) == timedelta(hours=2)


    with_holiday = dataclasses.replace(policy, holidays=frozenset({date(2026, 11, 7)}))
    assert business_duration(wednesday_evening, tehran(8, 9), with_holiday) == timedelta(hours=2)


def test_the_command_prints_a_persian_table_and_writes_a_chart(
    november: None, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    png = tmp_path / "report.png"
    assert main(["--from", "2026-11-01", "--to", "2026-11-30", "--png", str(png)]) == 0
    out = capsys.readouterr().out
    assert "ارسال و تحویل" in out and "۶۶.۷٪ از ۳ نمره" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_table_reads_in_persian_digits(november: None, policy: FollowUpPolicy) -> None:
    with session_scope() as session:
        table = format_table(compute_report(session=session, start=date(2026, 11, 1), end=date(2026, 11, 30),
                                            policy=policy))
    assert "۴۶.۱" in table and "۵۹.۶" in table


def test_without_a_range_the_command_reports_the_last_30_days(
        database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    today = datetime.now(TEHRAN).date()
    assert main(["--png", str(tmp_path / "report.png")]) == 0
    first_line = capsys.readouterr().out.splitlines()[0]
    assert to_persian_digits((today - timedelta(days=29)).isoformat()) in first_line
    assert to_persian_digits(today.isoformat()) in first_line
