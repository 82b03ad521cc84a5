"""The polite «no, but» and every sentence built from config/policy.yml read cleanly, for every
policy entry and every complaint category: no empty slot, no brackets, no doubled word, and only
alternatives the policy allows for that category (each one a button)."""
from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk.events import SlotSet

from actions.remedies import alternative_payload, decision_events
from hamdel.policy import load_policy

ROOT = Path(__file__).resolve().parents[1]
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
POLICY = load_policy(ROOT / "config" / "policy.yml")
CATEGORIES = ("delivery", "product", "billing", "staff", "service")
WISHES = (*POLICY.remedies, None)  # None: a wish in the customer's words that the policy does not list
FREE_WISH = "می‌خوام مدیرتون شخصاً زنگ بزنه"
_SLOT = re.compile(r"\{(\w+)\}")


def slots_of(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def chosen(response: str, slots: dict[str, Any]) -> list[dict[str, Any]]:
    """The variations Rasa could choose for these slots (conditional ones first, as Rasa does)."""
    all_ = DOMAIN["responses"][response]
    matching = [v for v in all_ if v.get("condition") and
                all(slots.get(c["name"]) == c["value"] for c in v["condition"])]
    return matching or [v for v in all_ if not v.get("condition")]


def variations(response: str, slots: dict[str, Any]) -> list[str]:
    return [v["text"] for v in chosen(response, slots)]


def render(template: str, slots: dict[str, Any]) -> str:
    return _SLOT.sub(lambda m: str(slots.get(m.group(1))), template)


def problems(sentence: str) -> list[str]:
    found = []
    if "None" in sentence or "{" in sentence or "}" in sentence:
        found.append("empty slot")
    if re.search(r"\(\s*\)|«\s*»|\(\s*«", sentence):
        found.append("empty or stray brackets")
    if "  " in sentence or " ." in sentence or " ،" in sentence or ".." in sentence:
        found.append("broken spacing or punctuation")
    words = re.findall(r"[^\s«».،؛:?؟!()]+", sentence)
    doubled = [a for a, b in itertools.pairwise(words) if a == b]
    if doubled:
        found.append(f"doubled word {doubled}")
    for banned in ("صادقانه", "بی‌پرده", "است که", "برمی‌آید"):
        if banned in sentence:
            found.append(f"off-register or doubting word «{banned}»")
    return found


@pytest.mark.parametrize("category", CATEGORIES)
@pytest.mark.parametrize("wish", WISHES, ids=lambda w: w or "unlisted")
def test_the_answer_to_every_wish_reads_cleanly_in_every_category(wish: str | None, category: str) -> None:
    decision = POLICY.decide(wish, category)
    words = None if wish else FREE_WISH
    slots = slots_of(decision_events(decision, wish_words=words, policy=POLICY))
    if decision.allowed:
        summary_slots = {**slots, "ticket_number": "HM-123456", "reflection": "سفارشتون نرسیده.",
                         "followup_time": "یکشنبه ۲ آذر ۱۴۰۵، ساعت ۱۴:۳۰"}
        rendered = [render(t, summary_slots) for t in variations("utter_ticket_summary", summary_slots)]
        ask = {"wish_known": True, "remedy_label": slots["remedy_label"]}
        rendered += [render(t, ask) for t in variations("utter_ask_remedy", ask)]
    else:
        rendered = [render(t, slots) for t in variations("utter_remedy_declined", slots)]
        assert rendered, f"no «no, but» sentence for {wish} / {category}"
        for sentence in rendered:
            assert "قدردانی می‌کنم، اما" in sentence and "کاری که از دستم برمیاد اینه که" in sentence
        offered = [a.name for a in decision.alternatives]
        assert all(POLICY.remedies[n].applies_to(category) and n != wish for n in offered)
        expected = [{"title": POLICY.remedies[n].label, "payload": "/affirm" if i == 0 else alternative_payload(n)}
                    for i, n in enumerate(offered[:3])]
        for variation in chosen("utter_remedy_declined", slots):
            buttons = [{"title": render(b["title"], slots), "payload": render(b["payload"], slots)}
                       for b in variation["buttons"]]
            assert buttons[:len(expected)] == expected
            assert all(problems(b["title"]) == [] for b in buttons)
        for sentence in rendered:
            for name, remedy in POLICY.remedies.items():
                if f"«{remedy.label}»" in sentence and name not in offered and name != wish:
                    pytest.fail(f"«{remedy.label}» offered but not allowed: {sentence}")
    for sentence in rendered:
        assert problems(sentence) == [], sentence


def test_every_policy_text_is_in_the_spoken_register() -> None:
    texts = [r.promise for r in POLICY.remedies.values()] + [r.reason for r in POLICY.remedies.values()]
    texts += [POLICY.unlisted_reason, POLICY.review_promise, POLICY.no_wish_promise]
    formal = ("می‌شود", "می‌گیرد", "برمی‌گردد", "برایتان", "حسابتان", "شما را", "است.", "باشد")
    for text in filter(None, texts):
        assert not [w for w in formal if w in text], text
        assert problems(text) == [], text


def test_a_wish_without_words_leaves_no_empty_brackets() -> None:
    events = decision_events(POLICY.decide(None, "service"), wish_words=None, policy=POLICY)
    assert SlotSet("declined_wish", "") in events  # nothing to quote, and the sentence does not quote it
    assert all("{declined_wish}" not in v["text"] for v in DOMAIN["responses"]["utter_remedy_declined"])
