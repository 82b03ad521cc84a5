"""The regression gate: a candidate model next to the model in production, on the golden set and
the held-out files, before anyone may promote it.

Scoring is not written twice: `scripts/nlu_eval.py` (the same rules CI gates on) runs in Rasa's
environment as a subprocess with `--json`, `--golden` and `--predictions`, once per model. Loading
a model there takes about a minute on 2 cores, so the production model's evaluation is cached by
its file and by the evaluation inputs (golden set and held-out files): it only changes when they do.

The gate refuses a candidate when any headline figure is worse than production's by more than
`settings.admin_gate_max_drop` (a rise, for the figures where lower is better). An admin may
override a refusal with a written reason (`deploy.promote`), which is stored and audited.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from console import texts
from console.tables import ModelState, ModelVersion
from hamdel.persian import to_persian_digits
from hamdel.services import rasa_env
from hamdel.settings import PROJECT_ROOT, get_settings
from hamdel.storage.db import session_scope

logger = logging.getLogger(__name__)

RASA_PYTHON = PROJECT_ROOT / ".venv-rasa" / "bin" / "python"
NLU_EVAL = PROJECT_ROOT / "scripts" / "nlu_eval.py"
HELD_OUT = tuple(PROJECT_ROOT / "tests" / "nlu" / name for name in ("holdout.yml", "reviews.yml", "not_complaints.yml"))
# The headline figures nlu_eval.py prints and gates on (clean copy), then the golden set's.
HEADLINE = ("intent_macro_f1", "complaint_accuracy", "false_complaint_rate", "category_accuracy", "entity_recall",
            "entity_precision", "perturbation_gap")
GOLDEN_HEADLINE = ("golden.intent_macro_f1", "golden.intent_accuracy")
LOWER_IS_BETTER = {"false_complaint_rate", "perturbation_gap"}
EVAL_TIMEOUT_SECONDS = 1800.0
# One evaluation (load the model, parse ~2,600 messages twice) takes about this long on 2 cores; the
# progress bar moves by it while the evaluation runs and waits at the end of its share if slower.
EXPECTED_EVAL_SECONDS = 100.0
TICK_SECONDS = 1.0


class GateError(RuntimeError):
    """The gate could not evaluate a model; its message is a Persian sentence for people."""


@dataclass(frozen=True)
class Evaluation:
    """One model's figures and its answer to every evaluation message."""

    figures: dict[str, Any]  # stored in ModelVersion.figures (no message text)
    predictions: list[dict[str, Any]]  # {set, text, expected, predicted, confidence, right}


def summarise(run: dict[str, Any]) -> dict[str, Any]:
    """The parts of nlu_eval.py's JSON the console keeps (figures only, no message text)."""
    clean = run.get("clean", {})
    golden = run.get("golden") or {"count": 0, "figures": {}, "details": {}}
    headline: dict[str, float | None] = {name: clean.get("figures", {}).get(name) for name in HEADLINE if name != "perturbation_gap"}
    headline["perturbation_gap"] = run.get("perturbation_gap")
    headline["intent_accuracy"] = clean.get("figures", {}).get("intent_accuracy")
    if golden.get("count"):
        headline["golden.intent_macro_f1"] = golden["figures"].get("intent_macro_f1")
        headline["golden.intent_accuracy"] = golden["figures"].get("intent_accuracy")
    return {
        "model": run.get("model"),
        "headline": headline,
        "per_intent_f1": clean.get("details", {}).get("per_intent_f1", {}),
        "per_intent_support": clean.get("details", {}).get("per_intent_support", {}),
        "golden_count": int(golden.get("count") or 0),
        "golden_per_intent_f1": golden.get("details", {}).get("per_intent_f1", {}),
        "counts": run.get("counts", {}),
    }


def _inputs_digest(golden: Path | None) -> str:
    """What an evaluation depends on besides the model: the golden set and the held-out files."""
    digest = hashlib.sha256()
    for path in (*HELD_OUT, *([golden] if golden else [])):
        digest.update(str(path.name).encode())
        digest.update(path.read_bytes() if path.is_file() else b"-")
    return digest.hexdigest()[:12]


@dataclass
class Evaluator:
    """Runs `scripts/nlu_eval.py` on one model in Rasa's environment; caches results by model file."""

    command: Sequence[str] = (str(RASA_PYTHON), str(NLU_EVAL))
    cache_dir: Path = field(default_factory=lambda: Path(get_settings().models_dir).resolve().parent / "var" / "gate")
    timeout: float = EVAL_TIMEOUT_SECONDS
    extra_env: dict[str, str] = field(default_factory=dict)

    def cached(self, model: Path, golden: Path | None) -> Evaluation | None:
        path = self._cache_file(model, golden)
        if not path.is_file():
            return None
        stored = json.loads(path.read_text(encoding="utf-8"))
        return Evaluation(stored["figures"], stored["predictions"])

    def _cache_file(self, model: Path, golden: Path | None) -> Path:
        stat = model.stat()
        return self.cache_dir / f"{model.name}.{stat.st_size}.{_inputs_digest(golden)}.json"

    def evaluate(self, model: Path, golden: Path | None, *, on_process: Callable[[subprocess.Popen[bytes]], None] | None = None,
                 on_tick: Callable[[float], None] | None = None) -> Evaluation:
        """Evaluate `model` (or reuse its cached evaluation); raises GateError with a Persian message."""
        hit = self.cached(model, golden)
        if hit is not None:
            return hit
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.cache_dir) as work:
            out, predictions, log = Path(work) / "eval.json", Path(work) / "predictions.json", self.cache_dir / f"{model.name}.log"
            command = [*self.command, "--model", str(model), "--json", str(out), "--predictions", str(predictions),
                       "--baseline", str(Path(work) / "no-baseline.json")]
            if golden is not None:
                command += ["--golden", str(golden)]
            with log.open("wb") as log_handle:
                process = subprocess.Popen(command, cwd=PROJECT_ROOT, env={**rasa_env(), **self.extra_env},
                                           stdout=log_handle, stderr=subprocess.STDOUT, start_new_session=True)
                if on_process is not None:
                    on_process(process)
                started = time.monotonic()
                while (returncode := process.poll()) is None:
                    elapsed = time.monotonic() - started
                    if elapsed > self.timeout:
                        os.killpg(process.pid, 9)
                        process.wait()
                        raise GateError(texts.GATE_EVAL_TIMEOUT.format(model=model.name))
                    if on_tick is not None:
                        on_tick(elapsed)
                    time.sleep(TICK_SECONDS)
            if returncode not in (0, 1) or not out.is_file() or not predictions.is_file():
                raise GateError(texts.GATE_EVAL_FAILED.format(model=model.name, code=to_persian_digits(str(returncode)),
                                                              log=_relative(log)))
            evaluation = Evaluation(summarise(json.loads(out.read_text(encoding="utf-8"))),
                                    json.loads(predictions.read_text(encoding="utf-8")))
        self._cache_file(model, golden).write_text(
            json.dumps({"figures": evaluation.figures, "predictions": evaluation.predictions}, ensure_ascii=False),
            encoding="utf-8")
        return evaluation


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


# ---------------------------------------------------------------------------------------------
# Comparing two evaluations


def figure_label(name: str) -> str:
    return texts.FIGURE_NAMES.get(name, name)


def compare(candidate: dict[str, Any], production: dict[str, Any] | None, max_drop: float) -> dict[str, Any]:
    """The gate's verdict: every headline figure side by side, which ones dropped too far, and
    per-intent F1. Figures missing on either side (an empty golden set) are shown, not gated."""
    notes: list[str] = []
    if production is None:
        notes.append(texts.GATE_NO_PRODUCTION)
    if not candidate.get("golden_count"):
        notes.append(texts.GATE_NO_GOLDEN)
    names = [*HEADLINE, "intent_accuracy", *GOLDEN_HEADLINE]
    rows, drops = [], []
    for name in names:
        new = candidate.get("headline", {}).get(name)
        old = (production or {}).get("headline", {}).get(name)
        if new is None and old is None:
            continue
        lower = name in LOWER_IS_BETTER
        worse_by = None if new is None or old is None else ((new - old) if lower else (old - new))
        too_far = worse_by is not None and worse_by > max_drop + 1e-9
        rows.append({"name": name, "label": figure_label(name), "old": old, "new": new, "lower_is_better": lower,
                     "worse_by": worse_by, "refused": too_far})
        if too_far:
            drops.append(texts.GATE_DROP.format(figure=figure_label(name), old=_fmt(old), new=_fmt(new),
                                                limit=to_persian_digits(f"{max_drop:g}")))
    intents = sorted(set(candidate.get("per_intent_f1", {})) | set((production or {}).get("per_intent_f1", {})))
    per_intent = [{"intent": intent, "old": (production or {}).get("per_intent_f1", {}).get(intent),
                   "new": candidate.get("per_intent_f1", {}).get(intent),
                   "support": candidate.get("per_intent_support", {}).get(intent)} for intent in intents]
    return {"passed": not drops, "rows": rows, "drops": drops, "notes": notes, "per_intent": per_intent,
            "max_drop": max_drop}


def _fmt(value: float | None) -> str:
    return "—" if value is None else to_persian_digits(f"{value:.3f}").replace(".", "٫")


def changed_predictions(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages the two models answer differently, and which answer is right by nlu_eval's rules:
    "better" (only the candidate is right), "worse" (only production was), "neither" or "both"."""
    before = {(r["set"], r["text"]): r for r in old}
    changed = []
    for record in new:
        previous = before.get((record["set"], record["text"]))
        if previous is None or previous.get("predicted") == record.get("predicted"):
            continue
        verdict = {(False, True): "better", (True, False): "worse", (False, False): "neither", (True, True): "both"}[
            (bool(previous.get("right")), bool(record.get("right")))]
        changed.append({"set": record["set"], "text": record["text"], "expected": record.get("expected"),
                        "old": previous.get("predicted"), "new": record.get("predicted"), "verdict": verdict})
    order = {"worse": 0, "better": 1, "neither": 2, "both": 3}
    return sorted(changed, key=lambda c: (order[c["verdict"]], c["set"], c["text"]))


# ---------------------------------------------------------------------------------------------
# Running the gate on a candidate


def production_model(session: Session) -> ModelVersion | None:
    return session.scalars(select(ModelVersion).where(ModelVersion.state == ModelState.PRODUCTION)
                           .order_by(ModelVersion.promoted_at.desc().nulls_last(), ModelVersion.id.desc()).limit(1)).first()


def golden_path() -> Path | None:
    path = Path(get_settings().golden_set_path)
    return path if path.is_file() and path.read_text(encoding="utf-8").strip() else None


def run_gate(
    model_id: int,
    on_progress: Callable[[float], None] = lambda _: None,
    on_process: Callable[[subprocess.Popen[bytes]], None] | None = None,
    *,
    evaluator: Evaluator | None = None,
    database_url: str | None = None,
) -> dict[str, Any]:
    """Evaluate candidate `model_id` and the production model, store both models' figures and the
    candidate's verdict (`ModelVersion.gate`), and return the verdict."""
    evaluator = evaluator or Evaluator()
    settings = get_settings()
    models_dir = Path(settings.models_dir)
    golden = golden_path()
    with session_scope(database_url) as session:
        candidate = session.get(ModelVersion, model_id)
        if candidate is None:
            raise LookupError(f"model {model_id} is not in the registry")
        production = production_model(session)
        candidate_file = models_dir / candidate.file_name
        production_id = production.id if production is not None else None
        production_file = models_dir / production.file_name if production is not None else None
    started = time.monotonic()
    on_progress(0.0)
    both = production_file is not None and production_file.is_file()
    share = 0.5 if both else 1.0

    def ticker(offset: float) -> Callable[[float], None]:
        last = [0.0]

        def tick(elapsed: float) -> None:
            if elapsed - last[0] >= 2.0:  # a database write every two seconds is plenty
                last[0] = elapsed
                on_progress(offset + share * 0.95 * min(1.0, elapsed / EXPECTED_EVAL_SECONDS))
        return tick

    new = evaluator.evaluate(candidate_file, golden, on_process=on_process, on_tick=ticker(0.0))
    on_progress(share)
    old = None
    if both:
        assert production_file is not None
        old = evaluator.evaluate(production_file, golden, on_process=on_process, on_tick=ticker(share))
    on_progress(0.99)
    verdict = compare(new.figures, old.figures if old else None, settings.admin_gate_max_drop)
    verdict.update({
        "production_id": production_id,
        "production_file": production_file.name if production_file else None,
        "golden_count": new.figures.get("golden_count", 0),
        "changed": changed_predictions(old.predictions, new.predictions) if old else [],
        "seconds": round(time.monotonic() - started, 1),
    })
    with session_scope(database_url) as session:
        candidate = session.get(ModelVersion, model_id)
        assert candidate is not None
        candidate.figures = new.figures
        candidate.gate = verdict
        if production_id is not None and old is not None:
            production = session.get(ModelVersion, production_id)
            if production is not None:
                production.figures = old.figures
    logger.info("gate of model %s: %s", model_id, "passed" if verdict["passed"] else "refused")
    return verdict
