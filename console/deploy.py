"""The model registry, promotion through Rasa's HTTP API and one-click rollback.

Promote = `PUT /model` with the model's absolute path, then `GET /status` until Rasa reports the new
file. Rasa loads the new agent next to the old one and swaps them when it is ready (the old model
answers meanwhile), and the new agent reads the same SQL tracker store, so conversations under way
keep their history. Only after Rasa confirmed do the registry's states change, in one transaction
(old PRODUCTION → RETIRED, new → PRODUCTION), and the production pointer
(`<models_dir>/production.json`) is written so that `hamdel.services.ensure_model()` serves the
same model after a restart. If Rasa refuses or never confirms, nothing in the registry changes.

Rasa is the truth about what is served: `sync_with_rasa` registers a model Rasa serves that the
registry does not know (trained by `make train`) as PRODUCTION, so there is always a rollback target.
"""
from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from console import audit, texts
from console.tables import ModelState, ModelVersion, Role
from hamdel.persian import to_persian_digits
from hamdel.services import PRODUCTION_POINTER
from hamdel.settings import get_settings
from hamdel.storage.models import utcnow

logger = logging.getLogger(__name__)

CONFIRM_TIMEOUT_SECONDS = 120.0
LOAD_TIMEOUT_SECONDS = 600.0  # PUT /model answers once the new model is loaded (~1 min on 2 cores)
MIN_OVERRIDE_REASON = 10
MAKE_TRAIN = "make train"
_FINGERPRINT_IN_NAME = re.compile(r"([0-9a-f]{16})\.tar\.gz$")
_promotion = threading.Lock()  # one promotion at a time in this process


class DeployError(RuntimeError):
    """A promotion or rollback that did not happen; the message is a Persian sentence."""


@dataclass
class RasaApi:
    """The two calls of Rasa's HTTP API the console needs (token in the query, as Rasa wants)."""

    base_url: str
    token: str
    transport: httpx.BaseTransport | None = None
    load_timeout: float = LOAD_TIMEOUT_SECONDS

    @classmethod
    def from_settings(cls) -> RasaApi:
        settings = get_settings()
        return cls(settings.rasa_url.rstrip("/"), settings.rasa_api_token())

    def _client(self, timeout: float) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=timeout, transport=self.transport)

    def status(self, timeout: float = 5.0) -> dict[str, Any]:
        with self._client(timeout) as client:
            response = client.get("/status", params={"token": self.token})
            response.raise_for_status()
            return dict(response.json())

    def replace_model(self, model_file: Path) -> None:
        """`PUT /model`; raises DeployError (Persian) when Rasa is unreachable or refuses."""
        try:
            with self._client(self.load_timeout) as client:
                response = client.put("/model", params={"token": self.token}, json={"model_file": str(model_file.resolve())})
        except httpx.HTTPError as error:
            raise DeployError(texts.DEPLOY_RASA_UNREACHABLE.format(error=type(error).__name__)) from error
        if response.status_code >= 300:
            try:
                detail = str(response.json().get("message") or response.json().get("reason") or "")[:200]
            except ValueError:
                detail = response.text[:200]
            raise DeployError(texts.DEPLOY_RASA_REFUSED.format(status=to_persian_digits(str(response.status_code)),
                                                               detail=detail or "—"))

    def wait_for(self, model_file: Path, timeout: float = CONFIRM_TIMEOUT_SECONDS, interval: float = 1.0) -> dict[str, Any]:
        """Poll `GET /status` until Rasa reports `model_file`; its status, or DeployError on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                status = self.status()
                if Path(str(status.get("model_file") or "")).name == model_file.name:
                    return status
            except (httpx.HTTPError, ValueError):
                pass  # Rasa busy loading; try again
            if time.monotonic() >= deadline:
                raise DeployError(texts.DEPLOY_TIMEOUT.format(seconds=to_persian_digits(f"{timeout:.0f}")))
            time.sleep(interval)


# ---------------------------------------------------------------------------------------------
# Registry


def models_dir() -> Path:
    return Path(get_settings().models_dir)


def write_pointer(model: ModelVersion) -> Path:
    """`<models_dir>/production.json`, replaced atomically, read by `hamdel.services.ensure_model()`."""
    pointer = models_dir() / PRODUCTION_POINTER
    pointer.parent.mkdir(parents=True, exist_ok=True)
    tmp = pointer.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"model_file": model.file_name, "fingerprint": model.data_fingerprint,
                               "model_id": model.id, "promoted_by": model.promoted_by,
                               "promoted_at": model.promoted_at.isoformat() if model.promoted_at else None},
                              ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, pointer)
    return pointer


def all_models(session: Session) -> list[ModelVersion]:
    return list(session.scalars(select(ModelVersion).order_by(ModelVersion.trained_at.desc(), ModelVersion.id.desc())))


def rollback_target(session: Session) -> ModelVersion | None:
    """The model served before the current one: the most recently promoted RETIRED model."""
    return session.scalars(select(ModelVersion).where(ModelVersion.state == ModelState.RETIRED)
                           .order_by(ModelVersion.promoted_at.desc().nulls_last(), ModelVersion.id.desc()).limit(1)).first()


def sync_with_rasa(session: Session, api: RasaApi) -> ModelVersion | None:
    """Make the registry say what Rasa serves. A file it does not know becomes PRODUCTION (trained
    by `make train`); a known one that is not PRODUCTION (Rasa restarted on another model) becomes
    it. Returns the served model, or None when Rasa does not answer or a promotion is under way
    (Rasa may already serve the new file that the promotion has not recorded yet)."""
    if _promotion.locked():
        return None
    try:
        status = api.status(timeout=3.0)
    except (httpx.HTTPError, ValueError):
        return None
    name = Path(str(status.get("model_file") or "")).name
    if not name:
        return None
    served = session.scalars(select(ModelVersion).where(ModelVersion.file_name == name)).first()
    if served is not None and served.state == ModelState.PRODUCTION:
        return served
    for other in session.scalars(select(ModelVersion).where(ModelVersion.state == ModelState.PRODUCTION)):
        other.state = ModelState.RETIRED
    if served is None:
        match = _FINGERPRINT_IN_NAME.search(name)
        served = ModelVersion(file_name=name, data_fingerprint=match.group(1) if match else "",
                              state=ModelState.PRODUCTION, trained_by=MAKE_TRAIN, rasa_model_id=status.get("model_id"),
                              promoted_at=utcnow())
        session.add(served)
        action = "model.register_served"
    else:
        served.state = ModelState.PRODUCTION
        served.rasa_model_id = status.get("model_id")
        action = "model.served_again"
    session.flush()
    audit.record(session, user=None, action=action, target=f"model:{served.id}", detail={"file": name})
    logger.info("registry synced with Rasa: model %s is served", served.id)
    return served


# ---------------------------------------------------------------------------------------------
# Promote and roll back


def check_promotable(model: ModelVersion, role: Role, override_reason: str | None) -> str | None:
    """Why `model` may not be promoted by someone of `role` (None: it may). A candidate needs a
    passed gate, or an admin's written reason to override a refused or missing one."""
    if model.state == ModelState.PRODUCTION:
        return texts.DEPLOY_ALREADY_PRODUCTION
    if model.state not in (ModelState.CANDIDATE, ModelState.RETIRED, ModelState.REJECTED):
        return texts.DEPLOY_NOT_CANDIDATE.format(state=model.state.value)
    if model.state == ModelState.RETIRED:
        return None  # it served before: a rollback target
    if model.gate.get("passed") is True:
        return None
    reason = (override_reason or "").strip()
    if not role.allows(Role.ADMIN):
        return texts.GATE_OVERRIDE_NEEDS_ADMIN if reason else (texts.GATE_REFUSED if model.gate else texts.GATE_NOT_RUN)
    if len(reason) < MIN_OVERRIDE_REASON:
        return texts.GATE_OVERRIDE_NEEDS_REASON
    return None


def promote(session: Session, model_id: int, *, user: str, role: Role, api: RasaApi,
            override_reason: str | None = None, confirm_timeout: float = CONFIRM_TIMEOUT_SECONDS,
            action: str = "model.promote") -> ModelVersion:
    """Serve model `model_id` through Rasa, then record it. Raises DeployError (Persian) and leaves
    every state as it was when the gate, the file or Rasa says no."""
    with _promotion:
        model = session.get(ModelVersion, model_id)
        if model is None:
            raise DeployError(texts.DEPLOY_FILE_MISSING.format(file=model_id))
        problem = check_promotable(model, role, override_reason)
        if problem:
            audit.record(session, user=user, action=f"{action}.refused", target=f"model:{model.id}",
                         detail={"state": model.state.value, "gate_passed": model.gate.get("passed")})
            raise DeployError(problem)
        path = models_dir() / model.file_name
        if not path.is_file():
            raise DeployError(texts.DEPLOY_FILE_MISSING.format(file=model.file_name))
        overriding = model.state != ModelState.RETIRED and model.gate.get("passed") is not True
        try:
            api.replace_model(path)
            status = api.wait_for(path, timeout=confirm_timeout)
        except DeployError as failed:
            audit.record(session, user=user, action=f"{action}.failed", target=f"model:{model.id}",
                         detail={"file": model.file_name, "error": str(failed)[:200]})
            raise
        previous = [m for m in session.scalars(select(ModelVersion).where(ModelVersion.state == ModelState.PRODUCTION)) if m.id != model.id]
        for old in previous:
            old.state = ModelState.RETIRED
        model.state = ModelState.PRODUCTION
        model.promoted_by, model.promoted_at = user, utcnow()
        model.rasa_model_id = status.get("model_id")
        if overriding:
            model.override_reason = (override_reason or "").strip()
        session.flush()
        write_pointer(model)
        audit.record(session, user=user, action=action, target=f"model:{model.id}", detail={
            "file": model.file_name, "rasa_model_id": model.rasa_model_id, "replaced": [m.id for m in previous],
            "gate_passed": model.gate.get("passed"), "override": overriding,
            **({"override_reason": model.override_reason} if overriding else {})})
        logger.info("model %s promoted by %s (override: %s)", model.id, user, overriding)
        return model


def rollback(session: Session, *, user: str, role: Role, api: RasaApi,
             confirm_timeout: float = CONFIRM_TIMEOUT_SECONDS) -> ModelVersion:
    """Serve again the model that was in production before the current one."""
    target = rollback_target(session)
    if target is None:
        raise DeployError(texts.DEPLOY_NO_ROLLBACK_TARGET)
    return promote(session, target.id, user=user, role=role, api=api, confirm_timeout=confirm_timeout,
                   action="model.rollback")
