"""Empathize: the tone fits how upset the customer is; the same sentence never comes twice."""
from __future__ import annotations

import random
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.empathy import ActionChooseEmpathy, choose_variant, estimate_anger, situation_for, variant_keys
from tests.actions.conftest import make_tracker, slots_from

# Delivery complaints are told apart: late, arrived damaged, or something else about the delivery.
SITUATIONS = ("delivery_delay", "delivery_damaged", "delivery_other", "product", "billing", "staff", "service")


@pytest.mark.parametrize("text, at_least", [
    ("سفارشم هنوز نرسیده، لطفاً پیگیری کنید", 0),
    ("خسته شدم از بس زنگ زدم!!!", 2),
    ("کلاهبردارها پولمو بدید", 2),
    ("افتضاحه 😡😡", 1),
    ("کلاهبردارها", 2),
])
def test_anger_is_estimated_from_how_people_write(text: str, at_least: int) -> None:
    assert estimate_anger(text) >= at_least


def test_calm_message_is_calm() -> None:
    assert estimate_anger("سلام، بسته‌ام دیر رسید. ممنون میشم پیگیری کنید.") == 0


def test_telling_of_a_theft_is_not_anger_at_us() -> None:
    assert estimate_anger("بسته رو دم در گذاشتن و دزدیدنش") == 0


async def test_a_damaged_parcel_gets_damaged_parcel_empathy(domain: dict[str, Any]) -> None:
    tracker = make_tracker("/affirm", "affirm", slots={
        "complaint_category": "delivery", "anger": 0.0, "complaint_story": "بسته رسید ولی ظرف‌ها شکسته بود"})
    slots = slots_from(await ActionChooseEmpathy().run(CollectingDispatcher(), tracker, domain))
    assert slots["empathy_variant"].startswith("delivery_damaged_calm_")


@pytest.mark.parametrize("situation", SITUATIONS)
@pytest.mark.parametrize("tone", ["calm", "upset"])
def test_domain_has_at_least_three_variations_per_situation(domain: dict[str, Any], situation: str, tone: str) -> None:
    assert len([k for k in variant_keys(domain) if k.startswith(f"{situation}_{tone}_")]) >= 3


@pytest.mark.parametrize("story, situation", [
    ("سفارشم از دوشنبه هنوز نرسیده", "delivery_delay"),
    ("بسته رسید ولی لیوان‌ها شکسته بود", "delivery_damaged"),
    ("جعبه کامل له شده بود و گوشی خط افتاده", "delivery_damaged"),
    ("پیک سفارش رو به واحد بغلی تحویل داد", "delivery_other"),
])
def test_delivery_empathy_fits_the_story_told(story: str, situation: str) -> None:
    assert situation_for("delivery", story) == situation


def test_a_parcel_that_arrived_broken_is_never_answered_with_a_delay(domain: dict[str, Any]) -> None:
    texts = {v["condition"][0]["value"]: v["text"] for v in domain["responses"]["utter_empathize"] if v.get("condition")}
    damaged = [text for key, text in texts.items() if key.startswith("delivery_damaged_")]
    delay_words = ("تأخیر", "دیر", "سر وقت", "این همه انتظار", "بی‌خبری", "خبری ازش")
    assert damaged and not [t for t in damaged if any(word in t for word in delay_words)]


def test_no_empathy_line_doubts_the_customer_or_sounds_translated(domain: dict[str, Any]) -> None:
    every = [v["text"] for r in domain["responses"].values() for v in r]
    for phrase in ("صادقانه", "بی‌پرده", "این تجربه", "تجربه رو براتون ساختیم", "چنین تجربه‌ای"):
        assert not [t for t in every if phrase in t], phrase


def test_three_complaints_in_one_conversation_never_repeat_a_sentence(domain: dict[str, Any]) -> None:
    used: list[str] = []
    for seed in range(3):
        key = choose_variant(variant_keys(domain), category="delivery_delay", tone="upset", used=used,
                             rng=random.Random(seed))
        assert key is not None and key.startswith("delivery_delay_upset_") and key not in used
        used.append(key)
    fourth = choose_variant(variant_keys(domain), category="delivery_delay", tone="upset", used=used)
    assert fourth is not None and fourth.startswith("delivery_delay_calm_")


async def test_action_picks_an_unused_variant_and_moves_to_lead(domain: dict[str, Any]) -> None:
    tracker = make_tracker("آره درسته", "affirm", slots={
        "complaint_category": "billing", "anger": 2.0, "empathy_used": ["billing_upset_1"], "resolution": "refund"})
    slots = slots_from(await ActionChooseEmpathy().run(CollectingDispatcher(), tracker, domain))
    assert slots["empathy_variant"].startswith("billing_upset_") and slots["empathy_variant"] != "billing_upset_1"
    assert slots["phase"] == "leading"
    assert slots["wish_known"] is True and slots["remedy_label"] == "بازگشت وجه"
