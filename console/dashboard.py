"""The supervisors' dashboard and ticket list (routes + queries).

The figures come from `followups.report.compute_report` — the same function `make report` prints —
so the page and the command line can never disagree. The charts are inline SVG made here rather
than a JavaScript chart library: the browser shapes the Persian labels itself (no canvas text
quirks), the page works without scripts and under a strict CSP, screenshots are deterministic, and
there is one asset fewer to vendor.
"""
from __future__ import annotations

import re
from urllib.parse import urlencode
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

import jdatetime
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup, escape
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from console import texts
from console.auth import CurrentUser, require
from console.deps import db_session
from console.tables import Role
from console.web import fa, render
from followups.report import Report, compute_report, default_range
from hamdel.followup_policy import load_followup_policy
from hamdel.labels import CATEGORY_LABELS, STATUS_LABELS
from hamdel.persian import to_ascii_digits, to_persian_digits
from hamdel.storage.models import Category, Ticket, TicketStatus, TranscriptLine

router = APIRouter()
PAGE_SIZE = 25
_JALALI = re.compile(r"^\s*(\d{4})\s*[/\-.]\s*(\d{1,2})\s*[/\-.]\s*(\d{1,2})\s*$")
SEVERITY_LABELS = {"low": "کم", "medium": "متوسط", "high": "زیاد", "critical": "بحرانی"}
SPEAKER_LABELS = {"customer": "مشتری", "bot": "همدل", "agent": "کارشناس"}


# --- Jalali date range -----------------------------------------------------------------------

def parse_jalali(text: str) -> date:
    """«۱۴۰۵/۰۸/۰۱» (or 1405-8-1, Arabic-Indic digits too) → the Gregorian date; ValueError if not a date."""
    match = _JALALI.match(to_ascii_digits(text or ""))
    if not match:
        raise ValueError(text)
    year, month, day = (int(part) for part in match.groups())
    gregorian: date = jdatetime.date(year, month, day).togregorian()  # ValueError for 1405/13/40
    return gregorian


def format_jalali_input(day: date) -> str:
    """A Gregorian date as the inputs show it: «۱۴۰۵/۰۸/۰۱»."""
    j = jdatetime.date.fromgregorian(date=day)
    return to_persian_digits(f"{j.year:04d}/{j.month:02d}/{j.day:02d}")


def report_zone() -> ZoneInfo:
    """The zone whose calendar days the report counts in (the follow-up policy's, as `make report`)."""
    return ZoneInfo(load_followup_policy().timezone)


@dataclass(frozen=True)
class DateRange:
    start: date
    end: date
    error: str | None = None

    @property
    def start_text(self) -> str:
        return format_jalali_input(self.start)

    @property
    def end_text(self) -> str:
        return format_jalali_input(self.end)


def date_range(start_text: str | None, end_text: str | None) -> DateRange:
    """The range a page asked for; as `make report`, the last `DEFAULT_DAYS` days (ending today) when
    blank, and that default with a reason when a date is wrong."""
    start_default, end_default = default_range(None, None, report_zone())
    try:
        start = parse_jalali(start_text) if start_text else start_default
        end = parse_jalali(end_text) if end_text else end_default
    except ValueError:
        return DateRange(start_default, end_default, texts.DATE_INVALID)
    if end < start:
        return DateRange(start_default, end_default, texts.DATE_ORDER)
    return DateRange(start, end)


# --- charts (inline SVG) ---------------------------------------------------------------------

STATUS_ORDER = [s.value for s in TicketStatus]


def stacked_bars(rows: list[tuple[str, dict[str, int]]], series: list[tuple[str, str]], *, title: str,
                 width: int = 640) -> Markup:
    """Horizontal stacked bars, labels on the right (RTL). `rows`: (label, {series key: value});
    `series`: (key, Persian name) in stacking order, each drawn with the CSS class `s-<key>`."""
    label_w, bar_h, gap, top = 150, 22, 10, 8
    legend_h = 28
    total_max = max([sum(values.values()) for _, values in rows] + [1])
    plot_w = width - label_w - 60
    height = top + len(rows) * (bar_h + gap) + legend_h + 8
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
             f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>']
    for i, (label, values) in enumerate(rows):
        y = top + i * (bar_h + gap)
        parts.append(f'<text class="label" x="{width - 4}" y="{y + bar_h * 0.72:.1f}" direction="rtl" '
                     f'text-anchor="start">{escape(label)}</text>')
        right = float(width - label_w)
        for key, name in series:
            value = values.get(key, 0)
            if not value:
                continue
            w = plot_w * value / total_max
            parts.append(f'<rect class="s-{escape(key)}" x="{right - w:.1f}" y="{y}" width="{w:.1f}" '
                         f'height="{bar_h}"><title>{escape(name)}: {fa(value)}</title></rect>')
            right -= w
        total = sum(values.values())
        parts.append(f'<text class="value" x="{right - 6:.1f}" y="{y + bar_h * 0.72:.1f}" direction="rtl" '
                     f'text-anchor="start">{fa(total)}</text>')
    y = top + len(rows) * (bar_h + gap) + 6
    x = width - 4
    for key, name in series:
        parts.append(f'<rect class="s-{escape(key)}" x="{x - 14}" y="{y}" width="14" height="14"/>')
        parts.append(f'<text class="legend" x="{x - 20}" y="{y + 12}" direction="rtl" text-anchor="start">'
                     f'{escape(name)}</text>')
        x -= 30 + 9 * len(name)
    parts.append("</svg>")
    return Markup("".join(parts))


def duration_bars(report: Report, width: int = 640) -> Markup:
    """Median and 90th percentile of first response and resolution, in hours (calendar and business)."""
    values: list[tuple[str, float | None, str]] = []
    for title, d in (("اولین پاسخ", report.first_response), ("حل شکایت", report.resolution)):
        assert d is not None
        values += [(f"{title} — میانه", d.median_hours, "p50"), (f"{title} — صدک ۹۰", d.p90_hours, "p90"),
                   (f"{title} — میانه (ساعت کاری)", d.median_business_hours, "p50b"),
                   (f"{title} — صدک ۹۰ (ساعت کاری)", d.p90_business_hours, "p90b")]
    label_w, bar_h, gap, top = 230, 18, 8, 8
    plot_w = width - label_w - 70
    biggest = max([v for _, v, _ in values if v is not None] + [1.0])
    height = top + len(values) * (bar_h + gap) + 4
    title = "زمان پاسخ و حل به ساعت"
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{title}" '
             f'xmlns="http://www.w3.org/2000/svg"><title>{title}</title>']
    for i, (label, value, kind) in enumerate(values):
        y = top + i * (bar_h + gap)
        parts.append(f'<text class="label" x="{width - 4}" y="{y + bar_h * 0.75:.1f}" direction="rtl" '
                     f'text-anchor="start">{escape(label)}</text>')
        w = 0.0 if value is None else plot_w * value / biggest
        right = width - label_w
        if w:
            parts.append(f'<rect class="d-{kind}" x="{right - w:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}"/>')
        text = "—" if value is None else f"{fa(value)} ساعت"
        parts.append(f'<text class="value" x="{right - w - 6:.1f}" y="{y + bar_h * 0.75:.1f}" direction="rtl" '
                     f'text-anchor="start">{escape(text)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


# --- pages -----------------------------------------------------------------------------------

@router.get("/")
def home(user: Annotated[CurrentUser, Depends(require(Role.VIEWER))]) -> Response:
    """Everyone who may log in may see the dashboard: it is the home page."""
    return RedirectResponse("/dashboard", status_code=303)


@router.get("/dashboard")
def dashboard(request: Request, session: Annotated[Session, Depends(db_session)],
              user: Annotated[CurrentUser, Depends(require(Role.VIEWER))],
              start: Annotated[str | None, Query(alias="from", max_length=20)] = None,
              end: Annotated[str | None, Query(alias="to", max_length=20)] = None) -> Response:
    period = date_range(start, end)
    report = compute_report(session=session, start=period.start, end=period.end, policy=load_followup_policy())
    categories = [(CATEGORY_LABELS[c], counts) for c, counts in report.by_category_status.items()]
    statuses = [(key, STATUS_LABELS[key]) for key in STATUS_ORDER]
    status_totals = {key: sum(counts.get(key, 0) for counts in report.by_category_status.values())
                     for key in STATUS_ORDER}
    return render(request, "dashboard.html", {
        "report": report, "period": period, "error": period.error,
        "category_chart": stacked_bars(categories, statuses, title="شکایت‌ها بر پایهٔ دسته و وضعیت"),
        "duration_chart": duration_bars(report),
        "status_totals": [(STATUS_LABELS[key], key, status_totals[key]) for key in STATUS_ORDER],
        "category_rows": [(CATEGORY_LABELS[c], c, [counts.get(s, 0) for s in STATUS_ORDER], sum(counts.values()))
                          for c, counts in report.by_category_status.items()],
        "status_names": [STATUS_LABELS[s] for s in STATUS_ORDER],
    })


@router.get("/tickets")
def tickets(request: Request, session: Annotated[Session, Depends(db_session)],
            user: Annotated[CurrentUser, Depends(require(Role.VIEWER))],
            status: TicketStatus | None = None, category: Category | None = None,
            start: Annotated[str | None, Query(alias="from", max_length=20)] = None,
            end: Annotated[str | None, Query(alias="to", max_length=20)] = None,
            q: Annotated[str | None, Query(max_length=64)] = None,
            page: Annotated[int, Query(ge=1)] = 1) -> Response:
    """Tickets newest first, filtered; a date range only when one is given (no default window here)."""
    query = select(Ticket)
    error = None
    if status is not None:
        query = query.where(Ticket.status == status)
    if category is not None:
        query = query.where(Ticket.category == category)
    if start or end:
        period = date_range(start, end)
        error = period.error
        tz = report_zone()
        query = query.where(Ticket.received_at >= datetime.combine(period.start, time.min, tzinfo=tz),
                            Ticket.received_at < datetime.combine(period.end + timedelta(days=1), time.min, tzinfo=tz))
    number = to_ascii_digits(q or "").strip()
    if number:
        pattern = f"%{number.upper()}%"
        query = query.where(or_(func.upper(Ticket.number).like(pattern), Ticket.order_id.like(f"%{number}%")))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(page, pages)
    rows = session.scalars(query.order_by(Ticket.received_at.desc(), Ticket.id.desc())
                           .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
    params = {"status": status.value if status else "", "category": category.value if category else "",
              "from": start or "", "to": end or "", "q": q or ""}
    return render(request, "tickets.html", {
        "tickets": rows, "total": total, "page": page, "pages": pages, "params": params, "error": error,
        "statuses": STATUS_LABELS, "categories": CATEGORY_LABELS, "severities": SEVERITY_LABELS,
        "query_string": urlencode({k: v for k, v in params.items() if v}),
    })


@router.get("/tickets/{number}")
def ticket(request: Request, number: str, session: Annotated[Session, Depends(db_session)],
           user: Annotated[CurrentUser, Depends(require(Role.VIEWER))]) -> Response:
    found = session.scalar(select(Ticket).where(Ticket.number == to_ascii_digits(number))
                           .options(selectinload(Ticket.events), selectinload(Ticket.customer)))
    if found is None:
        raise HTTPException(status_code=404, detail=texts.NOT_FOUND)
    lines = session.scalars(select(TranscriptLine).where(TranscriptLine.ticket_id == found.id)
                            .order_by(TranscriptLine.id)).all()
    return render(request, "ticket.html", {
        "ticket": found, "events": found.events, "lines": lines, "statuses": STATUS_LABELS,
        "categories": CATEGORY_LABELS, "severities": SEVERITY_LABELS, "speakers": SPEAKER_LABELS,
    })
