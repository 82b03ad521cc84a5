"""The evaluation's own rules (scripts/nlu_eval.py): what counts as a complaint, how the perturbed
copy is made, and when the regression gate fails. Pure functions: they run in `.venv`."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("nlu_eval", ROOT / "scripts" / "nlu_eval.py")
nlu_eval = importlib.util.module_from_spec(_spec)
sys.modules["nlu_eval"] = nlu_eval  # dataclasses look their module up by name
_spec.loader.exec_module(nlu_eval)

ZWNJ = "\u200c"


@pytest.mark.parametrize("intent", ["complain_delivery", "complain_billing", "request_resolution"])
def test_complaint_intents(intent: str) -> None:
    assert nlu_eval.is_complaint(intent)
    assert nlu_eval.is_false_alarm(intent)


@pytest.mark.parametrize("intent", ["ask_status", "request_human"])
def test_status_and_person_are_false_alarms_but_not_complaints(intent: str) -> None:
    assert not nlu_eval.is_complaint(intent)
    assert nlu_eval.is_false_alarm(intent)


@pytest.mark.parametrize("intent", ["praise", "out_of_scope", "nlu_fallback", "thank", None])
def test_other_intents_are_neither(intent: str | None) -> None:
    assert not nlu_eval.is_complaint(intent)
    assert not nlu_eval.is_false_alarm(intent)


def test_perturbation_is_deterministic_and_changes_every_message() -> None:
    texts = [f"سفارش{ZWNJ}های کیک ۱۲۳{i}" for i in range(10)]
    once = [nlu_eval.perturb(t, i) for i, t in enumerate(texts)]
    assert once == [nlu_eval.perturb(t, i) for i, t in enumerate(texts)]
    assert all(a != b for a, b in zip(texts, once, strict=True))


def test_perturbation_covers_each_kind_of_noise() -> None:
    text = f"می{ZWNJ}خواهم کیک سفارش ۱۲۳ را پس بدهم"
    variants = [nlu_eval.perturb(text, i) for i in range(1, 5)]
    assert any("ي" in v and "ك" in v for v in variants)
    assert all(ZWNJ not in v for v in variants)
    assert any("123" in v for v in variants) and any("١٢٣" in v for v in variants)
    finglish = nlu_eval.perturb(text, 0)
    assert finglish.isascii() is False  # the emoji
    assert all(ord(ch) < 0x600 or ord(ch) > 0x6FF for ch in finglish)  # no Persian letter left


def test_finglish_reads_like_what_people_type() -> None:
    assert nlu_eval.to_finglish("پیک") == "pik"
    assert nlu_eval.to_finglish("خوبه") == "khoobe"


def test_gate_fails_only_beyond_the_tolerance() -> None:
    baseline = {"clean.intent_macro_f1": 0.90, "clean.false_complaint_rate": 0.05, "parse_p50_ms": 10.0}
    fine = {"clean.intent_macro_f1": 0.885, "clean.false_complaint_rate": 0.065, "parse_p50_ms": 99.0}
    assert nlu_eval.regressions(fine, baseline, 0.02, strict=False) == []
    worse = {"clean.intent_macro_f1": 0.87, "clean.false_complaint_rate": 0.08, "parse_p50_ms": 10.0}
    problems = nlu_eval.regressions(worse, baseline, 0.02, strict=False)
    assert [p.split(":")[0] for p in problems] == ["clean.false_complaint_rate", "clean.intent_macro_f1"]


def test_a_figure_that_disappears_fails_the_gate() -> None:
    assert nlu_eval.regressions({}, {"clean.complaint_accuracy": 0.9}, 0.02, strict=False)


def test_per_intent_f1_is_gated_only_when_strict() -> None:
    baseline, current = {"clean.intent_f1.greet": 1.0}, {"clean.intent_f1.greet": 0.8}
    assert nlu_eval.regressions(current, baseline, 0.02, strict=False) == []
    assert nlu_eval.regressions(current, baseline, 0.02, strict=True)


def test_perturbation_gap_is_the_largest_drop() -> None:
    clean = {"intent_macro_f1": 0.9, "complaint_accuracy": 0.9, "false_complaint_rate": 0.02}
    noisy = {"intent_macro_f1": 0.88, "complaint_accuracy": 0.91, "false_complaint_rate": 0.07}
    assert nlu_eval.perturbation_gap(clean, noisy) == pytest.approx(0.05)


def test_entity_values_are_read_as_the_actions_read_them() -> None:
    pytest.importorskip("hazm")
    assert nlu_eval._entity_key("ticket_id", "HM- ۴۸۲۹۱۷") == "hm-482917"
    assert nlu_eval._entity_key("ticket_id", "HM") == ""
    assert nlu_eval._entity_key("phone", "+98 912 123 4567") == "9121234567"
    assert nlu_eval._entity_key("resolution", "refund") == "refund"


def test_per_entity_figures_are_gated_only_when_strict_but_the_totals_always() -> None:
    baseline = {"clean.entity.phone.recall": 1.0, "clean.entity_recall": 0.9}
    current = {"clean.entity.phone.recall": 0.667, "clean.entity_recall": 0.9}
    assert nlu_eval.regressions(current, baseline, 0.02, strict=False) == []
    assert nlu_eval.regressions(current, baseline, 0.02, strict=True)
    assert nlu_eval.regressions({**current, "clean.entity_recall": 0.85}, baseline, 0.02, strict=False)
