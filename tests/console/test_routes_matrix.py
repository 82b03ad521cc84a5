"""Every route of `create_app()` — the core's and the inbox's and models' as they land — answers
what its declared role says: without a session a browser is sent to log in (303) and anything else
gets 401; each role below the declared one gets 403; each role at or above it gets through. Every
unsafe route refuses a request without the CSRF token.

A route declares its role with `Depends(require(Role.X))`; `require` marks the dependency with
`required_role`, read here from `route.dependant`. Only `/login`, `/health` and `/static` are public.
Unsafe routes are never run to the end here (they could start a training job): a role that may use
one is sent without the CSRF token and must be refused for that reason alone, and a role that may
not is sent with the token and must be refused for its role.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from console import auth, texts
from console.app import create_app
from console.tables import Role

PUBLIC = {("GET", "/login"), ("POST", "/login"), ("GET", "/health")}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
JSON = {"Accept": "application/json"}
SAMPLE_PARAMS = {"number": "HM-000000", "user_id": "999999"}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    role: Role | None
    csrf: bool

    def url(self) -> str:
        return re.sub(r"\{(\w+)(:[^}]*)?\}", lambda m: SAMPLE_PARAMS.get(m.group(1), "1"), self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _calls(dependant: Dependant) -> Iterator[Callable[..., object]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _calls(dependency)


def endpoints(app: FastAPI) -> list[Endpoint]:
    found = []
    for route in iter_route_contexts(app.routes):
        dependant = getattr(route, "dependant", None)
        if dependant is None:  # a mount (/static)
            assert route.path == "/static", f"unexpected non-API route {route.path}"
            continue
        calls = list(_calls(dependant))
        roles = [call.required_role for call in calls if hasattr(call, "required_role")]
        csrf = any(getattr(call, "csrf", False) for call in calls)
        for method in sorted(route.methods or ()):
            if method == "HEAD":
                continue
            found.append(Endpoint(method, route.path or "", max(roles, key=lambda r: r.rank) if roles else None, csrf))
    return found


ALL = endpoints(create_app())  # built once at import for the parameter ids; the tests use a fresh app
GUARDED = [e for e in ALL if (e.method, e.path) not in PUBLIC]


def test_the_matrix_sees_the_core_routes() -> None:
    seen = {str(e) for e in ALL}
    assert {"GET /dashboard", "GET /tickets/{number}", "POST /users", "GET /audit", "POST /logout"} <= seen


@pytest.mark.parametrize("endpoint", ALL, ids=str)
def test_every_route_but_the_public_ones_declares_a_role_and_every_unsafe_one_csrf(endpoint: Endpoint) -> None:
    if (endpoint.method, endpoint.path) not in PUBLIC:
        assert endpoint.role is not None, f"{endpoint} has no Depends(require(Role.X))"
    if endpoint.method in UNSAFE:
        assert endpoint.csrf, f"{endpoint} has no Depends(csrf_protect)"


@pytest.mark.parametrize("endpoint", GUARDED, ids=str)
def test_without_a_session_a_browser_is_sent_to_log_in_and_anything_else_gets_401(
        client: TestClient, endpoint: Endpoint) -> None:
    url = endpoint.url()
    if endpoint.method == "GET":
        page = client.get(url, headers={"Accept": "text/html"})
        assert page.status_code == 303 and page.headers["location"].startswith("/login?next=")
        fragment = client.get(url, headers={"HX-Request": "true"})
        assert fragment.status_code == 401 and fragment.headers["hx-redirect"].startswith("/login")
    answer = client.request(endpoint.method, url, headers=JSON)
    assert answer.status_code == 401, f"{endpoint}: {answer.status_code}"
    assert answer.json() == {"detail": texts.LOGIN_REQUIRED}  # and nothing else: no message text leaks


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Five accounts log in for every route: light argon2 parameters keep that quick (the real
    parameters are tested in test_auth.py)."""
    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def clients(login_as: Callable[..., TestClient]) -> dict[Role, TestClient]:
    return {role: login_as(role) for role in Role}


@pytest.mark.parametrize("endpoint", GUARDED, ids=str)
def test_each_role_gets_what_the_route_declares(clients: dict[Role, TestClient], endpoint: Endpoint) -> None:
    assert endpoint.role is not None
    url = endpoint.url()
    for role, client in clients.items():
        allowed = role.allows(endpoint.role)
        if endpoint.method in UNSAFE:
            token = client.headers.pop("X-CSRF-Token")
            try:
                if allowed:
                    answer = client.request(endpoint.method, url, headers=JSON)
                    assert answer.status_code == 403 and answer.json()["detail"] == texts.CSRF_FAILED, \
                        f"{endpoint} as {role.value} without the CSRF token: {answer.status_code}"
                else:
                    answer = client.request(endpoint.method, url, headers={**JSON, "X-CSRF-Token": token})
                    assert answer.status_code == 403 and answer.json()["detail"] == texts.FORBIDDEN, \
                        f"{endpoint} as {role.value}: {answer.status_code}"
            finally:
                client.headers["X-CSRF-Token"] = token
            continue
        answer = client.get(url, headers=JSON)
        if allowed:
            assert answer.status_code not in (401, 403) and answer.status_code < 500, \
                f"{endpoint} as {role.value}: {answer.status_code}"
        else:
            assert answer.status_code == 403 and answer.json()["detail"] == texts.FORBIDDEN, \
                f"{endpoint} as {role.value}: {answer.status_code}"
