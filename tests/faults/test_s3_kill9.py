"""S3: `kill -9` at each step of a turn, then a restart → nothing lost, no reply twice.

The bot runs as its own process (`python -m bot`); the Bot API stand-in and the scripted Rasa run
in the test's process, so they survive the kill and remember every message the customer received
and every turn Rasa ran. Each scripted answer has two replies (a reflection, then a question), so
"after the first reply" is a real point in the middle of an answer.

The steps: before the update is stored, in the quiet window (stored, in its lane, Rasa not asked),
during the Rasa call (Rasa ran the turn, its answer is on the way), after the first reply, and
before the rows are marked done. The bot stops at the step (`bot.durable.checkpoint`; for the
Rasa call, the scripted Rasa holds its answer back) and is killed a second later, so whatever it
does meanwhile in other tasks (its poller confirming updates to Telegram) has happened. While it
restarts, the customer sends one more message, which must be answered after the first one and
only once too.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from telegram import Update

from bot import inbox
from bot.durable import FAULT_STEPS
from devtools.bot_api_standin import BotApiStandIn, text_update
from hamdel.storage.db import session_scope
from hamdel.storage.models import InboundUpdate, TranscriptLine
from tests.bot.conftest import HarnessFactory, stop
from tests.bot.fake_rasa import FakeRasa
from tests.faults.botprocess import RASA_TOKEN, BotProcess

CUSTOMER = 8300
ECHO = "شنیدم: "
QUESTION = "از کدام فروشگاه سفارش داده بودید؟"
FIRST = "سلام، سفارشم سه روزه که نرسیده"
SECOND = "شماره‌ی سفارشم ۴۵۸۷۱۲۳ هست"


def reflect_then_ask(_sender: str, message: str) -> list[dict[str, Any]]:
    """Two replies per turn, as Hamdel's own turns often have."""
    return [{"text": f"{ECHO}{message}"}, {"text": QUESTION}]


@dataclass
class Outcome:
    """What one kill-and-restart left behind, counted from what the customer's chat received."""

    step: str
    received: list[str]
    telegram_kept_it: bool
    turns_run_twice: int
    recovery_seconds: float

    @property
    def echoed(self) -> list[str]:
        """The customer's messages as the answers repeated them (a merged turn split back)."""
        return [line for text in self.received if text.startswith(ECHO) for line in text[len(ECHO):].split("\n")]

    @property
    def lost(self) -> int:
        return sum(message not in self.echoed for message in (FIRST, SECOND))

    @property
    def duplicated(self) -> int:
        """Replies the customer read twice: a message answered again, or a turn's question twice."""
        answers = sum(text.startswith(ECHO) for text in self.received)
        return len(self.echoed) - len(set(self.echoed)) + abs(self.received.count(QUESTION) - answers)


def bot_environment(api: BotApiStandIn, rasa: FakeRasa, database_url: str) -> dict[str, str]:
    return {"ENVIRONMENT": "test", "DATABASE_URL": database_url, "TELEGRAM_TOKEN": api.token,
            "TELEGRAM_BASE_URL": api.base_url, "RASA_URL": rasa.url, "RASA_TOKEN": RASA_TOKEN,
            "QUIET_WINDOW_SECONDS": "0.4", "HANDOFF_SWEEP_SECONDS": "1"}


async def kill_at_step_then_restart(step: str, api: BotApiStandIn, rasa: FakeRasa, database_url: str,
                                    workdir: Path) -> Outcome:
    """One customer message, the bot killed at `step`, then restarted while the customer writes again."""
    rasa.script = reflect_then_ask
    bot = BotProcess(workdir, bot_environment(api, rasa, database_url))
    first = text_update(CUSTOMER, CUSTOMER, FIRST)
    try:
        if step == "rasa_call":  # Rasa runs the turn to its end but holds the answer back
            rasa.fail_next("late")
            bot.start()
            reached = lambda: bool(rasa.completed)  # noqa: E731
        else:
            bot.start(halt_at=step)
            reached = bot.marker.exists
        api.push_update(first)
        assert await bot.wait_until(reached, timeout=60, what=f"the bot to reach {step}"), bot.tail()
        # What the bot does meanwhile in other tasks (its poller confirming updates to Telegram)
        # happens before the kill, as it would while a slow write or call is under way.
        await asyncio.sleep(1.0)
        await bot.kill9()
        telegram_kept_it = first["update_id"] not in api.confirmed_update_ids()
        rasa.release_hangs()
        restarted = time.monotonic()
        bot.start()
        api.push_update(text_update(CUSTOMER, CUSTOMER, SECOND))  # the customer writes again meanwhile
        answered = await bot.wait_until(lambda: _texts(api)[-1:] == [QUESTION] and any(SECOND in t for t in _texts(api))
                                        and inbox.pending() == [],
                                        timeout=60, what="the second message's answer")
        assert answered, f"the second message was not answered:\n{bot.tail()}"
        recovery = time.monotonic() - restarted
    finally:
        await bot.stop()
    return Outcome(step, _texts(api), telegram_kept_it, len(rasa.turns_run_twice()), recovery)


def _texts(api: BotApiStandIn) -> list[str]:
    return [m.get("text") or "" for m in api.sent_messages(CUSTOMER)]


STEPS = list(FAULT_STEPS)


@pytest.mark.parametrize("step", STEPS)
async def test_s3_kill9_at_each_step_of_a_turn_loses_nothing_and_answers_once(
        step: str, standins: tuple[BotApiStandIn, FakeRasa], database_url: str, tmp_path: Path) -> None:
    await check_kill9_at(step, standins, database_url, tmp_path, "S3")


async def check_kill9_at(step: str, standins: tuple[BotApiStandIn, FakeRasa], database_url: str, workdir: Path,
                         scenario: str) -> None:
    """S3's body, shared with S8 (the same on PostgreSQL): kill, restart, print, assert."""
    api, rasa = standins
    outcome = await kill_at_step_then_restart(step, api, rasa, database_url, workdir)
    report(outcome, scenario)
    assert (outcome.lost, outcome.duplicated) == (0, 0), outcome.received
    assert outcome.echoed == [FIRST, SECOND]  # and in order
    assert outcome.turns_run_twice == 0
    # Each message is in the transcript once (quick ones share a line): a replayed turn does not write it again.
    assert "\n".join(customer_lines(database_url)).split("\n") == [FIRST, SECOND]


def customer_lines(database_url: str | None = None) -> list[str]:
    """The customer's lines of the transcript, oldest first."""
    with session_scope(database_url) as session:
        return list(session.scalars(select(TranscriptLine.text).where(TranscriptLine.speaker == "customer")
                                    .order_by(TranscriptLine.id)))


def report(outcome: Outcome, scenario: str) -> None:
    print(f"\n{scenario}: kill -9 {outcome.step:<17} → lost {outcome.lost}, duplicate replies {outcome.duplicated}, "
          f"turns Rasa ran twice {outcome.turns_run_twice}, Telegram still held the update "
          f"{'yes' if outcome.telegram_kept_it else 'no'}, both answered {outcome.recovery_seconds:.1f} s after the restart")


async def test_a_replayed_turn_and_a_newer_message_are_answered_separately(make_harness: HarnessFactory) -> None:
    """The defect S3 found: after a crash before «done», the replayed message and the customer's
    next one fell into one quiet window, went to Rasa as one turn under the old turn id, got the old
    answer from the tracker (already sent, so skipped) — and the new message got no answer at all."""
    harness = await make_harness(rasa=FakeRasa(reflect_then_ask))
    first = harness.push(text_update(CUSTOMER, CUSTOMER, FIRST))
    await harness.wait_texts(CUSTOMER, 2)
    await harness.api.wait_for(lambda: inbox.status_of(first["update_id"]) == inbox.DONE, what="the row done")
    with session_scope() as session:  # as a crash just before marking it done leaves it
        session.execute(update(InboundUpdate).where(InboundUpdate.update_id == first["update_id"])
                        .values(status=inbox.PENDING))
    await stop(harness.app)
    harness.push(text_update(CUSTOMER, CUSTOMER, SECOND))  # waits in Telegram while the bot is down
    # A long quiet window, so the replayed message and the new one surely meet in it.
    await make_harness(rasa=harness.rasa, api=harness.api, quiet_window_seconds=2.0)
    await harness.api.wait_for(lambda: inbox.pending() == [] and len(harness.texts_to(CUSTOMER)) >= 4, timeout=20,
                               what="the new message answered")
    await asyncio.sleep(0.5)
    assert harness.texts_to(CUSTOMER) == [f"{ECHO}{FIRST}", QUESTION, f"{ECHO}{SECOND}", QUESTION]
    assert harness.rasa.messages() == [FIRST, SECOND]  # the first turn was not run again
    assert customer_lines() == [FIRST, SECOND]  # nor its transcript line written again


async def test_the_storing_queue_stores_an_update_before_taking_it_and_drops_a_second_delivery(
        database_url: str) -> None:
    """What «before storing» needs once bot/app.py uses it: python-telegram-bot confirms an update
    when `put` returns, so `put` returns only after the update is in the inbox."""
    queue = inbox.StoringQueue(maxsize=4)
    incoming = Update.de_json(text_update(CUSTOMER, CUSTOMER, FIRST), None)
    await queue.put(incoming)
    assert inbox.status_of(incoming.update_id) == inbox.PENDING
    await queue.put(incoming)  # Telegram delivering it again
    assert queue.qsize() == 1
    assert queue.stored_here(incoming.update_id)  # the application does not store it a second time
    assert not queue.stored_here(incoming.update_id)
