"""FastAPI dependencies shared by every console route."""
from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy.orm import Session

from hamdel.storage.db import session_scope


def db_session() -> Iterator[Session]:
    """One unit of work per request: committed when the route returns, rolled back if it raises.

    The URL comes from settings at call time (not import time), so tests that point DATABASE_URL
    at a temporary file and clear the settings cache get their own database.
    """
    with session_scope() as session:
        yield session
