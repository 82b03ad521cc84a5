"""The audit log: who did what, to what, and when — one row per state-changing action.

`detail` holds ids, counts, roles and figures; never a customer's words or a password. Callers pass
the request's database session so the entry commits (or rolls back) with the action it records.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from console.tables import AuditEntry

# Keys that must never reach the log even if a caller passes them by mistake.
_FORBIDDEN_KEYS = frozenset({"password", "new_password", "password_hash", "token", "csrf_token", "text"})


def record(session: Session, *, user: str | None, action: str, target: str | None = None,
           detail: dict[str, Any] | None = None) -> AuditEntry:
    """Add one audit entry to `session` (flushed, so it has an id; committed with the request)."""
    clean = {key: value for key, value in (detail or {}).items() if key not in _FORBIDDEN_KEYS}
    entry = AuditEntry(username=user, action=action[:64], target=None if target is None else str(target)[:128],
                       detail=clean)
    session.add(entry)
    session.flush()
    return entry
