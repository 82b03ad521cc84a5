"""Routes of the training, regression-gate and model pages (being written: helper F)."""
from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
