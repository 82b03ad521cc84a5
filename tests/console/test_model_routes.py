"""The models, training and gate pages as people use them: a deployer trains (a scripted `rasa`),
watches the progress, reads the gate, promotes (a scripted Rasa HTTP API) and rolls back; an admin
overrides a refused gate with a reason; lower roles only look, or not even that.

The last test runs a real Rasa from `hamdel.services` on free ports: promote through `PUT /model`,
confirmed by `/status`, a conversation kept across the swap, and a rollback (marked integration).
"""
from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from console import model_routes, texts
from console.deploy import RasaApi
from console.gate import Evaluator, run_gate
from console.model_routes import get_rasa_api, get_runner
from console.tables import AuditEntry, ModelState, ModelVersion, Role
from console.training import TrainingRunner
from hamdel.settings import PROJECT_ROOT, Settings, get_settings
from hamdel.storage.db import session_scope
from tests.console.test_deploy import TOKEN, ScriptedRasa
from tests.console.test_training import eval_run, fake_model_content, prediction, wait_until, write_fakes

HX = {"HX-Request": "true"}


@pytest.fixture
def rasa() -> ScriptedRasa:
    return ScriptedRasa()


@pytest.fixture
def runner(console_settings: Settings, tmp_path: Path) -> Iterator[TrainingRunner]:
    data = Path(console_settings.nlu_data_dir)
    (data / "nlu").mkdir(parents=True)
    (data / "nlu" / "greet.yml").write_text('version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - سلام\n', encoding="utf-8")
    rasa_command, evaluate = write_fakes(tmp_path / "fakes")
    evaluator = Evaluator(command=evaluate, cache_dir=tmp_path / "gate-cache")
    content = fake_model_content(eval_run(macro=0.92), [prediction("مرسوله‌ام کجاست", "complain_delivery", "complain_delivery")])
    runner = TrainingRunner(
        rasa_command=rasa_command, log_dir=tmp_path / "var" / "training", export=lambda session, username: None,
        extra_env={"FAKE_MODEL_CONTENT": content, "FAKE_EPOCH_SECONDS": "0.1"},
        run_gate=lambda model_id, progress, process: run_gate(model_id, progress, process, evaluator=evaluator))
    yield runner
    if runner.running_job_id is not None:
        runner.cancel(runner.running_job_id, "cleanup")
    runner.wait(30)


@pytest.fixture
def wired(app: FastAPI, runner: TrainingRunner, rasa: ScriptedRasa) -> FastAPI:
    app.dependency_overrides[get_runner] = lambda: runner
    app.dependency_overrides[get_rasa_api] = lambda: RasaApi("http://rasa.test", TOKEN, transport=httpx.MockTransport(rasa.handle))
    return app


def served_model(settings: Settings, rasa: ScriptedRasa) -> None:
    """The model `make train` made, as a file in the models folder (Rasa serves it)."""
    models = Path(settings.models_dir)
    models.mkdir(parents=True, exist_ok=True)
    (models / rasa.model_file).write_text(fake_model_content(eval_run(macro=0.90), [
        prediction("مرسوله‌ام کجاست", "ask_status", "complain_delivery")]), encoding="utf-8")


def add_candidate(settings: Settings, name: str, *, passed: bool) -> int:
    """A trained candidate in the registry (a stand-in file unless a real model is already there)."""
    path = Path(settings.models_dir) / name
    if not path.exists():
        path.write_text("{}", encoding="utf-8")
    with session_scope() as session:
        model = ModelVersion(file_name=name, data_fingerprint="a" * 16, trained_by="deployer9",
                             gate={"passed": passed, "rows": [], "drops": [], "notes": [], "per_intent": [], "changed": [],
                                   "max_drop": 0.02})
        session.add(model)
        session.flush()
        return model.id


def rows(html: str) -> dict[str, str]:
    """model id → state, from the models table."""
    return dict(re.findall(r'<tr class="model-row" data-model-id="(\d+)" data-state="(\w+)"', html))


def audit_actions() -> list[str]:
    with session_scope() as session:
        return [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id)) if e.action.startswith(("model", "training"))]


# --- who may look ---------------------------------------------------------------------------

def test_without_a_session_the_pages_send_you_to_log_in(wired: FastAPI, client: TestClient) -> None:
    for path in ("/models", "/training", "/models/1/gate"):
        answer = client.get(path, headers={"Accept": "text/html"})
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    assert client.get("/training/progress", headers=HX).status_code == 401


def test_below_deployer_the_model_pages_are_closed(
        wired: FastAPI, login_as: Callable[..., TestClient], console_settings: Settings, rasa: ScriptedRasa) -> None:
    served_model(console_settings, rasa)
    for role in (Role.VIEWER, Role.ANNOTATOR, Role.REVIEWER):
        person = login_as(role)
        assert person.get("/models").status_code == 403
        assert person.get("/training/progress", headers=HX).status_code == 403
        assert person.post("/training").status_code == 403
    deployer = login_as(Role.DEPLOYER)
    page = deployer.get("/models")
    assert page.status_code == 200 and 'id="train-start"' in page.text
    assert 'id="override-reason"' not in page.text


# --- the whole loop with scripted Rasa ------------------------------------------------------

def test_a_deployer_trains_reads_the_gate_promotes_and_rolls_back(
        wired: FastAPI, login_as: Callable[..., TestClient], console_settings: Settings, rasa: ScriptedRasa) -> None:
    served_model(console_settings, rasa)
    deployer = login_as(Role.DEPLOYER)
    page = deployer.get("/models")
    assert list(rows(page.text).values()) == ["production"]  # the served model, registered for rollback
    assert 'id="train-progress"' in page.text and 'data-state="idle"' in page.text

    started = deployer.post("/training", headers=HX)
    assert started.status_code == 200 and 'data-state="running"' in started.text
    assert 'id="train-cancel"' in started.text and "disabled" in started.text
    polls: list[httpx.Response] = []

    def finished() -> bool:
        polls.append(deployer.get("/training/progress?poll=1", headers=HX))
        return 'data-state="running"' not in polls[-1].text

    wait_until(finished, timeout=120)
    assert 'data-state="succeeded"' in polls[-1].text and polls[-1].headers.get("HX-Refresh") == "true"
    assert 'id="train-gate-link"' in polls[-1].text

    history = deployer.get("/training")
    assert history.status_code == 200 and 'class="training-row"' in history.text and 'data-state="succeeded"' in history.text

    table = rows(deployer.get("/models").text)
    candidate = next(model_id for model_id, state in table.items() if state == "candidate")
    gate = deployer.get(f"/models/{candidate}/gate")
    assert 'id="gate-table" data-passed="true"' in gate.text
    assert "مرسوله‌ام کجاست" in gate.text  # its prediction changed: ask_status → complain_delivery
    assert 'data-verdict="better"' in gate.text

    promoted = deployer.post(f"/models/{candidate}/promote")
    assert promoted.status_code == 200, promoted.text
    assert texts.DEPLOY_DONE.format(file=rasa.model_file) in promoted.text
    assert rows(promoted.text)[candidate] == "production"
    assert "model-rollback" in promoted.text

    back = deployer.post("/models/rollback")
    assert back.status_code == 200
    assert rows(back.text)[candidate] == "retired"
    assert rasa.model_file == "hamdel-0123456789abcdef.tar.gz"
    assert audit_actions() == ["model.register_served", "training.start", "model.promote", "model.rollback"]


def test_one_job_at_a_time_and_cancel(wired: FastAPI, login_as: Callable[..., TestClient], runner: TrainingRunner,
                                      tmp_path: Path) -> None:
    runner.extra_env.update(FAKE_RASA_MODE="sleep", FAKE_CHILD_PID=str(tmp_path / "child.pid"))
    first, second = login_as(Role.DEPLOYER), login_as(Role.ADMIN)
    assert first.post("/training", headers=HX).status_code == 200
    busy = second.post("/training", headers=HX)
    assert busy.status_code == 409 and texts.TRAIN_BUSY in busy.text
    job_id = runner.running_job_id
    wait_until(lambda: (tmp_path / "child.pid").exists())
    cancelled = second.post(f"/training/{job_id}/cancel", headers=HX)
    assert cancelled.status_code == 200 and 'data-state="cancelled"' in cancelled.text
    assert texts.TRAIN_CANCELLED.format(user=second.user.username) in cancelled.text  # type: ignore[attr-defined]
    assert first.post(f"/training/{job_id}/cancel", headers=HX).status_code == 409


def test_a_refused_candidate_needs_an_admin_with_a_reason(
        wired: FastAPI, login_as: Callable[..., TestClient], console_settings: Settings, rasa: ScriptedRasa) -> None:
    served_model(console_settings, rasa)
    candidate = add_candidate(console_settings, "hamdel-console-7-bbbb.tar.gz", passed=False)
    deployer = login_as(Role.DEPLOYER)
    gate = deployer.get(f"/models/{candidate}/gate")
    assert 'data-passed="false"' in gate.text and 'id="override-reason"' not in gate.text
    refused = deployer.post(f"/models/{candidate}/promote", data={"override_reason": "I am sure it is fine"})
    assert refused.status_code == 409 and texts.GATE_OVERRIDE_NEEDS_ADMIN in refused.text
    assert rasa.puts == []

    admin = login_as(Role.ADMIN)
    assert 'id="override-reason"' in admin.get(f"/models/{candidate}/gate").text
    assert 'id="override-reason"' in admin.get("/models").text
    reason = "افت کوچک در دسته‌ی ارسال را پذیرفتیم؛ برچسب‌های تازه مهم‌ترند."
    promoted = admin.post(f"/models/{candidate}/promote", data={"override_reason": reason})
    assert promoted.status_code == 200 and rows(promoted.text)[str(candidate)] == "production"
    with session_scope() as session:
        model = session.get(ModelVersion, candidate)
        assert model is not None and model.override_reason == reason and model.promoted_by == admin.user.username  # type: ignore[attr-defined]


def test_rasa_refusing_the_model_is_said_and_changes_nothing(
        wired: FastAPI, login_as: Callable[..., TestClient], console_settings: Settings, rasa: ScriptedRasa) -> None:
    served_model(console_settings, rasa)
    candidate = add_candidate(console_settings, "hamdel-console-8-cccc.tar.gz", passed=True)
    deployer = login_as(Role.DEPLOYER)
    deployer.get("/models")
    rasa.refuse = True
    answer = deployer.post(f"/models/{candidate}/promote")
    assert answer.status_code == 409 and "Rasa مدل را نپذیرفت" in answer.text
    assert rows(answer.text)[str(candidate)] == "candidate"
    assert audit_actions() == ["model.register_served", "model.promote.failed"]


def test_without_htmx_start_sends_the_browser_to_the_training_page(
        wired: FastAPI, login_as: Callable[..., TestClient], runner: TrainingRunner) -> None:
    answer = login_as(Role.DEPLOYER).post("/training")
    assert answer.status_code == 303 and answer.headers["location"] == "/training"
    assert runner.wait(120)


def test_posts_need_the_csrf_token(wired: FastAPI, login_as: Callable[..., TestClient]) -> None:
    deployer = login_as(Role.DEPLOYER)
    del deployer.headers["X-CSRF-Token"]
    assert deployer.post("/training").status_code == 403
    assert deployer.post("/models/rollback").status_code == 403


# --- a real Rasa ----------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _tracker(api: RasaApi, sender: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{api.base_url}/conversations/{sender}/tracker", params={"token": api.token}, timeout=60)
    answer.raise_for_status()
    return [{k: e.get(k) for k in ("event", "timestamp", "text", "name")} for e in answer.json()["events"]]


@pytest.mark.integration
def test_promote_and_roll_back_on_a_real_rasa(login_as: Callable[..., TestClient], console_settings: Settings,
                                              tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`make test` runs this after `make train`; HAMDEL_MODEL=<model> runs it with a model trained elsewhere."""
    from hamdel.services import ensure_model, running_stack

    with monkeypatch.context() as repository:  # the model `make train` made from the repository's data
        repository.setenv("NLU_DATA_DIR", str(PROJECT_ROOT / "nlu_data"))
        get_settings.cache_clear()
        trained = Path(os.environ["HAMDEL_MODEL"]) if os.environ.get("HAMDEL_MODEL") else ensure_model(production=False)
    get_settings.cache_clear()
    models = Path(console_settings.models_dir)
    models.mkdir(parents=True, exist_ok=True)
    original = models / trained.name
    shutil.copy(trained, original)
    # The candidate is the same network under a new name: what matters here is the swap, not the figures.
    candidate_file = models / f"hamdel-console-1-{trained.name.removeprefix('hamdel-')}"
    shutil.copy(trained, candidate_file)
    rasa_port, action_port = _free_port(), _free_port()
    monkeypatch.setenv("RASA_URL", f"http://127.0.0.1:{rasa_port}")
    monkeypatch.setenv("HAMDEL_MODEL", str(original))
    get_settings.cache_clear()

    with running_stack(rasa_port=rasa_port, action_port=action_port, log_dir=tmp_path / "log",
                       env={"TRACKER_DB": str(tmp_path / "tracker.db")}) as stack:
        api = RasaApi.from_settings()
        assert api.base_url == stack.rasa_url
        sender = "console-deploy-test"
        said = httpx.post(f"{stack.rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": "سلام"}, timeout=120)
        assert said.status_code == 200
        before = _tracker(api, sender)
        assert any(e["event"] == "user" and e["text"] == "سلام" for e in before)

        deployer = login_as(Role.DEPLOYER)
        assert list(rows(deployer.get("/models").text).values()) == ["production"]
        candidate = add_candidate(console_settings, candidate_file.name, passed=True)
        # Another customer writes while Rasa loads the new model: answered, not dropped.
        during: list[int] = []
        writer = threading.Thread(target=lambda: (time.sleep(2), during.append(httpx.post(
            f"{stack.rasa_url}/webhooks/rest/webhook", json={"sender": "during-swap", "message": "سلام"},
            timeout=300).status_code)))
        writer.start()
        promoted = deployer.post(f"/models/{candidate}/promote")
        writer.join(300)
        assert promoted.status_code == 200, promoted.text
        assert during == [200]
        assert api.status()["model_file"] == candidate_file.name
        assert _tracker(api, sender) == before  # the conversation under way is kept
        parsed = httpx.post(f"{stack.rasa_url}/model/parse", params={"token": api.token}, json={"text": "سلام"}, timeout=60)
        assert parsed.json()["intent"]["name"] == "greet"
        httpx.post(f"{stack.rasa_url}/webhooks/rest/webhook", json={"sender": sender, "message": "ممنون"}, timeout=120)
        after = _tracker(api, sender)
        assert after[:len(before)] == before and len(after) > len(before)  # and it goes on

        back = deployer.post("/models/rollback")
        assert back.status_code == 200, back.text
        assert api.status()["model_file"] == original.name
        assert _tracker(api, sender) == after
        with session_scope() as session:
            states = {m.file_name: m.state for m in session.scalars(select(ModelVersion))}
        assert states == {original.name: ModelState.PRODUCTION, candidate_file.name: ModelState.RETIRED}


def test_a_job_left_running_by_a_stopped_console_shows_as_failed(
        app: FastAPI, login_as: Callable[..., TestClient], rasa: ScriptedRasa) -> None:
    from console.tables import JobState, TrainingJob

    app.dependency_overrides[get_rasa_api] = lambda: RasaApi("http://rasa.test", TOKEN, transport=httpx.MockTransport(rasa.handle))
    with session_scope() as session:
        job = TrainingJob(state=JobState.RUNNING, started_by="deployer1", phase="nlu", pid=2 ** 22 + 4321)
        session.add(job)
    model_routes._runners.clear()  # a new console process: its start-up finds the job a stopped one left
    with TestClient(app, follow_redirects=False):
        with session_scope() as session:
            assert session.get(TrainingJob, job.id).state == JobState.FAILED  # before anyone opens a page
    page = login_as(Role.DEPLOYER).get("/models")
    assert 'id="train-progress" class="training-progress" data-state="failed"' in page.text
    assert texts.TRAIN_INTERRUPTED in page.text
