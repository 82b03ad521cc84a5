"""Fixtures for the console's tests (helpers D, E, F and G reuse them).

* `console_settings` — a migrated temporary SQLite database (the root conftest's `database_url`)
  and every path the console writes (`NLU_DATA_DIR`, `GOLDEN_SET_PATH`, `MODELS_DIR`, the tracker
  store `TRACKER_DB_URL`, the generated secrets) pointed into `tmp_path`; `ENVIRONMENT=development`,
  no bootstrap admin. Returns the fresh `Settings`. Tests that need other values set them with
  `monkeypatch.setenv(...)` and call `get_settings.cache_clear()` before building the app.
* `app` — `create_app()` built on those settings.
* `client` — a `TestClient` of `app` that has run start-up (lifespan), does not follow redirects,
  and is not logged in.
* `make_user(role, username=None, password=DEFAULT_PASSWORD, active=True) -> ConsoleUser` — an
  account written straight to the database.
* `login_as(role, username=None) -> TestClient` — a NEW client of the same `app` (its own cookies),
  logged in through the real log-in form (CSRF included) as a fresh account of that role. Its
  `X-CSRF-Token` header is preset, so its POSTs pass CSRF; the token is also `client.csrf_token` and
  the account `client.user`. Several calls give several people in one test.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from itertools import count
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from console.app import create_app
from console.auth import SESSION_COOKIE, hash_password, session_id_from_cookie
from console.tables import ConsoleUser, Role
from hamdel.settings import Settings, get_settings
from hamdel.storage.db import session_scope

DEFAULT_PASSWORD = "a-long-test-passphrase-42"
_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def form_csrf_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = _CSRF_FIELD.search(html)
    assert match, "the page has no form with a csrf_token"
    return match.group(1)


@pytest.fixture
def console_settings(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("ENVIRONMENT", "development")
    monkeypatch.setenv("NLU_DATA_DIR", str(tmp_path / "nlu_data"))
    monkeypatch.setenv("GOLDEN_SET_PATH", str(tmp_path / "evaluation" / "golden.yml"))
    monkeypatch.setenv("MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("TRACKER_DB_URL", f"sqlite:///{tmp_path / 'tracker.db'}")
    monkeypatch.delenv("ADMIN_BOOTSTRAP_USER", raising=False)
    monkeypatch.delenv("ADMIN_BOOTSTRAP_PASSWORD", raising=False)
    monkeypatch.delenv("ADMIN_SESSION_SECRET", raising=False)
    get_settings.cache_clear()
    return get_settings()


@pytest.fixture
def app(console_settings: Settings) -> FastAPI:
    return create_app()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture
def make_user(console_settings: Settings) -> Callable[..., ConsoleUser]:
    numbers = count(1)

    def make(role: Role, username: str | None = None, password: str = DEFAULT_PASSWORD,
             active: bool = True) -> ConsoleUser:
        name = username or f"{role.value}{next(numbers)}"
        with session_scope() as session:
            user = ConsoleUser(username=name, password_hash=hash_password(password), role=role, active=active)
            session.add(user)
        return user

    return make


def log_in(test_client: TestClient, username: str, password: str = DEFAULT_PASSWORD) -> TestClient:
    """Log `test_client` in through the form, as a browser would; preset its CSRF header."""
    token = form_csrf_token(test_client.get("/login").text)
    answer = test_client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert answer.status_code == 303, f"log-in as {username} failed: {answer.status_code}"
    sid = session_id_from_cookie(test_client.cookies[SESSION_COOKIE])
    assert sid is not None
    record = test_client.app.state.sessions.get(sid)  # type: ignore[attr-defined]
    test_client.csrf_token = record.csrf_token
    test_client.headers["X-CSRF-Token"] = record.csrf_token
    return test_client


@pytest.fixture
def login_as(app: FastAPI, client: TestClient, make_user: Callable[..., ConsoleUser]
             ) -> Iterator[Callable[..., TestClient]]:
    opened: list[TestClient] = []

    def login(role: Role, username: str | None = None) -> TestClient:
        user = make_user(role, username)
        test_client = TestClient(app, follow_redirects=False)
        opened.append(test_client)
        log_in(test_client, user.username)
        test_client.user = user
        return test_client

    yield login
    for test_client in opened:
        test_client.close()
