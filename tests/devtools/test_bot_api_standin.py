"""The Bot API stand-in, driven by the real python-telegram-bot client.

Every other Telegram test trusts the stand-in to answer as Telegram would; these tests check that
PTB's own objects (Bot, Application, Update.de_json, its error classes) accept what it answers and
that the failures it simulates reach PTB as the exceptions the bot code catches.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from telegram import (
    Bot, BotCommand, BotCommandScopeAllPrivateChats, ChatMemberAdministrator, ChatMemberBanned, ChatMemberLeft,
    ChatMemberMember, ChatMemberOwner, ChatMemberRestricted, ForumTopic, InlineKeyboardButton,
    InlineKeyboardMarkup, MessageId, Update,
)
from telegram.error import BadRequest, Conflict, EndPointNotFound, Forbidden, InvalidToken, RetryAfter
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

from devtools.bot_api_standin import (
    BotApiStandIn, callback_update, contact_update, document_update, edited_text_update, location_update,
    photo_update, sticker_update, text_update, voice_update,
)

AGENTS = -100777
CUSTOMER = 5001
TOKEN = "123:TEST"


@pytest.fixture
async def standin() -> AsyncIterator[BotApiStandIn]:
    api = BotApiStandIn(agent_chat_id=AGENTS)
    await api.start()
    yield api
    await api.stop()


@pytest.fixture
async def bot(standin: BotApiStandIn) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=standin.base_url, base_file_url=standin.base_file_url) as telegram_bot:
        yield telegram_bot


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(f"b{i}", callback_data=d) for i, d in enumerate(data)]])


def seconds(value: int | timedelta) -> float:
    """PTB 22 gives retry_after as an int or a timedelta, depending on its deprecation setting."""
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


# --- sending ------------------------------------------------------------------------------------

async def test_a_keyboard_round_trips_and_a_numeric_text_stays_a_string(standin: BotApiStandIn, bot: Bot) -> None:
    sent = await bot.send_message(CUSTOMER, "123", reply_markup=keyboard("fu:7:y", "fu:7:n"),
                                  disable_notification=True)

    assert sent.text == "123" and sent.chat.id == CUSTOMER and sent.chat.type == "private"
    assert sent.from_user is not None and sent.from_user.username == "hamdel_bot"
    assert [b.callback_data for b in sent.reply_markup.inline_keyboard[0]] == ["fu:7:y", "fu:7:n"]
    [record] = standin.sent_messages(CUSTOMER)
    assert record["text"] == "123" and isinstance(record["text"], str)
    assert record["chat_id"] == CUSTOMER and record["method"] == "sendMessage"
    assert record["reply_markup"] == {"inline_keyboard": [[{"text": "b0", "callback_data": "fu:7:y"},
                                                           {"text": "b1", "callback_data": "fu:7:n"}]]}
    assert record["message_id"] == sent.message_id and record["disable_notification"] is True
    assert isinstance(record["sent_at"], float)
    assert standin.calls("sendmessage") == [standin.requests[-1][1]]


async def test_message_ids_grow_per_chat_and_never_repeat_a_customers_message(
        standin: BotApiStandIn, bot: Bot) -> None:
    first = await bot.send_message(CUSTOMER, "یک")
    incoming = text_update(CUSTOMER, CUSTOMER, "سلام")
    standin.push_update(incoming)
    second = await bot.send_message(CUSTOMER, "دو")
    assert first.message_id < incoming["message"]["message_id"] < second.message_id


async def test_telegrams_refusals_of_bad_messages(standin: BotApiStandIn, bot: Bot) -> None:
    with pytest.raises(BadRequest, match="(?i)message text is empty"):
        await bot.send_message(CUSTOMER, "  ")
    with pytest.raises(BadRequest, match="(?i)message is too long"):
        await bot.send_message(CUSTOMER, "ا" * 4097)
    with pytest.raises(BadRequest, match="(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(CUSTOMER, "x", reply_markup=keyboard("d" * 65))
    assert standin.sent_messages() == []
    assert len(standin.calls("sendMessage")) == 3  # refused calls are still recorded as requests


async def test_copy_message_returns_a_message_id_and_is_recorded_with_its_source(
        standin: BotApiStandIn, bot: Bot) -> None:
    photo = photo_update(CUSTOMER, CUSTOMER, file_id="AgACbox")
    standin.push_update(photo)
    copied = await bot.copy_message(chat_id=AGENTS, from_chat_id=CUSTOMER, message_id=photo["message"]["message_id"],
                                    message_thread_id=1001)

    assert isinstance(copied, MessageId)
    [record] = standin.sent_messages(AGENTS, thread_id=1001)
    assert record["method"] == "copyMessage" and record["from_chat_id"] == CUSTOMER
    assert record["message_id"] == copied.message_id
    assert record["from_message_id"] == photo["message"]["message_id"]

    forwarded = await bot.forward_message(chat_id=AGENTS, from_chat_id=CUSTOMER,
                                          message_id=photo["message"]["message_id"])
    assert forwarded.photo[-1].file_id == "AgACbox" and forwarded.forward_origin is not None


async def test_media_by_file_id_and_by_upload(standin: BotApiStandIn, bot: Bot) -> None:
    by_id = await bot.send_photo(AGENTS, "AgACphoto", caption="شاهد", message_thread_id=1001)
    assert by_id.photo[-1].file_id == "AgACphoto" and by_id.caption == "شاهد"
    uploaded = await bot.send_document(CUSTOMER, b"%PDF-1.4 factor", filename="factor.pdf")
    assert uploaded.document is not None and uploaded.document.file_name == "factor.pdf"
    voice = await bot.send_voice(CUSTOMER, "voice-1")
    sticker = await bot.send_sticker(CUSTOMER, "sticker-1")
    assert voice.voice.file_id == "voice-1" and sticker.sticker.file_id == "sticker-1"

    assert [m["method"] for m in standin.sent_messages()] == ["sendPhoto", "sendDocument", "sendVoice", "sendSticker"]
    upload = standin.sent_messages(CUSTOMER)[0]["document"]
    assert upload["file_name"] == "factor.pdf" and upload["data"] == b"%PDF-1.4 factor"
    file = await bot.get_file(uploaded.document.file_id)
    assert file.file_size == len(b"%PDF-1.4 factor")
    assert bytes(await file.download_as_bytearray()) == b"%PDF-1.4 factor"


async def test_edits_are_recorded_apart_and_an_edit_that_changes_nothing_is_refused(
        standin: BotApiStandIn, bot: Bot) -> None:
    question = await bot.send_message(CUSTOMER, "حل شد؟", reply_markup=keyboard("y", "n"))
    edited = await bot.edit_message_reply_markup(chat_id=CUSTOMER, message_id=question.message_id, reply_markup=None)

    assert edited.reply_markup is None and edited.edit_date is not None
    with pytest.raises(BadRequest, match="(?i)message is not modified"):  # a second tap on the same buttons
        await bot.edit_message_reply_markup(chat_id=CUSTOMER, message_id=question.message_id, reply_markup=None)
    text = await bot.edit_message_text("حل شد؟ (پاسخ داده شد)", chat_id=CUSTOMER, message_id=question.message_id)
    assert text.text == "حل شد؟ (پاسخ داده شد)"
    assert len(standin.sent_messages(CUSTOMER)) == 1
    assert len(standin.calls("editMessageReplyMarkup")) == 2 and len(standin.calls("editMessageText")) == 1


async def test_small_acknowledgements(standin: BotApiStandIn, bot: Bot) -> None:
    assert await bot.answer_callback_query("42")
    assert await bot.send_chat_action(CUSTOMER, "typing")
    assert await bot.pin_chat_message(AGENTS, 5)
    assert await bot.delete_message(CUSTOMER, 5)
    me = await bot.get_me()
    assert me.id == 123 and me.username == "hamdel_bot" and me.is_bot
    chat = await bot.get_chat(AGENTS)
    assert chat.is_forum and chat.title == "Agents"
    assert [c["callback_query_id"] for c in standin.calls("answerCallbackQuery")] == ["42"]


# --- failures -----------------------------------------------------------------------------------

async def test_fail_next_429_raises_retry_after_and_records_no_message(standin: BotApiStandIn, bot: Bot) -> None:
    standin.fail_next("sendMessage", status=429, retry_after=2)
    with pytest.raises(RetryAfter) as refused:
        await bot.send_message(CUSTOMER, "سلام")
    assert seconds(refused.value.retry_after) == 2
    assert standin.sent_messages() == []

    await bot.send_message(CUSTOMER, "سلام")  # only the next call failed
    assert [m["text"] for m in standin.sent_messages(CUSTOMER)] == ["سلام"]
    assert [m for m, _ in standin.requests].count("sendMessage") == 2


async def test_fail_next_other_statuses(standin: BotApiStandIn, bot: Bot) -> None:
    standin.fail_next("createForumTopic", status=400, description="Bad Request: not enough rights", times=2)
    for _ in range(2):
        with pytest.raises(BadRequest, match="(?i)not enough rights"):
            await bot.create_forum_topic(AGENTS, "HM-1")
    assert (await bot.create_forum_topic(AGENTS, "HM-1")).message_thread_id == 1001


async def test_a_rate_cap_answers_429_beyond_it_and_records_only_what_passed() -> None:
    standin = BotApiStandIn(TOKEN, rate_cap_per_second=5)
    await standin.start()
    try:
        async with Bot(TOKEN, base_url=standin.base_url) as bot:
            for i in range(5):
                await bot.send_message(CUSTOMER + i, "ok")
            with pytest.raises(RetryAfter) as refused:
                await bot.send_message(CUSTOMER, "one too many")
            assert seconds(refused.value.retry_after) == 1
            assert len(standin.sent_messages()) == 5
            await asyncio.sleep(1.0)  # the window slides
            await bot.send_message(CUSTOMER, "again")
            assert len(standin.sent_messages()) == 6
    finally:
        await standin.stop()


async def test_a_per_chat_cap_limits_one_chat_and_not_the_others() -> None:
    standin = BotApiStandIn(TOKEN, per_chat_cap_per_second=1)
    await standin.start()
    try:
        async with Bot(TOKEN, base_url=standin.base_url) as bot:
            await bot.send_message(CUSTOMER, "first")
            with pytest.raises(RetryAfter):
                await bot.send_message(CUSTOMER, "second")
            await bot.send_message(CUSTOMER + 1, "another chat")
            assert [m["text"] for m in standin.sent_messages()] == ["first", "another chat"]
    finally:
        await standin.stop()


async def test_a_blocked_chat_raises_forbidden(standin: BotApiStandIn, bot: Bot) -> None:
    standin.blocked_chats.add(CUSTOMER)
    with pytest.raises(Forbidden, match="(?i)bot was blocked by the user"):
        await bot.send_message(CUSTOMER, "سلام")
    with pytest.raises(Forbidden):
        await bot.copy_message(chat_id=CUSTOMER, from_chat_id=AGENTS, message_id=3)
    assert standin.sent_messages() == []


async def test_wrong_token_and_unknown_method(standin: BotApiStandIn, bot: Bot) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{standin.base_url}999:WRONG/getMe") as response:
            assert response.status == 401
            assert await response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
        async with http.get(f"{standin.base_url}{TOKEN}/sendTelepathy") as response:
            assert response.status == 404
            assert (await response.json())["description"] == "Not Found: method not found"
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("send_telepathy")
    with pytest.raises(InvalidToken):
        async with Bot("999:WRONG", base_url=standin.base_url):
            pass


async def test_json_bodies_and_any_letter_case(standin: BotApiStandIn) -> None:
    markup = {"inline_keyboard": [[{"text": "x", "callback_data": "d"}]]}
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{standin.base_url}{TOKEN}/SENDMESSAGE",
                             json={"chat_id": str(CUSTOMER), "text": "42", "reply_markup": markup}) as response:
            body = await response.json()
    assert body["ok"] and body["result"]["reply_markup"] == markup
    [record] = standin.sent_messages(CUSTOMER)
    assert record["text"] == "42" and record["chat_id"] == CUSTOMER and record["method"] == "sendMessage"


# --- long polling -------------------------------------------------------------------------------

async def test_get_updates_waits_for_an_update_and_returns_it(standin: BotApiStandIn, bot: Bot) -> None:
    update = text_update(CUSTOMER, CUSTOMER, "سلام")
    asyncio.get_running_loop().call_later(0.2, standin.push_update, update)
    started = time.monotonic()
    [received] = await bot.get_updates(timeout=5)
    assert 0.15 <= time.monotonic() - started < 2
    assert received.update_id == update["update_id"] and received.message.text == "سلام"


async def test_get_updates_returns_nothing_after_its_timeout(bot: Bot) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=1) == ()
    assert 0.9 <= time.monotonic() - started < 2.5


async def test_an_offset_confirms_the_updates_below_it(standin: BotApiStandIn, bot: Bot) -> None:
    first, second, third = (text_update(CUSTOMER, CUSTOMER, t) for t in ("یک", "دو", "سه"))
    for update in (first, second, third):
        standin.push_update(update)
    assert [u.update_id for u in await bot.get_updates()] == [u["update_id"] for u in (first, second, third)]
    assert [u.update_id for u in await bot.get_updates()] == [u["update_id"] for u in (first, second, third)]
    assert [u.update_id for u in await bot.get_updates(offset=second["update_id"] + 1)] == [third["update_id"]]
    assert [u.update_id for u in await bot.get_updates(limit=1)] == [third["update_id"]]
    assert await bot.get_updates(offset=third["update_id"] + 1) == ()


async def test_an_update_pushed_again_is_delivered_again(standin: BotApiStandIn, bot: Bot) -> None:
    update = text_update(CUSTOMER, CUSTOMER, "سفارشم نرسیده")
    standin.push_update(update)
    [got] = await bot.get_updates()
    standin.push_update(update)  # Telegram redelivers: the confirmation below must not swallow it
    assert [u.update_id for u in await bot.get_updates(offset=got.update_id + 1)] == [got.update_id]
    assert await bot.get_updates(offset=got.update_id + 1) == ()


async def test_a_newer_get_updates_ends_an_older_one_and_stop_ends_them_all(standin: BotApiStandIn, bot: Bot) -> None:
    older = asyncio.create_task(bot.get_updates(timeout=10))
    await standin.wait_for(lambda: len(standin.calls("getUpdates")) == 1, what="the first poll")
    # A second bot instance: PTB keeps one connection for getUpdates per Bot.
    second_instance = Bot(TOKEN, base_url=standin.base_url)
    await second_instance.initialize()
    newer = asyncio.create_task(second_instance.get_updates(timeout=10))
    with pytest.raises(Conflict, match="(?i)terminated by other getUpdates request"):
        await asyncio.wait_for(older, 3)
    await standin.wait_for(lambda: len(standin.calls("getUpdates")) == 2, what="the second poll")
    started = time.monotonic()
    await standin.stop()
    assert await asyncio.wait_for(newer, 3) == ()
    assert time.monotonic() - started < 2
    await second_instance.shutdown()


async def test_delete_webhook_can_drop_pending_updates(standin: BotApiStandIn, bot: Bot) -> None:
    standin.push_update(text_update(CUSTOMER, CUSTOMER, "قدیمی"))
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert await bot.get_updates() == ()
    assert standin.calls("deleteWebhook")[-1]["drop_pending_updates"] is True
    assert (await bot.get_webhook_info()).url == ""


async def test_an_application_polls_and_handles_a_pushed_message(standin: BotApiStandIn) -> None:
    received: list[str] = []

    async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        received.append(update.effective_message.text or "")
        await context.bot.send_message(update.effective_message.chat_id, f"شنیدم: {update.effective_message.text}")

    app = ApplicationBuilder().token(TOKEN).base_url(standin.base_url).build()
    app.add_handler(MessageHandler(filters.TEXT, on_text))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        standin.push_update(text_update(CUSTOMER, CUSTOMER, "سلام"))
        [reply] = await standin.wait_for_messages(CUSTOMER, 1, timeout=5)
        started = time.monotonic()
        await app.updater.stop()
        await app.stop()
        assert time.monotonic() - started < 3
        # The closing getUpdates confirmed the update: a restart would not see it again.
        assert await app.bot.get_updates() == ()
    assert received == ["سلام"] and reply["text"] == "شنیدم: سلام"


async def test_wait_for_says_what_it_waited_for(standin: BotApiStandIn, bot: Bot) -> None:
    await bot.send_message(CUSTOMER, "سلام")
    with pytest.raises(AssertionError, match="(?i)timed out waiting for the reply") as failed:
        await standin.wait_for(lambda: False, timeout=0.1, what="the reply")
    assert "sendMessage" in str(failed.value)


# --- forum topics, members, commands ------------------------------------------------------------

async def test_forum_topics_and_messages_in_them(standin: BotApiStandIn, bot: Bot) -> None:
    topic = await bot.create_forum_topic(AGENTS, "HM-0001 · تأخیر ارسال")
    assert isinstance(topic, ForumTopic) and topic.message_thread_id == 1001 and topic.icon_color == 7322096
    other = await bot.create_forum_topic(AGENTS, "HM-0002")
    await bot.send_message(AGENTS, "کارت پرونده", message_thread_id=topic.message_thread_id)
    in_topic = await bot.send_message(AGENTS, "رونوشت", message_thread_id=topic.message_thread_id)
    await bot.send_message(AGENTS, "دیگری", message_thread_id=other.message_thread_id)
    await bot.send_message(AGENTS, "عمومی")

    assert in_topic.message_thread_id == topic.message_thread_id and in_topic.is_topic_message
    assert in_topic.chat.is_forum
    assert [m["text"] for m in standin.sent_messages(AGENTS, thread_id=topic.message_thread_id)] == [
        "کارت پرونده", "رونوشت"]
    assert len(standin.sent_messages(AGENTS)) == 4

    assert await bot.close_forum_topic(AGENTS, topic.message_thread_id)
    assert standin.topics[topic.message_thread_id]["closed"] is True
    assert await bot.reopen_forum_topic(AGENTS, topic.message_thread_id)
    assert await bot.edit_forum_topic(AGENTS, topic.message_thread_id, name="HM-0001 · حل شد")
    assert standin.topics[topic.message_thread_id] == {"name": "HM-0001 · حل شد", "icon_color": 7322096,
                                                       "closed": False}
    with pytest.raises(BadRequest, match="(?i)the chat is not a forum"):
        await bot.create_forum_topic(CUSTOMER, "نه")


@pytest.mark.parametrize(("status", "kind"), [
    ("creator", ChatMemberOwner), ("administrator", ChatMemberAdministrator), ("member", ChatMemberMember),
    ("restricted", ChatMemberRestricted), ("left", ChatMemberLeft), ("kicked", ChatMemberBanned),
])
async def test_get_chat_member_parses_for_every_status(standin: BotApiStandIn, bot: Bot, status: str,
                                                       kind: type) -> None:
    standin.members[9001] = status
    member = await bot.get_chat_member(AGENTS, 9001)
    assert type(member) is kind and member.status == status and member.user.id == 9001
    assert standin.calls("getChatMember")[-1] == {"chat_id": AGENTS, "user_id": 9001}


async def test_an_unknown_user_has_left(bot: Bot) -> None:
    assert isinstance(await bot.get_chat_member(AGENTS, 4242), ChatMemberLeft)


async def test_commands_are_kept_per_scope(standin: BotApiStandIn, bot: Bot) -> None:
    private = BotCommandScopeAllPrivateChats()
    assert await bot.set_my_commands([BotCommand("start", "شروع"), BotCommand("status", "وضعیت")], scope=private)
    assert await bot.set_my_commands([BotCommand("resolve", "بستن")])
    assert [c.command for c in await bot.get_my_commands(scope=private)] == ["start", "status"]
    assert [c.command for c in await bot.get_my_commands()] == ["resolve"]
    assert standin.calls("setMyCommands")[0]["scope"] == {"type": "all_private_chats"}
    with pytest.raises(BadRequest, match="(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand("وضعیت", "فارسی نمی‌شود")])
    assert await bot.delete_my_commands(scope=private)
    assert await bot.get_my_commands(scope=private) == ()


# --- update factories ---------------------------------------------------------------------------

async def test_every_factory_builds_an_update_ptb_parses(bot: Bot) -> None:
    def parse(data: dict[str, Any]) -> Update:
        return Update.de_json(data, bot)

    command = parse(text_update(CUSTOMER, CUSTOMER, "/status@hamdel_bot now")).message
    assert command.chat.type == "private" and command.from_user.first_name == "مشتری"
    assert command.parse_entities() == {command.entities[0]: "/status@hamdel_bot"}
    odd = parse(text_update(CUSTOMER, CUSTOMER, "/a😀 b")).message  # entity lengths are UTF-16 units
    assert odd.entities[0].length == 4 and odd.parse_entity(odd.entities[0]) == "/a😀"
    assert parse(text_update(CUSTOMER, CUSTOMER, "سلام")).message.entities == ()

    photo = parse(photo_update(CUSTOMER, CUSTOMER, caption="جعبه له شده", file_id="AgAC42")).message
    assert photo.photo[-1].file_id == "AgAC42" and len(photo.photo) == 2 and photo.caption == "جعبه له شده"
    document = parse(document_update(CUSTOMER, CUSTOMER)).message.document
    assert document.file_id == "doc-file-1" and document.file_name == "factor.pdf"
    voice = parse(voice_update(CUSTOMER, CUSTOMER, duration=7)).message.voice
    assert voice.file_id == "voice-file-1" and voice.duration in (7, timedelta(seconds=7))
    sticker = parse(sticker_update(CUSTOMER, CUSTOMER)).message.sticker
    assert sticker.type == "regular" and not sticker.is_animated
    location = parse(location_update(CUSTOMER, CUSTOMER)).message.location
    assert (location.latitude, location.longitude) == (35.7, 51.4)
    contact = parse(contact_update(CUSTOMER, CUSTOMER, "+989121234567")).message.contact
    assert contact.phone_number == "+989121234567" and contact.user_id == CUSTOMER

    edited = parse(edited_text_update(CUSTOMER, CUSTOMER, "اصلاح شد", message_id=77))
    assert edited.message is None and edited.edited_message.message_id == 77
    assert edited.edited_message.edit_date > edited.edited_message.date

    press = parse(callback_update(CUSTOMER, CUSTOMER, "fu:9:y", message_id=12))
    assert press.callback_query.data == "fu:9:y" and press.callback_query.message.message_id == 12
    assert press.callback_query.from_user.id == CUSTOMER

    agent = parse(text_update(AGENTS, 9001, "ارسال شد", message_thread_id=1001, first_name="سارا")).message
    assert agent.chat.type == "supergroup" and agent.message_thread_id == 1001 and agent.is_topic_message
    assert agent.from_user.id == 9001

    group = {"id": AGENTS, "type": "supergroup", "title": "Agents"}
    anonymous = parse(text_update(AGENTS, 9001, "/resolve", message_thread_id=1001, sender_chat=group)).message
    assert anonymous.sender_chat.id == AGENTS and anonymous.from_user.id == 1087968824


def test_factories_give_fresh_ids_unless_told() -> None:
    first, second = text_update(CUSTOMER, CUSTOMER, "a"), text_update(CUSTOMER, CUSTOMER, "b")
    assert second["update_id"] > first["update_id"]
    assert second["message"]["message_id"] > first["message"]["message_id"]
    assert text_update(CUSTOMER, CUSTOMER, "c", update_id=5)["update_id"] == 5
    assert isinstance(first["message"]["date"], int)
