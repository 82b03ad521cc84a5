"""The trained model loaded for prediction without Rasa's training step (rasa_addons/model_load.py)
predicts exactly as Rasa's own load: the same value in every variable, the same parse (intent,
every confidence of the ranking, entities) of every held-out text, and no `fit` on the way; when
that path fails, Rasa's own load serves. Runs the trained model inside the Rasa environment (a
subprocess), so it is an integration test: `make test` trains before this step."""
from __future__ import annotations

import json
import os
import subprocess
from typing import Any

import pytest
from hamdel.services import ensure_model
from hamdel.settings import PROJECT_ROOT

pytestmark = pytest.mark.integration

SCRIPT = r"""
import asyncio, gc, json, sys
from pathlib import Path
import numpy as np
import tensorflow as tf
from rasa.utils.tensorflow import models

rasas = models.RasaModel.__dict__["load"]  # the classmethod itself, not one bound to RasaModel
import rasa_addons  # noqa: F401  (installs the load, as loading the model does)
from rasa_addons import model_load
from rasa.core.agent import Agent
from rasa.nlu.classifiers.diet_classifier import DIETClassifier

fits = []
fit = tf.keras.Model.fit
tf.keras.Model.fit = lambda self, *a, **k: fits.append(type(self).__name__) or fit(self, *a, **k)
import importlib.util
spec = importlib.util.spec_from_file_location("nlu_eval", "scripts/nlu_eval.py")
nlu_eval = sys.modules["nlu_eval"] = importlib.util.module_from_spec(spec)  # dataclasses look their module up
spec.loader.exec_module(nlu_eval)
held_out = (nlu_eval.load_holdout(Path("tests/nlu/holdout.yml")) + nlu_eval.load_reviews(Path("tests/nlu/reviews.yml"))
            + nlu_eval.load_not_complaints(Path("tests/nlu/not_complaints.yml")))
texts = [example.text for example in held_out] + ["/affirm", "/deny"]  # every held-out message, two payloads


def load_and_read(how):
    fits.clear()
    agent = Agent.load(sys.argv[1])
    [diet] = [o for o in gc.get_objects() if isinstance(o, DIETClassifier) and o.model is not None
              and not getattr(o, "_seen", False)]
    diet._seen = True
    variables = {v.name: v.numpy() for v in diet.model.variables}
    parses = []
    for text in texts:
        p = asyncio.run(agent.parse_message(text))
        parses.append([p["intent"]["name"], p["intent"]["confidence"],
                       [(r["name"], r["confidence"]) for r in p["intent_ranking"]],
                       [(e["entity"], e["value"], e["start"], e["end"]) for e in p["entities"]]])
    return {"how": how, "fits": list(fits), "variables": variables, "parses": parses}


models.RasaModel.load = rasas
own = load_and_read("rasa")
model_load._INSTALLED = False
model_load.install()
fast = load_and_read("addon")
def broken(*a, **k):
    raise RuntimeError("injected")
model_load.load_for_prediction = broken
fallback = load_and_read("fallback")

def same_variables(a, b):
    return sorted(a) == sorted(b) and all(np.array_equal(a[k], b[k]) for k in a)

report = {
    "texts": len(texts),
    "variables": len(own["variables"]),
    "own_fits": own["fits"], "fast_fits": fast["fits"], "fallback_fits": fallback["fits"],
    "fast_same_variables": same_variables(own["variables"], fast["variables"]),
    "fallback_same_variables": same_variables(own["variables"], fallback["variables"]),
    "fast_different_parses": [t for t, a, b in zip(texts, own["parses"], fast["parses"]) if a != b],
    "fallback_different_parses": [t for t, a, b in zip(texts, own["parses"], fallback["parses"]) if a != b],
    "intents": sorted({p[0] for p in own["parses"]}),
}
print(json.dumps(report, ensure_ascii=False))
"""


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "RASA_TELEMETRY_ENABLED": "false"}
    result = subprocess.run(
        [str(PROJECT_ROOT / ".venv-rasa" / "bin" / "python"), "-c", SCRIPT, str(ensure_model())],
        capture_output=True, text=True, cwd=PROJECT_ROOT, env=env, timeout=1200,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_rasas_own_load_trains_one_step_and_hamdels_does_not(report: dict[str, Any]) -> None:
    assert report["own_fits"] == ["DIET"]
    assert report["fast_fits"] == []


def test_every_variable_holds_the_same_value_as_after_rasas_load(report: dict[str, Any]) -> None:
    assert report["variables"] > 20
    assert report["fast_same_variables"] is True


def test_every_held_out_text_is_parsed_exactly_as_after_rasas_load(report: dict[str, Any]) -> None:
    assert report["texts"] > 1000
    assert len(report["intents"]) > 5  # the texts reach many intents, not one
    assert report["fast_different_parses"] == []


def test_when_the_fast_path_fails_rasas_own_load_serves(report: dict[str, Any]) -> None:
    assert report["fallback_fits"] == ["DIET"]
    assert report["fallback_same_variables"] is True
    assert report["fallback_different_parses"] == []
