"""S9: at INFO level, through the failure paths of the other scenarios (store outage, Rasa 500 and
`[]`, a refused outsider, getChatMember failing, a follow-up answer failing), no log line holds a
customer's words, name or phone number, the bot's token or Rasa's token."""
from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from bot.__main__ import configure_logging
from devtools.bot_api_standin import BotApiStandIn, callback_update, contact_update, text_update
from tests.bot.conftest import AGENT, AGENTS, HarnessFactory, open_complaint
from tests.bot.fake_rasa import FakeRasa
from tests.faults.test_delivery import StoreOutage

WORDS = "قناری‌متن سفارش ۷۷۳۱ من خراب رسید"
NAME = "قناریاسم"
PHONE = "09123334455"
BOT_TOKEN = "4242:CANARYbottokenXYZ"
RASA_TOKEN = "canary-rasa-token-0123456789abcdef"


async def test_s9_no_personal_data_or_secret_in_any_log_line(
        make_harness: HarnessFactory, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    configure_logging("INFO")
    caplog.set_level(logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    api = BotApiStandIn(token=BOT_TOKEN, agent_chat_id=AGENTS)
    rasa = FakeRasa(token=RASA_TOKEN)
    harness = await make_harness(api=api, rasa=rasa, telegram_token=BOT_TOKEN, rasa_token=RASA_TOKEN,
                                 rasa_timeout_seconds=1.0)
    customer = 6100
    outage = StoreOutage(monkeypatch)

    def say(text: str) -> None:
        harness.push(text_update(customer, customer, text, first_name=NAME))

    rasa.fail_next("500")
    rasa.fail_next("empty")
    rasa.fail_next("hang")
    say(WORDS)
    harness.push(contact_update(customer, customer, PHONE))
    await harness.api.wait_for(lambda: len(rasa.received) >= 1, timeout=30, what="the story answered")
    rasa.release_hangs()
    outage.start(1.0)
    say(WORDS + " دوباره")
    await harness.api.wait_for(lambda: len(rasa.received) >= 2, timeout=30, what="the second answer")
    open_complaint(escalated=True)
    await harness.api.wait_for(lambda: bool(harness.api.topics), what="a topic")
    thread_id = next(iter(harness.api.topics))
    # The card follows the topic being recorded on the ticket; agents' messages before it match no ticket.
    await harness.api.wait_for(lambda: bool(harness.texts_to(AGENTS, thread_id=thread_id)), what="the card")
    harness.push(text_update(AGENTS, 9666, f"{WORDS} {PHONE}", message_thread_id=thread_id, first_name=NAME))
    harness.api.members[AGENT] = "member"
    harness.api.fail_next("getChatMember", status=502, times=10)
    harness.push(text_update(AGENTS, AGENT, f"{WORDS} {PHONE}", message_thread_id=thread_id, first_name=NAME))
    answers = harness.app.bot_data.ready().followups.answers

    def broken(**_kwargs: Any) -> None:
        raise RuntimeError(f"failed for {WORDS} {PHONE} {NAME}")  # a careless message deep inside

    monkeypatch.setattr(answers, "rated", broken)
    harness.push(callback_update(customer, customer, "fu:rate:1:5"))
    await asyncio.sleep(3.0)

    formatter = logging.Formatter("%(levelname)s %(name)s: %(message)s")
    lines = [formatter.format(r) for r in caplog.records if r.levelno >= logging.INFO]
    canaries = {"words": "قناری‌متن", "name": NAME, "phone": PHONE, "phone digits": "3334455",
                "bot token": BOT_TOKEN.split(":")[1], "rasa token": RASA_TOKEN}
    leaks = {what: [line[:160] for line in lines if canary in line] for what, canary in canaries.items()}
    leaks = {what: found for what, found in leaks.items() if found}
    print(f"\nS9: {len(lines)} log lines at INFO or above, {len(caplog.records)} records; leaks: {leaks or 'none'}")
    assert len(lines) > 5  # the failure paths did log
    assert leaks == {}
