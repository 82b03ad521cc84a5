"""The supervisors' dashboard and ticket list (routes + queries)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse, Response

from console.auth import CurrentUser, require
from console.tables import Role

router = APIRouter()


@router.get("/")
def home(user: Annotated[CurrentUser, Depends(require(Role.VIEWER))]) -> Response:
    """Everyone who may log in may see the dashboard: it is the home page."""
    return RedirectResponse("/dashboard", status_code=303)
