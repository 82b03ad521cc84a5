"""A customer's whole complaint through Telegram and the real stack: the python-telegram-bot
client long-polls the Bot API stand-in, the bot relays to the real Rasa server, whose action
server writes the ticket. Buttons are pressed as a customer presses them."""
from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import build_application
from bot.rate_limit import HamdelRateLimiter
from devtools.bot_api_standin import BotApiStandIn, callback_update, text_update
from hamdel import settings as settings_module
from hamdel.followup_policy import SchedulerSettings, load_followup_policy
from hamdel.services import Stack
from hamdel.settings import Settings
from hamdel.storage import db
from hamdel.storage.db import session_scope
from hamdel.storage.models import Ticket, TicketStatus, TranscriptLine
from tests.bot.conftest import start, stop

pytestmark = pytest.mark.integration
CUSTOMER = 777001


@pytest.fixture
async def telegram(stack: tuple[Stack, str], monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[BotApiStandIn]:
    server, url = stack
    monkeypatch.setenv("DATABASE_URL", url)  # the bot and the action server share the database
    settings_module.get_settings.cache_clear()
    db.get_engine.cache_clear()
    db.get_sessionmaker.cache_clear()
    api = BotApiStandIn(agent_chat_id=-100777)
    await api.start()
    settings = Settings(telegram_token="123:TEST", telegram_base_url=api.base_url, agent_chat_id=-100777,
                        rasa_url=server.rasa_url, rasa_token=server.token, quiet_window_seconds=1.0,
                        database_url=url)
    policy = dataclasses.replace(load_followup_policy(), scheduler=SchedulerSettings(
        poll_interval=timedelta(milliseconds=200), max_per_second=None))
    app = build_application(settings, followup_policy=policy, start_followups=False,
                            rate_limiter=HamdelRateLimiter(private_per_second=50, private_burst=50))
    await start(app)
    try:
        yield api
    finally:
        await stop(app)
        await api.stop()
        settings_module.get_settings.cache_clear()
        db.get_engine.cache_clear()
        db.get_sessionmaker.cache_clear()


def press(api: BotApiStandIn, payload: str) -> None:
    """Tap the button carrying `payload` on the newest message that has buttons."""
    message = next(m for m in reversed(api.sent_messages(CUSTOMER)) if m.get("reply_markup"))
    buttons = [b for row in message["reply_markup"]["inline_keyboard"] for b in row]
    button = next(b for b in buttons if b["callback_data"] == f"r:{payload}")
    update: dict[str, Any] = callback_update(CUSTOMER, CUSTOMER, button["callback_data"],
                                             message_id=message["message_id"])
    update["callback_query"]["message"]["reply_markup"] = message["reply_markup"]
    api.push_update(update)


async def test_a_complaint_on_telegram_ends_in_a_ticket(telegram: BotApiStandIn) -> None:
    api = telegram
    # Two quick messages: one story, heard without interruption.
    api.push_update(text_update(CUSTOMER, CUSTOMER, "سلام، سفارشم به شماره ۴۵۸۷۱۲۳ از دوشنبه هنوز نرسيده",
                                first_name="مریم"))
    api.push_update(text_update(CUSTOMER, CUSTOMER, "پشتیبانی هم هر بار زنگ زدم جواب نداد", first_name="مریم"))
    await api.wait_for(lambda: any(m.get("reply_markup") for m in api.sent_messages(CUSTOMER)), timeout=90,
                       what="«anything else?» with buttons")

    seen = len(api.sent_messages(CUSTOMER))
    press(api, "/deny")  # nothing more to add → reflect back
    await api.wait_for(lambda: any(re.search("سفارشت(?:ان|ون)", m.get("text") or "") for m in api.sent_messages(CUSTOMER)[seen:])
                       and bool(api.sent_messages(CUSTOMER)[-1].get("reply_markup")), timeout=90, what="reflection")
    reflection = "\n".join(m.get("text", "") for m in api.sent_messages(CUSTOMER)[seen:])
    assert "۴۵۸۷۱۲۳" in reflection

    seen = len(api.sent_messages(CUSTOMER))
    press(api, "/affirm")
    await api.wait_for(lambda: any("از دستمون برمیاد" in (m.get("text") or "")
                                   for m in api.sent_messages(CUSTOMER)[seen:]), timeout=90, what="the open question")

    seen = len(api.sent_messages(CUSTOMER))
    api.push_update(text_update(CUSTOMER, CUSTOMER, "لطفا پولمو پس بدید", first_name="مریم"))
    await api.wait_for(lambda: any("HM-" in (m.get("text") or "") for m in api.sent_messages(CUSTOMER)[seen:]),
                       timeout=90, what="the summary with a ticket number")
    summary = "\n".join(m.get("text", "") for m in api.sent_messages(CUSTOMER)[seen:])

    with session_scope() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.conversation_id == f"telegram:{CUSTOMER}")).one()
        assert ticket.number in summary
        assert ticket.order_id == "4587123" and ticket.remedy_sought == "refund"
        assert "پشتیبانی هم هر بار زنگ زدم جواب نداد" in ticket.story
        assert ticket.status is TicketStatus.OPEN and ticket.channel == "telegram"
        assert ticket.customer.chat_id == CUSTOMER and ticket.customer.display_name == "مریم"
        said = session.scalars(select(TranscriptLine.speaker).where(
            TranscriptLine.conversation_id == f"telegram:{CUSTOMER}")).all()
        assert said.count("customer") == 4 and "bot" in said  # story, two presses, the wish
