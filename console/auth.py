"""Accounts, sessions, roles and CSRF for the console.

Security model (docs/console.md says the same for people):
* Passwords are argon2id hashes (`argon2.PasswordHasher`, its current default parameters); a hash
  made with older parameters is replaced at the next successful log-in.
* A session is a random id kept **server-side** (`SessionStore`, in the process's memory) and sent
  to the browser in a cookie signed with `settings.console_session_secret()` (HttpOnly,
  SameSite=Lax, Secure outside development). Log-out deletes the id, so a copied cookie dies with
  it; sessions also die after `IDLE_SECONDS` without a request, after `MAX_AGE_SECONDS` in all, when
  the account is deactivated or its password reset, and when the console restarts (one worker).
* Every request re-reads the account, so a role change or a deactivation applies at once.
* CSRF: each session has its own token; every unsafe request must echo it in the form field
  `csrf_token` or the header `X-CSRF-Token` (`csrf_protect`). Before log-in, a signed cookie carries
  a token for the log-in form, so nobody can log a victim into the attacker's account.
* Log-in is throttled: `MAX_FAILURES` failed attempts for one user name from one address within
  `THROTTLE_WINDOW` make that pair wait, and `MAX_FAILURES_PER_ADDRESS` failures from one address
  whatever the names make that address wait (counted from the audit log, so a restart does not
  reset it).
* Routes declare the least role they need with `Depends(require(Role.X))`; the dependency carries
  that role as `required_role`, which is how tests/console/test_routes_matrix.py finds it.
"""
from __future__ import annotations

import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Annotated
from urllib.parse import quote

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, HTTPException, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from console import texts
from console.deps import db_session
from console.tables import AuditEntry, ConsoleUser, Role
from hamdel.settings import EXAMPLE_SECRETS, Settings, get_settings
from hamdel.storage.db import session_scope

log = logging.getLogger("console.auth")

SESSION_COOKIE = "hamdel_session"
PRE_CSRF_COOKIE = "hamdel_csrf"  # the log-in form's token, before there is a session
IDLE_SECONDS = 2 * 60 * 60
MAX_AGE_SECONDS = 12 * 60 * 60
MAX_FAILURES = 5  # per user name and address
MAX_FAILURES_PER_ADDRESS = 30  # whatever the names
THROTTLE_WINDOW = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 12
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_hasher = PasswordHasher()
# Verified against when the user name does not exist, so both failures take the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class CurrentUser:
    """The logged-in person as routes see it (a snapshot; the row stays in the database)."""

    id: int
    username: str
    role: Role


# --- passwords -------------------------------------------------------------------------------

def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_problem(password: str) -> str | None:
    """Why a new password is refused (Persian), or None when it is acceptable."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return texts.PASSWORD_TOO_SHORT
    if password.strip().lower() in EXAMPLE_SECRETS:
        return texts.PASSWORD_EXAMPLE
    return None


def verify_password(user: ConsoleUser | None, password: str) -> bool:
    """True when `password` matches; rehashes in place when argon2's parameters have changed."""
    if user is None:
        try:
            _hasher.verify(_DUMMY_HASH, password)
        except VerificationError:
            pass
        return False
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return True


# --- server-side sessions --------------------------------------------------------------------

@dataclass
class SessionRecord:
    sid: str
    user_id: int
    csrf_token: str
    created: float
    last_seen: float


class SessionStore:
    """Live sessions of this process. Thread-safe: sync routes run in a thread pool."""

    def __init__(self, idle_seconds: float = IDLE_SECONDS, max_age_seconds: float = MAX_AGE_SECONDS) -> None:
        self.idle_seconds = idle_seconds
        self.max_age_seconds = max_age_seconds
        self._sessions: dict[str, SessionRecord] = {}
        self._lock = threading.Lock()

    def create(self, user_id: int) -> SessionRecord:
        now = time.monotonic()
        record = SessionRecord(secrets.token_urlsafe(32), user_id, secrets.token_urlsafe(32), now, now)
        with self._lock:
            self._forget_expired(now)
            self._sessions[record.sid] = record
        return record

    def _expired(self, record: SessionRecord, now: float) -> bool:
        return now - record.last_seen > self.idle_seconds or now - record.created > self.max_age_seconds

    def _forget_expired(self, now: float) -> None:
        """Sessions nobody came back to would otherwise stay in memory until the restart."""
        for sid in [sid for sid, record in self._sessions.items() if self._expired(record, now)]:
            del self._sessions[sid]

    def get(self, sid: str) -> SessionRecord | None:
        """The live session `sid`, touched; None (and forgotten) when idle or too old."""
        now = time.monotonic()
        with self._lock:
            record = self._sessions.get(sid)
            if record is None:
                return None
            if self._expired(record, now):
                del self._sessions[sid]
                return None
            record.last_seen = now
            return record

    def drop(self, sid: str) -> None:
        with self._lock:
            self._sessions.pop(sid, None)

    def drop_user(self, user_id: int) -> int:
        """End every session of one account (password reset, deactivation); returns how many."""
        with self._lock:
            sids = [sid for sid, record in self._sessions.items() if record.user_id == user_id]
            for sid in sids:
                del self._sessions[sid]
        return len(sids)


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().console_session_secret(), salt=salt)


def secure_cookies(settings: Settings | None = None) -> bool:
    return (settings or get_settings()).environment not in {"development", "test"}


_UNRESOLVED = object()


def session_store(request: Request) -> SessionStore:
    return request.app.state.sessions  # type: ignore[no-any-return]


def current_session(request: Request) -> SessionRecord | None:
    """The request's live session (resolved once per request), or None."""
    cached = getattr(request.state, "console_session", _UNRESOLVED)
    if cached is None or isinstance(cached, SessionRecord):
        return cached
    record = None
    cookie = request.cookies.get(SESSION_COOKIE)
    sid = session_id_from_cookie(cookie) if cookie else None
    if sid is not None:
        record = session_store(request).get(sid)
    request.state.console_session = record
    return record


def session_cookie_value(record: SessionRecord) -> str:
    return _serializer("hamdel-console-session").dumps(record.sid)


def session_id_from_cookie(value: str) -> str | None:
    """The session id a cookie names, if its signature holds (tests use it to find the CSRF token)."""
    try:
        sid = _serializer("hamdel-console-session").loads(value, max_age=MAX_AGE_SECONDS)
    except BadSignature:
        return None
    return sid if isinstance(sid, str) else None


def csrf_token_for(request: Request) -> str:
    """The token pages put in their forms: the session's, else the pre-log-in cookie's (made if missing).

    A newly made pre-log-in token is left in `request.state.new_pre_csrf`; `web.render` sets the cookie.
    """
    record = current_session(request)
    if record is not None:
        return record.csrf_token
    existing = _pre_csrf(request)
    if existing:
        return existing
    token = getattr(request.state, "new_pre_csrf", None) or secrets.token_urlsafe(32)
    request.state.new_pre_csrf = token
    return token


def pre_csrf_cookie_value(token: str) -> str:
    return _serializer("hamdel-console-csrf").dumps(token)


def _pre_csrf(request: Request) -> str | None:
    cookie = request.cookies.get(PRE_CSRF_COOKIE)
    if not cookie:
        return None
    try:
        token = _serializer("hamdel-console-csrf").loads(cookie, max_age=MAX_AGE_SECONDS)
    except BadSignature:
        return None
    return token if isinstance(token, str) else None


# --- roles -----------------------------------------------------------------------------------

def wants_html(request: Request) -> bool:
    """A browser navigating (not HTMX, not a JSON client): it gets pages and redirects."""
    if request.headers.get("HX-Request"):
        return False
    accept = request.headers.get("accept", "")
    return "text/html" in accept or "application/json" not in accept


def login_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/login?next={quote(target, safe='')}"


def require(role: Role) -> Callable[..., CurrentUser]:
    """Dependency factory: the logged-in user if their role allows `role`.

    No session: an HTML GET is redirected (303) to the log-in page, anything else gets 401 (HTMX is
    told where to go with `HX-Redirect`). A role too low: 403. The returned function carries
    `required_role` so the route matrix test can read what each route needs.
    """

    def dependency(request: Request, session: Annotated[Session, Depends(db_session)]) -> CurrentUser:
        record = current_session(request)
        user = session.get(ConsoleUser, record.user_id) if record is not None else None
        if record is not None and (user is None or not user.active):
            session_store(request).drop(record.sid)
            request.state.console_session = None
            user = None
        if user is None:
            if request.method == "GET" and wants_html(request):
                raise HTTPException(status_code=303, headers={"Location": login_url(request)})
            raise HTTPException(status_code=401, detail=texts.LOGIN_REQUIRED,
                                headers={"HX-Redirect": login_url(request)})
        current = CurrentUser(id=user.id, username=user.username, role=user.role)
        request.state.user = current
        if not user.role.allows(role):
            raise HTTPException(status_code=403, detail=texts.FORBIDDEN)
        return current

    dependency.required_role = role  # type: ignore[attr-defined]
    dependency.__name__ = f"require_{role.value}"
    return dependency


def optional_user(request: Request, session: Session) -> CurrentUser | None:
    """The logged-in user or None, for pages anyone may see (the log-in page itself)."""
    record = current_session(request)
    user = session.get(ConsoleUser, record.user_id) if record is not None else None
    if user is None or not user.active:
        return None
    current = CurrentUser(id=user.id, username=user.username, role=user.role)
    request.state.user = current
    return current


# --- CSRF ------------------------------------------------------------------------------------

async def submitted_csrf_token(request: Request) -> str | None:
    """The token a request carries: header `X-CSRF-Token`, else the form field `csrf_token`."""
    header = request.headers.get("X-CSRF-Token")
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()  # cached by Starlette: the route still reads its fields
        value = form.get("csrf_token")
        return value if isinstance(value, str) else None
    return None


async def csrf_protect(request: Request) -> None:
    """Refuse (403) an unsafe request whose CSRF token does not match the session's.

    A request that carries neither a session nor a pre-log-in cookie holds no authority to abuse,
    so it passes here and the route's `require()` answers 401. The log-in form is checked strictly
    by `check_login_csrf`.
    """
    if request.method in SAFE_METHODS:
        return
    record = current_session(request)
    expected = record.csrf_token if record is not None else _pre_csrf(request)
    if expected is None:
        return
    given = await submitted_csrf_token(request)
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(status_code=403, detail=texts.CSRF_FAILED)


async def check_login_csrf(request: Request) -> None:
    """The log-in form must echo the token of the pre-log-in cookie set when the form was shown."""
    expected = _pre_csrf(request)
    given = await submitted_csrf_token(request)
    if not expected or not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(status_code=403, detail=texts.CSRF_FAILED)


csrf_protect.csrf = True  # type: ignore[attr-defined]
check_login_csrf.csrf = True  # type: ignore[attr-defined]


# --- log-in throttling -----------------------------------------------------------------------

def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def login_target(session: Session, username: str) -> str:
    """How the audit log names the account a log-in tried: its name when it exists, else a keyed hash.

    People sometimes type their password into the user-name field; that must not land in the log.
    The hash still lets throttling count attempts at one unknown name.
    """
    if session.scalar(select(ConsoleUser.id).where(ConsoleUser.username == username)) is not None:
        return username
    digest = hmac.new(get_settings().console_session_secret().encode(), username.encode(), "sha256").hexdigest()
    return f"unknown:{digest[:16]}"


def throttled(session: Session, username: str, address: str, now: datetime | None = None) -> bool:
    """True when `username` (as `login_target` names it) failed `MAX_FAILURES` times from `address`
    within `THROTTLE_WINDOW` (a success of that name from that address starts the count afresh), or
    when `address` failed `MAX_FAILURES_PER_ADDRESS` times whatever the names.
    """
    since = (now or datetime.now(timezone.utc)) - THROTTLE_WINDOW
    entries = session.scalars(
        select(AuditEntry).where(AuditEntry.action.in_(("login", "login_failed")),
                                 AuditEntry.target == login_target(session, username)[:128], AuditEntry.at >= since)
        .order_by(AuditEntry.at, AuditEntry.id))
    failures = 0
    for entry in entries:
        if entry.detail.get("ip") != address:
            continue
        failures = failures + 1 if entry.action == "login_failed" else 0
    if failures >= MAX_FAILURES:
        return True
    # One address trying many names (password spraying) waits too.
    from_address = session.scalars(
        select(AuditEntry.detail).where(AuditEntry.action == "login_failed", AuditEntry.at >= since))
    return sum(1 for detail in from_address if detail.get("ip") == address) >= MAX_FAILURES_PER_ADDRESS


# --- the first admin -------------------------------------------------------------------------

def bootstrap_admin(settings: Settings | None = None) -> bool:
    """Create the admin named by ADMIN_BOOTSTRAP_USER if no account has that name; True if created.

    A weak password (shorter than 12 characters, or one of the example values) is refused outside
    development and tests — the console does not start — and accepted with a warning line inside.
    An existing account is left alone: the variables never reset a password.
    """
    from console import audit  # late: audit imports nothing from here, but keep start-up order obvious

    settings = settings or get_settings()
    username, password = settings.admin_bootstrap_user, settings.admin_bootstrap_password
    if not username and not password:
        return False
    if not username or not password:
        raise RuntimeError("set both ADMIN_BOOTSTRAP_USER and ADMIN_BOOTSTRAP_PASSWORD, or neither")
    weak = password_problem(password) is not None
    if weak and settings.environment not in {"development", "test"}:
        raise RuntimeError("ADMIN_BOOTSTRAP_PASSWORD is too weak for production: use 12 characters or more, "
                           "not an example value")
    with session_scope() as session:
        if session.scalar(select(ConsoleUser).where(ConsoleUser.username == username)) is not None:
            return False
        if weak:
            log.warning("the bootstrap admin's password is weak; accepted only because this is %s",
                        settings.environment)
        user = ConsoleUser(username=username, password_hash=hash_password(password), role=Role.ADMIN, active=True)
        session.add(user)
        session.flush()
        audit.record(session, user=None, action="bootstrap_admin", target=username, detail={"user_id": user.id})
    log.info("bootstrap admin account created")
    return True
