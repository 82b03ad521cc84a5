"""Tests of rasa_addons/: each drives the Rasa environment (.venv-rasa) through a subprocess."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"


def run_in_rasa(script: str, timeout: float = 300) -> dict[str, Any]:
    """Run `script` with the Rasa environment's Python at the project root; its last line of
    output, read as JSON (the script's report). Skips when the Rasa environment is missing."""
    if not RASA_PYTHON.exists():
        pytest.skip("no Rasa environment (.venv-rasa); run make setup")
    result = subprocess.run(
        [str(RASA_PYTHON), "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=timeout,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report
