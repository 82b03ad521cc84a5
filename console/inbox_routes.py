"""Routes of the inbox and labelling pages (being written: helper E)."""
from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
