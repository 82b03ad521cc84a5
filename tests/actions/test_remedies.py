"""Lead: the wish is recorded, and only what config/policy.yml allows is promised."""
from __future__ import annotations

from typing import Any

from rasa_sdk.executor import CollectingDispatcher

from actions.remedies import ActionAcceptAlternative, ActionEvaluateRemedy, ActionKeepWishForReview
from hamdel.persian import normalize
from hamdel.policy import load_policy
from tests.actions.conftest import make_tracker, slots_from


async def evaluate(text: str, intent: str, *, entity: str | None = None, **slots: Any) -> dict[str, Any]:
    entities = [{"entity": "resolution", "value": entity, "start": 0, "end": 1}] if entity else []
    tracker = make_tracker(text, intent, entities=entities, slots={"complaint_category": "delivery", **slots})
    return slots_from(await ActionEvaluateRemedy().run(CollectingDispatcher(), tracker, {}))


async def test_a_refund_is_within_policy_and_its_promise_is_the_operators_words() -> None:
    slots = await evaluate("پولمو پس بدید", "request_resolution", entity="refund")
    assert slots["remedy_decision"] == "allowed"
    assert slots["remedy"] == "refund"
    assert slots["remedy_promise"] == load_policy().remedies["refund"].promise


async def test_yes_confirms_the_wish_stated_earlier() -> None:
    slots = await evaluate("بله، همین", "affirm", resolution="expedite")
    assert (slots["remedy_decision"], slots["remedy"]) == ("allowed", "expedite")


async def test_cash_compensation_is_declined_with_what_we_can_do_instead() -> None:
    slots = await evaluate("من خسارت نقدی می‌خوام", "request_resolution")
    assert slots["remedy_decision"] == "declined"
    assert slots["phase"] == "choosing"
    assert slots["decline_reason"] == "پرداخت خسارت نقدی در اختیار من و همکارانم نیست"
    assert slots["alternative"] == "compensation"
    assert slots["alternatives_text"] == "«جبران خسارت» یا «عذرخواهی رسمی»"


async def test_a_wish_outside_the_list_is_quoted_back_not_promised() -> None:
    slots = await evaluate("می‌خوام مدیرتون شخصاً زنگ بزنه", "request_resolution")
    assert slots["remedy_decision"] == "declined"
    assert slots["declined_wish"] == normalize("می‌خوام مدیرتون شخصاً زنگ بزنه")


async def test_a_remedy_not_offered_for_this_kind_of_complaint_is_declined() -> None:
    slots = await evaluate("تعمیرش کنید", "request_resolution", entity="repair", complaint_category="staff")
    assert slots["remedy_decision"] == "declined"


async def test_no_wish_means_the_customer_wanted_to_be_heard() -> None:
    slots = await evaluate("نه، هیچی. فقط خواستم بدونید", "deny")
    assert slots["remedy_decision"] == "none"
    assert slots["remedy_promise"] == load_policy().no_wish_promise


async def test_taking_the_alternative_promises_it() -> None:
    tracker = make_tracker("بله", "affirm", slots={"alternative": "compensation"})
    slots = slots_from(await ActionAcceptAlternative().run(CollectingDispatcher(), tracker, {}))
    assert (slots["remedy"], slots["remedy_decision"]) == ("compensation", "allowed")


async def test_keeping_the_original_wish_records_it_and_promises_only_a_review() -> None:
    tracker = make_tracker("نه", "deny", slots={"declined_wish": "پرداخت خسارت نقدی"})
    slots = slots_from(await ActionKeepWishForReview().run(CollectingDispatcher(), tracker, {}))
    assert slots["remedy_label"] == "پرداخت خسارت نقدی"
    assert slots["remedy_promise"] == load_policy().review_promise


async def test_the_fallback_is_served_by_the_action_server_and_forgets_the_turn() -> None:
    from actions.fallback import ActionFallback

    dispatcher = CollectingDispatcher()
    events = await ActionFallback().run(dispatcher, make_tracker("؟؟", "nlu_fallback"), {})
    assert dispatcher.messages[0]["response"] == "utter_default"
    assert events == [{"event": "rewind", "timestamp": None}]


async def test_a_wish_the_nlu_missed_is_still_recognised_by_the_operators_phrases() -> None:
    slots = await evaluate("فقط پولمو پس بدید", "complain_billing")
    assert (slots["remedy"], slots["remedy_decision"]) == ("refund", "allowed")
    assert (await evaluate("خسارت نقدی می‌خوام", "request_resolution"))["remedy"] == "cash_compensation"
