"""Nothing lost, nothing twice: duplicate deliveries, Rasa going away and coming back, Telegram's
flood control, a restart with work unfinished, and the per-chat pace in private chats."""
from __future__ import annotations

import asyncio
import time

from sqlalchemy import select

from bot import inbox
from bot.rate_limit import HamdelRateLimiter
from devtools.bot_api_standin import text_update
from hamdel.storage.db import session_scope
from hamdel.storage.models import InboundUpdate
from tests.bot.conftest import CUSTOMER, QUIET, Harness, HarnessFactory, stop

HOLDING_WORDS = "پیامتون به دستم رسید و محفوظه"


async def test_the_same_update_delivered_twice_is_handled_once(harness: Harness) -> None:
    update = text_update(CUSTOMER, CUSTOMER, "سفارشم نرسیده")
    harness.push(update)
    await harness.wait_texts(CUSTOMER, 1)
    harness.push(update)  # Telegram redelivers (e.g. after a lost confirmation)
    harness.push(text_update(CUSTOMER, CUSTOMER, "هنوز منتظرم"))
    await asyncio.sleep(QUIET)
    await harness.wait_texts(CUSTOMER, 2)
    await asyncio.sleep(QUIET * 2)
    assert harness.rasa.messages() == ["سفارشم نرسیده", "هنوز منتظرم"]
    assert len(harness.texts_to(CUSTOMER)) == 2


async def test_rasa_down_while_messages_arrive_then_back_answers_every_message_in_order(harness: Harness) -> None:
    await harness.rasa.refuse()  # Rasa is not running: an outage, waited out however long it lasts
    harness.push(text_update(CUSTOMER, CUSTOMER, "اول: سفارشم نرسیده"))
    replies = await harness.wait_texts(CUSTOMER, 1)
    assert HOLDING_WORDS in replies[0]
    await asyncio.sleep(QUIET * 1.5)
    harness.push(text_update(CUSTOMER, CUSTOMER, "دوم: دو هفته‌ست منتظرم"))
    await asyncio.sleep(QUIET * 1.5)
    harness.push(text_update(CUSTOMER, CUSTOMER, "سوم: لطفاً پیگیری کنید"))
    await asyncio.sleep(3)  # many more tries than a message is allowed to fail: an outage is not its fault
    assert sum(HOLDING_WORDS in t for t in harness.texts_to(CUSTOMER)) == 1  # said once, not per retry
    assert inbox.pending()  # nothing given up

    await harness.rasa.accept()
    await harness.wait_texts(CUSTOMER, 4, timeout=15)
    assert harness.rasa.messages() == ["اول: سفارشم نرسیده", "دوم: دو هفته‌ست منتظرم", "سوم: لطفاً پیگیری کنید"]
    assert harness.texts_to(CUSTOMER)[1:] == [f"شنیدم: {m}" for m in harness.rasa.messages()]
    await harness.api.wait_for(lambda: inbox.pending() == [], what="every stored message marked done")
    with session_scope() as session:
        assert set(session.scalars(select(InboundUpdate.status))) == {"done"}


async def test_flood_control_is_honoured_without_losing_or_repeating_a_message(harness: Harness) -> None:
    harness.api.fail_next("sendMessage", status=429, retry_after=1)
    pushed = time.monotonic()
    harness.push(text_update(CUSTOMER, CUSTOMER, "سلام"))
    await harness.wait_texts(CUSTOMER, 1, timeout=15)
    delivered = harness.api.sent_messages(CUSTOMER)
    assert [m["text"] for m in delivered] == ["شنیدم: سلام"]  # once, after waiting
    attempts = [p for method, p in harness.api.requests if method.lower() == "sendmessage"]
    assert len(attempts) == 2  # the refused attempt, then the delivered one
    assert delivered[0]["sent_at"] - pushed >= 1.0  # retry_after was honoured


async def test_a_restart_replays_messages_that_were_stored_but_not_answered(make_harness: HarnessFactory) -> None:
    # The previous run stored two messages and crashed before answering them.
    for text in ("سفارشم نرسیده", "کد سفارش ۴۵۸۷۱۲۳"):
        update = text_update(CUSTOMER, CUSTOMER, text)
        assert inbox.admit(update["update_id"], CUSTOMER, update, replaying=set())
    harness: Harness = await make_harness()
    await harness.wait_texts(CUSTOMER, 1)
    assert harness.rasa.messages() == ["سفارشم نرسیده\nکد سفارش ۴۵۸۷۱۲۳"]
    await harness.api.wait_for(lambda: inbox.pending() == [], what="the replayed rows marked done")


async def test_a_stop_mid_turn_keeps_the_message_for_the_next_run(make_harness: HarnessFactory) -> None:
    harness: Harness = await make_harness()
    harness.rasa.fail_next("empty")
    harness.rasa.fail_next("hang")
    harness.push(text_update(CUSTOMER, CUSTOMER, "این پیام نباید گم بشه"))
    await harness.api.wait_for(lambda: harness.rasa.refused >= 1 and harness.rasa.requests >= 2, what="a failed turn")
    await stop(harness.app)  # a deploy or a crash while Rasa was away
    assert [p.payload["message"]["text"] for p in inbox.pending()] == ["این پیام نباید گم بشه"]

    harness.rasa.release_hangs()
    again: Harness = await make_harness(rasa=harness.rasa, api=harness.api)
    await again.api.wait_for(lambda: harness.rasa.messages() == ["این پیام نباید گم بشه"], what="the replay")
    await again.api.wait_for(lambda: inbox.pending() == [], what="the inbox to empty")


async def test_private_chats_are_paced_to_about_one_message_a_second(make_harness: HarnessFactory) -> None:
    five = [{"text": f"پیام {i}"} for i in range(5)]
    from tests.bot.fake_rasa import FakeRasa
    harness: Harness = await make_harness(rasa=FakeRasa(lambda s, m: five),
                                          limiter=HamdelRateLimiter(private_per_second=1.0, private_burst=2))
    harness.push(text_update(CUSTOMER, CUSTOMER, "سلام"))
    await harness.wait_texts(CUSTOMER, 5, timeout=15)
    times = [m["sent_at"] for m in harness.api.sent_messages(CUSTOMER)]
    # A burst of two, then one per second: the fifth goes out about three seconds after the first.
    assert times[4] - times[0] >= 2.7
    assert [m["text"] for m in harness.api.sent_messages(CUSTOMER)] == [f"پیام {i}" for i in range(5)]
