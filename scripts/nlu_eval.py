"""Evaluate a trained Hamdel NLU model on the fixed held-out files, and gate regressions.

Run in the Rasa environment (it loads the model in process; no server, no network):
    PYTHONPATH=. .venv-rasa/bin/python scripts/nlu_eval.py --model models/hamdel-<fp>.tar.gz
Options: --update-baseline (rewrite tests/nlu/baseline.json with this run's figures),
--max-drop 0.02 (the regression tolerance), --out results/nlu_eval.json (also spelt --json).
For the console's regression gate (console/gate.py), which compares two models: --golden FILE also
scores the golden set (Rasa NLU YAML, like the holdout) into the JSON's "golden" entry, and
--predictions FILE writes every clean message's prediction and whether it is right (message text:
keep that file out of the repository).

What it measures (definitions are the ones `docs/nlu.md` explains):
- intent macro-F1 and per-intent F1 on `tests/nlu/holdout.yml` (macro over the gold intents; a
  prediction of `nlu_fallback` counts as a miss);
- complaint vs not on `tests/nlu/reviews.yml`: a message is taken for a complaint when the predicted
  intent is a `complain_*` intent or `request_resolution`;
- the false complaint/status/person rate on `tests/nlu/not_complaints.yml`: predicted `complain_*`,
  `request_resolution`, `ask_status` or `request_human`;
- category accuracy among gold complaints with a category (holdout `complain_*` + reviews): the
  predicted intent must be exactly `complain_<category>`;
- entity precision/recall for order_id, phone, ticket_id, resolution on the holdout, comparing
  (entity, value) pairs after Hamdel's normalisation, so offsets and digit scripts do not matter;
- every figure again on a perturbed copy made here, deterministically (Arabic ي/ك, missing half-spaces,
  Latin/Arabic-Indic/Persian digits swapped, an emoji appended, and every fifth message rewritten in
  Finglish), and the perturbation gap (the largest drop of a headline figure);
- in-process parse latency (p50/p95) and the process's peak resident memory.

The exit code is 1 when a gated figure is worse than `tests/nlu/baseline.json` by more than
--max-drop (the regression gate CI runs); per-intent F1 (about thirty messages each, so one message moves
it by about 0.03) and per-entity precision/recall (a few values each) are printed and stored but gated
only with --strict; the overall entity precision and recall are always gated. Targets from issue 8 are
printed beside each figure; missing a target does not fail the run (they are a benchmark).
The printed table contains no message text; `results/nlu_eval.json` lists the misclassified
held-out messages for error analysis.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import statistics
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

COMPLAINT_INTENTS_EXTRA = {"request_resolution"}
FALSE_ALARM_EXTRA = {"request_resolution", "ask_status", "request_human"}
GATED_ENTITIES = ("order_id", "phone", "ticket_id", "resolution")
HEADLINE = ("intent_macro_f1", "complaint_accuracy", "false_complaint_rate", "category_accuracy", "entity_recall")
LOWER_IS_BETTER = {"false_complaint_rate", "perturbation_gap", "parse_p50_ms", "parse_p95_ms", "rss_mb"}
# Figures that depend on the machine's load, not on the model: printed, never gated.
NOT_GATED = {"parse_p50_ms", "parse_p95_ms", "rss_mb"}
TARGETS: Dict[str, Tuple[str, float]] = {
    "complaint_accuracy": (">=", 0.90),
    "false_complaint_rate": ("<=", 0.03),
    "intent_macro_f1": (">=", 0.92),
    "category_accuracy": (">=", 0.85),
    "entity_recall": (">=", 0.90),
    "perturbation_gap": ("<=", 0.02),
    "parse_p50_ms": ("<=", 15.0),
    "rss_mb": ("<=", 1300.0),
}


# ---------------------------------------------------------------------------------------------
# Held-out files


@dataclass
class Example:
    text: str
    intent: Optional[str] = None  # holdout only
    complaint: Optional[bool] = None  # reviews only
    category: Optional[str] = None  # complaint category, when known
    domain: Optional[str] = None  # not_complaints only
    entities: List[Tuple[str, str]] = field(default_factory=list)  # (entity, value)


def is_complaint(intent: Optional[str]) -> bool:
    return bool(intent) and (intent.startswith("complain_") or intent in COMPLAINT_INTENTS_EXTRA)


def is_false_alarm(intent: Optional[str]) -> bool:
    return bool(intent) and (intent.startswith("complain_") or intent in FALSE_ALARM_EXTRA)


def load_holdout(path: Path) -> List[Example]:
    """Rasa NLU YAML with annotated entities, read by Rasa's own reader."""
    from rasa.shared.nlu.training_data.loading import load_data

    data = load_data(str(path))
    examples = []
    for message in data.intent_examples:
        intent = message.get("intent")
        entities = [(e["entity"], str(e["value"])) for e in message.get("entities") or []]
        category = intent.split("_", 1)[1] if intent.startswith("complain_") else None
        examples.append(Example(text=message.get("text"), intent=intent, category=category, entities=entities))
    return examples


def _records(path: Path) -> List[Dict[str, Any]]:
    """`- text: …` records, either a top-level list or the one list under a top-level key."""
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if isinstance(data, dict):
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) != 1:
            raise ValueError(f"{path}: expected one list of records")
        data = lists[0]
    if not isinstance(data, list) or not all(isinstance(r, dict) and "text" in r for r in data):
        raise ValueError(f"{path}: expected a list of records with a 'text' field")
    return data


def load_reviews(path: Path) -> List[Example]:
    examples = []
    for r in _records(path):
        complaint = bool(r["complaint"])
        examples.append(Example(text=str(r["text"]), complaint=complaint, category=r.get("category") if complaint else None))
    return examples


def load_not_complaints(path: Path) -> List[Example]:
    return [Example(text=str(r["text"]), domain=r.get("domain")) for r in _records(path)]


# ---------------------------------------------------------------------------------------------
# Perturbation (deterministic: depends only on the text and its position in the file)

_ARABIC_LETTERS = str.maketrans({"ی": "ي", "ک": "ك"})
_TO_ARABIC_INDIC = str.maketrans("0123456789۰۱۲۳۴۵۶۷۸۹", "٠١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦٧٨٩")
_TO_LATIN = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")
_TO_PERSIAN = str.maketrans("0123456789٠١٢٣٤٥٦٧٨٩", "۰۱۲۳۴۵۶۷۸۹۰۱۲۳۴۵۶۷۸۹")
_EMOJI = ("🙏", "😐", "🤔", "👀", "😶", "📦")  # appended in turn; none of them says praise or anger
_FINGLISH = {
    "ا": "a", "آ": "a", "أ": "a", "إ": "e", "ب": "b", "پ": "p", "ت": "t", "ث": "s", "ج": "j", "چ": "ch",
    "ح": "h", "خ": "kh", "د": "d", "ذ": "z", "ر": "r", "ز": "z", "ژ": "zh", "س": "s", "ش": "sh", "ص": "s",
    "ض": "z", "ط": "t", "ظ": "z", "ع": "a", "غ": "gh", "ف": "f", "ق": "gh", "ک": "k", "ك": "k", "گ": "g",
    "ل": "l", "م": "m", "ن": "n", "ء": "", "ئ": "y", "ؤ": "o", "ة": "e", "؟": "?", "،": ",", "؛": ";",
    "«": '"', "»": '"', "\u200c": "", "ه": "h",
}


_VOWEL_LETTERS = set("اآأإوؤیيىعئ")
# Word-final consonant pairs that people type without a vowel between them (ast, dast, kard, goft).
_FINAL_CLUSTERS = {"st", "sht", "nd", "rd", "ft", "kht", "rt", "zd", "nt", "rm", "shk"}


def _finglish_word(word: str) -> str:
    """Persian script → the Latin spelling people type on a phone without a Persian keyboard.

    Short vowels are not written in Persian, so they are guessed the way people often type them:
    و is "v" at the start of a word and "o"/"oo" elsewhere, ی is "y" at the start and "i" elsewhere,
    a final ه is "e", and two consonants in a row get an "e" between them unless they end the word
    as a common cluster («سفارش» → "sefaresh", «است» → "ast"). Real Finglish varies more; this is a
    fixed, reproducible approximation.
    """
    out: List[str] = []
    for i, ch in enumerate(word):
        last = i == len(word) - 1
        if ch == "و":
            piece = "v" if i == 0 else ("o" if last else "oo")
        elif ch in "یيى":
            piece = "y" if i == 0 else "i"
        elif ch == "ه":
            piece = "e" if last and i > 0 else "h"
        else:
            piece = _FINGLISH.get(ch, ch)
        previous = word[i - 1] if i else ""
        both_consonants = (previous and previous in _FINGLISH and ch in _FINGLISH and previous not in _VOWEL_LETTERS
                           and ch not in _VOWEL_LETTERS and ch != "\u200c" and previous != "\u200c")
        if both_consonants and piece[:1] not in "aeiou" and not (last and (_FINGLISH[previous] + piece) in _FINAL_CLUSTERS):
            out.append("e")
        out.append(piece)
    return "".join(out)


def to_finglish(text: str) -> str:
    return " ".join(_finglish_word(w) for w in text.split(" "))


def perturb(text: str, index: int) -> str:
    """One noisy rewrite of a message, chosen by its position so the copy is reproducible."""
    if index % 5 == 0:
        text = to_finglish(text.translate(_TO_LATIN))
    else:
        text = text.translate(_ARABIC_LETTERS)
        text = text.replace("\u200c", "" if index % 2 else " ")
        text = text.translate((_TO_LATIN, _TO_ARABIC_INDIC, _TO_PERSIAN)[index % 3])
    return f"{text} {_EMOJI[index % len(_EMOJI)]}"


# ---------------------------------------------------------------------------------------------
# Prediction


class Parser:
    """Loads the model once in process and parses messages the way the Rasa server does."""

    def __init__(self, model: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TensorFlow, SQLAlchemy and matplotlib deprecations
            from rasa.core.agent import Agent

            self.agent = Agent.load(str(model))
        warnings.simplefilter("ignore")  # importing Rasa resets the filters _quiet set
        self.loop = asyncio.new_event_loop()
        self.cache: Dict[str, Dict[str, Any]] = {}
        self.seconds: List[float] = []

    def parse(self, text: str) -> Dict[str, Any]:
        if text not in self.cache:
            start = time.perf_counter()
            self.cache[text] = self.loop.run_until_complete(self.agent.parse_message(text))
            self.seconds.append(time.perf_counter() - start)
        return self.cache[text]


@dataclass
class Predicted:
    intent: Optional[str]
    confidence: float
    entities: List[Tuple[str, str]]


def predict(parser: Parser, text: str) -> Predicted:
    result = parser.parse(text)
    intent = (result.get("intent") or {}).get("name")
    confidence = float((result.get("intent") or {}).get("confidence") or 0.0)
    entities = [(e["entity"], str(e.get("value"))) for e in result.get("entities") or []]
    return Predicted(intent, confidence, entities)


# ---------------------------------------------------------------------------------------------
# Figures


def _ratio(numerator: float, denominator: float) -> Optional[float]:
    return numerator / denominator if denominator else None


def _f1(precision: Optional[float], recall: Optional[float]) -> Optional[float]:
    if precision is None or recall is None:
        return None
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def _entity_key(entity: str, value: str) -> str:
    """An entity value as the actions read it: numbers by their digits (actions/status.py takes the
    six digits of `hm- 482917`), other values by their normalised text. Empty means "nothing read"."""
    from hamdel.persian import normalize, to_ascii_digits

    text = to_ascii_digits(normalize(value))
    digits = "".join(ch for ch in text if ch.isdigit())
    if entity == "ticket_id":
        return f"hm-{digits}" if len(digits) == 6 else ""
    if entity == "phone":
        return digits[-10:]
    if entity == "order_id":
        return digits
    return text.replace(" ", "").lower()


def score(
    holdout: List[Example],
    reviews: List[Example],
    not_complaints: List[Example],
    predict_text: Callable[[str], Predicted],
) -> Tuple[Dict[str, Optional[float]], Dict[str, Any], Dict[str, List[Dict[str, Any]]]]:
    """All figures for one copy of the held-out files: (headline figures, details, errors)."""
    figures: Dict[str, Optional[float]] = {}
    details: Dict[str, Any] = {}
    errors: Dict[str, List[Dict[str, Any]]] = {"holdout": [], "reviews": [], "not_complaints": []}
    category_hits = category_total = 0

    if holdout:
        from sklearn.metrics import precision_recall_fscore_support

        gold = [e.intent for e in holdout]
        preds = [predict_text(e.text) for e in holdout]
        labels = sorted(set(gold))
        predicted = [p.intent or "none" for p in preds]
        _, _, f1s, support = precision_recall_fscore_support(gold, predicted, labels=labels, zero_division=0)
        figures["intent_macro_f1"] = float(sum(f1s) / len(f1s))
        details["per_intent_f1"] = {label: round(float(f), 4) for label, f in zip(labels, f1s, strict=True)}
        details["per_intent_support"] = {label: int(s) for label, s in zip(labels, support, strict=True)}
        figures["intent_accuracy"] = sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(gold)
        for example, pred in zip(holdout, preds, strict=True):
            if example.intent != pred.intent:
                errors["holdout"].append({"text": example.text, "gold": example.intent, "predicted": pred.intent, "confidence": round(pred.confidence, 3)})
            if example.category:
                category_total += 1
                category_hits += pred.intent == f"complain_{example.category}"
        entity_counts: Dict[str, Dict[str, int]] = {name: {"tp": 0, "gold": 0, "predicted": 0} for name in GATED_ENTITIES}
        for example, pred in zip(holdout, preds, strict=True):
            gold_pairs = [(n, _entity_key(n, v)) for n, v in example.entities if n in GATED_ENTITIES]
            # The regex extractor and DIET often report the same id: one finding, as the actions read it.
            pred_pairs = list(dict.fromkeys(
                (n, key) for n, v in pred.entities if n in GATED_ENTITIES and (key := _entity_key(n, v))))
            remaining = list(pred_pairs)
            for pair in gold_pairs:
                entity_counts[pair[0]]["gold"] += 1
                if pair in remaining:
                    remaining.remove(pair)
                    entity_counts[pair[0]]["tp"] += 1
            for pair in pred_pairs:
                entity_counts[pair[0]]["predicted"] += 1
            if sorted(gold_pairs) != sorted(pred_pairs):
                errors["holdout"].append({"text": example.text, "gold_entities": gold_pairs, "predicted_entities": pred_pairs})
        details["entities"] = {}
        for name, c in entity_counts.items():
            p, r = _ratio(c["tp"], c["predicted"]), _ratio(c["tp"], c["gold"])
            details["entities"][name] = {"precision": p, "recall": r, "support": c["gold"]}
            figures[f"entity.{name}.recall"] = r
            figures[f"entity.{name}.precision"] = p
        tp = sum(c["tp"] for c in entity_counts.values())
        figures["entity_recall"] = _ratio(tp, sum(c["gold"] for c in entity_counts.values()))
        figures["entity_precision"] = _ratio(tp, sum(c["predicted"] for c in entity_counts.values()))

    if reviews:
        tp = fp = fn = tn = 0
        for example in reviews:
            pred = predict_text(example.text)
            said = is_complaint(pred.intent)
            tp += said and example.complaint
            fp += said and not example.complaint
            fn += (not said) and example.complaint
            tn += (not said) and not example.complaint
            if said != example.complaint:
                errors["reviews"].append({"text": example.text, "complaint": example.complaint, "predicted": pred.intent, "confidence": round(pred.confidence, 3)})
            if example.complaint and example.category:
                category_total += 1
                category_hits += pred.intent == f"complain_{example.category}"
        figures["complaint_accuracy"] = (tp + tn) / len(reviews)
        figures["complaint_precision"] = _ratio(tp, tp + fp)
        figures["complaint_recall"] = _ratio(tp, tp + fn)
        details["complaint_confusion"] = {"tp": tp, "fp": fp, "fn": fn, "tn": tn}

    if not_complaints:
        alarms = 0
        by_domain: Dict[str, List[int]] = {}
        for example in not_complaints:
            pred = predict_text(example.text)
            alarm = is_false_alarm(pred.intent)
            alarms += alarm
            by_domain.setdefault(example.domain or "-", [0, 0])
            by_domain[example.domain or "-"][0] += alarm
            by_domain[example.domain or "-"][1] += 1
            if alarm:
                errors["not_complaints"].append({"text": example.text, "domain": example.domain, "predicted": pred.intent, "confidence": round(pred.confidence, 3)})
        figures["false_complaint_rate"] = alarms / len(not_complaints)
        details["false_alarm_by_domain"] = {d: round(a / n, 4) for d, (a, n) in sorted(by_domain.items())}

    figures["category_accuracy"] = _ratio(category_hits, category_total)
    details["category_support"] = category_total
    return figures, details, errors


def perturbed(examples: List[Example]) -> List[Example]:
    return [Example(**{**e.__dict__, "text": perturb(e.text, i)}) for i, e in enumerate(examples)]


def perturbation_gap(clean: Dict[str, Optional[float]], noisy: Dict[str, Optional[float]]) -> Optional[float]:
    """The largest drop of a headline figure from the clean to the perturbed copy."""
    drops = []
    for name in HEADLINE:
        a, b = clean.get(name), noisy.get(name)
        if a is None or b is None:
            continue
        drops.append(b - a if name in LOWER_IS_BETTER else a - b)
    return max(drops) if drops else None


def score_golden(path: Path, predict_text: Callable[[str], Predicted]) -> Dict[str, Any]:
    """The golden set's figures (scored like the holdout), or why there are none."""
    examples = load_holdout(path) if path.exists() and path.read_text(encoding="utf-8").strip() else []
    if not examples:
        return {"count": 0, "figures": {}, "details": {}, "examples": []}
    figures, details, _ = score(examples, [], [], predict_text)
    return {"count": len(examples), "figures": figures, "details": details, "examples": examples}


def write_predictions(path: Path, data: Dict[str, List[Example]], golden: List[Example],
                      predict_text: Callable[[str], Predicted]) -> None:
    """One record per clean message: its file, text, expected answer, prediction and whether it is
    right by this script's rules, so two models' answers can be compared message by message."""
    records = []
    for name, examples in (*data.items(), ("golden", golden)):
        for example in examples:
            pred = predict_text(example.text)
            if example.intent is not None:
                expected: Any = example.intent
                right = pred.intent == example.intent
            elif example.complaint is not None:
                expected = "complaint" if example.complaint else "not_complaint"
                right = is_complaint(pred.intent) == example.complaint
            else:
                expected = "not_complaint"
                right = not is_false_alarm(pred.intent)
            records.append({"set": name, "text": example.text, "expected": expected, "predicted": pred.intent,
                            "confidence": round(pred.confidence, 4), "right": right})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records, ensure_ascii=False, indent=1), encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# Report, baseline and gate


def flatten(run: Dict[str, Any]) -> Dict[str, Optional[float]]:
    flat: Dict[str, Optional[float]] = {}
    for copy in ("clean", "perturbed"):
        for name, value in run[copy]["figures"].items():
            flat[f"{copy}.{name}"] = value
        for intent, value in run[copy]["details"].get("per_intent_f1", {}).items():
            flat[f"{copy}.intent_f1.{intent}"] = value
    for name in ("perturbation_gap", "parse_p50_ms", "parse_p95_ms", "rss_mb"):
        flat[name] = run.get(name)
    return flat


def _base_name(key: str) -> str:
    return key.split(".", 1)[1] if key.startswith(("clean.", "perturbed.")) else key


def _small_support(key: str) -> bool:
    """Per-intent F1 (about 30 messages each) and per-entity figures (3 to 30 values each): one
    message moves them by 0.03 to 0.3, so they are gated only with --strict."""
    return ".intent_f1." in f".{key}" or _base_name(key).startswith("entity.")


def regressions(current: Dict[str, Optional[float]], baseline: Dict[str, Optional[float]], max_drop: float, strict: bool) -> List[str]:
    problems = []
    for key, old in sorted(baseline.items()):
        name = _base_name(key)
        if old is None or name in NOT_GATED or (_small_support(key) and not strict):
            continue
        new = current.get(key)
        if new is None:
            problems.append(f"{key}: missing now (baseline {old:.3f})")
            continue
        worse = (new - old) if name in LOWER_IS_BETTER else (old - new)
        if worse > max_drop + 1e-9:
            problems.append(f"{key}: {new:.3f} vs baseline {old:.3f} (worse by {worse:.3f} > {max_drop})")
    return problems


def _fmt(value: Optional[float], ms: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if ms else f"{value:.3f}"


def _target(name: str, value: Optional[float]) -> str:
    if name not in TARGETS:
        return ""
    op, goal = TARGETS[name]
    shown = f"{op} {goal:g}"
    if value is None:
        return f"{shown:<9} n/a"
    met = value >= goal if op == ">=" else value <= goal
    return f"{shown:<9} {'met' if met else 'NOT MET'}"


def print_report(run: Dict[str, Any], baseline: Dict[str, Optional[float]]) -> None:
    clean, noisy = run["clean"]["figures"], run["perturbed"]["figures"]
    rows = [
        ("intent macro-F1 (holdout)", "intent_macro_f1"),
        ("intent accuracy (holdout)", "intent_accuracy"),
        ("complaint-vs-not accuracy (reviews)", "complaint_accuracy"),
        ("  complaint precision", "complaint_precision"),
        ("  complaint recall", "complaint_recall"),
        ("false complaint/status/person rate", "false_complaint_rate"),
        ("category accuracy among complaints", "category_accuracy"),
        ("entity recall (4 gated entities)", "entity_recall"),
        ("entity precision (4 gated entities)", "entity_precision"),
    ] + [(f"  {e} recall / precision", f"entity.{e}") for e in GATED_ENTITIES]
    print(f"model: {run['model']}")
    print(f"messages: holdout {run['counts']['holdout']}, reviews {run['counts']['reviews']}, "
          f"not_complaints {run['counts']['not_complaints']} (each also perturbed)")
    print()
    print(f"{'figure':<38}{'clean':>8}{'perturbed':>11}{'baseline':>10}   target")
    print("-" * 86)
    for label, name in rows:
        if name.startswith("entity."):
            c = f"{_fmt(clean.get(name + '.recall'))}/{_fmt(clean.get(name + '.precision'))}"
            n = f"{_fmt(noisy.get(name + '.recall'))}/{_fmt(noisy.get(name + '.precision'))}"
            b = _fmt(baseline.get(f"clean.{name}.recall"))
            print(f"{label:<38}{c:>13}{n:>13}{b:>8}")
            continue
        b = _fmt(baseline.get(f"clean.{name}"))
        print(f"{label:<38}{_fmt(clean.get(name)):>8}{_fmt(noisy.get(name)):>11}{b:>10}   {_target(name, clean.get(name))}")
    print(f"{'perturbation gap (largest drop)':<38}{_fmt(run['perturbation_gap']):>8}{'':>11}{_fmt(baseline.get('perturbation_gap')):>10}   {_target('perturbation_gap', run['perturbation_gap'])}")
    print(f"{'parse latency p50 / p95 (ms, in process)':<38}{_fmt(run['parse_p50_ms'], True):>8}{_fmt(run['parse_p95_ms'], True):>11}{'':>10}   {_target('parse_p50_ms', run['parse_p50_ms'])}")
    print(f"{'peak resident memory (MB)':<38}{_fmt(run['rss_mb'], True):>8}{'':>11}{'':>10}   {_target('rss_mb', run['rss_mb'])}")
    per_intent = run["clean"]["details"].get("per_intent_f1", {})
    if per_intent:
        noisy_intent = run["perturbed"]["details"].get("per_intent_f1", {})
        support = run["clean"]["details"]["per_intent_support"]
        print()
        print(f"{'intent':<24}{'F1':>7}{'perturbed':>11}{'baseline':>10}{'support':>9}")
        for intent, f1 in sorted(per_intent.items(), key=lambda kv: (-kv[1], kv[0])):
            print(f"{intent:<24}{f1:>7.3f}{_fmt(noisy_intent.get(intent)):>11}{_fmt(baseline.get(f'clean.intent_f1.{intent}')):>10}{support[intent]:>9}")
    domains = run["clean"]["details"].get("false_alarm_by_domain")
    if domains:
        print()
        print("false complaint/status/person rate by domain: " + ", ".join(f"{d} {r:.2f}" for d, r in domains.items()))


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Evaluate a Hamdel NLU model on the held-out files.")
    parser.add_argument("--model", type=Path, help="model archive (default: the newest models/*.tar.gz)")
    parser.add_argument("--holdout", type=Path, default=REPO / "tests/nlu/holdout.yml")
    parser.add_argument("--reviews", type=Path, default=REPO / "tests/nlu/reviews.yml")
    parser.add_argument("--not-complaints", type=Path, default=REPO / "tests/nlu/not_complaints.yml")
    parser.add_argument("--baseline", type=Path, default=REPO / "tests/nlu/baseline.json")
    parser.add_argument("--out", "--json", type=Path, default=REPO / "results/nlu_eval.json")
    parser.add_argument("--golden", type=Path, help="also score this golden set (Rasa NLU YAML); skipped when missing or empty")
    parser.add_argument("--predictions", type=Path, help="write each clean message's prediction here (JSON)")
    parser.add_argument("--max-drop", type=float, default=0.02)
    parser.add_argument("--strict", action="store_true", help="gate per-intent F1 too")
    parser.add_argument("--update-baseline", action="store_true")
    args = parser.parse_args(argv)

    model = args.model or max((REPO / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime, default=None)
    if model is None or not Path(model).exists():
        print("no trained model: pass --model or run `make train`")
        return 2

    files = {"holdout": (args.holdout, load_holdout), "reviews": (args.reviews, load_reviews), "not_complaints": (args.not_complaints, load_not_complaints)}
    data: Dict[str, List[Example]] = {}
    for name, (path, loader) in files.items():
        data[name] = loader(path) if path.exists() else []
        if not path.exists():
            print(f"note: {path.relative_to(REPO) if path.is_relative_to(REPO) else path} is missing; its figures are skipped")

    parse = Parser(Path(model))
    run: Dict[str, Any] = {"model": Path(model).name, "counts": {k: len(v) for k, v in data.items()}}
    predict_text = lambda text: predict(parse, text)  # noqa: E731
    for copy, transform in (("clean", lambda xs: xs), ("perturbed", perturbed)):
        figures, details, errors = score(transform(data["holdout"]), transform(data["reviews"]), transform(data["not_complaints"]), predict_text)
        run[copy] = {"figures": figures, "details": details, "errors": errors}
        if copy == "clean":
            timings = sorted(parse.seconds)
    # The top of each ranking, so a FallbackClassifier threshold can be studied without retraining.
    run["rankings"] = {text: [[r["name"], round(float(r["confidence"]), 4)] for r in (result.get("intent_ranking") or [])[:4]]
                       for text, result in parse.cache.items()}
    golden: List[Example] = []
    if args.golden is not None:
        run["golden"] = score_golden(args.golden, predict_text)
        golden = run["golden"].pop("examples")
    if args.predictions is not None:
        write_predictions(args.predictions, data, golden, predict_text)
    run["perturbation_gap"] = perturbation_gap(run["clean"]["figures"], run["perturbed"]["figures"])
    run["parse_p50_ms"] = 1000 * statistics.median(timings) if timings else None
    run["parse_p95_ms"] = 1000 * timings[int(0.95 * (len(timings) - 1))] if timings else None
    run["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    baseline: Dict[str, Optional[float]] = {}
    if args.baseline.exists():
        baseline = json.loads(args.baseline.read_text(encoding="utf-8"))["figures"]
    print()
    print_report(run, baseline)

    current = flatten(run)
    run["flat"] = current
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(run, ensure_ascii=False, indent=1, default=float), encoding="utf-8")
    print(f"\ndetails and misclassified messages: {args.out.relative_to(REPO) if args.out.is_relative_to(REPO) else args.out}")

    if args.update_baseline:
        stored = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in current.items() if _base_name(k) not in NOT_GATED}
        args.baseline.write_text(json.dumps({"model": run["model"], "max_drop": args.max_drop, "figures": stored}, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        print(f"baseline rewritten: {args.baseline.relative_to(REPO) if args.baseline.is_relative_to(REPO) else args.baseline}")
        return 0
    if not baseline:
        print("no baseline yet: run with --update-baseline to create it")
        return 0
    problems = regressions(current, baseline, args.max_drop, args.strict)
    if problems:
        print(f"\nREGRESSION: {len(problems)} figure(s) worse than the baseline by more than {args.max_drop}:")
        for line in problems:
            print(f"  {line}")
        return 1
    print(f"\nno figure is worse than the baseline by more than {args.max_drop}")
    return 0


def _quiet() -> None:
    """Rasa and TensorFlow talk a lot on import; the table is what this script is for."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    warnings.filterwarnings("ignore")
    warnings.showwarning = lambda *args, **kwargs: None  # importing Rasa resets the filters
    logging.disable(logging.WARNING)
    import structlog  # Rasa's own debug lines (one per parsed message, with its text) go through structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


if __name__ == "__main__":
    _quiet()
    sys.exit(main())
