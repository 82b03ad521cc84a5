"""Pages: the Jinja2 environment, `render()`, and the filters every template uses.

Filters:
    fa      Persian digits; ints get Persian thousands separators, floats one decimal (`fa(2)` for two)
            and the Persian decimal mark; None shows as «—».
    jalali  a datetime (naive = UTC) as a Jalali date and time in Tehran, e.g. «یکشنبه ۲ آذر ۱۴۰۵، ساعت ۱۴:۳۰»;
            `jalali(False)` leaves the time out.
    pct     a ratio 0..1 as a Persian percentage, e.g. 0.875 → «۸۷٫۵٪» (`pct(0)` for whole numbers).
    role_name  a Role (or its value) in Persian.
Globals: `Role`, and in every page `user` (CurrentUser or None), `csrf_token`, `can(role)` for the
navigation, `nav_active` (the first path segment) and `texts`.
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from console import texts
from console.auth import PRE_CSRF_COOKIE, csrf_token_for, pre_csrf_cookie_value, secure_cookies
from console.tables import Role
from hamdel.jalali import format_jalali
from hamdel.persian import to_persian_digits

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"


def fa(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return to_persian_digits(f"{value:,}".replace(",", "٬"))
    if isinstance(value, float):
        return to_persian_digits(f"{value:,.{digits}f}".replace(",", "٬").replace(".", "٫"))
    return to_persian_digits(str(value))


def jalali(value: datetime | None, with_time: bool = True) -> str:
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return format_jalali(value, with_time=with_time)


def pct(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "—"
    return fa(float(value) * 100, digits) + "٪"


def role_name(value: Role | str | None) -> str:
    if value is None:
        return "—"
    key = value.value if isinstance(value, Role) else str(value)
    return texts.ROLE_NAMES.get(key, key)


environment = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(["html", "xml", "svg"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters.update(fa=fa, jalali=jalali, pct=pct, role_name=role_name)
environment.globals.update(Role=Role, texts=texts)


def render(request: Request, template_name: str, context: dict[str, Any] | None = None,
           status_code: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    """Render a page with what every page needs (user, CSRF token, navigation) added to `context`."""
    user = getattr(request.state, "user", None)
    page: dict[str, Any] = {
        "request": request,
        "user": user,
        "csrf_token": csrf_token_for(request),
        "can": lambda role: user is not None and user.role.allows(Role(role)),
        "nav_active": request.url.path.strip("/").split("/", 1)[0],
    }
    page.update(context or {})
    html = environment.get_template(template_name).render(page)
    response = HTMLResponse(html, status_code=status_code, headers=headers)
    new_token = getattr(request.state, "new_pre_csrf", None)
    if new_token:
        response.set_cookie(PRE_CSRF_COOKIE, pre_csrf_cookie_value(new_token), httponly=True, samesite="lax",
                            secure=secure_cookies(), path="/")
    return response
