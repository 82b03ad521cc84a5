"""The console's tables (Alembic migration 0003). They share `Base` with the complaint schema so
one migration chain and one database hold everything; nothing in `hamdel/` imports them.
"""
from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hamdel.storage.models import Base, _enum, utcnow


class Role(str, enum.Enum):
    """Roles in rising order of power; each role may do everything the ones before it may."""

    VIEWER = "viewer"  # dashboard and tickets
    ANNOTATOR = "annotator"  # + label messages
    REVIEWER = "reviewer"  # + approve or reject labels
    DEPLOYER = "deployer"  # + train, promote, roll back
    ADMIN = "admin"  # + accounts and the audit log

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


class ConsoleUser(Base):
    __tablename__ = "console_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(_enum(Role))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)


class AuditEntry(Base):
    """Who did what and when; `detail` holds ids and figures, never a customer's words."""

    __tablename__ = "console_audit"
    __table_args__ = (Index("ix_console_audit_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    username: Mapped[str | None] = mapped_column(String(64), default=None)
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(128), default=None)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class LabelStatus(str, enum.Enum):
    PROPOSED = "proposed"  # an annotator's label, waiting for a reviewer
    APPROVED = "approved"  # written to nlu_data/ (or to the golden set)
    REJECTED = "rejected"  # a reviewer refused it


class NluLabel(Base):
    """A person's verdict on one real message (de-duplicated by its normalised text).

    `intent` None with `discard` True means "not an intent / discard": hidden from the inbox, never
    trained on. `golden` items go to the frozen golden test set instead of the training data.
    """

    __tablename__ = "nlu_labels"

    id: Mapped[int] = mapped_column(primary_key=True)
    text_key: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the normalised text
    text: Mapped[str] = mapped_column(Text)  # normalised training form, personal data replaced by fakes
    intent: Mapped[str | None] = mapped_column(String(64), default=None)
    entities: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [{"start", "end", "entity", "value"}]
    discard: Mapped[bool] = mapped_column(Boolean, default=False)
    golden: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[LabelStatus] = mapped_column(_enum(LabelStatus), default=LabelStatus.PROPOSED)
    predicted_intent: Mapped[str | None] = mapped_column(String(64), default=None)
    predicted_confidence: Mapped[float | None] = mapped_column(default=None)
    labelled_by: Mapped[str] = mapped_column(String(64))
    labelled_at: Mapped[datetime] = mapped_column(default=utcnow)
    reviewed_by: Mapped[str | None] = mapped_column(String(64), default=None)
    reviewed_at: Mapped[datetime | None] = mapped_column(default=None)
    exported_at: Mapped[datetime | None] = mapped_column(default=None)


class ModelState(str, enum.Enum):
    CANDIDATE = "candidate"  # trained, gate not yet passed or not yet promoted
    PRODUCTION = "production"  # the one Rasa serves (exactly one row at a time)
    RETIRED = "retired"  # served once, replaced (a rollback target)
    REJECTED = "rejected"  # refused by the gate and not overridden, or discarded


class ModelVersion(Base):
    """Every trained model with what it was trained on, its figures and who did what with it."""

    __tablename__ = "nlu_models"

    id: Mapped[int] = mapped_column(primary_key=True)
    file_name: Mapped[str] = mapped_column(String(255), unique=True)  # under models/
    rasa_model_id: Mapped[str | None] = mapped_column(String(128), default=None)  # GET /status model_id
    data_fingerprint: Mapped[str] = mapped_column(String(64))
    state: Mapped[ModelState] = mapped_column(_enum(ModelState), default=ModelState.CANDIDATE)
    figures: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the gate's evaluation of this model
    gate: Mapped[dict[str, Any]] = mapped_column(default=dict)  # comparison with production, passed?
    override_reason: Mapped[str | None] = mapped_column(Text, default=None)
    trained_by: Mapped[str | None] = mapped_column(String(64), default=None)
    trained_at: Mapped[datetime] = mapped_column(default=utcnow)
    promoted_by: Mapped[str | None] = mapped_column(String(64), default=None)
    promoted_at: Mapped[datetime | None] = mapped_column(default=None)


class JobState(str, enum.Enum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class TrainingJob(Base):
    """One `rasa train` run started from the console; at most one is RUNNING at a time."""

    __tablename__ = "training_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    state: Mapped[JobState] = mapped_column(_enum(JobState), default=JobState.RUNNING)
    started_by: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    phase: Mapped[str] = mapped_column(String(64), default="")  # e.g. "nlu", "core", "gate"
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    epochs: Mapped[int] = mapped_column(Integer, default=0)
    progress: Mapped[float] = mapped_column(default=0.0)  # 0..1 over the whole job
    message: Mapped[str | None] = mapped_column(Text, default=None)  # Persian error for people
    pid: Mapped[int | None] = mapped_column(Integer, default=None)
    model_id: Mapped[int | None] = mapped_column(ForeignKey("nlu_models.id"), default=None)
