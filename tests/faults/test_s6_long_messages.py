"""S6: one customer floods the bot with 40 messages of 4,096 characters, then asks for a person,
while five other customers talk (and one sends two of Telegram's longest emoji messages) → every
request to Rasa stays under 16 KB, the others are answered in time (p95 < 5 s), and the agents'
topic gets a bounded transcript, not 160,000 characters.

The real bot runs in-process against the Bot API stand-in and the scripted Rasa (tests/bot), which
records the size of every request body it receives.
"""
from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from bot import inbox, texts
from bot.handoff import MAX_TRANSCRIPT_MESSAGES
from devtools.bot_api_standin import text_update
from tests.bot.conftest import AGENTS, HarnessFactory, open_complaint
from tests.bot.fake_rasa import FakeRasa, echo

FLOODER = 8600
OTHERS = [8601 + n for n in range(5)]
EMOJI_CHAT = 8610
ANGRY = "😡"  # 4 bytes in UTF-8: Telegram's longest message (4,096 UTF-16 units) is 2,048 of them
LONG_MESSAGES = 40
TELEGRAM_LIMIT = 4096
ASK_FOR_A_PERSON = "دیگه خسته شدم، لطفاً وصلم کنید به یه همکارتون"
KEEP_GOING = "دارم همه‌اش رو می‌خونم؛ بفرمایید."
HANDED_OVER = "پرونده‌تون رو به همکارم سپردم؛ همین‌جا جوابتون رو می‌ده."
RASA_BODY_LIMIT = 16 * 1024
STORY = ("سفارشم رو سه هفته پیش ثبت کردم و هنوز نرسیده، هر بار زنگ می‌زنم می‌گن فردا می‌رسه "
         "ولی هیچ خبری نمی‌شه و پولم هم برنگشته. ")


def long_message(n: int) -> str:
    """A message as long as Telegram allows (4,096 characters), numbered so each is its own."""
    head = f"پیام {n}: "
    return head + (STORY * (TELEGRAM_LIMIT // len(STORY) + 1))[:TELEGRAM_LIMIT - len(head)]


class Flooded:
    """Rasa as far as S6 needs it: the flooder is listened to until they ask for a person, which
    escalates their complaint (as the action server would); everyone else is echoed."""

    def __call__(self, sender: str, message: str) -> list[dict[str, Any]]:
        if sender != f"telegram:{FLOODER}":
            return echo(sender, message)
        if message != ASK_FOR_A_PERSON:
            return [{"text": KEEP_GOING}]
        number = open_complaint(FLOODER, escalated=True, story=STORY)
        return [{"text": HANDED_OVER},
                {"custom": {"event": "handoff", "ticket_number": number, "reason": "customer_request"}}]


async def test_s6_forty_long_messages_then_a_handoff_while_others_talk(make_harness: HarnessFactory) -> None:
    rasa = FakeRasa(Flooded())
    harness = await make_harness(rasa=rasa)
    latencies: list[float] = []
    started = time.monotonic()
    for n in range(1, LONG_MESSAGES + 1):  # sent as fast as the customer's client allows
        harness.push(text_update(FLOODER, FLOODER, long_message(n)))
    for count in (2047, 2048):  # two quick messages that would make 4,096 characters of emoji together
        harness.push(text_update(EMOJI_CHAT, EMOJI_CHAT, ANGRY * count))
    for round_ in range(6):  # the others keep talking meanwhile
        pushed = time.monotonic()
        for chat in OTHERS:
            harness.push(text_update(chat, chat, f"سؤال {round_} از مشتری {chat}"))
        for chat in OTHERS:
            await harness.api.wait_for(lambda c=chat, r=round_: len(harness.texts_to(c)) >= r + 1, timeout=30,
                                       what="another customer's answer")
            latencies.append(harness.api.sent_messages(chat)[round_]["sent_at"] - pushed)
        await asyncio.sleep(0.5)
    await harness.api.wait_for(lambda: harness.texts_to(FLOODER).count(KEEP_GOING) >= LONG_MESSAGES, timeout=90,
                               what="every long message answered")
    flood_seconds = time.monotonic() - started
    harness.push(text_update(FLOODER, FLOODER, ASK_FOR_A_PERSON))
    await harness.api.wait_for(lambda: bool(harness.api.topics), timeout=30, what="the agents' topic")
    thread_id = next(iter(harness.api.topics))
    trimmed = texts.TRANSCRIPT_TRIMMED.split("{", 1)[0]
    await harness.api.wait_for(
        lambda: any(t.startswith(trimmed) for t in harness.texts_to(AGENTS, thread_id=thread_id))
        and len(harness.texts_to(AGENTS, thread_id=thread_id)) >= 2 + MAX_TRANSCRIPT_MESSAGES,
        timeout=60, what="the card and the transcript in the topic")
    await harness.api.wait_for(lambda: inbox.pending() == [], timeout=30, what="every row finished")
    await asyncio.sleep(0.5)  # anything still posted late would be counted below
    topic = harness.texts_to(AGENTS, thread_id=thread_id)
    topic_chars = sum(len(t) for t in topic)
    p95 = statistics.quantiles(latencies, n=20)[-1]
    print(f"\nS6: {LONG_MESSAGES} messages of {TELEGRAM_LIMIT} characters answered in {flood_seconds:.1f} s; "
          f"largest request to Rasa {rasa.largest_body} bytes (limit {RASA_BODY_LIMIT}); others' latency p50 "
          f"{statistics.median(latencies):.2f} s, p95 {p95:.2f} s ({len(latencies)} answers, quiet window "
          f"{harness.settings.quiet_window_seconds} s); topic: {len(topic)} messages, {topic_chars} characters")
    assert rasa.largest_body <= RASA_BODY_LIMIT
    # The two emoji messages were two turns (merged, they would make 16.4 KB), each answered once.
    assert (rasa.messages().count(ANGRY * 2047), rasa.messages().count(ANGRY * 2048)) == (1, 1)
    assert p95 < 5.0
    assert harness.texts_to(FLOODER).count(KEEP_GOING) == LONG_MESSAGES
    assert harness.texts_to(FLOODER)[-1] == HANDED_OVER
    # The card, the note saying how much was left out, and at most 10 transcript messages.
    assert len(topic) <= 2 + MAX_TRANSCRIPT_MESSAGES
    assert all(len(t) <= TELEGRAM_LIMIT for t in topic)
    assert long_message(LONG_MESSAGES)[:200] in "".join(topic)  # the newest part is what the agents see
