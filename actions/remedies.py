"""Lead: what the customer wants, checked against what the business can promise (config/policy.yml)."""
from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import latest_entity, latest_intent, latest_text, policy_or_none
from hamdel.labels import OR_JOINER, quoted
from hamdel.policy import BusinessPolicy, Decision

MAX_QUOTE = 80


def understand_wish(*, intent: str | None, entity: str | None, text: str, stated: str | None,
                    policy: BusinessPolicy) -> tuple[str | None, str | None]:
    """(canonical remedy or None, the customer's words when there is no canonical remedy).

    «بله، همین» confirms a wish stated earlier; «نه، هیچی» means the customer only wanted to be
    heard, which is a complete answer, not a failure to understand.
    """
    if entity:
        return entity, None
    if intent == "affirm" and stated:
        return stated, None
    keyword = policy.match_wish(text)
    if keyword:
        return keyword, None
    if intent == "deny" or not text:
        return None, None
    return None, text


def decision_events(decision: Decision, *, wish_words: str | None, policy: BusinessPolicy) -> list[EventType]:
    if decision.allowed and decision.remedy:
        return [
            SlotSet("remedy", decision.remedy.name),
            SlotSet("remedy_label", decision.remedy.label),
            SlotSet("remedy_promise", decision.remedy.promise),
            SlotSet("remedy_decision", "allowed"),
        ]
    declined = decision.remedy.label if decision.remedy else (wish_words or "")[:MAX_QUOTE]
    first = decision.alternatives[0] if decision.alternatives else None
    return [
        SlotSet("remedy", decision.remedy.name if decision.remedy else None),
        SlotSet("remedy_text", wish_words),
        SlotSet("declined_wish", declined),
        SlotSet("decline_reason", decision.reason),
        SlotSet("alternatives_text", OR_JOINER.join(quoted(a.label) for a in decision.alternatives) or None),
        SlotSet("alternative", first.name if first else None),
        SlotSet("alternative_label", first.label if first else None),
        SlotSet("remedy_decision", "declined"),
        SlotSet("phase", "choosing"),
    ]


class ActionEvaluateRemedy(Action):
    """Record the remedy sought and decide whether it can be promised."""

    def name(self) -> str:
        return "action_evaluate_remedy"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        policy = policy_or_none()
        text = latest_text(tracker)
        if policy is None:  # no policy readable: promise nothing, record the words for a person
            return [SlotSet("remedy_text", text or None), SlotSet("remedy_label", text[:MAX_QUOTE] or None),
                    SlotSet("remedy_promise", None), SlotSet("remedy_decision", "none")]
        wish, words = understand_wish(
            intent=latest_intent(tracker), entity=latest_entity(tracker, "resolution"), text=text,
            stated=tracker.get_slot("resolution"), policy=policy,
        )
        if wish is None and words is None:
            return [SlotSet("remedy", None), SlotSet("remedy_label", policy.no_wish_label),
                    SlotSet("remedy_promise", policy.no_wish_promise), SlotSet("remedy_decision", "none")]
        decision = policy.decide(wish, tracker.get_slot("complaint_category"))
        return decision_events(decision, wish_words=words, policy=policy)


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
