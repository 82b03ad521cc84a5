"""The counting in benchmarks/telegram_path.py, without Rasa or a bot: a wrong tally would make the
benchmark report a lost or duplicated answer that never happened (or hide one)."""
from __future__ import annotations

import math

from benchmarks.telegram_path import CONVERSATION, Turn, find_button, latency_figures, percentile, tally


def test_percentile_matches_the_inclusive_method_and_handles_edges() -> None:
    assert math.isnan(percentile([], 50))
    assert percentile([7.0], 95) == 7.0
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.5
    assert percentile(values, 95) == 95.05


def test_tally_counts_lost_incomplete_duplicated_and_surplus() -> None:
    turns = [
        Turn(1, "story", 0.0, expected=1, replies=[0.5]),  # answered once: fine
        Turn(1, "confirm", 1.0, expected=2, replies=[1.2, 1.3, 1.4]),  # one message too many
        Turn(2, "story", 0.0, expected=1, replies=[]),  # lost
        Turn(3, "confirm", 0.0, expected=2, replies=[0.1]),  # incomplete
    ]
    received = {1: 4, 2: 0, 3: 1, 9: 2}  # chat 9 sent nothing, yet got two messages
    assert tally(turns, received) == {"lost": 1, "incomplete": 1, "duplicated": 1, "surplus_messages": 3}


def test_latency_is_to_the_first_reply_and_complete_to_the_expected_last() -> None:
    turns = [Turn(1, "confirm", 10.0, expected=2, replies=[10.1, 10.3]),
             Turn(2, "confirm", 10.0, expected=2, replies=[10.2])]
    figures = latency_figures(turns)
    assert round(figures["max_ms"]) == 200
    assert round(figures["complete_max_ms"]) == 300  # the incomplete answer has no complete time
    assert math.isnan(latency_figures([Turn(1, "story", 0.0, expected=1)])["p50_ms"])


def test_find_button_takes_the_newest_message_carrying_the_payload() -> None:
    keyboard = {"inline_keyboard": [[{"text": "همین بود", "callback_data": "r:/deny"}]]}
    messages = [{"message_id": 3, "reply_markup": keyboard}, {"message_id": 4, "text": "no buttons"},
                {"message_id": 5, "reply_markup": keyboard}]
    assert find_button(messages, "/deny") == (5, "r:/deny")
    assert find_button(messages, "/affirm") is None


def test_the_conversation_presses_buttons_only_after_a_typed_story() -> None:
    assert CONVERSATION[0].kind == "text"
    assert {step.kind for step in CONVERSATION} == {"text", "button"}
