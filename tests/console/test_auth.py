"""Accounts and sessions as an admin meets them: log-in and log-out, a stolen cookie dying at
log-out, idle expiry, throttling, CSRF, argon2 rehashing, the bootstrap admin, the admin's account
pages and the audit log, and the security headers on every answer."""
from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from argon2 import PasswordHasher
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from console import audit, texts
from console.app import create_app
from console.auth import (
    IDLE_SECONDS, MAX_FAILURES, MAX_FAILURES_PER_ADDRESS, PRE_CSRF_COOKIE, SESSION_COOKIE, SessionStore, require, session_id_from_cookie,
    throttled,
)
from console.tables import AuditEntry, ConsoleUser, Role
from hamdel.settings import get_settings
from hamdel.storage.db import session_scope
from tests.console.conftest import DEFAULT_PASSWORD, form_csrf_token, log_in

JSON = {"Accept": "application/json"}


def audit_actions() -> list[tuple[str | None, str, str | None, dict]]:
    with session_scope() as session:
        return [(e.username, e.action, e.target, e.detail)
                for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def try_login(client: TestClient, username: str, password: str, **extra: str):
    token = form_csrf_token(client.get("/login").text)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token, **extra})


def test_login_page_has_the_form_the_browser_tests_use(client: TestClient) -> None:
    page = client.get("/login")
    assert page.status_code == 200
    for element in ('id="username"', 'id="password"', 'id="login-submit"', '<html lang="fa" dir="rtl">'):
        assert element in page.text
    assert PRE_CSRF_COOKIE in page.headers["set-cookie"]


def test_logging_in_sets_a_hardened_cookie_goes_where_asked_and_is_audited(
        client: TestClient, make_user: Callable[..., ConsoleUser]) -> None:
    make_user(Role.VIEWER, "sara")
    answer = try_login(client, "sara", DEFAULT_PASSWORD, next="/tickets?status=open")
    assert answer.status_code == 303 and answer.headers["location"] == "/tickets?status=open"
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie  # development
    assert client.get("/dashboard").status_code == 200
    (who, action, target, detail), = [a for a in audit_actions() if a[1] == "login"]
    assert (who, target) == ("sara", "sara") and "password" not in detail


def test_next_never_leaves_the_site(client: TestClient, make_user: Callable[..., ConsoleUser]) -> None:
    make_user(Role.VIEWER, "sara")
    answer = try_login(client, "sara", DEFAULT_PASSWORD, next="//evil.example/phish")
    assert answer.headers["location"] == "/dashboard"


def test_a_wrong_password_is_refused_in_persian_and_audited_without_the_password(
        client: TestClient, make_user: Callable[..., ConsoleUser]) -> None:
    make_user(Role.ADMIN, "reza")
    answer = try_login(client, "reza", "not-my-password-at-all")
    assert answer.status_code == 401 and texts.LOGIN_FAILED in answer.text
    assert SESSION_COOKIE not in client.cookies
    failed = [a for a in audit_actions() if a[1] == "login_failed"]
    assert failed and failed[0][2] == "reza"
    assert "not-my-password-at-all" not in repr(audit_actions())
    unknown = try_login(client, "nobody", DEFAULT_PASSWORD)
    assert unknown.status_code == 401 and texts.LOGIN_FAILED in unknown.text  # same answer as a wrong password


def test_a_password_typed_as_the_user_name_never_reaches_the_audit_log(client: TestClient) -> None:
    for _ in range(MAX_FAILURES):
        assert try_login(client, "my-secret-passphrase", "").status_code in (401, 422)
        assert try_login(client, "my-secret-passphrase", "x").status_code == 401
    assert "my-secret-passphrase" not in repr(audit_actions())
    assert try_login(client, "my-secret-passphrase", "x").status_code == 429  # still counted, by a keyed hash


def test_a_form_with_a_missing_field_is_answered_in_persian(login_as: Callable[..., TestClient]) -> None:
    answer = login_as(Role.ADMIN).post("/users", data={"username": "leila"}, headers=JSON)
    assert answer.status_code == 422 and answer.json()["detail"] == texts.INVALID_INPUT
    assert set(answer.json()["fields"]) == {"password", "role"}


def test_an_unexpected_error_is_a_persian_page_and_a_log_line_without_data(
        app: FastAPI, make_user: Callable[..., ConsoleUser], caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> None:
        raise ValueError("customer said: my card is 6037-9911-2233-4455")

    app.add_api_route("/broken", broken, dependencies=[Depends(require(Role.VIEWER))])
    make_user(Role.VIEWER, "sara")
    client = log_in(TestClient(app, follow_redirects=False, raise_server_exceptions=False), "sara")
    with caplog.at_level(logging.ERROR, logger="console"):
        page = client.get("/broken")
    assert page.status_code == 500 and texts.SERVER_ERROR in page.text
    assert "ValueError" in caplog.text and "6037" not in caplog.text


def test_a_deactivated_account_cannot_log_in(client: TestClient, make_user: Callable[..., ConsoleUser]) -> None:
    make_user(Role.ADMIN, "old", active=False)
    assert try_login(client, "old", DEFAULT_PASSWORD).status_code == 401


def test_the_login_form_needs_its_csrf_token(client: TestClient, make_user: Callable[..., ConsoleUser]) -> None:
    make_user(Role.VIEWER, "sara")
    client.get("/login")
    answer = client.post("/login", data={"username": "sara", "password": DEFAULT_PASSWORD}, headers=JSON)
    assert answer.status_code == 403 and answer.json()["detail"] == texts.CSRF_FAILED
    forged = TestClient(client.app, follow_redirects=False)  # a cross-site form: no cookie of ours at all
    answer = forged.post("/login", data={"username": "sara", "password": DEFAULT_PASSWORD, "csrf_token": "x"})
    assert answer.status_code == 403


def test_repeated_failures_make_that_user_and_address_wait(
        client: TestClient, make_user: Callable[..., ConsoleUser]) -> None:
    make_user(Role.VIEWER, "sara")
    for _ in range(MAX_FAILURES):
        assert try_login(client, "sara", "wrong-password-123").status_code == 401
    blocked = try_login(client, "sara", DEFAULT_PASSWORD)  # even the right password waits now
    assert blocked.status_code == 429 and texts.LOGIN_THROTTLED in blocked.text
    assert SESSION_COOKIE not in client.cookies
    make_user(Role.VIEWER, "nima")
    assert try_login(client, "nima", DEFAULT_PASSWORD).status_code == 303  # another person is not blocked


def test_one_address_trying_many_names_waits_too(client: TestClient, make_user: Callable[..., ConsoleUser]) -> None:
    make_user(Role.VIEWER, "sara")
    with session_scope() as session:
        for i in range(MAX_FAILURES_PER_ADDRESS):
            audit.record(session, user=None, action="login_failed", target=f"guess{i}", detail={"ip": "testclient"})
        assert not throttled(session, "sara", "203.0.113.7")  # another address is not held back
    assert try_login(client, "sara", DEFAULT_PASSWORD).status_code == 429


def test_a_successful_login_starts_the_failure_count_afresh(
        client: TestClient, make_user: Callable[..., ConsoleUser]) -> None:
    make_user(Role.VIEWER, "sara")
    for _ in range(MAX_FAILURES - 1):
        try_login(client, "sara", "wrong-password-123")
    assert try_login(client, "sara", DEFAULT_PASSWORD).status_code == 303
    client.cookies.clear()
    for _ in range(MAX_FAILURES - 1):
        try_login(client, "sara", "wrong-password-123")
    assert try_login(client, "sara", DEFAULT_PASSWORD).status_code == 303


def test_sessions_nobody_came_back_to_are_forgotten() -> None:
    store = SessionStore(idle_seconds=60)
    old = store.create(1)
    old.last_seen -= 61
    store.create(2)
    assert store.get(old.sid) is None and len(store._sessions) == 1


def test_logout_kills_the_session_on_the_server_so_a_copied_cookie_dies_too(
        app: FastAPI, login_as: Callable[..., TestClient]) -> None:
    admin = login_as(Role.ADMIN)
    thief = TestClient(app, follow_redirects=False)
    thief.cookies.set(SESSION_COOKIE, admin.cookies[SESSION_COOKIE])
    assert thief.get("/users").status_code == 200
    answer = admin.post("/logout")
    assert answer.status_code == 303 and answer.headers["location"] == "/login?out=1"
    assert texts.LOGGED_OUT in admin.get(answer.headers["location"]).text
    assert thief.get("/users").status_code == 303
    assert thief.get("/users", headers=JSON).status_code == 401
    assert ("logout" in [a[1] for a in audit_actions()])


def test_logout_needs_the_csrf_token(login_as: Callable[..., TestClient]) -> None:
    viewer = login_as(Role.VIEWER)
    del viewer.headers["X-CSRF-Token"]
    assert viewer.post("/logout").status_code == 403
    assert viewer.get("/dashboard").status_code == 200  # still logged in
    assert viewer.post("/logout", data={"csrf_token": viewer.csrf_token}).status_code == 303


def test_an_idle_session_expires(app: FastAPI, login_as: Callable[..., TestClient]) -> None:
    viewer = login_as(Role.VIEWER)
    record = app.state.sessions.get(session_id_from_cookie(viewer.cookies[SESSION_COOKIE]))
    record.last_seen -= IDLE_SECONDS + 1
    assert viewer.get("/dashboard").headers["location"] == "/login?next=%2Fdashboard"


def test_a_forged_cookie_is_no_session(client: TestClient) -> None:
    client.cookies.set(SESSION_COOKIE, "made-up.value")
    assert client.get("/dashboard", headers=JSON).status_code == 401


def test_an_old_hash_is_upgraded_at_login(client: TestClient, make_user: Callable[..., ConsoleUser]) -> None:
    weak_hasher = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    with session_scope() as session:
        session.add(ConsoleUser(username="legacy", password_hash=weak_hasher.hash(DEFAULT_PASSWORD), role=Role.VIEWER))
    assert try_login(client, "legacy", DEFAULT_PASSWORD).status_code == 303
    with session_scope() as session:
        stored = session.scalar(select(ConsoleUser).where(ConsoleUser.username == "legacy"))
        assert stored is not None and not PasswordHasher().check_needs_rehash(stored.password_hash)
        assert stored.password_hash.startswith("$argon2id$") and stored.last_login_at is not None


def test_every_answer_carries_the_security_headers(client: TestClient) -> None:
    for path in ("/login", "/health", "/dashboard"):
        headers = client.get(path).headers
        assert "script-src 'self'" in headers["content-security-policy"]
        assert "unsafe-inline" not in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"


# --- the bootstrap admin -----------------------------------------------------------------------

def start(monkeypatch: pytest.MonkeyPatch, **env: str) -> TestClient:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    client = TestClient(create_app(), follow_redirects=False)
    client.__enter__()  # runs start-up
    return client


def test_the_first_admin_comes_from_the_environment(console_settings: object, monkeypatch: pytest.MonkeyPatch) -> None:
    client = start(monkeypatch, ADMIN_BOOTSTRAP_USER="root", ADMIN_BOOTSTRAP_PASSWORD="a-strong-first-password")
    log_in(client, "root", "a-strong-first-password")
    assert client.get("/users").status_code == 200
    client.__exit__(None, None, None)
    # A second start with another password does not reset the account.
    client = start(monkeypatch, ADMIN_BOOTSTRAP_PASSWORD="another-strong-password")
    assert try_login(client, "root", "another-strong-password").status_code == 401
    client.__exit__(None, None, None)
    assert [a[1] for a in audit_actions()].count("bootstrap_admin") == 1


def test_a_weak_first_password_is_accepted_in_development_with_a_warning(
        console_settings: object, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="console.auth"):
        client = start(monkeypatch, ADMIN_BOOTSTRAP_USER="root", ADMIN_BOOTSTRAP_PASSWORD="changeme")
    assert "weak" in caplog.text and "changeme" not in caplog.text
    log_in(client, "root", "changeme")
    client.__exit__(None, None, None)


@pytest.mark.parametrize("password", ["changeme", "short-pass1"])
def test_a_weak_first_password_stops_the_console_in_production(
        console_settings: object, monkeypatch: pytest.MonkeyPatch, password: str) -> None:
    with pytest.raises(RuntimeError, match="too weak"):
        start(monkeypatch, ENVIRONMENT="production", ADMIN_SESSION_SECRET="x" * 40,
              ADMIN_BOOTSTRAP_USER="root", ADMIN_BOOTSTRAP_PASSWORD=password)
    with session_scope() as session:
        assert session.scalar(select(ConsoleUser)) is None


def test_production_cookies_are_secure(console_settings: object, monkeypatch: pytest.MonkeyPatch) -> None:
    client = start(monkeypatch, ENVIRONMENT="production", ADMIN_SESSION_SECRET="x" * 40,
                   ADMIN_BOOTSTRAP_USER="root", ADMIN_BOOTSTRAP_PASSWORD="a-strong-first-password")
    token = form_csrf_token(client.get("/login").text)
    answer = client.post("/login", data={"username": "root", "password": "a-strong-first-password",
                                         "csrf_token": token})
    # The test client speaks http, so the Secure pre-log-in cookie never came back: refused.
    assert answer.status_code == 403
    assert "Secure" in client.get("/login").headers["set-cookie"]
    client.__exit__(None, None, None)


# --- accounts (admin) ----------------------------------------------------------------------------

def test_an_admin_creates_an_account_that_can_then_log_in(app: FastAPI, login_as: Callable[..., TestClient]) -> None:
    admin = login_as(Role.ADMIN, "boss")
    answer = admin.post("/users", data={"username": "leila", "password": "leila-long-password", "role": "annotator"})
    assert answer.status_code == 200 and "leila" in answer.text
    leila = log_in(TestClient(app, follow_redirects=False), "leila", "leila-long-password")
    assert leila.get("/dashboard").status_code == 200
    assert leila.get("/users").status_code == 403
    assert ("boss", "user_create", "leila") in [a[:3] for a in audit_actions()]
    assert "leila-long-password" not in repr(audit_actions())


@pytest.mark.parametrize(("username", "password", "message"), [
    ("ab", "a-long-enough-password", texts.USERNAME_INVALID),
    ("leila", "short", texts.PASSWORD_TOO_SHORT),
    ("leila", "password", texts.PASSWORD_TOO_SHORT),
    ("taken", "a-long-enough-password", texts.USERNAME_TAKEN),
])
def test_bad_new_accounts_are_refused_with_a_reason(
        login_as: Callable[..., TestClient], make_user: Callable[..., ConsoleUser],
        username: str, password: str, message: str) -> None:
    make_user(Role.VIEWER, "taken")
    answer = login_as(Role.ADMIN).post("/users", data={"username": username, "password": password, "role": "viewer"})
    assert answer.status_code == 400 and message in answer.text


def test_a_role_change_applies_to_the_open_session_at_once(
        app: FastAPI, login_as: Callable[..., TestClient]) -> None:
    admin, viewer = login_as(Role.ADMIN), login_as(Role.VIEWER)
    assert viewer.get("/users").status_code == 403
    assert admin.post(f"/users/{viewer.user.id}/role", data={"role": "admin"}).status_code == 200
    assert viewer.get("/users").status_code == 200
    assert any(a[1] == "user_role" and a[3]["to"] == "admin" for a in audit_actions())


def test_deactivating_an_account_logs_it_out_everywhere(login_as: Callable[..., TestClient]) -> None:
    admin, annotator = login_as(Role.ADMIN), login_as(Role.ANNOTATOR)
    user_id = annotator.user.id
    assert admin.post(f"/users/{user_id}/active", data={"active": "false"}).status_code == 200
    assert annotator.get("/dashboard", headers=JSON).status_code == 401
    assert admin.post(f"/users/{user_id}/active", data={"active": "true"}).status_code == 200
    assert annotator.get("/dashboard", headers=JSON).status_code == 401  # the old session stays dead


def test_a_password_reset_ends_the_old_sessions(app: FastAPI, login_as: Callable[..., TestClient]) -> None:
    admin, viewer = login_as(Role.ADMIN), login_as(Role.VIEWER)
    user = viewer.user
    assert admin.post(f"/users/{user.id}/password", data={"password": "a-brand-new-password"}).status_code == 200
    assert viewer.get("/dashboard", headers=JSON).status_code == 401
    log_in(TestClient(app, follow_redirects=False), user.username, "a-brand-new-password")


def test_an_admin_cannot_demote_or_deactivate_themselves(login_as: Callable[..., TestClient]) -> None:
    admin = login_as(Role.ADMIN)
    me = admin.user.id
    assert admin.post(f"/users/{me}/role", data={"role": "viewer"}).status_code == 400
    assert admin.post(f"/users/{me}/active", data={"active": "false"}).status_code == 400
    assert admin.get("/users").status_code == 200


def test_the_audit_page_lists_actions_newest_first_and_filters(login_as: Callable[..., TestClient]) -> None:
    admin = login_as(Role.ADMIN, "boss")
    admin.post("/users", data={"username": "leila", "password": "leila-long-password", "role": "viewer"})
    page = admin.get("/audit")
    assert page.status_code == 200
    assert page.text.index("ساخت حساب") < page.text.index('data-action="login"')
    only = admin.get("/audit", params={"action": "user_create"})
    assert 'data-action="login"' not in only.text and 'data-action="user_create"' in only.text
