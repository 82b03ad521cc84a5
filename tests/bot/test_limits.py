"""Bounded input (issue 11): merged quick messages, a chat's queue, the relay prefix against
Telegram's 4,096 UTF-16 units, one slow handoff never holding up the others, transcript posting."""
from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from bot import casefile, inbox, texts
from bot.customers import MAX_MERGED_CHARS
from bot.formatting import MAX_TEXT, split_with_prefix, units
from bot.handoff import MAX_TRANSCRIPT_MESSAGES, Handoff
from devtools.bot_api_standin import text_update
from tests.bot.conftest import AGENTS, CUSTOMER, Harness, open_complaint
from tests.bot.test_handoff import escalated  # noqa: F401 - fixture

LONG = "سفارشم نرسیده و هیچ‌کس جواب نمی‌ده. " * 90  # about 3,200 characters


def test_every_part_with_the_prefix_fits_telegrams_limit() -> None:
    for text in ("ب" * 4096, "🙂" * 2048, "کلمه " * 1500):
        parts = split_with_prefix("💬 مشتری:\n", text)
        assert all(units(part) <= MAX_TEXT and part.startswith("💬 مشتری:\n") for part in parts)
        assert "".join(p.removeprefix("💬 مشتری:\n") for p in parts).replace(" ", "") == text.replace(" ", "")


async def test_quick_messages_are_merged_only_up_to_the_cap(harness: Harness) -> None:
    for n in range(3):
        harness.push(text_update(CUSTOMER, CUSTOMER, f"{n}: {LONG}"))
    await harness.api.wait_for(lambda: sum(len(m) for m in harness.rasa.messages()) >= 3 * len(LONG), timeout=15,
                               what="every message to reach Rasa")
    turns = harness.rasa.messages()
    print(f"merged turns: {len(turns)}, sizes {[len(t) for t in turns]}, largest request {harness.rasa.largest_body} B")
    assert len(turns) >= 2 and all(len(t) <= MAX_MERGED_CHARS for t in turns)
    assert [line[:2] for turn in turns for line in turn.split("\n")] == ["0:", "1:", "2:"]
    assert harness.rasa.largest_body <= 16 * 1024


async def test_a_flood_from_one_chat_is_capped_and_the_customer_asked_once_to_wait(harness: Harness) -> None:
    relay = harness.app.bot_data.ready().relay
    relay.max_queued = 3
    harness.rasa.fail_next("hang")
    harness.push(text_update(CUSTOMER, CUSTOMER, "اول"))
    await harness.api.wait_for(lambda: harness.rasa.requests >= 1, what="the first turn")
    pushed = [harness.push(text_update(CUSTOMER, CUSTOMER, f"پیام {n}")) for n in range(8)]
    await harness.api.wait_for(lambda: texts.TOO_MANY_WAITING in harness.texts_to(CUSTOMER), what="the notice")

    def failed() -> int:
        return sum(inbox.status_of(u["update_id"]) == "failed" for u in pushed)

    await harness.api.wait_for(lambda: failed() == 5, what="the surplus marked failed")
    assert harness.texts_to(CUSTOMER).count(texts.TOO_MANY_WAITING) == 1
    harness.rasa.release_hangs()


async def test_a_4096_character_message_relayed_to_the_topic_is_split_not_refused(
        escalated: tuple[Harness, str, int]) -> None:  # noqa: F811
    harness, _number, thread_id = escalated
    before = len(harness.texts_to(AGENTS, thread_id=thread_id))
    words = ("خیلی " * 1000)[:4096]
    harness.push(text_update(CUSTOMER, CUSTOMER, words))
    relayed = (await harness.wait_texts(AGENTS, before + 2, thread_id=thread_id))[before:]
    assert all(t.startswith(texts.CUSTOMER_SAYS) and units(t) <= MAX_TEXT for t in relayed)
    assert "".join(t.removeprefix(texts.CUSTOMER_SAYS + "\n") for t in relayed).replace(" ", "") == \
        words.replace(" ", "")


class SlowBot:
    """Just enough of `telegram.Bot` for Handoff; posting in `slow_topic` waits until released."""

    def __init__(self) -> None:
        self.topics = 0
        self.posted: list[tuple[int | None, str]] = []
        self.slow_topic: int | None = None
        self.release = asyncio.Event()

    async def create_forum_topic(self, **_kwargs: Any) -> Any:
        self.topics += 1
        return type("Topic", (), {"message_thread_id": 100 + self.topics})()

    async def send_message(self, *, chat_id: int, message_thread_id: int | None = None, text: str) -> None:
        if message_thread_id == self.slow_topic:
            await self.release.wait()
        assert units(text) <= MAX_TEXT
        self.posted.append((message_thread_id, text))


async def test_one_ticket_posting_a_long_transcript_does_not_hold_up_another(database_url: str) -> None:
    bot = SlowBot()
    handoff = Handoff(bot=bot, agent_chat_id=AGENTS, first_response_hours=24,  # type: ignore[arg-type]
                      take_timeout=timedelta(minutes=15))
    open_complaint(CUSTOMER, escalated=True)
    bot.slow_topic = 101  # the first topic's posts hang (a slow Telegram, a long transcript)
    first = asyncio.create_task(handoff.check(CUSTOMER))
    await asyncio.sleep(0.3)
    open_complaint(CUSTOMER + 1, escalated=True)
    await asyncio.wait_for(handoff.check(CUSTOMER + 1), timeout=5)  # not stalled behind the first
    assert any(thread == 102 for thread, _ in bot.posted)
    bot.release.set()
    await first


async def test_transcript_posting_is_capped(database_url: str) -> None:
    bot = SlowBot()
    handoff = Handoff(bot=bot, agent_chat_id=AGENTS, first_response_hours=24,  # type: ignore[arg-type]
                      take_timeout=timedelta(minutes=15))
    open_complaint(CUSTOMER, escalated=True)
    for n in range(40):
        casefile.record_line(CUSTOMER, "customer", f"{n} {LONG}")
    await handoff.check(CUSTOMER)
    print(f"topic messages: {len(bot.posted)} for 40 lines of {len(LONG)} characters")
    assert len(bot.posted) == 1 + 1 + MAX_TRANSCRIPT_MESSAGES  # card, «older lines left out», the newest part
    assert "39 " in bot.posted[-1][1]  # the newest words are the ones posted
