"""Behaviour when unsure (issue 8, item 4): a message that may be a complaint is asked about, never
turned away; praise is thanked; only clearly unrelated messages are redirected."""
from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.conversation import reset_complaint
from actions.triage import ActionDropPending, ActionTriageMessage
from hamdel.persian import normalize
from tests.actions.conftest import user_event


def parsed(text: str, ranking: list[tuple[str, float]], history: list[dict[str, Any]] | None = None) -> Tracker:
    """A tracker whose latest message has this intent ranking, as DIET (+ fallback) returns it."""
    top, confidence = ranking[0]
    latest = user_event(text, top)
    latest["parse_data"]["intent"] = {"name": top, "confidence": confidence}
    latest["parse_data"]["intent_ranking"] = [{"name": n, "confidence": c} for n, c in ranking]
    return Tracker(sender_id="telegram:1001", slots={}, latest_message=latest["parse_data"],
                   events=[*(history or []), latest], paused=False, followup_action=None, active_loop={},
                   latest_action_name="action_listen")


async def triage(tracker: Tracker) -> list[dict[str, Any]]:
    return await ActionTriageMessage().run(CollectingDispatcher(), tracker, {})


async def test_an_unsure_complaint_is_asked_about_not_turned_away() -> None:
    text = "این چه وضعشه آخه"
    tracker = parsed(text, [("nlu_fallback", 0.45), ("out_of_scope", 0.38), ("complain_service", 0.31)])
    assert await triage(tracker) == [SlotSet("triage", "maybe_complaint"), SlotSet("pending_message", text),
                                     SlotSet("pending_category", "service"), SlotSet("phase", "asked_complaint")]


async def test_complaint_words_are_asked_about_even_when_the_model_says_out_of_scope() -> None:
    text = normalize("غذا سرد رسید")
    tracker = parsed(text, [("out_of_scope", 0.93), ("greet", 0.03), ("complain_product", 0.02)])
    assert (await triage(tracker))[0] == SlotSet("triage", "maybe_complaint")


async def test_praise_with_a_but_is_asked_about() -> None:
    text = normalize("غذا خوشمزه بود ولی دیر رسید")
    tracker = parsed(text, [("praise", 0.62), ("complain_delivery", 0.35)])
    assert (await triage(tracker))[:2] == [SlotSet("triage", "maybe_complaint"), SlotSet("pending_message", text)]


async def test_praise_is_thanked_never_a_ticket() -> None:
    tracker = parsed(normalize("غذا عالی بود، مرسی از پیک خوش‌اخلاقتون"), [("praise", 0.95), ("thank", 0.04)])
    assert await triage(tracker) == [SlotSet("triage", "praise")]


async def test_an_unrelated_request_is_redirected_then_a_person_is_offered() -> None:
    weather = parsed("هوای تهران فردا چطوره؟", [("out_of_scope", 0.97), ("ask_status", 0.02)])
    assert await triage(weather) == [SlotSet("triage", "redirect"), SlotSet("misunderstood", "once")]
    joke = parsed("یه جوک بگو", [("out_of_scope", 0.96)], history=[user_event("هوای تهران فردا چطوره؟", "out_of_scope")])
    assert await triage(joke) == [SlotSet("triage", "offer_human"), SlotSet("misunderstood", "twice")]


async def test_gibberish_gets_a_request_to_rephrase() -> None:
    tracker = parsed("اسدفگ", [("nlu_fallback", 0.45), ("greet", 0.2), ("thank", 0.15)])
    assert await triage(tracker) == [SlotSet("triage", "unclear"), SlotSet("misunderstood", "once")]


async def test_no_it_was_not_a_problem_records_nothing() -> None:
    tracker = parsed("/deny", [("deny", 1.0)])
    assert await ActionDropPending().run(CollectingDispatcher(), tracker, {}) == reset_complaint()
