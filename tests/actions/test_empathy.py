"""Empathize: the tone fits how upset the customer is; the same sentence never comes twice."""
from __future__ import annotations

import random
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.empathy import ActionChooseEmpathy, choose_variant, estimate_anger, variant_keys
from tests.actions.conftest import make_tracker, slots_from

CATEGORIES = ("delivery", "product", "billing", "staff", "service")


@pytest.mark.parametrize("text, at_least", [
    ("سفارشم هنوز نرسیده، لطفاً پیگیری کنید", 0),
    ("خسته شدم از بس زنگ زدم!!!", 2),
    ("کلاهبردارها پولمو بدید", 2),
    ("افتضاحه 😡😡", 1),
])
def test_anger_is_estimated_from_how_people_write(text: str, at_least: int) -> None:
    assert estimate_anger(text) >= at_least


def test_calm_message_is_calm() -> None:
    assert estimate_anger("سلام، بسته‌ام دیر رسید. ممنون میشم پیگیری کنید.") == 0


@pytest.mark.parametrize("category", CATEGORIES)
@pytest.mark.parametrize("tone", ["calm", "upset"])
def test_domain_has_at_least_three_variations_per_situation(domain: dict[str, Any], category: str, tone: str) -> None:
    assert len([k for k in variant_keys(domain) if k.startswith(f"{category}_{tone}_")]) >= 3


def test_three_complaints_in_one_conversation_never_repeat_a_sentence(domain: dict[str, Any]) -> None:
    used: list[str] = []
    for seed in range(3):
        key = choose_variant(variant_keys(domain), category="delivery", tone="upset", used=used, rng=random.Random(seed))
        assert key is not None and key.startswith("delivery_upset_") and key not in used
        used.append(key)
    fourth = choose_variant(variant_keys(domain), category="delivery", tone="upset", used=used)
    assert fourth is not None and fourth.startswith("delivery_calm_")


async def test_action_picks_an_unused_variant_and_moves_to_lead(domain: dict[str, Any]) -> None:
    tracker = make_tracker("آره درسته", "affirm", slots={
        "complaint_category": "billing", "anger": 2.0, "empathy_used": ["billing_upset_1"], "resolution": "refund"})
    slots = slots_from(await ActionChooseEmpathy().run(CollectingDispatcher(), tracker, domain))
    assert slots["empathy_variant"].startswith("billing_upset_") and slots["empathy_variant"] != "billing_upset_1"
    assert slots["phase"] == "leading"
    assert slots["wish_known"] is True and slots["remedy_label"] == "بازگشت وجه"
