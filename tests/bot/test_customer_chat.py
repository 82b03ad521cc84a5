"""A customer in a private chat, through the real python-telegram-bot client and the Bot API
stand-in: quick messages heard as one story, buttons, media as evidence, contacts, the things
that are not text, and the command menu."""
from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select

from devtools.bot_api_standin import (
    callback_update,
    contact_update,
    document_update,
    edited_text_update,
    location_update,
    photo_update,
    sticker_update,
    text_update,
)
from hamdel.storage.db import session_scope
from hamdel.storage.models import Customer, Ticket, TranscriptLine
from tests.bot.conftest import CUSTOMER, QUIET, Harness, HarnessFactory, open_complaint, ticket
from tests.bot.fake_rasa import FakeRasa

REFLECTION = "اگه درست متوجه شده باشم، سفارشتون هنوز نرسیده. درست فهمیدم؟"


def reflecting(sender: str, message: str) -> list[dict[str, Any]]:
    if message == "/affirm":
        return [{"text": "ممنون که تأیید کردید. برای حل این مشکل چه کاری از دست ما ساخته است؟"}]
    return [{"text": REFLECTION, "buttons": [{"title": "بله، درسته", "payload": "/affirm"},
                                             {"title": "نه، اصلاح می‌کنم", "payload": "/deny"}]}]


async def test_messages_sent_in_quick_succession_are_one_turn(harness: Harness) -> None:
    harness.push(text_update(CUSTOMER, CUSTOMER, "سلام"))
    harness.push(text_update(CUSTOMER, CUSTOMER, "سفارشم به شماره ۴۵۸۷۱۲۳ هنوز نرسیده"))
    harness.push(text_update(CUSTOMER, CUSTOMER, "دو هفته‌ست منتظرم!"))
    replies = await harness.wait_texts(CUSTOMER, 1)
    # The whole story reached Rasa as one message, and the bot answered once.
    assert harness.rasa.messages() == ["سلام\nسفارشم به شماره ۴۵۸۷۱۲۳ هنوز نرسیده\nدو هفته‌ست منتظرم!"]
    assert replies == ["شنیدم: سلام\nسفارشم به شماره ۴۵۸۷۱۲۳ هنوز نرسیده\nدو هفته‌ست منتظرم!"]

    await asyncio.sleep(QUIET * 2)  # silence: the next message is a new turn
    harness.push(text_update(CUSTOMER, CUSTOMER, "کی می‌رسه؟"))
    await harness.wait_texts(CUSTOMER, 2)
    assert harness.rasa.messages()[-1] == "کی می‌رسه؟"
    assert len(harness.rasa.messages()) == 2


async def test_a_typing_indicator_shows_while_rasa_works(harness: Harness) -> None:
    harness.push(text_update(CUSTOMER, CUSTOMER, "سلام"))
    await harness.wait_texts(CUSTOMER, 1)
    actions = harness.api.calls("sendChatAction")
    assert actions and actions[0]["chat_id"] == CUSTOMER and actions[0]["action"] == "typing"


async def test_rasa_buttons_become_an_inline_keyboard_and_a_press_continues_the_dialogue(
        make_harness: HarnessFactory) -> None:
    harness: Harness = await make_harness(rasa=FakeRasa(reflecting))
    harness.push(text_update(CUSTOMER, CUSTOMER, "سفارشم هنوز نرسیده"))
    await harness.wait_texts(CUSTOMER, 1)
    question = harness.api.sent_messages(CUSTOMER)[0]
    buttons = [b for row in question["reply_markup"]["inline_keyboard"] for b in row]
    assert [b["text"] for b in buttons] == ["بله، درسته", "نه، اصلاح می‌کنم"]
    assert all(len(b["callback_data"].encode()) <= 64 for b in buttons)

    press = callback_update(CUSTOMER, CUSTOMER, buttons[0]["callback_data"], message_id=question["message_id"])
    press["callback_query"]["message"]["reply_markup"] = question["reply_markup"]
    harness.push(press)
    replies = await harness.wait_texts(CUSTOMER, 2)
    assert harness.rasa.messages()[-1] == "/affirm"
    assert "چه کاری از دست ما ساخته است" in replies[-1]
    # The press was acknowledged and the used keyboard removed, so it cannot be pressed twice.
    assert [c["callback_query_id"] for c in harness.api.calls("answerCallbackQuery")] == [press["callback_query"]["id"]]
    assert harness.api.calls("editMessageReplyMarkup")[-1]["message_id"] == question["message_id"]


async def test_a_button_from_before_a_restart_that_no_longer_maps_asks_for_words(harness: Harness) -> None:
    harness.push(callback_update(CUSTOMER, CUSTOMER, "h:0123456789abcdef0123456789abcdef"))
    replies = await harness.wait_texts(CUSTOMER, 1)
    assert replies == ["این دکمه دیگه فعال نیست؛ لطفاً جوابتون رو بنویسید."]
    assert harness.rasa.messages() == []


async def test_commands_are_dialogue_turns_and_help_is_answered_directly(harness: Harness) -> None:
    harness.push(text_update(CUSTOMER, CUSTOMER, "/start"))
    await harness.wait_texts(CUSTOMER, 1)
    harness.push(text_update(CUSTOMER, CUSTOMER, "/status"))
    await harness.wait_texts(CUSTOMER, 2)
    harness.push(text_update(CUSTOMER, CUSTOMER, "/help"))
    replies = await harness.wait_texts(CUSTOMER, 3)
    assert harness.rasa.messages() == ["/greet", "/ask_status"]
    assert "من همدل هستم" in replies[-1]


async def test_the_persian_command_menus_are_registered_at_start(harness: Harness) -> None:
    scopes = {str(c["scope"]): [x["command"] for x in c["commands"]] for c in harness.api.calls("setMyCommands")}
    private = next(v for k, v in scopes.items() if "all_private_chats" in k)
    agents = next(v for k, v in scopes.items() if "-100777" in k)
    assert {"start", "new", "status", "cancel", "help"} <= set(private)
    assert agents == ["take", "note", "resolve", "close", "handback"]
    descriptions = [x["description"] for c in harness.api.calls("setMyCommands") for x in c["commands"]]
    assert "پیگیری وضعیت شکایت‌هام" in descriptions


async def test_a_reply_longer_than_telegram_allows_arrives_in_parts(make_harness: HarnessFactory) -> None:
    long_answer = "این یک جمله‌ی نسبتاً طولانی برای آزمودن تقسیم پیام است. " * 100  # ~5,600 characters
    harness: Harness = await make_harness(rasa=FakeRasa(lambda s, m: [{"text": long_answer}]))
    harness.push(text_update(CUSTOMER, CUSTOMER, "سلام"))
    await harness.wait_texts(CUSTOMER, 2)
    await asyncio.sleep(0.3)
    parts = harness.texts_to(CUSTOMER)
    assert len(parts) == 2
    assert all(len(p) <= 4096 and p.endswith(".") for p in parts)
    assert " ".join(parts).split() == long_answer.split()


async def test_a_photo_is_attached_to_the_open_ticket_as_evidence(harness: Harness) -> None:
    number = open_complaint()
    harness.push(photo_update(CUSTOMER, CUSTOMER, caption="جعبه‌ش له شده", file_id="AgACphoto42"))
    harness.push(voice_or_document())
    replies = await harness.wait_texts(CUSTOMER, 2)
    assert all(number in reply for reply in replies)
    evidence = ticket(number).evidence
    assert [(e.kind, e.file_id, e.caption) for e in evidence] == [
        ("photo", "AgACphoto42", "جعبه‌ش له شده"), ("document", "doc-file-1", None)]
    assert harness.rasa.messages() == []  # evidence is not a dialogue turn


def voice_or_document() -> dict[str, Any]:
    return document_update(CUSTOMER, CUSTOMER)


async def test_a_photo_sent_before_the_complaint_is_kept_and_attached_when_the_ticket_opens(
        make_harness: HarnessFactory) -> None:
    numbers: list[str] = []

    def opens_ticket(sender: str, message: str) -> list[dict[str, Any]]:
        numbers.append(open_complaint())  # what action_open_ticket does, then its custom event
        return [{"text": "ثبت شد."}, {"custom": {"event": "ticket_opened", "ticket_number": numbers[-1]}}]

    harness: Harness = await make_harness(rasa=FakeRasa(opens_ticket))
    harness.push(photo_update(CUSTOMER, CUSTOMER, file_id="AgACbefore"))
    first = await harness.wait_texts(CUSTOMER, 1)
    assert "نگهش می‌دارم" in first[0]
    harness.push(text_update(CUSTOMER, CUSTOMER, "بله درسته"))
    await harness.wait_texts(CUSTOMER, 2)
    await harness.api.wait_for(lambda: bool(numbers) and len(ticket(numbers[0]).evidence) == 1, what="evidence")
    assert ticket(numbers[0]).evidence[0].file_id == "AgACbefore"


async def test_a_shared_contact_fills_the_customers_phone(harness: Harness) -> None:
    harness.push(contact_update(CUSTOMER, CUSTOMER, "+989121234567"))
    replies = await harness.wait_texts(CUSTOMER, 1)
    assert "۰۹۱۲۱۲۳۴۵۶۷" in replies[0]
    with session_scope() as session:
        customer = session.scalars(select(Customer).where(Customer.external_id == str(CUSTOMER))).one()
        assert customer.phone == "09121234567"


async def test_stickers_locations_and_edits_get_a_sensible_persian_answer(harness: Harness) -> None:
    harness.push(sticker_update(CUSTOMER, CUSTOMER))
    await harness.wait_texts(CUSTOMER, 1)
    harness.push(location_update(CUSTOMER, CUSTOMER))
    await harness.wait_texts(CUSTOMER, 2)
    harness.push(edited_text_update(CUSTOMER, CUSTOMER, "سفارشم رسید ولی خراب بود", message_id=77))
    replies = await harness.wait_texts(CUSTOMER, 3)
    assert "چند کلمه" in replies[0]
    assert "آدرس" in replies[1]
    assert "ویرایش" in replies[2]
    assert harness.rasa.messages() == []


async def test_each_turn_tells_rasa_its_transcript_line_and_the_summary_joins_the_ticket_it_announces(
        make_harness: HarnessFactory) -> None:
    """The action finds where the story began from the line ids the turns carry; the bot's answer
    in the turn that opened the ticket (the summary) is that ticket's line, not the next one's."""
    opened: list[str] = []

    def opening(_sender: str, message: str) -> list[dict[str, Any]]:
        opened.append(open_complaint(story=message))
        return [{"custom": {"event": "ticket_opened", "ticket_number": opened[-1]}},
                {"text": f"شکایتتون با شماره‌ی {opened[-1]} ثبت شد."}]

    harness: Harness = await make_harness(rasa=FakeRasa(opening))
    harness.push(text_update(CUSTOMER, CUSTOMER, "سفارشم هنوز نرسیده"))
    await harness.wait_texts(CUSTOMER, 1)

    summary = f"شکایتتون با شماره‌ی {opened[0]} ثبت شد."

    def summary_recorded() -> bool:
        with session_scope() as session:
            return session.scalar(select(TranscriptLine.id).where(TranscriptLine.text == summary)) is not None

    await harness.api.wait_for(summary_recorded, timeout=30, what="the summary in the transcript")
    user_turn = harness.rasa.trackers[f"telegram:{CUSTOMER}"][0]
    with session_scope() as session:
        lines = session.scalars(select(TranscriptLine).order_by(TranscriptLine.id)).all()
        said = {(line.speaker, line.text): (line.id, line.ticket_id) for line in lines}
        ticket_id = session.scalars(select(Ticket.id).where(Ticket.number == opened[0])).one()
    assert user_turn["metadata"]["transcript_line"] == said[("customer", "سفارشم هنوز نرسیده")][0]
    assert said[("bot", summary)][1] == ticket_id


async def test_customer_text_is_offered_to_the_follow_ups_comment_question_first_and_only_that(
        harness: Harness) -> None:
    """The order of text interceptors is written in bot/app.py, not left to who registered first."""
    services = harness.app.bot_data.ready()
    assert services.relay.interceptors == (services.followups.take_comment,)
