"""Fixtures for follow-up tests: a migrated SQLite file per test (from tests/conftest.py), a clock
the test moves by hand, a policy with compressed durations, the local Bot API stand-in and a real
`telegram.Bot` pointed at it."""
from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from telegram import Bot

from hamdel.followup_policy import FollowUpPolicy, SchedulerSettings, load_followup_policy
from hamdel.storage.db import session_scope
from hamdel.storage.models import Category, Ticket
from hamdel.storage.tickets import get_or_create_customer
from hamdel.ticket_service import open_ticket

from devtools.bot_api_standin import BotApiStandIn, callback_update, text_update  # noqa: F401

AGENT_CHAT = -100777
# Sunday 22 November 2026, 10:00 in Tehran (UTC+03:30): inside business hours, outside quiet hours.
MORNING = datetime(2026, 11, 22, 6, 30, tzinfo=timezone.utc)


class Clock:
    """The scheduler's `now`; tests move it instead of sleeping."""

    def __init__(self, start: datetime = MORNING) -> None:
        self.moment = start

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **kwargs: float) -> datetime:
        self.moment += timedelta(**kwargs)
        return self.moment


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def policy() -> FollowUpPolicy:
    """The shipped policy file, with the sender's own pacing off (the stand-in decides limits)."""
    return dataclasses.replace(
        load_followup_policy(),
        scheduler=SchedulerSettings(poll_interval=timedelta(milliseconds=50), lease=timedelta(minutes=2),
                                    batch_size=50, concurrency=8, max_per_second=None),
    )


@pytest.fixture
async def bot_api() -> AsyncIterator[Any]:
    standin = BotApiStandIn(agent_chat_id=AGENT_CHAT)
    await standin.start()
    yield standin
    await standin.stop()


@pytest.fixture
async def bot(bot_api: Any) -> AsyncIterator[Bot]:
    async with Bot("123:TEST", base_url=bot_api.base_url) as telegram_bot:
        yield telegram_bot


TicketFactory = Callable[..., Ticket]


@pytest.fixture
def make_ticket(database_url: str, policy: FollowUpPolicy, clock: Clock) -> TicketFactory:
    """Open a ticket for Telegram user `user_id` (private chat id = user id) at the clock's time.

    By default the ticket is one replayed from the spool, so its first follow-up is the
    acknowledgement, due at once; `in_chat=True` opens it as the chat does (the summary was the
    acknowledgement, the first follow-up is the check-in)."""

    def make(user_id: int = 5001, *, category: Category = Category.DELIVERY, at: datetime | None = None,
             in_chat: bool = False, **policy_changes: Any) -> Ticket:
        with session_scope() as session:
            customer = get_or_create_customer(session=session, channel="telegram", external_id=str(user_id),
                                              chat_id=user_id)
            ticket = open_ticket(
                session=session, customer=customer, conversation_id=f"telegram:{user_id}", category=category,
                story="سفارشم دیر رسید", key_words=[], reflection="سفارشتان دیر رسید.", order_id=None,
                remedy_sought=None, remedy_sought_text=None, remedy_offered=None, anger=0,
                followup_policy=dataclasses.replace(policy, **policy_changes), now=at or clock(),
                acknowledged_in_chat=in_chat,
            )
        return ticket

    return make
