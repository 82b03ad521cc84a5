"""Promotion through Rasa's HTTP API (`PUT /model`, confirmed by `GET /status`), the registry's
states, the production pointer, and rollback — against a scripted Rasa (httpx.MockTransport).

The real server is exercised by `test_model_routes.py::test_promote_and_roll_back_on_a_real_rasa`
(integration)."""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from console import texts
from console.deploy import DeployError, RasaApi, promote, rollback, rollback_target, sync_with_rasa
from console.tables import AuditEntry, ModelState, ModelVersion, Role
from hamdel import services
from hamdel.settings import Settings
from hamdel.storage.db import session_scope

TOKEN = "rasa-test-token"


class ScriptedRasa:
    """Rasa's /status and /model as the real server answers them: PUT answers once the new model
    is loaded; /status then names it. `refuse`, `never_confirm` and `down` script failures."""

    def __init__(self, model_file: str = "hamdel-0123456789abcdef.tar.gz") -> None:
        self.model_file, self.model_id = model_file, "id-0"
        self.refuse = self.never_confirm = self.down = False
        self.puts: list[dict[str, Any]] = []
        self.loads = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if request.url.params.get("token") != TOKEN:
            return httpx.Response(401, json={"message": "User is not authenticated."})
        if request.method == "GET" and request.url.path == "/status":
            return httpx.Response(200, json={"model_file": self.model_file, "model_id": self.model_id,
                                             "num_active_training_jobs": 0})
        if request.method == "PUT" and request.url.path == "/model":
            body = json.loads(request.content)
            self.puts.append(body)
            if self.refuse:
                return httpx.Response(400, json={"message": "Agent with name 'x' could not be loaded."})
            if not self.never_confirm:
                self.loads += 1
                self.model_file, self.model_id = Path(body["model_file"]).name, f"id-{self.loads}"
            return httpx.Response(204)
        return httpx.Response(404)


@pytest.fixture
def rasa() -> ScriptedRasa:
    return ScriptedRasa()


@pytest.fixture
def api(rasa: ScriptedRasa) -> RasaApi:
    return RasaApi("http://rasa.test", TOKEN, transport=httpx.MockTransport(rasa.handle))


@pytest.fixture
def add_model(console_settings: Settings) -> Callable[..., int]:
    def add(name: str, state: ModelState, *, passed: bool | None = True, promoted_at: Any = None) -> int:
        models = Path(console_settings.models_dir)
        models.mkdir(parents=True, exist_ok=True)
        (models / name).write_bytes(b"model")
        with session_scope() as session:
            model = ModelVersion(file_name=name, data_fingerprint="f" * 16, state=state, trained_by="deployer1",
                                 gate={} if passed is None else {"passed": passed}, promoted_at=promoted_at)
            session.add(model)
            session.flush()
            return model.id
    return add


def states() -> dict[str, ModelState]:
    with session_scope() as session:
        return {m.file_name: m.state for m in session.scalars(select(ModelVersion))}


def actions() -> list[str]:
    with session_scope() as session:
        return [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def pointer(settings: Settings) -> dict[str, Any] | None:
    path = Path(settings.models_dir) / "production.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


# --- promote --------------------------------------------------------------------------------

def test_promote_replaces_the_model_in_rasa_then_records_it(
        rasa: ScriptedRasa, api: RasaApi, add_model: Callable[..., int], console_settings: Settings) -> None:
    add_model(rasa.model_file, ModelState.PRODUCTION)
    candidate = add_model("hamdel-console-3-aaaa.tar.gz", ModelState.CANDIDATE)
    with session_scope() as session:
        promote(session, candidate, user="deployer1", role=Role.DEPLOYER, api=api)
    assert rasa.puts == [{"model_file": str((Path(console_settings.models_dir) / "hamdel-console-3-aaaa.tar.gz").resolve())}]
    assert states() == {"hamdel-0123456789abcdef.tar.gz": ModelState.RETIRED, "hamdel-console-3-aaaa.tar.gz": ModelState.PRODUCTION}
    with session_scope() as session:
        model = session.get(ModelVersion, candidate)
        assert model is not None and model.promoted_by == "deployer1" and model.promoted_at is not None
        assert model.rasa_model_id == "id-1" and model.override_reason is None
    assert pointer(console_settings) == pointer(console_settings) | {"model_file": "hamdel-console-3-aaaa.tar.gz",
                                                                      "fingerprint": "f" * 16}
    assert actions() == ["model.promote"]


def test_the_pointer_makes_a_restart_serve_the_promoted_model(
        rasa: ScriptedRasa, api: RasaApi, add_model: Callable[..., int], console_settings: Settings,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HAMDEL_MODEL", raising=False)
    candidate = add_model("hamdel-console-3-aaaa.tar.gz", ModelState.CANDIDATE)
    assert services.production_model() is None
    with session_scope() as session:
        promote(session, candidate, user="deployer1", role=Role.DEPLOYER, api=api)
    promoted = Path(console_settings.models_dir) / "hamdel-console-3-aaaa.tar.gz"
    assert services.ensure_model() == promoted
    promoted.unlink()
    assert services.production_model() is None  # its file is gone: back to today's behaviour


@pytest.mark.parametrize("failure", ["refuse", "never_confirm", "down"])
def test_when_rasa_does_not_take_the_model_nothing_changes(
        failure: str, rasa: ScriptedRasa, api: RasaApi, add_model: Callable[..., int], console_settings: Settings) -> None:
    add_model(rasa.model_file, ModelState.PRODUCTION)
    candidate = add_model("hamdel-console-3-aaaa.tar.gz", ModelState.CANDIDATE)
    setattr(rasa, failure, True)
    before = states()
    with session_scope() as session, pytest.raises(DeployError) as refused:
        promote(session, candidate, user="deployer1", role=Role.DEPLOYER, api=api, confirm_timeout=1.5)
    assert states() == before and pointer(console_settings) is None
    expected = {"refuse": "Rasa مدل را نپذیرفت (پاسخ ۴۰۰", "never_confirm": "Rasa تا ۲ ثانیه مدل جدید را گزارش نکرد",
                "down": "به Rasa وصل نشدیم"}[failure]
    assert str(refused.value).startswith(expected)


def test_a_refused_candidate_needs_an_admin_and_a_written_reason(
        rasa: ScriptedRasa, api: RasaApi, add_model: Callable[..., int]) -> None:
    candidate = add_model("hamdel-console-3-aaaa.tar.gz", ModelState.CANDIDATE, passed=False)
    attempts = [(Role.DEPLOYER, None, texts.GATE_REFUSED), (Role.DEPLOYER, "the golden set is stale", texts.GATE_OVERRIDE_NEEDS_ADMIN),
                (Role.ADMIN, "  ok  ", texts.GATE_OVERRIDE_NEEDS_REASON)]
    for role, reason, message in attempts:
        with session_scope() as session, pytest.raises(DeployError) as refused:
            promote(session, candidate, user="someone", role=role, api=api, override_reason=reason)
        assert str(refused.value) == message
    assert rasa.puts == []
    reason = "افت در دسته‌ی پرداخت از برچسب‌های اشتباه قدیمی است؛ بررسی شد."
    with session_scope() as session:
        promote(session, candidate, user="admin1", role=Role.ADMIN, api=api, override_reason=reason)
    with session_scope() as session:
        model = session.get(ModelVersion, candidate)
        assert model is not None and model.state == ModelState.PRODUCTION and model.override_reason == reason
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "model.promote")).one()
        assert entry.username == "admin1" and entry.detail["override"] is True and entry.detail["override_reason"] == reason


def test_a_candidate_never_evaluated_is_not_promoted_by_a_deployer(api: RasaApi, add_model: Callable[..., int]) -> None:
    candidate = add_model("hamdel-console-3-aaaa.tar.gz", ModelState.CANDIDATE, passed=None)
    with session_scope() as session, pytest.raises(DeployError, match=texts.GATE_NOT_RUN):
        promote(session, candidate, user="deployer1", role=Role.DEPLOYER, api=api)


# --- rollback -------------------------------------------------------------------------------

def test_rollback_serves_the_previous_model_again(rasa: ScriptedRasa, api: RasaApi, add_model: Callable[..., int],
                                                  console_settings: Settings) -> None:
    first = add_model(rasa.model_file, ModelState.PRODUCTION)
    second = add_model("hamdel-console-3-aaaa.tar.gz", ModelState.CANDIDATE)
    with session_scope() as session:
        promote(session, second, user="deployer1", role=Role.DEPLOYER, api=api)
    with session_scope() as session:
        target = rollback_target(session)
        assert target is not None and target.id == first
        back = rollback(session, user="deployer2", role=Role.DEPLOYER, api=api)
        assert back.id == first
    assert rasa.model_file == "hamdel-0123456789abcdef.tar.gz"
    assert states() == {"hamdel-0123456789abcdef.tar.gz": ModelState.PRODUCTION, "hamdel-console-3-aaaa.tar.gz": ModelState.RETIRED}
    assert pointer(console_settings)["model_file"] == "hamdel-0123456789abcdef.tar.gz"  # type: ignore[index]
    assert actions() == ["model.promote", "model.rollback"]


def test_no_rollback_without_a_previous_model(api: RasaApi, rasa: ScriptedRasa, add_model: Callable[..., int]) -> None:
    add_model(rasa.model_file, ModelState.PRODUCTION)
    with session_scope() as session, pytest.raises(DeployError, match=texts.DEPLOY_NO_ROLLBACK_TARGET):
        rollback(session, user="deployer1", role=Role.DEPLOYER, api=api)


# --- what Rasa serves -----------------------------------------------------------------------

def test_a_model_rasa_serves_unknown_to_the_registry_becomes_production(
        rasa: ScriptedRasa, api: RasaApi, console_settings: Settings) -> None:
    with session_scope() as session:
        served = sync_with_rasa(session, api)
        assert served is not None
        assert (served.file_name, served.state, served.trained_by, served.data_fingerprint) == (
            "hamdel-0123456789abcdef.tar.gz", ModelState.PRODUCTION, "make train", "0123456789abcdef")
    with session_scope() as session:
        assert sync_with_rasa(session, api).id == served.id  # type: ignore[union-attr]  # once
    assert actions() == ["model.register_served"]


def test_rasa_restarted_on_another_known_model_is_believed(
        rasa: ScriptedRasa, api: RasaApi, add_model: Callable[..., int]) -> None:
    add_model("hamdel-console-3-aaaa.tar.gz", ModelState.PRODUCTION)
    add_model(rasa.model_file, ModelState.RETIRED)
    with session_scope() as session:
        sync_with_rasa(session, api)
    assert states() == {"hamdel-0123456789abcdef.tar.gz": ModelState.PRODUCTION, "hamdel-console-3-aaaa.tar.gz": ModelState.RETIRED}


def test_rasa_down_leaves_the_registry_alone(rasa: ScriptedRasa, api: RasaApi, console_settings: Settings) -> None:
    rasa.down = True
    with session_scope() as session:
        assert sync_with_rasa(session, api) is None
    assert states() == {}
