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

_STRONG = (
    "خسته شدم", "خسته‌م کردین", "خسته‌ام کردید", "افتضاح", "مسخره", "بدترین", "دیگه خرید نمی‌کنم",
    "آبروریزی", "شرم‌آور", "اعصابم", "حالم به هم", "بی‌مسئولیت", "بیمسئولیت", "کلافه", "ذله",
    "شکایت می‌کنم", "به حمایت از مصرف‌کننده", "دادگاه", "پدرم درومد", "دیگه تحمل ندارم",
)
_INSULTS = ("بی‌شعور", "بیشعور", "احمق", "آشغال", "کلاهبردار", "دزد", "گمشو", "خاک بر سر", "لعنت", "بی‌عرضه")
_ANGRY_EMOJI = ("😡", "🤬", "😤", "💩", "👎", "😠")
_STRETCHED = re.compile(r"(\w)\1{3,}")


def estimate_anger(text: str) -> int:
    """0 calm … 3 furious, from what customers actually do when angry in writing.

    Insults count most; then strong phrases, runs of exclamation marks, angry emoji, stretched
    words and shouting in capitals. Crude on purpose: it only chooses a warmer, calmer tone and
    raises a ticket's severity, both harmless when over-estimated.
    """
    score = 0.0
    if any(insult in text for insult in _INSULTS):
        score += 2
    score += min(2, sum(phrase in text for phrase in _STRONG))
    bangs = max((len(m) for m in re.findall(r"[!]+", text)), default=0)
    score += 1 if bangs >= 3 else 0.5 if bangs == 2 else 0
    score += min(1, sum(text.count(e) for e in _ANGRY_EMOJI) * 0.5)
    score += 0.5 if _STRETCHED.search(text) else 0
    latin = re.findall(r"[A-Za-z]{4,}", text)
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
        key = choose_variant(
            variant_keys(domain),
            category=tracker.get_slot("complaint_category") or "service",
            tone=tone_for(float(tracker.get_slot("anger") or 0)),
            used=used,
        )
        events: list[EventType] = [SlotSet("empathy_variant", key), SlotSet("phase", "leading")]
        if key:
            events.append(SlotSet("empathy_used", [*used, key]))
        wish = tracker.get_slot("resolution")
        policy = policy_or_none()
        remedy = policy.remedies.get(wish) if policy and wish else None
        events += [SlotSet("wish_known", remedy is not None), SlotSet("remedy_label", remedy.label if remedy else None)]
        return events
