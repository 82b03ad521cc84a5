"""The scheduler, as the customer and the agents would notice it: what arrives, when, and never twice."""
from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker
from telegram import Bot

from followups.scheduler import FollowUpScheduler
from hamdel.followup_policy import FollowUpPolicy
from hamdel.storage import followups as repo
from hamdel.storage.db import make_engine, session_scope
from hamdel.storage.models import Customer, FollowUp, FollowUpKind, FollowUpStatus, Ticket
from tests.followups.conftest import AGENT_CHAT, BotApiStandIn, Clock, TicketFactory

Scheduler = Callable[..., FollowUpScheduler]


@pytest.fixture
async def scheduler(bot: Bot, policy: FollowUpPolicy, clock: Clock) -> AsyncIterator[Scheduler]:
    made: list[FollowUpScheduler] = []

    def make(**kwargs: Any) -> FollowUpScheduler:
        options: dict[str, Any] = {"policy": policy, "agent_chat_id": AGENT_CHAT, "now": clock,
                                   "agent_reminders": False}
        made.append(FollowUpScheduler(kwargs.pop("bot", bot), **{**options, **kwargs}))
        return made[-1]

    yield make
    for s in made:
        await s.close()


def statuses(ticket_id: int) -> dict[tuple[str, int], str]:
    with session_scope() as session:
        rows = session.scalars(select(FollowUp).where(FollowUp.ticket_id == ticket_id))
        return {(f.kind.value, f.sequence): f.status.value for f in rows}


async def test_a_new_ticket_is_acknowledged_at_once_and_checked_on_a_day_later(
    make_ticket: TicketFactory, scheduler: Scheduler, bot_api: Any, clock: Clock,
) -> None:
    ticket = make_ticket(5001)
    await scheduler().run_until_idle()
    [ack] = bot_api.sent_messages(5001)
    assert ticket.number in ack["text"]

    clock.advance(hours=23)
    await scheduler().run_until_idle()
    assert len(bot_api.sent_messages(5001)) == 1

    clock.advance(hours=1)
    await scheduler().run_until_idle()
    check_in = bot_api.sent_messages(5001)[-1]["text"]
    assert ticket.number in check_in and "در حال بررسی" in check_in
    assert "آذر ۱۴۰۵" in check_in  # the Jalali date, in Persian digits
    assert not any(ch.isascii() and ch.isdigit() for ch in check_in.replace(ticket.number, ""))
    # the next check-in is written for check_in_repeat after this one
    assert statuses(ticket.id)[("check_in", 1)] == "pending"


async def test_a_ticket_opened_in_chat_is_not_acknowledged_again_right_after_its_summary(
    make_ticket: TicketFactory, scheduler: Scheduler, bot_api: Any, clock: Clock,
) -> None:
    ticket = make_ticket(5001, in_chat=True)
    await scheduler().run_until_idle()
    assert bot_api.sent_messages(5001) == []
    assert statuses(ticket.id) == {("check_in", 0): "pending"}

    clock.advance(days=1)
    await scheduler().run_until_idle()
    [check_in] = bot_api.sent_messages(5001)
    assert ticket.number in check_in["text"] and "در حال بررسی" in check_in["text"]


async def test_an_acknowledgement_written_for_a_ticket_acknowledged_in_chat_is_cancelled_at_send_time(
    make_ticket: TicketFactory, scheduler: Scheduler, bot_api: Any, clock: Clock,
) -> None:
    ticket = make_ticket(5001, in_chat=True)
    with session_scope() as session:  # a row written before tickets opened in chat stopped owing one
        repo.schedule(session=session, ticket=session.get(Ticket, ticket.id), kind=FollowUpKind.ACKNOWLEDGEMENT,
                      due_at=clock())
    await scheduler().run_until_idle()
    assert bot_api.sent_messages(5001) == []
    assert statuses(ticket.id)[("acknowledgement", 0)] == "cancelled"


async def test_a_follow_up_that_fell_due_while_the_bot_was_down_is_sent_once_after_restart(
    make_ticket: TicketFactory, scheduler: Scheduler, bot_api: Any, clock: Clock, bot: Bot,
) -> None:
    ticket = make_ticket(5001)
    first = scheduler()
    loop = asyncio.create_task(first.run())
    # wait for the acknowledgement instead of a fixed sleep: a slow machine may take longer to send it
    for _ in range(200):
        if bot_api.sent_messages(5001) or loop.done():
            break
        await asyncio.sleep(0.05)
    first.stop()
    await loop
    assert len(bot_api.sent_messages(5001)) == 1  # the acknowledgement

    clock.advance(days=3)  # the bot is down while the check-in falls due
    restarted = scheduler()
    await restarted.run_until_idle()
    await restarted.run_until_idle()
    acknowledgement, check_in = (m["text"] for m in bot_api.sent_messages(5001))
    assert ticket.number in check_in and "در حال بررسی" in check_in
    assert statuses(ticket.id)[("check_in", 0)] == "sent"


async def test_a_claim_left_by_a_crashed_scheduler_is_taken_over_after_the_lease(
    make_ticket: TicketFactory, scheduler: Scheduler, bot_api: Any, clock: Clock,
) -> None:
    ticket = make_ticket(5001)
    with session_scope() as session:  # a scheduler claims the acknowledgement, then dies before sending
        assert repo.claim_due(session=session, token="dead:1", now=clock(), limit=10) == 1

    await scheduler().run_until_idle()
    assert bot_api.sent_messages(5001) == []  # still within the lease: it may yet be sent by its owner

    clock.advance(minutes=3)
    await scheduler().run_until_idle()
    assert len(bot_api.sent_messages(5001)) == 1
    assert statuses(ticket.id)[("acknowledgement", 0)] == "sent"


async def test_a_message_that_may_have_left_when_its_scheduler_died_is_never_sent_again(
    make_ticket: TicketFactory, scheduler: Scheduler, bot_api: Any, clock: Clock,
) -> None:
    ticket = make_ticket(5001)
    with session_scope() as session:  # claimed and marked in flight, then the process was killed
        repo.claim_due(session=session, token="dead:1", now=clock(), limit=10)
        ack_id = session.scalar(select(FollowUp.id).where(FollowUp.kind == FollowUpKind.ACKNOWLEDGEMENT))
        assert repo.mark_in_flight(session=session, ids=[ack_id], token="dead:1", now=clock()) == {ack_id}

    clock.advance(minutes=3)
    await scheduler().run_until_idle()
    assert bot_api.sent_messages(5001) == []
    with session_scope() as session:
        ack = session.get(FollowUp, ack_id)
        assert ack.status is FollowUpStatus.FAILED and ack.last_error == repo.UNCERTAIN
    assert statuses(ticket.id)[("check_in", 0)] == "pending"


async def test_two_schedulers_on_one_database_send_each_follow_up_exactly_once(
    make_ticket: TicketFactory, scheduler: Scheduler, bot_api: Any, clock: Clock, database_url: str,
    policy: FollowUpPolicy,
) -> None:
    for user_id in range(7000, 7150):
        make_ticket(user_id)
    clock.advance(days=1)  # acknowledgements and first check-ins are all due: 300 messages
    # Two engines on the same file, as two bot processes would have.
    small_batches = dataclasses.replace(policy.scheduler, batch_size=20)
    one = scheduler(worker_id="bot-a", settings=small_batches,
                    session_factory=sessionmaker(make_engine(database_url), expire_on_commit=False))
    two = scheduler(worker_id="bot-b", settings=small_batches,
                    session_factory=sessionmaker(make_engine(database_url), expire_on_commit=False))
    await asyncio.gather(one.run_until_idle(), two.run_until_idle())

    per_chat = Counter(m["chat_id"] for m in bot_api.sent_messages())
    assert sorted(per_chat.values()) == [2] * 150
    assert one.stats.sent + two.stats.sent == 300
    assert one.stats.sent > 0 and two.stats.sent > 0  # both really worked, concurrently
    with session_scope() as session:
        claimed_by = Counter(f.claimed_by.split(":")[0] for f in session.scalars(
            select(FollowUp).where(FollowUp.status == FollowUpStatus.SENT)))
    assert set(claimed_by) == {"bot-a", "bot-b"}


async def test_a_check_in_due_at_night_waits_for_the_morning(
    make_ticket: TicketFactory, scheduler: Scheduler, bot_api: Any, clock: Clock,
) -> None:
    night = datetime(2026, 11, 22, 19, 0, tzinfo=timezone.utc)  # 22:30 in Tehran
    clock.moment = night
    ticket = make_ticket(5001, at=night - timedelta(days=1))  # its check-in fell due at 22:30
    await scheduler().run_until_idle()
    # The acknowledgement answers a message the customer has just written, so it is exempt.
    assert statuses(ticket.id) == {("acknowledgement", 0): "sent", ("check_in", 0): "pending"}

    clock.moment = datetime(2026, 11, 23, 4, 29, tzinfo=timezone.utc)  # 07:59
    await scheduler().run_until_idle()
    assert len(bot_api.sent_messages(5001)) == 1
    clock.moment = datetime(2026, 11, 23, 4, 30, tzinfo=timezone.utc)  # 08:00
    await scheduler().run_until_idle()
    assert len(bot_api.sent_messages(5001)) == 2


async def test_a_holiday_is_quiet_all_day(
    make_ticket: TicketFactory, scheduler: Scheduler, bot_api: Any, clock: Clock, policy: FollowUpPolicy,
) -> None:
    holiday = dataclasses.replace(policy, holidays=frozenset({date(2026, 11, 23)}))
    make_ticket(5001, at=clock() - timedelta(days=2))
    clock.moment = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)  # 11:30 on the holiday
    await scheduler(policy=holiday).run_until_idle()
    assert [m["text"] for m in bot_api.sent_messages(5001) if "فراموش" in m["text"]] == []
    clock.moment = datetime(2026, 11, 24, 4, 30, tzinfo=timezone.utc)  # 08:00 the day after
    await scheduler(policy=holiday).run_until_idle()
    assert len(bot_api.sent_messages(5001)) == 2


async def test_a_customer_who_blocked_the_bot_is_marked_and_never_retried(
    make_ticket: TicketFactory, scheduler: Scheduler, bot_api: Any, clock: Clock,
) -> None:
    ticket = make_ticket(5001)
    bot_api.blocked_chats.add(5001)
    sender = scheduler()
    await sender.run_until_idle()
    with session_scope() as session:
        customer = session.scalars(select(Customer)).one()
        assert customer.blocked_bot_at == clock()
    assert statuses(ticket.id) == {("acknowledgement", 0): "failed", ("check_in", 0): "cancelled"}

    attempts = len(bot_api.requests)
    clock.advance(days=5)
    await sender.run_until_idle()
    assert len(bot_api.requests) == attempts  # not one more request to that chat


async def test_flood_control_429_waits_and_sends_the_same_follow_up_once(
    make_ticket: TicketFactory, scheduler: Scheduler, bot_api: Any, clock: Clock,
) -> None:
    ticket = make_ticket(5001)
    bot_api.fail_next("sendMessage", status=429, retry_after=1)
    sender = scheduler()
    started = asyncio.get_running_loop().time()
    await sender.run_until_idle()
    assert asyncio.get_running_loop().time() - started >= 0.95  # it honoured retry_after
    assert sender.stats.retried_after == 1
    assert len(bot_api.sent_messages(5001)) == 1
    assert [m for m, _ in bot_api.requests].count("sendMessage") == 2
    assert statuses(ticket.id)[("acknowledgement", 0)] == "sent"


async def test_a_burst_against_a_rate_limited_api_loses_and_duplicates_nothing(
    make_ticket: TicketFactory, scheduler: Scheduler, clock: Clock, policy: FollowUpPolicy,
) -> None:
    for user_id in range(8000, 8120):
        make_ticket(user_id)
    standin = BotApiStandIn(rate_cap_per_second=60, agent_chat_id=AGENT_CHAT)
    await standin.start()
    try:
        async with Bot("123:TEST", base_url=standin.base_url) as limited_bot:
            sender = scheduler(bot=limited_bot)
            await sender.run_until_idle()
        per_chat = Counter(m["chat_id"] for m in standin.sent_messages())
        assert len(per_chat) == 120 and set(per_chat.values()) == {1}
        assert sender.stats.retried_after >= 1  # the burst really hit the limit
    finally:
        await standin.stop()


async def test_stopped_customers_get_nothing_more(
    make_ticket: TicketFactory, scheduler: Scheduler, bot_api: Any, clock: Clock,
) -> None:
    ticket = make_ticket(5001)
    with session_scope() as session:
        customer = session.scalars(select(Customer)).one()
        assert repo.opt_out(session=session, customer=customer) == 2
    clock.advance(days=2)
    await scheduler().run_until_idle()
    assert bot_api.sent_messages(5001) == []
    assert set(statuses(ticket.id).values()) == {"cancelled"}


async def test_agents_are_reminded_before_the_first_response_target_is_breached(
    make_ticket: TicketFactory, scheduler: Scheduler, bot_api: Any, clock: Clock,
) -> None:
    ticket = make_ticket(5001)
    with session_scope() as session:
        session.get(Ticket, ticket.id).agent_topic_id = 42
    sender = scheduler(agent_reminders=True)
    await sender.run_until_idle()  # writes the reminders, sends the acknowledgement
    clock.advance(hours=21, minutes=59)
    await sender.run_until_idle()
    assert bot_api.sent_messages(AGENT_CHAT) == []
    clock.advance(minutes=1)  # 24h target minus 2h warning
    sender._last_maintenance = None
    await sender.run_until_idle()
    [reminder] = bot_api.sent_messages(AGENT_CHAT)
    assert ticket.number in reminder["text"] and int(reminder["message_thread_id"]) == 42
