"""Escalation to people: a forum topic per ticket with the whole story, agents and the customer
talking through the bot, internal notes, hand-back, and who may act at all."""
from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from devtools.bot_api_standin import photo_update, text_update
from hamdel.storage.db import session_scope
from hamdel.storage.models import Ticket, TicketEvent, TicketStatus
from hamdel.ticket_service import escalate
from tests.bot.conftest import AGENT, AGENTS, CUSTOMER, Harness, HarnessFactory, open_complaint, ticket
from tests.bot.fake_rasa import FakeRasa

ASK_FOR_A_PERSON = "می‌خوام با یه آدم واقعی حرف بزنم"


class Dialogue:
    """Rasa as far as these tests need it: the story opens a ticket; asking for a person escalates."""

    def __init__(self) -> None:
        self.number: str | None = None

    def __call__(self, sender: str, message: str) -> list[dict[str, Any]]:
        if message == ASK_FOR_A_PERSON:
            with session_scope() as session:
                found = session.scalars(select(Ticket).where(Ticket.number == self.number)).one()
                escalate(session=session, ticket=found, reason="customer_request")
            return [{"text": "پرونده‌تون رو به همکارم سپردم؛ همین‌جا جوابتون رو می‌ده."},
                    {"custom": {"event": "handoff", "ticket_number": self.number, "reason": "customer_request"}}]
        if self.number is None:
            self.number = open_complaint(story=message)
            return [{"text": f"شکایتتون با شماره‌ی {self.number} ثبت شد."},
                    {"custom": {"event": "ticket_opened", "ticket_number": self.number}}]
        return [{"text": f"شنیدم: {message}"}]


@pytest.fixture
async def escalated(make_harness: HarnessFactory) -> tuple[Harness, str, int]:
    """A customer told their story, asked for a person, and the agents' topic was opened."""
    dialogue = Dialogue()
    harness: Harness = await make_harness(rasa=FakeRasa(dialogue))
    harness.api.members[AGENT] = "member"
    harness.push(text_update(CUSTOMER, CUSTOMER, "سفارش ۴۵۸۷۱۲۳ رو دو هفته پیش دادم و هنوز نرسیده، خسته شدم"))
    await harness.wait_texts(CUSTOMER, 1)
    await asyncio.sleep(0.5)
    harness.push(text_update(CUSTOMER, CUSTOMER, ASK_FOR_A_PERSON))
    await harness.api.wait_for(lambda: bool(harness.api.topics), what="a forum topic")
    thread_id = next(iter(harness.api.topics))
    await harness.wait_texts(AGENTS, 2, thread_id=thread_id)
    assert dialogue.number is not None
    return harness, dialogue.number, thread_id


def agent_says(harness: Harness, thread_id: int, text: str, user_id: int = AGENT) -> None:
    harness.push(text_update(AGENTS, user_id, text, message_thread_id=thread_id, first_name="سارا"))


async def test_escalation_opens_a_topic_with_a_card_holding_the_whole_story(
        escalated: tuple[Harness, str, int]) -> None:
    harness, number, thread_id = escalated
    topic = harness.api.topics[thread_id]
    assert number in topic["name"] and "ارسال و تحویل" in topic["name"]
    card, transcript = harness.texts_to(AGENTS, thread_id=thread_id)[:2]
    assert number in card
    assert "سفارشتان هنوز نرسیده است." in card  # the confirmed reflection
    assert "زودتر بفرستید" in card  # the remedy the customer asked for
    assert "4587123" in card and "مریم" in card
    assert "درخواست خود مشتری" in card  # why it was escalated
    # The transcript holds the customer's own words and the bot's answers: nobody asks again.
    assert "هنوز نرسیده، خسته شدم" in transcript and ASK_FOR_A_PERSON in transcript
    assert f"شکایتتون با شماره‌ی {number} ثبت شد." in transcript
    stored = ticket(number)
    assert stored.agent_topic_id == thread_id and stored.human_active and stored.status is TicketStatus.ESCALATED


async def test_while_a_human_owns_the_chat_the_customers_words_go_to_the_topic_not_to_the_bot(
        escalated: tuple[Harness, str, int]) -> None:
    harness, number, thread_id = escalated
    turns_before = len(harness.rasa.messages())
    harness.push(text_update(CUSTOMER, CUSTOMER, "پس کی جواب می‌دید؟"))
    harness.push(photo_update(CUSTOMER, CUSTOMER, file_id="AgACbox"))
    in_topic = await harness.wait_texts(AGENTS, 4, thread_id=thread_id)
    assert "پس کی جواب می‌دید؟" in in_topic[2]
    copied = harness.api.sent_messages(AGENTS, thread_id=thread_id)[3]
    assert copied["method"] == "copyMessage" and copied["from_chat_id"] == CUSTOMER
    assert len(harness.rasa.messages()) == turns_before  # the bot stayed silent
    assert [e.file_id for e in ticket(number).evidence] == ["AgACbox"]


async def test_an_agents_reply_reaches_the_customer_and_counts_as_first_response(
        escalated: tuple[Harness, str, int]) -> None:
    harness, number, thread_id = escalated
    before = len(harness.texts_to(CUSTOMER))
    agent_says(harness, thread_id, "سلام مریم خانم، سارا هستم. همین الان پیگیری کردم؛ فردا تحویل می‌شه.")
    replies = await harness.wait_texts(CUSTOMER, before + 1)
    assert replies[-1] == "سلام مریم خانم، سارا هستم. همین الان پیگیری کردم؛ فردا تحویل می‌شه."
    # Recorded right after Telegram accepted the message.
    await harness.api.wait_for(lambda: ticket(number).first_human_response_at is not None, what="first response")
    stored = ticket(number)
    assert stored.first_human_response_at is not None
    assert stored.assigned_agent_id == AGENT  # answering is taking


async def test_an_internal_note_never_reaches_the_customer(escalated: tuple[Harness, str, int]) -> None:
    harness, number, thread_id = escalated
    before = harness.texts_to(CUSTOMER)
    agent_says(harness, thread_id, "/note مشتری دو بار قبلاً هم شکایت کرده؛ با انبار هماهنگ شد")
    confirmations = await harness.wait_texts(AGENTS, 3, thread_id=thread_id)
    assert "یادداشت داخلی ثبت شد" in confirmations[-1]
    await asyncio.sleep(0.3)
    assert harness.texts_to(CUSTOMER) == before
    notes = [e for e in ticket(number).events if e.kind == "note"]
    assert [n.body for n in notes] == ["مشتری دو بار قبلاً هم شکایت کرده؛ با انبار هماهنگ شد"]
    assert notes[0].actor == f"agent:{AGENT}"


async def test_take_resolve_and_close_move_the_ticket_and_stamp_its_times(
        escalated: tuple[Harness, str, int]) -> None:
    harness, number, thread_id = escalated
    agent_says(harness, thread_id, "/take")
    await harness.wait_texts(AGENTS, 3, thread_id=thread_id)
    assert ticket(number).assigned_agent_id == AGENT
    agent_says(harness, thread_id, "/resolve")
    await harness.wait_texts(AGENTS, 4, thread_id=thread_id)
    resolved = ticket(number)
    assert resolved.status is TicketStatus.RESOLVED and resolved.resolved_at is not None
    assert not resolved.human_active  # the bot asks "was it really solved?" later
    agent_says(harness, thread_id, "/close")
    await harness.wait_texts(AGENTS, 5, thread_id=thread_id)
    closed = ticket(number)
    assert closed.status is TicketStatus.CLOSED and closed.closed_at is not None
    await harness.api.wait_for(lambda: harness.api.topics[thread_id]["closed"] is True, what="the topic closed")
    customer_heard = harness.texts_to(CUSTOMER)
    assert any("برعهده گرفت" in t for t in customer_heard)
    assert any("حل‌شده ثبت کرد" in t for t in customer_heard)
    assert any(f"پرونده‌ی \u2068{number}\u2069 بسته شد" in t for t in customer_heard)


async def test_take_after_resolve_reopens_the_ticket_and_take_after_close_is_refused_honestly(
        escalated: tuple[Harness, str, int]) -> None:
    """The customer wrote back after «حل‌شده»: an agent's /take reopens the ticket on the record.
    Once it is closed, /take is refused with the reason and nothing changes."""
    harness, number, thread_id = escalated
    agent_says(harness, thread_id, "/resolve")
    await harness.wait_texts(AGENTS, 3, thread_id=thread_id)
    agent_says(harness, thread_id, "/take")
    said = await harness.wait_texts(AGENTS, 4, thread_id=thread_id)
    assert said[-1] == "✅ پرونده را سارا برعهده گرفت."
    reopened = ticket(number)
    assert reopened.status is TicketStatus.ESCALATED and reopened.reopened_count == 1
    assert [e.body for e in reopened.events if e.kind == "status"][-2:] == ["resolved", "escalated"]

    agent_says(harness, thread_id, "/close")
    await harness.wait_texts(AGENTS, 5, thread_id=thread_id)
    agent_says(harness, thread_id, "/take")
    said = await harness.wait_texts(AGENTS, 6, thread_id=thread_id)
    assert said[-1] == "این پرونده بسته‌شده است."
    closed = ticket(number)
    assert closed.status is TicketStatus.CLOSED and closed.reopened_count == 1


async def test_hand_back_returns_the_customer_to_the_bot(escalated: tuple[Harness, str, int]) -> None:
    harness, number, thread_id = escalated
    agent_says(harness, thread_id, "/handback")
    await harness.wait_texts(AGENTS, 3, thread_id=thread_id)
    stored = ticket(number)
    assert not stored.human_active and stored.status is TicketStatus.OPEN
    harness.push(text_update(CUSTOMER, CUSTOMER, "باشه ممنون"))
    await harness.api.wait_for(lambda: harness.rasa.messages()[-1] == "باشه ممنون", what="the bot answering again")
    assert len(harness.texts_to(AGENTS, thread_id=thread_id)) == 3  # nothing more went to the topic


async def test_someone_outside_the_agents_group_is_refused(escalated: tuple[Harness, str, int]) -> None:
    harness, number, thread_id = escalated
    outsider = 6666  # `members` does not list them: getChatMember says "left"
    before = harness.texts_to(CUSTOMER)
    agent_says(harness, thread_id, "/close", user_id=outsider)
    agent_says(harness, thread_id, "سلام، من از طرف شرکتم", user_id=outsider)
    replies = await harness.wait_texts(AGENTS, 4, thread_id=thread_id)
    assert all("فقط اعضای گروه کارشناسان" in r for r in replies[2:])
    await asyncio.sleep(0.2)
    assert harness.texts_to(CUSTOMER) == before
    assert ticket(number).status is TicketStatus.ESCALATED
    assert harness.api.calls("getChatMember")[-1]["user_id"] == outsider


async def test_an_anonymous_admin_is_refused(escalated: tuple[Harness, str, int]) -> None:
    harness, number, thread_id = escalated
    group = {"id": AGENTS, "type": "supergroup", "title": "Agents"}
    harness.push(text_update(AGENTS, AGENT, "/resolve", message_thread_id=thread_id, sender_chat=group))
    replies = await harness.wait_texts(AGENTS, 3, thread_id=thread_id)
    assert "فقط اعضای گروه کارشناسان" in replies[-1]
    assert ticket(number).status is TicketStatus.ESCALATED


async def test_the_allow_list_narrows_who_may_act(make_harness: HarnessFactory) -> None:
    harness: Harness = await make_harness(agent_allowlist="42")
    harness.api.members[AGENT] = "administrator"  # a member, but not on the list
    number = open_complaint(escalated=True)
    await harness.api.wait_for(lambda: bool(harness.api.topics), what="the sweep opening a topic")
    thread_id = next(iter(harness.api.topics))
    # The card is posted after the topic is recorded on the ticket: before it, a command in the topic
    # belongs to no ticket yet (a CI run pushed /take in that moment and waited in vain).
    await harness.api.wait_for(lambda: bool(harness.texts_to(AGENTS, thread_id=thread_id)), what="the card")
    agent_says(harness, thread_id, "/take")
    await harness.api.wait_for(lambda: any("فقط اعضای" in t for t in harness.texts_to(AGENTS, thread_id=thread_id)),
                               what="a refusal")
    assert ticket(number).assigned_agent_id is None


async def test_an_escalation_made_elsewhere_gets_its_topic_from_the_sweep(harness: Harness) -> None:
    number = open_complaint(escalated=True, reason="severity")
    await harness.api.wait_for(lambda: bool(harness.api.topics), what="a topic")
    thread_id = next(iter(harness.api.topics))
    card = (await harness.wait_texts(AGENTS, 1, thread_id=thread_id))[0]
    assert number in card and "شدت بالا" in card


async def test_the_customer_is_told_honestly_when_nobody_takes_the_chat(make_harness: HarnessFactory) -> None:
    harness: Harness = await make_harness(agent_take_timeout_minutes=0.01)  # 0.6 s
    number = open_complaint(escalated=True)
    await harness.api.wait_for(lambda: any("هنوز هیچ‌کدوم از همکارانم" in t for t in harness.texts_to(CUSTOMER)),
                               what="the still-waiting notice", timeout=10)
    notice = next(t for t in harness.texts_to(CUSTOMER) if "هنوز هیچ‌کدوم" in t)
    assert number in notice and "۲۴ ساعت" in notice
    await asyncio.sleep(1.0)  # told once, not on every sweep
    assert sum("هنوز هیچ‌کدوم" in t for t in harness.texts_to(CUSTOMER)) == 1
    with session_scope() as session:
        assert session.scalar(select(TicketEvent).where(TicketEvent.kind == "wait_notice")) is not None


async def test_not_solved_after_resolution_brings_the_chat_back_to_the_same_topic(
        escalated: tuple[Harness, str, int]) -> None:
    from devtools.bot_api_standin import callback_update
    from hamdel.storage.models import FollowUp, FollowUpKind

    harness, number, thread_id = escalated
    agent_says(harness, thread_id, "/resolve")
    await harness.wait_texts(AGENTS, 3, thread_id=thread_id)
    with session_scope() as session:
        check = session.scalars(select(FollowUp).join(Ticket).where(
            Ticket.number == number, FollowUp.kind == FollowUpKind.RESOLUTION_CHECK)).one()
    # The customer answers «نه، هنوز حل نشده» to "was your problem solved?".
    harness.push(callback_update(CUSTOMER, CUSTOMER, f"fu:solved:{check.id}:n"))
    await harness.api.wait_for(lambda: any("دوباره ارجاع شد" in t for t in harness.texts_to(AGENTS, thread_id=thread_id)),
                               what="the topic told about the reopening")
    stored = ticket(number)
    assert stored.status is TicketStatus.ESCALATED and stored.reopened_count == 1
    assert stored.human_active and stored.agent_topic_id == thread_id
    assert len(harness.api.topics) == 1  # the same topic, not a new one
