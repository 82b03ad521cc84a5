"""Behaviour when unsure (issue 8): a message that may be a complaint is never turned away.

When the NLU's top intent is out_of_scope, nlu_fallback or praise, this action looks at the whole
`intent_ranking` and at the words themselves before anything is said:

- a complaint intent close behind the top one, or a complaint word in the message («نرسید», «خراب»,
  «پولم») → one short question with buttons: «مشکلی پیش اومده که بخواید ثبتش کنیم؟»; «بله» starts
  the complaint with this very message as its first part (`pending_message`);
- praise → a warm thank-you, never a ticket;
- otherwise the polite redirect, and after two such messages in a row a person is offered.

The thresholds live here, in one place:
- COMPLAINT_FLOOR: a complaint intent below this confidence is noise. DIET (with
  `constrain_similarities`) spreads about 1 - top over the other 15 intents; 0.10 is well above
  that spread and below what a real second choice gets.
- COMPLAINT_NEAR_TOP: a complaint intent at most this far behind the top intent counts as a real
  alternative. The FallbackClassifier in config.yml (helper D's) already gives up below its own
  threshold or when the top two are within its ambiguity threshold; 0.30 asks in the wider band where
  DIET picked out_of_scope or praise but a complaint was a plausible reading. Asking costs the
  customer one tap; turning a complaint away costs the customer.
"""
from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import CATEGORY_BY_INTENT, COMPLAINT_INTENTS, latest_text, reset_complaint

COMPLAINT_FLOOR = 0.10
COMPLAINT_NEAR_TOP = 0.30
# Words that make a message complaint-ish whatever the classifier says (compared without
# half-spaces). Kept to words that rarely appear in praise or in unrelated requests.
COMPLAINT_WORDS = (
    "نرسید", "نرسیده", "نیومد", "خراب", "شکسته", "معیوب", "ایراد", "مشکل", "شکایت", "اعتراض", "ناراضی",
    "افتضاح", "دیر رسید", "دیر اومد", "تاخیر", "تأخیر", "پولم", "پولمو", "کم شد", "کسر شد", "دوبار", "دو بار",
    "اشتباه", "بی ادب", "بیادب", "بی احترامی", "بیاحترامی", "جواب نمیدن", "جواب نداد", "جواب نمیده",
    "پس بدید", "پس بدین", "کلاهبردار", "سرد بود", "سرد رسید", "کثیف", "تقلبی", "فاسد", "خسارت",
)
UNPLACED_INTENTS = frozenset({"out_of_scope", "nlu_fallback"})


def fold(text: str) -> str:
    return " ".join(text.replace("\u200c", "").split())


def closest_complaint(parse_data: dict[str, Any]) -> tuple[str | None, float]:
    """The best-ranked complaint intent and its confidence (None, 0 if the ranking has none)."""
    best: tuple[str | None, float] = (None, 0.0)
    for entry in parse_data.get("intent_ranking") or []:
        name, confidence = entry.get("name"), float(entry.get("confidence") or 0)
        if name in COMPLAINT_INTENTS and confidence > best[1]:
            best = (name, confidence)
    return best


def has_complaint_words(text: str) -> bool:
    folded = fold(text)
    return any(fold(word) in folded for word in COMPLAINT_WORDS)


def may_be_complaint(parse_data: dict[str, Any], text: str) -> bool:
    """Whether a message the NLU placed outside complaints could still be one."""
    top = float((parse_data.get("intent") or {}).get("confidence") or 0)
    name, confidence = closest_complaint(parse_data)
    close = name is not None and confidence >= COMPLAINT_FLOOR and top - confidence <= COMPLAINT_NEAR_TOP
    return close or has_complaint_words(text)


def unplaced_in_a_row(events: list[dict[str, Any]]) -> int:
    """How many of the latest customer messages in a row the bot could not place."""
    count = 0
    for event in reversed(events):
        if event.get("event") != "user":
            continue
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if intent in UNPLACED_INTENTS:
            count += 1
        else:
            break
    return count


def triage(parse_data: dict[str, Any], text: str, unplaced: int) -> str:
    """maybe_complaint | praise | redirect | unclear | offer_human."""
    intent = (parse_data.get("intent") or {}).get("name")
    if text and may_be_complaint(parse_data, text):
        return "maybe_complaint"
    if intent == "praise":
        return "praise"
    if unplaced >= 2:
        return "offer_human"
    return "redirect" if intent == "out_of_scope" else "unclear"


class ActionTriageMessage(Action):
    """Decide what to do with a message that is not clearly part of the complaint flow."""

    def name(self) -> str:
        return "action_triage_message"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        parse_data = tracker.latest_message or {}
        text = latest_text(tracker)
        unplaced = unplaced_in_a_row(tracker.events)
        outcome = triage(parse_data, text, unplaced)
        events: list[EventType] = [SlotSet("triage", outcome)]
        if outcome in ("redirect", "unclear", "offer_human"):
            events.append(SlotSet("misunderstood", "twice" if outcome == "offer_human" else "once"))
        if outcome == "maybe_complaint":
            name, _ = closest_complaint(parse_data)
            events += [SlotSet("pending_message", text), SlotSet("pending_category", CATEGORY_BY_INTENT.get(name or "")),
                       SlotSet("phase", "asked_complaint")]
        return events


class ActionDropPending(Action):
    """«نه»: the message was not a complaint after all; nothing is recorded."""

    def name(self) -> str:
        return "action_drop_pending"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        return [*reset_complaint()]
