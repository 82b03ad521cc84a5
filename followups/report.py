"""The measures seed 004 names for a complaint desk: how fast, how well, how often it comes back.

    python -m followups.report --from 2026-11-01 --to 2026-11-30 [--png path]
    python -m followups.report            # the last 30 days, ending today (Tehran)

Over tickets *received* between the two dates (inclusive, Tehran calendar days):
* complaints by category and status;
* first response time (received → first human response) and resolution time (received → resolved),
  median and 90th percentile, in calendar hours and in business hours (`followups.business_hours`);
  tickets without a response or resolution yet are left out of that figure and counted;
* CSAT% = share of ratings that are 4 or 5, with the number of ratings;
* reopen rate = tickets reopened at least once / tickets resolved at least once.

Percentiles interpolate linearly between ranks (`statistics.quantiles(method="inclusive")`, the
same as numpy's default), so a hand computation can check them. The table is Persian; the PNG
uses English labels because matplotlib's default fonts cannot shape Persian.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from followups.business_hours import business_duration
from hamdel.followup_policy import FollowUpPolicy, load_followup_policy
from hamdel.labels import CATEGORY_LABELS, STATUS_LABELS
from hamdel.persian import to_persian_digits
from hamdel.settings import PROJECT_ROOT
from hamdel.storage.db import session_scope
from hamdel.storage.models import Category, Ticket, TicketStatus


@dataclass(frozen=True)
class Durations:
    """Median and 90th percentile, in hours, of one kind of waiting time."""

    count: int
    median_hours: float | None
    p90_hours: float | None
    median_business_hours: float | None
    p90_business_hours: float | None
    missing: int  # tickets in range still without this event


@dataclass(frozen=True)
class Report:
    start: date
    end: date
    tickets: int
    by_category_status: dict[str, dict[str, int]] = field(default_factory=dict)
    first_response: Durations | None = None
    resolution: Durations | None = None
    ratings: int = 0
    csat_percent: float | None = None
    resolved_once: int = 0
    reopened: int = 0
    reopen_rate_percent: float | None = None


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _p90(values: Sequence[float]) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=10, method="inclusive")[8]


def _durations(pairs: list[tuple[datetime, datetime | None]], policy: FollowUpPolicy) -> Durations:
    done = [(a, b) for a, b in pairs if b is not None]
    calendar = [(b - a).total_seconds() / 3600 for a, b in done]
    business = [business_duration(a, b, policy).total_seconds() / 3600 for a, b in done]
    return Durations(len(done), _median(calendar), _p90(calendar), _median(business), _p90(business),
                     missing=len(pairs) - len(done))


def compute_report(*, session: Session, start: date, end: date, policy: FollowUpPolicy) -> Report:
    """Every figure of the report for tickets received from `start` to `end` (Tehran days)."""
    tz = ZoneInfo(policy.timezone)
    lower = datetime.combine(start, time.min, tzinfo=tz)
    upper = datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz)
    tickets = list(session.scalars(select(Ticket).where(Ticket.received_at >= lower, Ticket.received_at < upper)))

    by: dict[str, Counter[str]] = {c.value: Counter() for c in Category}
    for t in tickets:
        by[t.category.value][t.status.value] += 1
    ratings = [t.csat_score for t in tickets if t.csat_score is not None]
    resolved_once = [t for t in tickets if t.resolved_at is not None or t.reopened_count > 0]
    reopened = [t for t in resolved_once if t.reopened_count > 0]
    return Report(
        start=start, end=end, tickets=len(tickets),
        by_category_status={c: dict(counts) for c, counts in by.items()},
        first_response=_durations([(t.received_at, t.first_human_response_at) for t in tickets], policy),
        resolution=_durations([(t.received_at, t.resolved_at) for t in tickets], policy),
        ratings=len(ratings),
        csat_percent=100 * sum(1 for r in ratings if r >= 4) / len(ratings) if ratings else None,
        resolved_once=len(resolved_once), reopened=len(reopened),
        reopen_rate_percent=100 * len(reopened) / len(resolved_once) if resolved_once else None,
    )


def _num(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else to_persian_digits(f"{value:.{digits}f}")


def _pct(value: float | None) -> str:
    return "—" if value is None else _num(value) + "٪"


def format_table(report: Report) -> str:
    """The report as a plain-text table for the terminal (Persian, Persian digits)."""
    statuses = [s.value for s in TicketStatus]
    lines = [f"گزارش شکایت‌ها از {to_persian_digits(report.start.isoformat())} "
             f"تا {to_persian_digits(report.end.isoformat())} — {to_persian_digits(str(report.tickets))} شکایت", ""]
    header = ["دسته"] + [STATUS_LABELS[s] for s in statuses] + ["جمع"]
    rows = [header]
    for category, counts in report.by_category_status.items():
        values = [counts.get(s, 0) for s in statuses]
        rows.append([CATEGORY_LABELS[category]] + [to_persian_digits(str(v)) for v in values]
                    + [to_persian_digits(str(sum(values)))])
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines += [" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.append("")
    for title, waiting, d in (("زمان اولین پاسخ", "بی‌پاسخ", report.first_response),
                              ("زمان حل", "حل‌نشده", report.resolution)):
        assert d is not None
        lines.append(
            f"{title} به ساعت ({to_persian_digits(str(d.count))} پرونده، "
            f"{to_persian_digits(str(d.missing))} پرونده هنوز {waiting}): "
            f"میانه {_num(d.median_hours)}، صدک ۹۰ {_num(d.p90_hours)} | "
            f"ساعت کاری: میانه {_num(d.median_business_hours)}، صدک ۹۰ {_num(d.p90_business_hours)}"
        )
    lines.append(f"رضایت (CSAT، نمره‌ی ۴ و ۵): {_pct(report.csat_percent)} از {to_persian_digits(str(report.ratings))} نمره")
    lines.append(f"نرخ بازگشایی: {_pct(report.reopen_rate_percent)} "
                 f"({to_persian_digits(str(report.reopened))} از {to_persian_digits(str(report.resolved_once))} پرونده‌ی حل‌شده)")
    return "\n".join(lines)


def write_chart(report: Report, path: Path) -> Path:
    """Two panels: complaints by category and status; waiting times. English labels (see module doc)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5))
    categories = list(report.by_category_status)
    bottom = [0] * len(categories)
    for status in TicketStatus:
        values = [report.by_category_status[c].get(status.value, 0) for c in categories]
        left.bar(categories, values, bottom=bottom, label=status.value)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    left.set_title("Complaints by category and status")
    left.set_ylabel("tickets")
    left.legend()

    groups = [("first response", report.first_response), ("resolution", report.resolution)]
    labels: list[str] = []
    series: dict[str, list[float]] = {"median (calendar h)": [], "p90 (calendar h)": [],
                                      "median (business h)": [], "p90 (business h)": []}
    for name, d in groups:
        assert d is not None
        labels.append(name)
        series["median (calendar h)"].append(d.median_hours or 0)
        series["p90 (calendar h)"].append(d.p90_hours or 0)
        series["median (business h)"].append(d.median_business_hours or 0)
        series["p90 (business h)"].append(d.p90_business_hours or 0)
    width = 0.2
    for i, (name, hours) in enumerate(series.items()):
        right.bar([x + i * width for x in range(len(labels))], hours, width, label=name)
    right.set_xticks([x + 1.5 * width for x in range(len(labels))], labels)
    right.set_ylabel("hours")
    csat = "n/a" if report.csat_percent is None else f"{report.csat_percent:.1f}%"
    reopen = "n/a" if report.reopen_rate_percent is None else f"{report.reopen_rate_percent:.1f}%"
    right.set_title(f"Waiting times - CSAT {csat} of {report.ratings} ratings, reopen rate {reopen}")
    right.legend()
    fig.suptitle(f"Hamdel complaints {report.start} to {report.end} ({report.tickets} tickets)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


DEFAULT_DAYS = 30


def default_range(start: date | None, end: date | None, tz: ZoneInfo) -> tuple[date, date]:
    """The range asked for; a missing end is today (in `tz`), a missing start `DEFAULT_DAYS` days back."""
    end = end or datetime.now(tz).date()
    return start or end - timedelta(days=DEFAULT_DAYS - 1), end


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m followups.report", description=__doc__.split("\n")[0])
    parser.add_argument("--from", dest="start", type=date.fromisoformat, default=None,
                        help=f"YYYY-MM-DD (default: {DEFAULT_DAYS - 1} days before --to)")
    parser.add_argument("--to", dest="end", type=date.fromisoformat, default=None,
                        help="YYYY-MM-DD, inclusive (default: today, Tehran)")
    parser.add_argument("--png", type=Path, default=None, help="chart path (default var/reports/…)")
    args = parser.parse_args(argv)
    policy = load_followup_policy()
    args.start, args.end = default_range(args.start, args.end, ZoneInfo(policy.timezone))
    if args.end < args.start:
        parser.error("--to is before --from")
    with session_scope() as session:
        report = compute_report(session=session, start=args.start, end=args.end, policy=policy)
    print(format_table(report))
    png = args.png or PROJECT_ROOT / "var" / "reports" / f"followups_{args.start}_{args.end}.png"
    print(f"\nchart: {write_chart(report, png)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
