"""S7: people and things that must not act on a ticket — outsiders in the agents' topic, anonymous
admins, other bots, a member's forwarded «/close», forged button data, agents' commands in a
private chat. Every attempt is counted; none may change a ticket or reach the customer."""
from __future__ import annotations

import asyncio
import time
from typing import Any

from sqlalchemy import func, select

from devtools.bot_api_standin import callback_update, text_update
from hamdel.storage.db import session_scope
from hamdel.storage.models import FollowUp, Ticket, TicketEvent
from tests.bot.conftest import AGENT, AGENTS, CUSTOMER, Harness, open_complaint

OUTSIDER, OTHER_BOT, STRANGER = 9666, 9777, 5999


def _state(number: str) -> tuple[Any, ...]:
    with session_scope() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.number == number)).one()
        events = session.scalar(select(func.count()).select_from(TicketEvent).where(TicketEvent.ticket_id == ticket.id))
        return (ticket.status, ticket.assigned_agent_id, ticket.human_active, ticket.solved_confirmed,
                ticket.satisfaction_score if hasattr(ticket, "satisfaction_score") else None, events)


def _in_topic(thread_id: int, user_id: int, text: str, **changes: Any) -> dict[str, Any]:
    update = text_update(AGENTS, user_id, text, message_thread_id=thread_id, first_name="ناشناس")
    update["message"].update(changes)
    return update


async def test_s7_nobody_outside_the_agents_acts_on_a_ticket(harness: Harness) -> None:
    number = open_complaint(escalated=True)
    harness.api.members[AGENT] = "member"
    harness.api.members[OTHER_BOT] = "administrator"  # a bot that is even an admin of the group
    await harness.api.wait_for(lambda: bool(harness.api.topics), what="the agents' topic")
    thread_id = next(iter(harness.api.topics))
    await harness.api.wait_for(lambda: _state(number)[2], what="the topic owned by humans")
    before = _state(number)
    with session_scope() as session:
        followup_id = session.scalars(select(FollowUp.id)).first()
    assert followup_id is not None

    attempts = [
        _in_topic(thread_id, OUTSIDER, "/close"),  # not a member
        _in_topic(thread_id, OUTSIDER, "/take"),
        _in_topic(thread_id, OUTSIDER, "سلام، من از طرف شرکت هستم"),
        text_update(AGENTS, 0, "/close", message_thread_id=thread_id,  # an anonymous admin
                    sender_chat={"id": AGENTS, "type": "supergroup", "title": "کارشناسان"}),
        text_update(AGENTS, 0, "پیام از طرف گروه", message_thread_id=thread_id,
                    sender_chat={"id": AGENTS, "type": "supergroup", "title": "کارشناسان"}),
        _in_topic(thread_id, OTHER_BOT, "/resolve", **{"from": {"id": OTHER_BOT, "is_bot": True, "first_name": "Bot"}}),
        _in_topic(thread_id, AGENT, "/close", forward_origin={  # a member forwards someone's «/close»
            "type": "user", "date": int(time.time()), "sender_user": {"id": OUTSIDER, "is_bot": False,
                                                                      "first_name": "ناشناس"}}),
        callback_update(STRANGER, STRANGER, f"fu:solved:{followup_id}:n"),  # someone else's follow-up
        callback_update(STRANGER, STRANGER, f"fu:rate:{followup_id}:1"),
        callback_update(STRANGER, STRANGER, "h:" + "0" * 32),  # a hashed payload nobody issued
        callback_update(AGENTS, OUTSIDER, "r:/request_human"),  # a dialogue button pressed in the group
        text_update(STRANGER, STRANGER, "/close"),  # agents' commands typed in a private chat
        text_update(STRANGER, STRANGER, "/take"),
    ]
    customer_before = len(harness.texts_to(CUSTOMER))
    for update in attempts:
        harness.push(update)
    await asyncio.sleep(2.5)
    after = _state(number)
    reached_customer = len(harness.texts_to(CUSTOMER)) - customer_before
    refusals = sum("⛔" in t for t in harness.texts_to(AGENTS, thread_id=thread_id))
    unauthorised = sum(a != b for a, b in zip(before, after, strict=True)) + reached_customer
    print(f"\nS7: {len(attempts)} attempts: unauthorised actions {unauthorised}, messages to the customer "
          f"{reached_customer}, refusals said in the topic {refusals}, Rasa turns {len(harness.rasa.messages())}")
    assert unauthorised == 0
    assert refusals >= 5  # outsiders, anonymous admins and bots are told, not ignored silently
    assert all(sender != f"telegram:{OUTSIDER}" for sender, _ in harness.rasa.received)

    harness.push(_in_topic(thread_id, AGENT, "/take"))  # and a real agent still can
    await harness.api.wait_for(lambda: _state(number)[1] == AGENT, what="the member's /take")
