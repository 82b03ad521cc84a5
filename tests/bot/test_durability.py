"""Issue 11's durability defects, one test each: the store failing under the update loop, a turn
retried without end or twice, a message that always fails, agents' updates and follow-up buttons
when something breaks."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from bot import casefile, inbox, texts
from devtools.bot_api_standin import callback_update, text_update
from hamdel.storage.db import session_scope
from hamdel.storage.models import InboundUpdate
from tests.bot.conftest import AGENT, AGENTS, CUSTOMER, Harness, HarnessFactory, open_complaint, stop
from tests.bot.fake_rasa import FakeRasa

OTHER = 5002


def _statuses() -> dict[int, tuple[str, int]]:
    with session_scope() as session:
        return {r.update_id: (r.status, r.attempts) for r in session.scalars(select(InboundUpdate))}


class FlakyStore:
    """`inbox.admit` that raises like a locked SQLite / a PostgreSQL failover while `failing`."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.failing = True
        self.refused = 0
        real = inbox.admit

        def admit(*args: Any, **kwargs: Any) -> bool:
            if self.failing:
                self.refused += 1
                raise OperationalError("INSERT INTO inbound_updates …", {"payload": "secret words"},
                                       Exception("database is locked"))
            return real(*args, **kwargs)

        monkeypatch.setattr(inbox, "admit", admit)


async def test_a_store_error_does_not_end_the_update_loop_and_later_updates_are_answered(
        harness: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    store = FlakyStore(monkeypatch)
    harness.push(text_update(CUSTOMER, CUSTOMER, "اول"))
    await harness.api.wait_for(lambda: store.refused >= 3, what="the store refusing")
    assert any("storage failed while storing an update" in r.getMessage() for r in caplog.records)  # logged at once
    assert not any("secret words" in r.getMessage() for r in caplog.records)
    harness.push(text_update(OTHER, OTHER, "دوم"))
    store.failing = False
    await harness.wait_texts(CUSTOMER, 1)
    await harness.wait_texts(OTHER, 1)
    harness.push(text_update(OTHER, OTHER, "سوم"))  # the loop is still alive
    await harness.wait_texts(OTHER, 2)
    assert sorted(harness.rasa.messages()) == sorted(["اول", "دوم", "سوم"])


async def test_telegram_is_not_told_more_than_a_few_updates_arrived_while_the_store_fails(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    store = FlakyStore(monkeypatch)
    for n in range(30):
        harness.push(text_update(CUSTOMER + n, CUSTOMER + n, f"پیام {n}"))
    await harness.api.wait_for(lambda: store.refused >= 3, what="the store refusing")
    await asyncio.sleep(1.0)
    confirmed_unstored = sum(1 for u in harness.api.confirmed_update_ids() if inbox.status_of(u) is None)
    assert confirmed_unstored == 0  # the queue stores before the poller tells Telegram; the rest wait there
    store.failing = False
    for n in range(30):
        await harness.wait_texts(CUSTOMER + n, 1, timeout=20)


async def test_stopping_while_the_store_fails_leaves_the_update_with_telegram_and_the_next_start_stores_it(
        make_harness: HarnessFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    harness: Harness = await make_harness()
    store = FlakyStore(monkeypatch)
    update = harness.push(text_update(CUSTOMER, CUSTOMER, "نباید گم بشه"))
    await harness.api.wait_for(lambda: store.refused >= 1, what="the store refusing")
    await stop(harness.app)
    assert update["update_id"] not in harness.api.confirmed_update_ids()  # Telegram still has it
    store.failing = False
    again: Harness = await make_harness(rasa=harness.rasa, api=harness.api)
    await again.wait_texts(CUSTOMER, 1)
    assert harness.rasa.messages() == ["نباید گم بشه"]
    assert inbox.status_of(update["update_id"]) in {"pending", "done"}
    assert not inbox.journal_path().exists()


async def test_a_message_that_always_fails_ends_failed_after_five_tries_and_is_not_replayed(
        make_harness: HarnessFactory) -> None:
    harness: Harness = await make_harness()
    harness.rasa.down = True  # the action server fails this message every time (200 [])
    poison = harness.push(text_update(CUSTOMER, CUSTOMER, "پیامی که همیشه خطا می‌ده"))
    await harness.api.wait_for(lambda: inbox.status_of(poison["update_id"]) == "failed", timeout=20,
                               what="the message to end failed")
    await harness.api.wait_for(lambda: texts.TURN_FAILED in harness.texts_to(CUSTOMER), what="the customer told")
    assert harness.rasa.refused == 5
    assert _statuses()[poison["update_id"]] == ("failed", 5)
    said = harness.texts_to(CUSTOMER)
    assert said.count(texts.HOLDING) == 1 and said.count(texts.TURN_FAILED) == 1
    await harness.api.wait_for(lambda: any(str(poison["update_id"]) in t for t in harness.texts_to(AGENTS)),
                               what="the agents' note")  # visible to the agents
    assert len(harness.rasa.rewinds) == 5  # every failed try was undone in Rasa

    harness.rasa.down = False  # the chat goes on
    harness.push(text_update(CUSTOMER, CUSTOMER, "پیام بعدی"))
    await harness.api.wait_for(lambda: "شنیدم: پیام بعدی" in harness.texts_to(CUSTOMER), what="the next answer")

    await stop(harness.app)  # a restart does not bring the failed message back
    again: Harness = await make_harness(rasa=harness.rasa, api=harness.api)
    await asyncio.sleep(1.0)
    assert harness.rasa.messages() == ["پیام بعدی"]
    assert again.texts_to(CUSTOMER).count(texts.TURN_FAILED) == 1


@pytest.mark.parametrize("failure", ["500", "empty"])
async def test_a_failed_try_is_rewound_and_the_retry_runs_the_turn_once(harness: Harness, failure: str) -> None:
    harness.rasa.fail_next(failure)
    harness.push(text_update(CUSTOMER, CUSTOMER, "سفارشم نرسیده"))
    await harness.api.wait_for(lambda: "شنیدم: سفارشم نرسیده" in harness.texts_to(CUSTOMER), what="the answer")
    assert harness.rasa.rewinds == [casefile.conversation_id(CUSTOMER)]
    events = harness.rasa.trackers[casefile.conversation_id(CUSTOMER)]
    assert [e["event"] for e in events].count("user") == 1
    assert harness.rasa.turns_run_twice() == []


async def test_a_turn_that_timed_out_but_finished_in_rasa_is_answered_from_the_tracker_not_run_again(
        make_harness: HarnessFactory) -> None:
    rasa = FakeRasa()
    harness: Harness = await make_harness(rasa=rasa, rasa_timeout_seconds=0.5)
    rasa.fail_next("late")  # Rasa finishes the turn, but its answer comes after the bot stopped waiting
    harness.push(text_update(CUSTOMER, CUSTOMER, "سفارشم نرسیده"))
    await harness.wait_texts(CUSTOMER, 2)  # the holding message, then the answer
    await asyncio.sleep(0.5)
    assert harness.texts_to(CUSTOMER) == [texts.HOLDING, "شنیدم: سفارشم نرسیده"]
    assert rasa.requests == 1  # answered from Rasa's tracker: the turn was not sent again
    assert rasa.rewinds == [] and rasa.turns_run_twice() == []
    rasa.release_hangs()


async def test_the_turn_id_travels_in_the_metadata(harness: Harness) -> None:
    update = harness.push(text_update(CUSTOMER, CUSTOMER, "سلام"))
    await harness.wait_texts(CUSTOMER, 1)
    metadata = harness.rasa.trackers[casefile.conversation_id(CUSTOMER)][0]["metadata"]
    assert metadata["turn_id"] == f"tg:{update['update_id']}"
    assert metadata["update_ids"] == [update["update_id"]]


async def test_a_lane_failure_does_not_leave_the_message_pending(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_user_id: int) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(casefile, "human_owned", broken)
    update = harness.push(text_update(CUSTOMER, CUSTOMER, "سلام"))
    await harness.api.wait_for(lambda: inbox.status_of(update["update_id"]) == "failed", timeout=15,
                               what="the row to end failed")
    await harness.wait_texts(CUSTOMER, 1)
    assert harness.texts_to(CUSTOMER) == [texts.TURN_FAILED]
    assert inbox.pending() == []


async def _escalated_topic(harness: Harness) -> int:
    number = open_complaint(escalated=True)
    harness.api.members[AGENT] = "member"
    await harness.api.wait_for(lambda: bool(harness.api.topics), what="the topic")
    _ = number
    thread_id = next(iter(harness.api.topics))
    # The card is posted after the topic is recorded on the ticket: before it, an agent's message in the
    # topic would belong to no ticket yet.
    await harness.api.wait_for(lambda: bool(harness.texts_to(AGENTS, thread_id=thread_id)), what="the card")
    return thread_id


async def test_a_network_error_in_get_chat_member_does_not_drop_the_agents_reply(harness: Harness) -> None:
    thread_id = await _escalated_topic(harness)
    harness.api.fail_next("getChatMember", status=502, times=2)
    update = harness.push(text_update(AGENTS, AGENT, "سلام، پیگیری می‌کنم", message_thread_id=thread_id))
    await harness.wait_texts(CUSTOMER, 1)
    assert harness.texts_to(CUSTOMER) == ["سلام، پیگیری می‌کنم"]
    await harness.api.wait_for(lambda: inbox.status_of(update["update_id"]) == "done", what="the row done")


async def test_an_agent_update_that_fails_is_marked_failed_and_said_in_the_topic(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    thread_id = await _escalated_topic(harness)
    harness.api.fail_next("getChatMember", status=502, times=10)
    update = harness.push(text_update(AGENTS, AGENT, "سلام", message_thread_id=thread_id))
    await harness.api.wait_for(lambda: inbox.status_of(update["update_id"]) == "failed", timeout=30,
                               what="the row failed")
    await harness.api.wait_for(lambda: texts.AGENT_ACTION_FAILED in harness.texts_to(AGENTS, thread_id=thread_id),
                               timeout=30, what="the agents told")
    assert harness.texts_to(CUSTOMER) == []


async def test_a_follow_up_button_whose_answer_fails_is_answered_and_does_not_crash(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    answers = harness.app.bot_data.ready().followups.answers

    def broken(**_kwargs: Any) -> None:
        raise OperationalError("UPDATE tickets …", {}, Exception("database is locked"))

    monkeypatch.setattr(answers, "solved", broken)
    harness.push(callback_update(CUSTOMER, CUSTOMER, "fu:solved:1:y"))
    await harness.wait_texts(CUSTOMER, 1)
    from followups import texts as followup_texts
    assert harness.texts_to(CUSTOMER) == [followup_texts.TRY_AGAIN]


async def test_stop_in_the_agents_group_is_not_a_customer_opting_out(harness: Harness) -> None:
    harness.push(text_update(AGENTS, AGENT, "/stop"))
    await asyncio.sleep(1.0)
    assert all("پیگیری" not in t for t in harness.texts_to(AGENTS))
