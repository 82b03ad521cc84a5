"""Tests of rasa_addons/: most drive the Rasa environment (.venv-rasa) through a subprocess, with
`run_in_rasa` (test_nlu_eval.py checks pure functions in `.venv`)."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"


def require_rasa() -> None:
    """Skip the test when the Rasa environment is missing."""
    if not RASA_PYTHON.exists():
        pytest.skip("no Rasa environment (.venv-rasa); run make setup")


def run_in_rasa(script: str, timeout: float = 300, *, keep_stderr: bool = False) -> dict[str, Any]:
    """Run `script` with the Rasa environment's Python at the project root; its last line of
    output, read as JSON (the script's report), with the script's whole stderr under "stderr" if
    `keep_stderr`. Skips when the Rasa environment is missing."""
    require_rasa()
    result = subprocess.run(
        [str(RASA_PYTHON), "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=timeout,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    if keep_stderr:
        report = {**report, "stderr": result.stderr}
    return report
