"""The customer's side: "was it solved?", the 1–5 rating, "what could we have done better?", /stop.

Each test plays the conversation through a real python-telegram-bot Application talking to the
local Bot API stand-in, with `followups.integration.attach` wired in as the bot wires it.
"""
from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes

from followups import texts
from followups.integration import FollowUps, attach
from followups.scheduler import FollowUpScheduler
from hamdel.followup_policy import FollowUpPolicy
from hamdel.storage.db import session_scope
from hamdel.storage.models import FollowUp, FollowUpKind, FollowUpStatus, Ticket, TicketStatus
from hamdel.ticket_service import set_status
from tests.followups.conftest import AGENT_CHAT, Clock, TicketFactory, callback_update, text_update

CUSTOMER = 5001


@pytest.fixture
async def app(bot_api: Any, policy: FollowUpPolicy, clock: Clock, database_url: str) -> AsyncIterator[Application]:
    application = (ApplicationBuilder().context_types(ContextTypes(bot_data=Wired)).token("123:TEST")
                   .base_url(bot_api.base_url).build())
    application.bot_data.followups = attach(application, policy=policy, now=clock, agent_chat_id=AGENT_CHAT,
                                            start_scheduler=False)
    async with application:
        yield application
    await scheduler_of(application).close()


@dataclass
class Wired:
    """The application's bot_data here: what `attach` handed back, kept as the bot keeps it."""

    followups: FollowUps | None = None


def followups_of(app: Application) -> FollowUps:
    wired: Wired = app.bot_data
    assert wired.followups is not None
    return wired.followups


def scheduler_of(app: Application) -> FollowUpScheduler:
    return followups_of(app).scheduler


async def customer_taps(app: Application, data: str) -> None:
    await app.process_update(Update.de_json(callback_update(CUSTOMER, CUSTOMER, data, 1), app.bot))


async def customer_writes(app: Application, text: str) -> bool:
    """What the bot's text handler does first: offer the text to the follow-ups' comment question."""
    return await followups_of(app).take_comment(CUSTOMER, CUSTOMER, text)


def buttons(message: dict[str, Any]) -> list[str]:
    markup = message.get("reply_markup")
    markup = json.loads(markup) if isinstance(markup, str) else markup
    return [b["callback_data"] for row in markup["inline_keyboard"] for b in row]


def last_text(bot_api: Any, chat_id: int = CUSTOMER) -> str:
    return bot_api.sent_messages(chat_id)[-1]["text"]


async def resolve(ticket: Ticket, policy: FollowUpPolicy, clock: Clock) -> None:
    with session_scope() as session:
        set_status(session=session, ticket=session.get(Ticket, ticket.id), status=TicketStatus.RESOLVED,
                   actor="agent:9", now=clock(), followup_policy=policy)


@pytest.fixture
async def asked_if_solved(app: Application, make_ticket: TicketFactory, bot_api: Any, policy: FollowUpPolicy,
                          clock: Clock) -> tuple[Ticket, str]:
    """A ticket resolved by an agent, and the "was your problem solved?" message with its buttons."""
    ticket = make_ticket(CUSTOMER)
    with session_scope() as session:
        session.get(Ticket, ticket.id).agent_topic_id = 42
    clock.advance(hours=5)
    await resolve(ticket, policy, clock)
    clock.advance(hours=2)
    await scheduler_of(app).run_until_idle()
    question = bot_api.sent_messages(CUSTOMER)[-1]
    yes, no = buttons(question)
    assert yes.endswith(":y") and no.endswith(":n") and all(len(b.encode()) <= 64 for b in (yes, no))
    return ticket, question


async def test_no_reopens_and_escalates_the_ticket_and_tells_the_agents_topic(
    app: Application, asked_if_solved: tuple[Ticket, dict], bot_api: Any,
) -> None:
    ticket, question = asked_if_solved
    await customer_taps(app, buttons(question)[1])

    with session_scope() as session:
        reopened = session.get(Ticket, ticket.id)
        assert reopened.status is TicketStatus.ESCALATED
        assert reopened.reopened_count == 1 and reopened.solved_confirmed is False
        assert reopened.resolved_at is None
        pending = [f.kind for f in reopened.followups if f.status is FollowUpStatus.PENDING]
    assert FollowUpKind.CHECK_IN in pending  # we keep checking in on the reopened ticket
    assert ticket.number in last_text(bot_api) and "دوباره باز" in last_text(bot_api)
    [notice] = bot_api.sent_messages(AGENT_CHAT)
    assert ticket.number in notice["text"] and int(notice["message_thread_id"]) == 42

    await customer_taps(app, buttons(question)[1])  # a second tap changes nothing
    with session_scope() as session:
        assert session.get(Ticket, ticket.id).reopened_count == 1
    assert last_text(bot_api) == texts.ALREADY_ANSWERED
    assert len(bot_api.sent_messages(AGENT_CHAT)) == 1


async def test_yes_then_a_rating_and_a_comment_are_stored_on_the_ticket(
    app: Application, asked_if_solved: tuple[Ticket, dict], bot_api: Any, clock: Clock,
) -> None:
    ticket, question = asked_if_solved
    await customer_taps(app, buttons(question)[0])
    with session_scope() as session:
        assert session.get(Ticket, ticket.id).solved_confirmed is True
    assert last_text(bot_api) in texts.SOLVED_THANKS

    clock.advance(minutes=59)
    await scheduler_of(app).run_until_idle()
    assert last_text(bot_api) in texts.SOLVED_THANKS  # the rating waits its hour
    clock.advance(minutes=1)
    await scheduler_of(app).run_until_idle()
    rating_question = bot_api.sent_messages(CUSTOMER)[-1]
    assert sorted(b[-1] for b in buttons(rating_question)) == list("12345")

    await customer_taps(app, next(b for b in buttons(rating_question) if b.endswith(":2")))
    assert last_text(bot_api) in texts.RATING_THANKS_LOW  # a low score is met with an apology

    assert await customer_writes(app, "کاش زودتر خبر می‌دادید که بسته کجاست.")
    assert last_text(bot_api) in texts.COMMENT_THANKS
    with session_scope() as session:
        rated = session.get(Ticket, ticket.id)
        assert rated.csat_score == 2
        assert rated.csat_comment == "کاش زودتر خبر می‌دادید که بسته کجاست."
    assert "کاش زودتر" in bot_api.sent_messages(AGENT_CHAT)[-1]["text"]

    # The question is answered: the next message is a conversation again, not a comment.
    assert not await customer_writes(app, "یه شکایت دیگه هم دارم")


async def test_the_comment_question_closes_when_the_customer_skips_it_or_time_passes(
    app: Application, asked_if_solved: tuple[Ticket, dict], bot_api: Any, clock: Clock,
) -> None:
    ticket, question = asked_if_solved
    await customer_taps(app, buttons(question)[0])
    clock.advance(hours=1)
    await scheduler_of(app).run_until_idle()
    await customer_taps(app, next(b for b in buttons(bot_api.sent_messages(CUSTOMER)[-1]) if b.endswith(":5")))
    assert last_text(bot_api) in texts.RATING_THANKS_HIGH
    clock.advance(hours=3)  # beyond comment_window
    assert not await customer_writes(app, "سلام")

    with session_scope() as session:
        assert session.get(Ticket, ticket.id).csat_score == 5
    await customer_taps(app, next(b for b in buttons(bot_api.sent_messages(CUSTOMER)[-2]) if b.endswith(":1")))
    assert last_text(bot_api) == texts.ALREADY_ANSWERED  # the first rating stands


async def test_someone_elses_button_does_nothing(
    app: Application, asked_if_solved: tuple[Ticket, dict], bot_api: Any,
) -> None:
    ticket, question = asked_if_solved
    await app.process_update(Update.de_json(callback_update(6001, 6001, buttons(question)[1], 1), app.bot))
    with session_scope() as session:
        assert session.get(Ticket, ticket.id).status is TicketStatus.RESOLVED
    assert bot_api.sent_messages(6001)[-1]["text"] == texts.NO_LONGER_VALID


async def test_stop_cancels_every_pending_follow_up_of_the_customer(
    app: Application, make_ticket: TicketFactory, bot_api: Any, clock: Clock,
) -> None:
    ticket = make_ticket(CUSTOMER)
    await app.process_update(Update.de_json(text_update(CUSTOMER, CUSTOMER, "/stop"), app.bot))
    assert last_text(bot_api) == texts.STOPPED
    clock.advance(days=3)
    await scheduler_of(app).run_until_idle()
    assert [m["text"] for m in bot_api.sent_messages(CUSTOMER)] == [texts.STOPPED]
    with session_scope() as session:
        rows = session.scalars(select(FollowUp).where(FollowUp.ticket_id == ticket.id)).all()
    customer_facing = {f.kind: f.status for f in rows if f.kind is not FollowUpKind.AGENT_REMINDER}
    assert customer_facing == {FollowUpKind.ACKNOWLEDGEMENT: FollowUpStatus.CANCELLED,
                               FollowUpKind.CHECK_IN: FollowUpStatus.CANCELLED}
    # The team still owes the customer an answer: the agents' reminders are not cancelled.
    assert {f.status for f in rows if f.kind is FollowUpKind.AGENT_REMINDER} == {FollowUpStatus.SENT}


async def test_attach_reaches_the_bot_only_through_what_it_returns(bot_api: Any, policy: FollowUpPolicy,
                                                                   clock: Clock, database_url: str) -> None:
    """No shared lists in bot_data filled in registration order: the bot gets a handle and decides."""
    application = ApplicationBuilder().token("123:TEST").base_url(bot_api.base_url).build()
    followups = attach(application, policy=policy, now=clock, agent_chat_id=AGENT_CHAT, start_scheduler=False)
    assert application.bot_data == {}
    assert isinstance(followups, FollowUps) and followups.scheduler.agent_chat_id == AGENT_CHAT
    await followups.scheduler.close()
