"""Empathize: situation-aware wording that never repeats within a conversation (seed 002 warns
against fake, robotic empathy).

The sentences live in domain.yml as conditional variations of `utter_empathize`, keyed by the
slot `empathy_variant` = "<category>_<tone>_<n>". This module estimates how upset the customer is
and picks a key not used yet in the conversation; the keys available are read from the domain the
action server receives, so adding a variation to domain.yml needs no code change.
"""
from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import policy_or_none
from actions.remedies import canonical_wish

_STRONG = (
    "خسته شدم", "خسته‌م کردین", "خسته‌ام کردید", "افتضاح", "مسخره", "بدترین", "دیگه خرید نمی‌کنم",
    "آبروریزی", "شرم‌آور", "اعصابم", "حالم به هم", "بی‌مسئولیت", "بیمسئولیت", "کلافه", "ذله",
    "شکایت می‌کنم", "به حمایت از مصرف‌کننده", "دادگاه", "پدرم درومد", "دیگه تحمل ندارم",
)
_INSULTS = ("بیشعور", "احمق", "آشغال", "کلاهبردار", "دزد", "گمشو", "لعنتی", "بیعرضه", "نفهم", "عوضی", "الاغ")
_INSULT_PHRASES = ("خاک بر سر", "خاک تو سر", "لعنت به")
# An insult is a whole word, maybe plural («دزدا», «کلاهبردارها»): «دزدیدنش» (they stole it) is not.
_INSULT_SUFFIXES = ("", "ها", "ا", "های", "هایی", "ید", "ین")
_INSULT_FORMS = frozenset(insult + suffix for insult in _INSULTS for suffix in _INSULT_SUFFIXES)
_WORD = re.compile(r"[^\W\d_]+")
_ANGRY_EMOJI = ("😡", "🤬", "😤", "💩", "👎", "😠")
_STRETCHED = re.compile(r"(\w)\1{3,}")
_BANGS = re.compile(r"!+")
_LATIN_WORD = re.compile(r"[A-Za-z]{4,}")
# Delivery complaints are of different kinds; the empathy must fit the one told (a parcel that
# arrived broken was not late). Cues are whole phrases looked up in the story, no regexes.
_DAMAGED = ("شکسته", "شکست", "خراب", "له شده", "لهیده", "آسیب", "پاره", "ترک", "خیس", "باز شده", "داغون",
            "معیوب", "نشتی", "ریخته", "کج شده", "خط افتاده")
_DELAYED = ("نرسیده", "نرسید", "نیومده", "نیامده", "دیر", "تاخیر", "تأخیر", "منتظر", "هنوز", "خبری نیست",
            "خبری نشد", "کی میرسه", "کی می‌رسه", "جا مونده", "نمیاد", "نمی‌آد")


def contains_insult(text: str) -> bool:
    """Whether the message insults someone: whole words only, so a story about a theft
    («بسته رو دزدیدن») is not taken for an insult."""
    folded = text.replace("\u200c", "")
    if any(phrase in folded for phrase in _INSULT_PHRASES):
        return True
    return any(word in _INSULT_FORMS for word in _WORD.findall(folded))


def situation_for(category: str, story: str) -> str:
    """The empathy situation: the category, and for delivery whether the parcel came damaged,
    is late, or something else went wrong with it."""
    if category != "delivery":
        return category
    if any(cue in story for cue in _DAMAGED):
        return "delivery_damaged"
    if any(cue in story for cue in _DELAYED):
        return "delivery_delay"
    return "delivery_other"


def estimate_anger(text: str) -> int:
    """0 calm … 3 furious, from what customers actually do when angry in writing.

    Insults count most; then strong phrases, runs of exclamation marks, angry emoji, stretched
    words and shouting in capitals. Crude on purpose: it only chooses a warmer, calmer tone and
    raises a ticket's severity, both harmless when over-estimated.
    """
    score = 0.0
    if contains_insult(text):
        score += 2
    score += min(2, sum(phrase in text for phrase in _STRONG))
    bangs = max((len(m) for m in _BANGS.findall(text)), default=0)
    score += 1 if bangs >= 3 else 0.5 if bangs == 2 else 0
    score += min(1, sum(text.count(e) for e in _ANGRY_EMOJI) * 0.5)
    score += 0.5 if _STRETCHED.search(text) else 0
    latin = _LATIN_WORD.findall(text)
    score += 1 if latin and all(w.isupper() for w in latin) else 0
    return int(min(3, score))


def tone_for(anger: float) -> str:
    return "upset" if anger >= 1 else "calm"


def variant_keys(domain: dict[str, Any], response: str = "utter_empathize") -> list[str]:
    """The `empathy_variant` values that domain.yml has a variation for."""
    keys: list[str] = []
    for variation in (domain.get("responses") or {}).get(response, []):
        for condition in variation.get("condition") or []:
            if condition.get("name") == "empathy_variant" and condition.get("value"):
                keys.append(str(condition["value"]))
    return keys


def choose_variant(
    available: Sequence[str], *, category: str, tone: str, used: Iterable[str], rng: random.Random | None = None,
) -> str | None:
    """A variant for this category and tone not used yet; then the other tone of the same
    category; None (the generic variations) only when the situation's own are exhausted."""
    rng = rng or random.Random()
    used_set = set(used)
    other = "calm" if tone == "upset" else "upset"
    for wanted in (f"{category}_{tone}_", f"{category}_{other}_"):
        fresh = [key for key in available if key.startswith(wanted) and key not in used_set]
        if fresh:
            return rng.choice(fresh)
    return None


class ActionChooseEmpathy(Action):
    """Pick the empathy sentence for the confirmed complaint and move on to Lead."""

    def name(self) -> str:
        return "action_choose_empathy"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        used = list(tracker.get_slot("empathy_used") or [])
        situation = situation_for(tracker.get_slot("complaint_category") or "service",
                                  tracker.get_slot("complaint_story") or "")
        key = choose_variant(
            variant_keys(domain),
            category=situation,
            tone=tone_for(float(tracker.get_slot("anger") or 0)),
            used=used,
        )
        events: list[EventType] = [SlotSet("empathy_variant", key), SlotSet("phase", "leading")]
        if key:
            events.append(SlotSet("empathy_used", [*used, key]))
        policy = policy_or_none()
        wish = canonical_wish(tracker.get_slot("resolution"), policy, tracker.get_slot("complaint_category")) \
            if policy else None
        remedy = policy.remedies.get(wish) if policy and wish else None
        events += [SlotSet("wish_known", remedy is not None), SlotSet("remedy_label", remedy.label if remedy else None)]
        return events
