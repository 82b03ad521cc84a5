"""The regression gate: a candidate next to the production model, refused when a headline figure
falls further than the allowed drop, with the messages whose prediction changed.

nlu_eval.py is played by FAKE_EVAL (see test_training.py): each fake model file carries the JSON
and predictions the real script would write for it.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from console import texts
from console.gate import Evaluator, GateError, changed_predictions, compare, run_gate, summarise
from console.tables import ModelState, ModelVersion
from hamdel.settings import Settings, get_settings
from hamdel.storage.db import session_scope
from tests.console.test_training import eval_run, fake_model_content, prediction, write_fakes

GOLDEN = 'version: "3.1"\nnlu:\n- intent: complain_delivery\n  examples: |\n    - سفارشم هنوز نرسیده\n'


@pytest.fixture
def evaluator(console_settings: Settings, tmp_path: Path) -> Evaluator:
    _, evaluate = write_fakes(tmp_path / "fakes")
    return Evaluator(command=evaluate, cache_dir=tmp_path / "gate-cache")


@pytest.fixture
def add_model(console_settings: Settings) -> Callable[..., int]:
    def add(name: str, state: ModelState, run: dict[str, Any], predictions: list[dict[str, Any]] | None = None) -> int:
        models = Path(console_settings.models_dir)
        models.mkdir(parents=True, exist_ok=True)
        (models / name).write_text(fake_model_content(run, predictions), encoding="utf-8")
        with session_scope() as session:
            model = ModelVersion(file_name=name, data_fingerprint="0" * 16, state=state, trained_by="deployer1")
            session.add(model)
            session.flush()
            return model.id
    return add


def evaluations(models_dir: Path, name: str) -> int:
    marker = models_dir / f"{name}.evaluated"
    return len(marker.read_text().splitlines()) if marker.exists() else 0


# --- comparing figures ----------------------------------------------------------------------

def test_a_drop_within_the_allowed_margin_passes() -> None:
    verdict = compare(summarise(eval_run(macro=0.89)), summarise(eval_run(macro=0.90)), 0.02)
    assert verdict["passed"] and verdict["drops"] == []


def test_a_headline_figure_falling_too_far_refuses_the_candidate() -> None:
    verdict = compare(summarise(eval_run(complaint=0.85)), summarise(eval_run(complaint=0.90)), 0.02)
    assert not verdict["passed"]
    refused = [row["name"] for row in verdict["rows"] if row["refused"]]
    assert refused == ["complaint_accuracy"]
    assert "دقت شکایت/غیرشکایت" in verdict["drops"][0] and "از ۰٫۹۰۰ به ۰٫۸۵۰" in verdict["drops"][0]


def test_for_false_complaints_a_rise_is_the_drop() -> None:
    verdict = compare(summarise(eval_run(false_rate=0.09)), summarise(eval_run(false_rate=0.05)), 0.02)
    assert [row["name"] for row in verdict["rows"] if row["refused"]] == ["false_complaint_rate"]
    better = compare(summarise(eval_run(false_rate=0.01)), summarise(eval_run(false_rate=0.05)), 0.02)
    assert better["passed"]


def test_the_allowed_drop_is_configurable() -> None:
    assert compare(summarise(eval_run(macro=0.85)), summarise(eval_run(macro=0.90)), 0.1)["passed"]


def test_golden_set_figures_are_gated_when_both_models_have_them() -> None:
    golden_old = {"count": 40, "figures": {"intent_macro_f1": 0.95, "intent_accuracy": 0.95}, "details": {}}
    golden_new = {"count": 40, "figures": {"intent_macro_f1": 0.80, "intent_accuracy": 0.95}, "details": {}}
    verdict = compare(summarise(eval_run(golden=golden_new)), summarise(eval_run(golden=golden_old)), 0.02)
    assert [row["name"] for row in verdict["rows"] if row["refused"]] == ["golden.intent_macro_f1"]
    assert texts.GATE_NO_GOLDEN not in verdict["notes"]


def test_an_empty_golden_set_is_said_and_the_rest_is_gated() -> None:
    verdict = compare(summarise(eval_run()), summarise(eval_run()), 0.02)
    assert verdict["passed"] and texts.GATE_NO_GOLDEN in verdict["notes"]
    assert not any(row["name"].startswith("golden.") for row in verdict["rows"])


def test_per_intent_f1_side_by_side() -> None:
    verdict = compare(summarise(eval_run(per_intent={"greet": 0.9, "complain_delivery": 0.8})),
                      summarise(eval_run(per_intent={"greet": 1.0, "thank": 0.7})), 0.02)
    assert verdict["per_intent"] == [
        {"intent": "complain_delivery", "old": None, "new": 0.8, "support": 30},
        {"intent": "greet", "old": 1.0, "new": 0.9, "support": 30},
        {"intent": "thank", "old": 0.7, "new": None, "support": None}]


def test_changed_predictions_say_which_model_is_right() -> None:
    old = [prediction("بسته‌ام نرسیده", "greet", "complain_delivery"), prediction("ممنون", "thank", "thank"),
           prediction("سلام", "greet", "greet")]
    new = [prediction("بسته‌ام نرسیده", "complain_delivery", "complain_delivery"), prediction("ممنون", "greet", "thank"),
           prediction("سلام", "greet", "greet")]
    changed = changed_predictions(old, new)
    assert [(c["text"], c["old"], c["new"], c["verdict"]) for c in changed] == [
        ("ممنون", "thank", "greet", "worse"), ("بسته‌ام نرسیده", "greet", "complain_delivery", "better")]


# --- running the gate -----------------------------------------------------------------------

def test_the_gate_compares_with_production_and_stores_both_models_figures(
        evaluator: Evaluator, add_model: Callable[..., int], console_settings: Settings) -> None:
    old_predictions = [prediction("کی می‌رسه؟", "ask_status", "complain_delivery")]
    new_predictions = [prediction("کی می‌رسه؟", "complain_delivery", "complain_delivery")]
    production = add_model("hamdel-prod.tar.gz", ModelState.PRODUCTION, eval_run(macro=0.90), old_predictions)
    candidate = add_model("hamdel-console-2-x.tar.gz", ModelState.CANDIDATE, eval_run(macro=0.80), new_predictions)
    progress: list[float] = []
    verdict = run_gate(candidate, progress.append, evaluator=evaluator)
    assert not verdict["passed"] and verdict["production_id"] == production
    assert verdict["changed"][0]["verdict"] == "better"
    assert progress == sorted(progress) and progress[-1] < 1
    with session_scope() as session:
        stored = session.get(ModelVersion, candidate)
        assert stored is not None and stored.gate["passed"] is False
        assert stored.figures["headline"]["intent_macro_f1"] == 0.80
        prod = session.get(ModelVersion, production)
        assert prod is not None and prod.figures["headline"]["intent_macro_f1"] == 0.90


def test_production_figures_are_cached_by_model_file_until_the_golden_set_changes(
        evaluator: Evaluator, add_model: Callable[..., int], console_settings: Settings) -> None:
    models = Path(console_settings.models_dir)
    add_model("hamdel-prod.tar.gz", ModelState.PRODUCTION, eval_run())
    first = add_model("hamdel-console-1-a.tar.gz", ModelState.CANDIDATE, eval_run())
    second = add_model("hamdel-console-2-b.tar.gz", ModelState.CANDIDATE, eval_run())
    run_gate(first, evaluator=evaluator)
    run_gate(second, evaluator=evaluator)
    assert evaluations(models, "hamdel-prod.tar.gz") == 1
    golden = Path(console_settings.golden_set_path)
    golden.parent.mkdir(parents=True, exist_ok=True)
    golden.write_text(GOLDEN, encoding="utf-8")
    run_gate(second, evaluator=evaluator)
    assert evaluations(models, "hamdel-prod.tar.gz") == 2
    assert (models / "hamdel-prod.tar.gz.evaluated").read_text().splitlines()[-1] == "golden=True"


def test_without_production_the_candidate_passes_and_says_why(
        evaluator: Evaluator, add_model: Callable[..., int]) -> None:
    candidate = add_model("hamdel-console-1-a.tar.gz", ModelState.CANDIDATE, eval_run())
    verdict = run_gate(candidate, evaluator=evaluator)
    assert verdict["passed"] and texts.GATE_NO_PRODUCTION in verdict["notes"]


def test_the_max_drop_setting_is_read(evaluator: Evaluator, add_model: Callable[..., int],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_GATE_MAX_DROP", "0.2")
    get_settings.cache_clear()
    add_model("hamdel-prod.tar.gz", ModelState.PRODUCTION, eval_run(macro=0.90))
    candidate = add_model("hamdel-console-1-a.tar.gz", ModelState.CANDIDATE, eval_run(macro=0.80))
    assert run_gate(candidate, evaluator=evaluator)["passed"]


def test_an_evaluation_that_crashes_is_a_persian_error(evaluator: Evaluator, add_model: Callable[..., int],
                                                       console_settings: Settings) -> None:
    candidate = add_model("hamdel-console-1-a.tar.gz", ModelState.CANDIDATE, eval_run())
    (Path(console_settings.models_dir) / "hamdel-console-1-a.tar.gz").write_text("not json", encoding="utf-8")
    with pytest.raises(GateError) as refused:
        run_gate(candidate, evaluator=evaluator)
    assert "ارزیابی مدل hamdel-console-1-a.tar.gz انجام نشد" in str(refused.value)
