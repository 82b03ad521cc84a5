"""Routes of the training, regression-gate and model pages.

Who may do what (docs/console.md, Roles): deployers see these pages (the gate page shows message
text whose prediction changed), train, cancel, promote a candidate that passed the gate and roll
back; only an admin may promote a refused candidate, with a written reason. Every POST is
CSRF-protected and audited.

The training job runs in a thread of this process (`get_runner()`, which every training page
depends on, so a job left RUNNING by a console that stopped is marked FAILED before it is shown); the page polls
`/training/progress` every second with htmx while a job runs and reloads itself once it ends, so
the new candidate appears in the table. Promote and rollback wait for Rasa to load the model (about
a minute on 2 cores) and answer with the models page, saying what happened.
"""
from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from console import audit, texts
from console.auth import CurrentUser, csrf_protect, require
from console.deploy import DeployError, RasaApi, all_models, promote, rollback, rollback_target, sync_with_rasa
from console.deps import db_session
from console.gate import production_model, run_gate
from console.tables import JobState, ModelState, ModelVersion, Role, TrainingJob
from console.training import TrainingBusy, TrainingRunner, job_view, latest_job, var_dir
from console.web import render
from hamdel.settings import get_settings

router = APIRouter()
JOB_HISTORY = 10
STATE_LABELS = {ModelState.CANDIDATE: "نامزد", ModelState.PRODUCTION: "در حال سرویس", ModelState.RETIRED: "بازنشسته",
                ModelState.REJECTED: "کنار گذاشته"}


_runners: dict[tuple[str, str], TrainingRunner] = {}
_runners_guard = threading.Lock()


def get_runner() -> TrainingRunner:
    """The console's one training runner (per database and var/ folder, so tests get their own);
    its first use marks jobs a stopped console left RUNNING as FAILED."""
    settings = get_settings()
    key = (settings.database_url, str(var_dir()))
    with _runners_guard:
        runner = _runners.get(key)
        if runner is None:
            runner = _runners[key] = TrainingRunner(run_gate=run_gate)
            runner.recover_interrupted()
        return runner


def get_rasa_api() -> RasaApi:
    return RasaApi.from_settings()


Runner = Annotated[TrainingRunner, Depends(get_runner)]
Api = Annotated[RasaApi, Depends(get_rasa_api)]
Db = Annotated[Session, Depends(db_session)]
Deployer = Annotated[CurrentUser, Depends(require(Role.DEPLOYER))]


def _training_context(session: Session, user: CurrentUser) -> dict[str, Any]:
    job = latest_job(session)
    return {"job": job_view(job) if job else None, "can_train": user.role.allows(Role.DEPLOYER)}


def _models_context(session: Session, user: CurrentUser, api: RasaApi) -> dict[str, Any]:
    sync_with_rasa(session, api)
    target = rollback_target(session)
    models = all_models(session)
    refused = [m for m in models if m.state in (ModelState.CANDIDATE, ModelState.REJECTED) and not m.gate.get("passed")]
    return {
        "models": models,
        "override_row_id": refused[0].id if refused else None,  # the newest refused candidate
        "state_labels": STATE_LABELS,
        "rollback_id": target.id if target else None,
        "can_deploy": user.role.allows(Role.DEPLOYER),
        "is_admin": user.role.allows(Role.ADMIN),
        **_training_context(session, user),
    }


def _models_page(request: Request, session: Session, user: CurrentUser, api: RasaApi, *,
                 notice: str | None = None, error: str | None = None, status_code: int = 200) -> Response:
    context = _models_context(session, user, api)
    return render(request, "models.html", {**context, "notice": notice, "error": error}, status_code=status_code)


# --- models ---------------------------------------------------------------------------------

@router.get("/models")
def models_page(request: Request, session: Db, user: Deployer, api: Api, runner: Runner) -> Response:
    return _models_page(request, session, user, api)


@router.get("/models/{model_id}/gate")
def gate_page(model_id: int, request: Request, session: Db, user: Deployer) -> Response:
    model = session.get(ModelVersion, model_id)
    if model is None:
        raise HTTPException(status_code=404)
    production = production_model(session)
    return render(request, "gate.html", {
        "model": model, "gate": model.gate or None, "production": production, "state_labels": STATE_LABELS,
        "can_deploy": user.role.allows(Role.DEPLOYER), "is_admin": user.role.allows(Role.ADMIN),
    })


@router.post("/models/{model_id}/promote", dependencies=[Depends(csrf_protect)])
def promote_model(model_id: int, request: Request, session: Db, user: Deployer, api: Api,
                  override_reason: Annotated[str | None, Form(max_length=2000)] = None) -> Response:
    if session.get(ModelVersion, model_id) is None:
        raise HTTPException(status_code=404)
    try:
        model = promote(session, model_id, user=user.username, role=user.role, api=api, override_reason=override_reason)
    except DeployError as refused:
        return _models_page(request, session, user, api, error=str(refused), status_code=409)
    return _models_page(request, session, user, api, notice=texts.DEPLOY_DONE.format(file=model.file_name))


@router.post("/models/rollback", dependencies=[Depends(csrf_protect)])
def rollback_model(request: Request, session: Db, user: Deployer, api: Api) -> Response:
    try:
        model = rollback(session, user=user.username, role=user.role, api=api)
    except DeployError as refused:
        return _models_page(request, session, user, api, error=str(refused), status_code=409)
    return _models_page(request, session, user, api, notice=texts.DEPLOY_ROLLED_BACK.format(file=model.file_name))


# --- training -------------------------------------------------------------------------------

@router.get("/training")
def training_page(request: Request, session: Db, user: Deployer, runner: Runner) -> Response:
    jobs = session.scalars(select(TrainingJob).order_by(TrainingJob.id.desc()).limit(JOB_HISTORY)).all()
    return render(request, "training.html", {**_training_context(session, user), "jobs": [job_view(j) for j in jobs]})


@router.get("/training/progress")
def training_progress(request: Request, session: Db, user: Deployer, runner: Runner, poll: int = 0) -> Response:
    """The progress fragment; a poll that finds the job finished reloads the page (new candidate)."""
    context = _training_context(session, user)
    response = render(request, "training_progress.html", context)
    if poll and (context["job"] is None or context["job"].state != JobState.RUNNING.value):
        response.headers["HX-Refresh"] = "true"
    return response


@router.post("/training", dependencies=[Depends(csrf_protect)])
def start_training(request: Request, session: Db, user: Deployer, runner: Runner) -> Response:
    error = None
    try:
        job_id = runner.start(user.username)
        audit.record(session, user=user.username, action="training.start", target=f"job:{job_id}")
    except TrainingBusy as busy:
        error = str(busy)
    if not request.headers.get("HX-Request"):
        if error:
            return render(request, "training.html", {**_training_context(session, user), "jobs": [], "train_error": error},
                          status_code=409)
        return RedirectResponse("/training", status_code=303)
    return render(request, "training_progress.html", {**_training_context(session, user), "train_error": error},
                  status_code=409 if error else 200)


@router.post("/training/{job_id}/cancel", dependencies=[Depends(csrf_protect)])
def cancel_training(job_id: int, request: Request, session: Db, user: Deployer, runner: Runner) -> Response:
    cancelled = runner.cancel(job_id, user.username)
    if cancelled:
        audit.record(session, user=user.username, action="training.cancel", target=f"job:{job_id}")
        runner.wait(30)
    session.expire_all()
    context = {**_training_context(session, user), "train_error": None if cancelled else texts.TRAIN_NOT_RUNNING}
    if not request.headers.get("HX-Request"):
        return RedirectResponse("/training", status_code=303)
    return render(request, "training_progress.html", context, status_code=200 if cancelled else 409)
