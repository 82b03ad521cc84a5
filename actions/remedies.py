"""Lead: what the customer wants, checked against what the business can promise (config/policy.yml).

Every answer to «what would help?» is a wish to be heard: «پیگیری کنید» and «نمی‌دونم، شما بگید»
are recorded as a wish for follow-up, never refused. A wish is stored twice on the ticket: as the
policy's name for it (`remedy`, a label reports can count) and in the customer's own words
(`remedy_text`). Only when a wish is beyond policy does the bot say so, in the H.E.L.P. form
(utter_remedy_declined), with each allowed alternative as a button.
"""
from __future__ import annotations

import json
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import latest_entity, latest_intent, latest_text, policy_or_none, with_slots
from actions.tickets import open_ticket_events
from hamdel.labels import OR_JOINER, quoted
from hamdel.policy import BusinessPolicy, Decision, fold

MAX_QUOTE = 80
# Stored as `remedy` when the wish names nothing in the policy, or when there is no wish at all.
UNLISTED = "unlisted"
NO_WISH = "no_wish"
FOLLOW_UP = "follow_up"
# Replies that only confirm a wish stated before («نه، همین» means "no, just that").
_JUST_THAT = {"همین", "همینه", "همین بود", "همین کافیه", "همون", "همونه", "همون کافیه", "فقط همین", "اره", "آره",
              "بله", "نه", "خیر", "درسته", "اوکی", "باشه"}
_NOTHING = ("هیچی نمیخوام", "چیزی نمیخوام", "هیچ کاری", "هیچی لازم نیست")


def canonical_wish(value: str | None, policy: BusinessPolicy, category: str | None) -> str | None:
    """The policy's name for an NLU `resolution` value; raw values («عذرخواهی رسمی») are read
    through the operator's phrases instead of being taken for an unknown wish, and a remedy whose
    phrases do not mean it in this category («زودتر» about support) is not taken at all."""
    if not value:
        return None
    if value in policy.remedies:
        return value if policy.remedies[value].named_in(category) else None
    return policy.match_wish(value, category)


def only_confirms(text: str) -> bool:
    words = [w for w in fold(text).replace("،", " ").replace(",", " ").split() if w not in {"فقط", "دیگه", "لطفا"}]
    return not words or " ".join(words) in _JUST_THAT or all(w in _JUST_THAT for w in words)


def understand_wish(*, intent: str | None, entity: str | None, text: str, stated: str | None,
                    category: str | None, policy: BusinessPolicy) -> tuple[str | None, str | None]:
    """(canonical remedy or None, the customer's words when there is no canonical remedy).

    Order: a remedy named now (the operator's phrases, which know the category and the longest
    phrase, then the NLU entity) unless the customer refuses it in the same breath; then a wish
    stated earlier, which «بله، همین» and «نه، همین» both keep; «نه، هیچی» without an earlier wish
    means the customer only wanted to be heard.
    """
    refused = policy.refused(text)
    keyword = policy.match_wish(text, category)
    if keyword:
        return keyword, None
    named = canonical_wish(entity, policy, category)
    if named and named not in refused:
        return named, None
    if entity in policy.remedies and FOLLOW_UP in policy.remedies and entity not in refused:
        # A remedy whose words mean something else here («زودتر» about support): the customer
        # wants the matter handled, and sooner; that is a wish for follow-up, never a refusal.
        return FOLLOW_UP, None
    folded = fold(text)
    if any(phrase in folded for phrase in _NOTHING):
        return None, None
    if stated and stated not in refused and (intent in ("affirm", "deny") or only_confirms(text)):
        return stated, None
    if intent in ("affirm", "deny") or only_confirms(text):
        return None, None
    return None, text


# At most this many alternatives are offered, each as a button (domain.yml has the variations).
MAX_ALTERNATIVES = 3
OFFER_KINDS = ("none", "one", "two", "three")
_ORDINALS = ("second", "third")


def alternative_payload(name: str) -> str:
    """The button payload that chooses an alternative: the wish as if the customer had named it."""
    return "/request_resolution" + json.dumps({"resolution": name}, separators=(",", ":"))


def decision_events(decision: Decision, *, wish_words: str | None, policy: BusinessPolicy) -> list[EventType]:
    """Slots for the decision; `remedy_text` keeps the customer's words in every case.

    A declined wish fills the slots utter_remedy_declined shows: the sentence, and one button per
    allowed alternative (the first answers «بله», the others carry the alternative as an entity).
    """
    if decision.allowed and decision.remedy:
        return [
            SlotSet("remedy", decision.remedy.name),
            SlotSet("remedy_text", wish_words),
            SlotSet("remedy_label", decision.remedy.label),
            SlotSet("remedy_promise", decision.remedy.promise),
            SlotSet("remedy_decision", "allowed"),
        ]
    declined = decision.remedy.label if decision.remedy else (wish_words or "")[:MAX_QUOTE]
    offered = decision.alternatives[:MAX_ALTERNATIVES]
    first = offered[0] if offered else None
    events: list[EventType] = [
        SlotSet("remedy", decision.remedy.name if decision.remedy else UNLISTED),
        SlotSet("remedy_text", wish_words),
        SlotSet("declined_wish", declined),
        SlotSet("decline_reason", decision.reason),
        SlotSet("alternatives_text", OR_JOINER.join(quoted(a.label) for a in offered) or None),
        SlotSet("alternative", first.name if first else None),
        SlotSet("alternative_label", first.label if first else None),
    ]
    for ordinal, index in zip(_ORDINALS, range(1, MAX_ALTERNATIVES), strict=False):
        other = offered[index] if index < len(offered) else None
        events += [SlotSet(f"{ordinal}_alternative_label", other.label if other else None),
                   SlotSet(f"{ordinal}_alternative_payload", alternative_payload(other.name) if other else None)]
    return events + [
        SlotSet("offer_kind", OFFER_KINDS[len(offered)]),
        SlotSet("remedy_decision", "declined"),
        SlotSet("phase", "choosing"),
    ]


def evaluate_wish(tracker: Tracker) -> list[EventType]:
    """The slots of the decision on the wish in the customer's latest message (no ticket yet)."""
    policy = policy_or_none()
    text = latest_text(tracker)
    if policy is None:  # no policy readable: promise nothing, record the words for a person
        return [SlotSet("remedy_text", text or None), SlotSet("remedy_label", text[:MAX_QUOTE] or None),
                SlotSet("remedy_promise", None), SlotSet("remedy_decision", "none")]
    category = tracker.get_slot("complaint_category")
    stated = canonical_wish(tracker.get_slot("resolution"), policy, category)
    wish, words = understand_wish(
        intent=latest_intent(tracker), entity=latest_entity(tracker, "resolution"), text=text,
        stated=stated, category=category, policy=policy,
    )
    # The customer's own words for the wish: this message, or the one that stated it earlier.
    said = words or (text if text and not only_confirms(text) else None) or tracker.get_slot("remedy_text")
    if wish is None and words is None:
        return [SlotSet("remedy", NO_WISH), SlotSet("remedy_text", said),
                SlotSet("remedy_label", policy.no_wish_label),
                SlotSet("remedy_promise", policy.no_wish_promise), SlotSet("remedy_decision", "none")]
    decision = policy.decide(wish, category)
    return decision_events(decision, wish_words=said, policy=policy)


class ActionEvaluateRemedy(Action):
    """Record the remedy sought and decide whether it can be promised; when it can, or when the
    customer only wanted to be heard, open the ticket in the same call.

    The rules branch on `ticket_outcome` after this action (summary, priority, «not stored yet»)
    and on `remedy_decision: declined` (the alternatives). A declined wish clears `ticket_outcome`,
    which an earlier ticket of the same session may still hold, so exactly one rule matches.
    """

    def name(self) -> str:
        return "action_evaluate_remedy"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        decided = evaluate_wish(tracker)
        if any(e.get("name") == "remedy_decision" and e.get("value") == "declined" for e in decided):
            return [*decided, SlotSet("ticket_outcome", None)]
        # The ticket records the wish just decided.
        return [*decided, *await open_ticket_events(dispatcher, with_slots(tracker, decided))]


class ActionAcceptAlternative(Action):
    """The customer accepts what the business can do instead."""

    def name(self) -> str:
        return "action_accept_alternative"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        policy = policy_or_none()
        alternative = policy.remedies.get(tracker.get_slot("alternative") or "") if policy else None
        if alternative is None:
            return await ActionKeepWishForReview().run(dispatcher, tracker, domain)
        return [
            SlotSet("remedy", alternative.name),
            SlotSet("remedy_label", alternative.label),
            SlotSet("remedy_promise", alternative.promise),
            SlotSet("remedy_decision", "allowed"),
        ]


class ActionKeepWishForReview(Action):
    """The customer keeps a wish we cannot promise: record it for a person, promise nothing more."""

    def name(self) -> str:
        return "action_keep_wish_for_review"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        policy = policy_or_none()
        return [
            SlotSet("remedy_label", tracker.get_slot("declined_wish")),
            SlotSet("remedy_promise", policy.review_promise if policy else None),
            SlotSet("remedy_decision", "none"),
        ]
