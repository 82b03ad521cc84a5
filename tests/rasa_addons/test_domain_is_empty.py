"""Rasa's «is the domain empty?» gives the same answers with rasa_addons/domain_is_empty.py, and
Hamdel's domain is turned into a dict for it once, not on every message.

Runs in `.venv` and drives `.venv-rasa` through a subprocess, like test_tracker_copy.py.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"

SCRIPT = r"""
import json
from rasa.shared.core.domain import Domain

rasas = Domain.is_empty
import rasa_addons  # noqa: F401  (installs it, as loading the model does)

built = []
as_dict = Domain.as_dict
def counting_as_dict(self):
    built.append(1)
    return as_dict(self)
Domain.as_dict = counting_as_dict

hamdel = Domain.load("domain.yml")
small = Domain.from_dict({"intents": ["greet"], "responses": {"utter_hi": [{"text": "سلام"}]}})
report = {"answers": {}}
for name, domain in (("hamdel", hamdel), ("small", small), ("empty", Domain.empty()), ("empty dict", Domain.from_dict({}))):
    report["answers"][name] = [domain.is_empty(), rasas(domain), domain.is_empty()]
built.clear()
for _ in range(5):
    hamdel.is_empty()
report["dicts_for_five_asks"] = len(built)
empty = Domain.empty()
built.clear()
for _ in range(3):
    empty.is_empty()
report["dicts_for_three_asks_of_an_empty_domain"] = len(built)
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def report() -> dict:
    if not RASA_PYTHON.exists():
        pytest.skip("no Rasa environment (.venv-rasa); run make setup")
    result = subprocess.run(
        [str(RASA_PYTHON), "-c", SCRIPT], capture_output=True, text=True, cwd=ROOT, timeout=300,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_every_domain_gets_rasas_answer(report: dict) -> None:
    assert report["answers"] == {"hamdel": [False, False, False], "small": [False, False, False],
                                 "empty": [True, True, True], "empty dict": [True, True, True]}


def test_hamdels_domain_is_not_rebuilt_as_a_dict_for_every_message(report: dict) -> None:
    assert report["dicts_for_five_asks"] == 0  # answered once, above
    assert report["dicts_for_three_asks_of_an_empty_domain"] == 6  # Rasa's way: its dict and an empty one, each time
