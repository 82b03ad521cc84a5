"""The Telegram front end under test: the real python-telegram-bot client, long polling a local
Bot API stand-in (devtools/bot_api_standin.py), a scripted Rasa (tests/bot/fake_rasa.py) and a
migrated SQLite file per test. Started exactly as `run_polling` starts it (initialize → post_init →
polling → start), stopped the same way in reverse."""
from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from telegram import Update
from telegram.ext import Application

from bot.app import build_application
from bot.rate_limit import HamdelRateLimiter
from devtools.bot_api_standin import BotApiStandIn
from hamdel.followup_policy import SchedulerSettings, load_followup_policy
from hamdel.settings import Settings
from hamdel.storage.db import session_scope
from hamdel.storage.models import Category, Ticket
from hamdel.storage.tickets import get_or_create_customer
from hamdel.ticket_service import escalate, open_ticket
from tests.bot.fake_rasa import FakeRasa

AGENTS = -100777
CUSTOMER = 5001  # a private chat's id equals the user's id
AGENT = 9001
QUIET = 0.4


@dataclasses.dataclass
class Harness:
    api: BotApiStandIn
    rasa: FakeRasa
    app: Application
    settings: Settings

    def push(self, update: dict[str, Any]) -> dict[str, Any]:
        self.api.push_update(update)
        return update

    def texts_to(self, chat_id: int, *, thread_id: int | None = None) -> list[str]:
        return [m.get("text") or m.get("caption") or "" for m in self.api.sent_messages(chat_id, thread_id=thread_id)]

    async def wait_texts(self, chat_id: int, count: int, *, thread_id: int | None = None,
                         timeout: float = 10.0) -> list[str]:
        await self.api.wait_for_messages(chat_id, count, thread_id=thread_id, timeout=timeout)
        return self.texts_to(chat_id, thread_id=thread_id)


async def start(app: Application) -> None:
    await app.initialize()
    if app.post_init:
        await app.post_init(app)
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=1, allowed_updates=Update.ALL_TYPES)
    await app.start()


async def stop(app: Application) -> None:
    assert app.updater is not None
    if app.updater.running:
        await app.updater.stop()
    if app.running:
        await app.stop()
    await app.shutdown()
    if app.post_shutdown:
        await app.post_shutdown(app)


HarnessFactory = Callable[..., Any]


@pytest.fixture
async def make_harness(database_url: str) -> AsyncIterator[HarnessFactory]:
    """Build (and later tear down) a bot; keyword arguments change settings or the limiter."""
    started: list[tuple[Application, BotApiStandIn, FakeRasa]] = []

    async def make(*, rasa: FakeRasa | None = None, api: BotApiStandIn | None = None,
                   limiter: HamdelRateLimiter | None = None, **changes: Any) -> Harness:
        api = api or BotApiStandIn(agent_chat_id=AGENTS)
        if not api.base_url:
            await api.start()
        rasa = rasa or FakeRasa()
        if not rasa.url:
            await rasa.start()
        values: dict[str, Any] = {
            "telegram_token": "123:TEST", "telegram_base_url": api.base_url, "agent_chat_id": AGENTS,
            "rasa_url": rasa.url, "quiet_window_seconds": QUIET, "handoff_sweep_seconds": 0.3,
            "database_url": database_url, **changes,
        }
        settings = Settings(**values)
        policy = dataclasses.replace(load_followup_policy(), scheduler=SchedulerSettings(
            poll_interval=timedelta(milliseconds=100), max_per_second=None))
        app = build_application(settings, followup_policy=policy, start_followups=False, backoff=(0.2, 0.4),
                                rate_limiter=limiter or HamdelRateLimiter(private_per_second=100, private_burst=100))
        await start(app)
        started.append((app, api, rasa))
        return Harness(api, rasa, app, settings)

    yield make
    stopped: set[int] = set()
    for app, api, rasa in reversed(started):
        await stop(app)
        for server in (rasa, api):
            if id(server) not in stopped:
                stopped.add(id(server))
                await server.stop()


@pytest.fixture
async def harness(make_harness: HarnessFactory) -> Harness:
    return await make_harness()


def open_complaint(user_id: int = CUSTOMER, *, escalated: bool = False, story: str = "سفارشم هنوز نرسیده",
                   reason: str = "customer_request", story_first_line: int | None = None) -> str:
    """A ticket as the action server writes it (customer, ticket, follow-ups); its number."""
    with session_scope() as session:
        customer = get_or_create_customer(session=session, channel="telegram", external_id=str(user_id),
                                          display_name="مریم", chat_id=user_id)
        ticket = open_ticket(session=session, customer=customer, conversation_id=f"telegram:{user_id}",
                             category=Category.DELIVERY, story=story, key_words=["سفارشم", "نرسیده"],
                             reflection="سفارشتان هنوز نرسیده است.", order_id="4587123", remedy_sought="expedite",
                             remedy_sought_text="زودتر بفرستید", remedy_offered=None, anger=1,
                             followup_policy=load_followup_policy(), story_first_line=story_first_line)
        if escalated:
            escalate(session=session, ticket=ticket, reason=reason)
        return ticket.number


def ticket(number: str) -> Ticket:
    with session_scope() as session:
        found = session.scalars(select(Ticket).where(Ticket.number == number)).one()
        _ = found.customer, found.evidence, found.events  # load before the session closes
        return found
