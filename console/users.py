"""Log-in, log-out, the admins' account pages and the audit log page."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from console import audit, texts
from console.auth import (
    PRE_CSRF_COOKIE, SESSION_COOKIE, CurrentUser, check_login_csrf, client_address, csrf_protect,
    current_session, hash_password, login_target, optional_user, password_problem, require, secure_cookies,
    session_cookie_value, session_store, throttled, verify_password,
)
from console.deps import db_session
from console.tables import AuditEntry, ConsoleUser, Role
from console.web import render

router = APIRouter()
USERNAME = re.compile(r"^[A-Za-z0-9._-]{3,64}$")
AUDIT_PAGE_SIZE = 50


def safe_next(target: str | None) -> str:
    """Only a path on this site: never `//evil.example` or an absolute URL."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/dashboard"


@router.get("/login")
def login_page(request: Request, session: Annotated[Session, Depends(db_session)],
               next: str | None = None, out: bool = False) -> Response:
    if optional_user(request, session) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "login.html", {"next": safe_next(next) if next else "",
                                          "notice": texts.LOGGED_OUT if out else None})


@router.post("/login", dependencies=[Depends(check_login_csrf)])
def login(request: Request, session: Annotated[Session, Depends(db_session)],
          username: Annotated[str, Form(max_length=200)], password: Annotated[str, Form(max_length=1000)],
          next: Annotated[str, Form()] = "") -> Response:
    username = username.strip()
    address = client_address(request)
    target = login_target(session, username)
    if throttled(session, username, address):
        audit.record(session, user=None, action="login_throttled", target=target, detail={"ip": address})
        return render(request, "login.html", {"error": texts.LOGIN_THROTTLED, "username": username, "next": next},
                      status_code=429)
    user = session.scalar(select(ConsoleUser).where(ConsoleUser.username == username))
    if not verify_password(user, password) or user is None or not user.active:
        audit.record(session, user=None, action="login_failed", target=target, detail={"ip": address})
        return render(request, "login.html", {"error": texts.LOGIN_FAILED, "username": username, "next": next},
                      status_code=401)
    user.last_login_at = datetime.now(timezone.utc)
    audit.record(session, user=user.username, action="login", target=username, detail={"ip": address})
    old = current_session(request)
    if old is not None:  # a new session id at every log-in: no fixation
        session_store(request).drop(old.sid)
    record = session_store(request).create(user.id)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, session_cookie_value(record), httponly=True, samesite="lax",
                        secure=secure_cookies(), path="/")
    response.delete_cookie(PRE_CSRF_COOKIE, path="/")
    return response


@router.post("/logout", dependencies=[Depends(csrf_protect)])
def logout(request: Request, session: Annotated[Session, Depends(db_session)],
           user: Annotated[CurrentUser, Depends(require(Role.VIEWER))]) -> Response:
    record = current_session(request)
    if record is not None:
        session_store(request).drop(record.sid)
    audit.record(session, user=user.username, action="logout")
    response = RedirectResponse("/login?out=1", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# --- accounts (admin) ------------------------------------------------------------------------

def _users_page(request: Request, session: Session, *, notice: str | None = None, error: str | None = None,
                status_code: int = 200) -> Response:
    accounts = session.scalars(select(ConsoleUser).order_by(ConsoleUser.username)).all()
    return render(request, "users.html", {"accounts": accounts, "roles": list(Role), "notice": notice,
                                          "error": error}, status_code=status_code)


@router.get("/users")
def users_page(request: Request, session: Annotated[Session, Depends(db_session)],
               user: Annotated[CurrentUser, Depends(require(Role.ADMIN))]) -> Response:
    return _users_page(request, session)


@router.post("/users", dependencies=[Depends(csrf_protect)])
def create_user(request: Request, session: Annotated[Session, Depends(db_session)],
                user: Annotated[CurrentUser, Depends(require(Role.ADMIN))],
                username: Annotated[str, Form(max_length=200)], password: Annotated[str, Form(max_length=1000)],
                role: Annotated[Role, Form()]) -> Response:
    username = username.strip()
    if not USERNAME.match(username):
        return _users_page(request, session, error=texts.USERNAME_INVALID, status_code=400)
    if session.scalar(select(ConsoleUser).where(func.lower(ConsoleUser.username) == username.lower())):
        return _users_page(request, session, error=texts.USERNAME_TAKEN, status_code=400)
    problem = password_problem(password)
    if problem:
        return _users_page(request, session, error=problem, status_code=400)
    account = ConsoleUser(username=username, password_hash=hash_password(password), role=role, active=True)
    session.add(account)
    session.flush()
    audit.record(session, user=user.username, action="user_create", target=username,
                 detail={"user_id": account.id, "role": role.value})
    return _users_page(request, session, notice=texts.USER_CREATED.format(username=username))


def _account(session: Session, user_id: int, actor: CurrentUser, *, not_self: bool) -> ConsoleUser:
    account = session.get(ConsoleUser, user_id)
    if account is None:
        raise HTTPException(status_code=404, detail=texts.NOT_FOUND)
    if not_self and account.id == actor.id:
        raise HTTPException(status_code=400, detail=texts.NOT_YOURSELF)
    return account


@router.post("/users/{user_id}/role", dependencies=[Depends(csrf_protect)])
def change_role(request: Request, user_id: int, session: Annotated[Session, Depends(db_session)],
                user: Annotated[CurrentUser, Depends(require(Role.ADMIN))],
                role: Annotated[Role, Form()]) -> Response:
    account = _account(session, user_id, user, not_self=True)
    before = account.role
    account.role = role
    audit.record(session, user=user.username, action="user_role", target=account.username,
                 detail={"user_id": account.id, "from": before.value, "to": role.value})
    return _users_page(request, session, notice=texts.ROLE_CHANGED.format(username=account.username))


@router.post("/users/{user_id}/active", dependencies=[Depends(csrf_protect)])
def set_active(request: Request, user_id: int, session: Annotated[Session, Depends(db_session)],
               user: Annotated[CurrentUser, Depends(require(Role.ADMIN))],
               active: Annotated[bool, Form()]) -> Response:
    account = _account(session, user_id, user, not_self=True)
    account.active = active
    ended = 0 if active else session_store(request).drop_user(account.id)
    audit.record(session, user=user.username, action="user_activate" if active else "user_deactivate",
                 target=account.username, detail={"user_id": account.id, "sessions_ended": ended})
    message = texts.USER_ACTIVATED if active else texts.USER_DEACTIVATED
    return _users_page(request, session, notice=message.format(username=account.username))


@router.post("/users/{user_id}/password", dependencies=[Depends(csrf_protect)])
def reset_password(request: Request, user_id: int, session: Annotated[Session, Depends(db_session)],
                   user: Annotated[CurrentUser, Depends(require(Role.ADMIN))],
                   password: Annotated[str, Form(max_length=1000)]) -> Response:
    account = _account(session, user_id, user, not_self=False)
    problem = password_problem(password)
    if problem:
        return _users_page(request, session, error=problem, status_code=400)
    account.password_hash = hash_password(password)
    ended = session_store(request).drop_user(account.id)
    audit.record(session, user=user.username, action="user_password_reset", target=account.username,
                 detail={"user_id": account.id, "sessions_ended": ended})
    if account.id == user.id:  # they reset their own: log in again with the new one
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response
    return _users_page(request, session, notice=texts.PASSWORD_RESET.format(username=account.username))


# --- audit log (admin) -----------------------------------------------------------------------

@router.get("/audit")
def audit_page(request: Request, session: Annotated[Session, Depends(db_session)],
               user: Annotated[CurrentUser, Depends(require(Role.ADMIN))],
               page: Annotated[int, Query(ge=1)] = 1, action: str | None = None,
               who: str | None = None) -> Response:
    query = select(AuditEntry)
    if action:
        query = query.where(AuditEntry.action == action)
    if who:
        query = query.where(AuditEntry.username == who)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    entries = session.scalars(query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                              .offset((page - 1) * AUDIT_PAGE_SIZE).limit(AUDIT_PAGE_SIZE)).all()
    actions = sorted(set(session.scalars(select(AuditEntry.action).distinct())))
    pages = max(1, -(-total // AUDIT_PAGE_SIZE))
    return render(request, "audit.html", {"entries": entries, "page": page, "pages": pages, "total": total,
                                          "action": action or "", "who": who or "", "actions": actions})
