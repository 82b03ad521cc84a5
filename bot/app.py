"""Building the python-telegram-bot `Application`: the inbox in front of every handler, routing of
customer and agent updates into their ordered lanes, follow-ups, and start-up work.

Update flow::

    Telegram ─► InboxApplication.process_update ─► stored in `inbound_updates` (duplicates stop here)
                   │
                   ├─ private chat ─► CustomerRelay lane (quiet window, Rasa, evidence, topic relay)
                   ├─ agents' topic ─► AgentDesk lane (authorise, relay to customer, commands)
                   └─ follow-up buttons, /stop, /help ─► handled at once
                   ▼
               row marked done (lanes mark their own rows when the work is finished)

Updates are processed one at a time by PTB (no `concurrent_updates`): the handlers only store and
queue, so this costs little and guarantees each chat's lane receives its messages in order; the
slow work (Rasa, Telegram sends) runs concurrently across lanes.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from telegram import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    Message,
    Update,
)
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackContext,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ExtBot,
    MessageHandler,
    filters,
)

from bot import durable, health, inbox, texts
from bot.agents import AgentDesk, AgentGate, AgentItem
from bot.customers import CustomerItem, CustomerRelay, TextInterceptor, media_of
from bot.formatting import PayloadBook, iranian_mobile
from bot.handoff import Handoff
from bot.rate_limit import HamdelRateLimiter
from followups.integration import FollowUps
from followups.integration import attach as attach_followups
from hamdel.followup_policy import FollowUpPolicy, load_followup_policy
from hamdel.policy import load_policy
from hamdel.rasa_client import RasaClient
from hamdel.settings import Settings

log = logging.getLogger(__name__)

# Customer commands that are dialogue turns: sent to Rasa as intent payloads.
COMMAND_PAYLOADS = {"start": "/greet", "new": "/greet", "status": "/ask_status", "cancel": "/cancel"}
# Few updates wait in memory unstored: while storing fails, PTB's poller blocks here instead of
# confirming more updates to Telegram.
UPDATE_QUEUE_SIZE = 4
MEDIA = filters.PHOTO | filters.Document.ALL | filters.VOICE | filters.VIDEO | filters.AUDIO


@dataclass
class InboxState:
    """Per-process bookkeeping of the inbox: updates being replayed, and updates a lane now owns."""

    replaying: set[int] = field(default_factory=set)
    deferred: set[int] = field(default_factory=set)

    def defer(self, update: Update) -> None:
        self.deferred.add(update.update_id)


class InboxApplication(Application):
    """Stores each update before any handler sees it, and drops second deliveries.

    Polled and webhook updates are stored by the update queue (`inbox.StoringQueue`) before
    python-telegram-bot tells Telegram they arrived; anything else (replays) is stored here. A
    database error while storing never leaves this method (it would end PTB's update loop): storing
    is retried with back-off until it works, while the poller waits and Telegram keeps later
    updates. If the bot is stopped while the database still refuses, an update that got this far
    goes to the inbox journal and is stored on the next start.
    """

    async def process_update(self, update: object) -> None:
        if not isinstance(update, Update):
            await super().process_update(update)
            return
        state = self.bot_data.inbox
        chat = update.effective_chat
        chat_id = chat.id if chat else None
        queue = self.update_queue  # polled and webhook updates were stored before Telegram was told
        stored_by_queue = isinstance(queue, inbox.StoringQueue) and queue.stored_here(update.update_id)
        try:
            fresh = stored_by_queue or await durable.store(
                inbox.admit, update.update_id, chat_id, update.to_dict(), replaying=state.replaying,
                what="storing an update", stop=lambda: not self.running and update.update_id not in state.replaying)
        except durable.StoreUnavailable:
            await asyncio.to_thread(inbox.journal, update.update_id, chat_id, update.to_dict())
            log.error("update %d kept in the inbox journal; it is stored on the next start", update.update_id)
            return
        if not fresh:
            log.info("update %d already handled; ignored", update.update_id)
            return
        try:
            await super().process_update(update)
        finally:
            if update.update_id in state.deferred:
                state.deferred.discard(update.update_id)
            else:
                await _finish_quietly([update.update_id])


def _data(application: Application) -> BotData:
    data: BotData = application.bot_data
    return data


async def _finish_quietly(ids: list[int], status: str = inbox.DONE) -> None:
    """Mark rows finished; if the database stays away they remain `pending` and are replayed."""
    try:
        await durable.store(inbox.finish, ids, status, what="marking updates finished", tries=8)
    except durable.StoreUnavailable:
        log.error("%d updates stay pending after a storage failure; they are replayed on start", len(ids))


@dataclass
class Services:
    """Everything the handlers use, kept in `BotData.services`."""

    settings: Settings
    rasa: RasaClient
    relay: CustomerRelay
    handoff: Handoff
    desk: AgentDesk | None
    book: PayloadBook
    inbox: InboxState
    followups: FollowUps


@dataclass
class BotData:
    """The application's `bot_data`, typed (PTB builds it through `ContextTypes(bot_data=BotData)`
    with no arguments, before `build_application` fills `services` in)."""

    inbox: InboxState = field(default_factory=InboxState)
    services: Services | None = None

    def ready(self) -> Services:
        if self.services is None:
            raise RuntimeError("the bot's services are not built yet (build_application fills them in)")
        return self.services


Context = CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]
CONTEXT_TYPES = ContextTypes(bot_data=BotData)


def build_application(settings: Settings, *, followup_policy: FollowUpPolicy | None = None,
                      start_followups: bool = True, backoff: tuple[float, ...] | None = None,
                      rate_limiter: HamdelRateLimiter | None = None) -> Application:
    """The bot with every handler registered; `run_bot` or a test starts it."""
    if not settings.telegram_token:
        raise ValueError("TELEGRAM_TOKEN is not set")
    builder = (ApplicationBuilder().application_class(InboxApplication).context_types(CONTEXT_TYPES)
               .token(settings.telegram_token)
               .update_queue(inbox.StoringQueue(maxsize=UPDATE_QUEUE_SIZE))
               .rate_limiter(rate_limiter or HamdelRateLimiter()).post_init(_on_start).post_shutdown(_on_shutdown))
    if settings.telegram_base_url:
        builder = builder.base_url(settings.telegram_base_url)
    if settings.telegram_base_file_url:
        builder = builder.base_file_url(settings.telegram_base_file_url)
    application = builder.build()
    policy = followup_policy or load_followup_policy()
    try:
        first_response_hours = load_policy().first_response_hours
    except (OSError, ValueError):
        first_response_hours = 24
    rasa = RasaClient(base_url=settings.rasa_url, timeout=settings.rasa_timeout_seconds, token=settings.rasa_api_token())
    book = PayloadBook()
    handoff = Handoff(bot=application.bot, agent_chat_id=settings.agent_chat_id,
                      first_response_hours=first_response_hours,
                      take_timeout=timedelta(minutes=settings.agent_take_timeout_minutes))
    data: BotData = application.bot_data
    followups = attach_followups(application, policy=policy, agent_chat_id=settings.agent_chat_id,
                                 start_scheduler=start_followups)
    # Customer text is offered to these before Rasa, in this order (only the follow-ups' comment
    # question for now; a new one is listed here, never appended elsewhere).
    interceptors: tuple[TextInterceptor, ...] = (followups.take_comment,)
    pauses: dict[str, tuple[float, ...]] = {"backoff": backoff, "failure_backoff": backoff} if backoff else {}
    relay = CustomerRelay(bot=application.bot, rasa=rasa, agent_chat_id=settings.agent_chat_id,
                          quiet_window=settings.quiet_window_seconds, handoff=handoff.check, book=book,
                          interceptors=interceptors, max_attempts=settings.max_turn_attempts,
                          **pauses)  # type: ignore[arg-type]
    desk = None
    if settings.agent_chat_id is not None:
        gate = AgentGate(application.bot, settings.agent_chat_id, settings.agent_allowlist_ids)
        desk = AgentDesk(bot=application.bot, agent_chat_id=settings.agent_chat_id, gate=gate, policy=policy)
    data.services = Services(settings, rasa, relay, handoff, desk, book, data.inbox, followups)
    _register(application, settings)
    if application.job_queue is not None:
        application.job_queue.run_repeating(_sweep, interval=settings.handoff_sweep_seconds, first=1.0,
                                            name="handoff-sweep")
    application.add_error_handler(_on_error)
    return application


def services(context: Context) -> Services:
    return context.bot_data.ready()


# --- handlers: turn updates into lane items ------------------------------------------------------

def _register(application: Application, settings: Settings) -> None:
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("help", _on_help, filters=private))
    application.add_handler(CommandHandler(list(COMMAND_PAYLOADS), _on_command, filters=private))
    application.add_handler(CallbackQueryHandler(_on_button, pattern=r"^[rh]:"))
    application.add_handler(MessageHandler(private & filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND,
                                           _on_text))
    application.add_handler(MessageHandler(private & filters.UpdateType.MESSAGE & MEDIA, _on_media))
    application.add_handler(MessageHandler(private & filters.UpdateType.MESSAGE & filters.CONTACT, _on_contact))
    application.add_handler(MessageHandler(private & filters.UpdateType.EDITED_MESSAGE, _on_edited))
    if settings.agent_chat_id is not None:
        application.add_handler(MessageHandler(
            filters.Chat(settings.agent_chat_id) & filters.UpdateType.MESSAGE & filters.IS_TOPIC_MESSAGE, _on_agent))
    application.add_handler(MessageHandler(private & filters.UpdateType.MESSAGE, _on_other))


def _item(update: Update, kind: str, **values: Any) -> CustomerItem:
    message = update.effective_message
    user = update.effective_user
    chat = update.effective_chat
    assert user is not None and chat is not None
    return CustomerItem(update_id=update.update_id, user_id=user.id, chat_id=chat.id, kind=kind,  # type: ignore[arg-type]
                        received=asyncio.get_running_loop().time(), display_name=user.full_name,
                        message_id=message.message_id if message else None, **values)


def _queue(context: Context, update: Update, item: CustomerItem) -> None:
    found = services(context)
    found.inbox.defer(update)
    found.relay.submit(item)


async def _on_text(update: Update, context: Context) -> None:
    message = update.effective_message
    assert message is not None and message.text is not None
    _queue(context, update, _item(update, "text", text=message.text[:4096]))


async def _on_command(update: Update, context: Context) -> None:
    message = update.effective_message
    assert message is not None and message.text is not None
    name = message.text.split()[0][1:].split("@", 1)[0].lower()
    _queue(context, update, _item(update, "payload", text=COMMAND_PAYLOADS[name], shown=f"/{name}"))


async def _on_help(update: Update, context: Context) -> None:
    _queue(context, update, _item(update, "notice", text=texts.HELP))


async def _on_button(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None
    found = services(context)
    payload = found.book.decode(query.data or "")
    title = _button_title(query.message, query.data or "") if isinstance(query.message, Message) else None
    try:
        await query.answer()
        if isinstance(query.message, Message):  # answered: the buttons go, so nobody taps them twice
            await query.edit_message_reply_markup(reply_markup=None)
    except BadRequest:
        pass  # too old to answer or already edited: the press still counts
    except TelegramError:
        log.warning("could not acknowledge a button press", exc_info=True)
    if query.message is None or update.effective_chat is None or update.effective_chat.type != "private":
        return
    if payload is None:
        _queue(context, update, _item(update, "notice", text=texts.BUTTON_EXPIRED))
    else:
        _queue(context, update, _item(update, "payload", text=payload, shown=title or payload))


def _button_title(message: Message, data: str) -> str | None:
    markup = message.reply_markup
    for row in markup.inline_keyboard if markup else ():
        for button in row:
            if button.callback_data == data:
                return button.text
    return None


async def _on_media(update: Update, context: Context) -> None:
    message = update.effective_message
    assert message is not None
    media = media_of(message)
    if media is None:
        return
    kind, file_id, unique, caption = media
    _queue(context, update, _item(update, "media", media_kind=kind, file_id=file_id, file_unique_id=unique,
                                  caption=caption))


async def _on_contact(update: Update, context: Context) -> None:
    message = update.effective_message
    assert message is not None and message.contact is not None
    phone = iranian_mobile(message.contact.phone_number)
    _queue(context, update, _item(update, "contact", phone=phone))


async def _on_edited(update: Update, context: Context) -> None:
    _queue(context, update, _item(update, "notice", text=texts.EDITED))


async def _on_other(update: Update, context: Context) -> None:
    message = update.effective_message
    assert message is not None
    if message.sticker is not None:
        text = texts.STICKER
    elif message.location is not None or message.venue is not None:
        text = texts.LOCATION
    elif message.text and message.text.startswith("/"):
        text = texts.HELP  # an unknown command
    else:
        text = texts.UNSUPPORTED
    _queue(context, update, _item(update, "notice", text=text))


async def _on_agent(update: Update, context: Context) -> None:
    message = update.effective_message
    found = services(context)
    if message is None or message.message_thread_id is None or found.desk is None:
        return
    # Only a person can act: anonymous admins and channels (sender_chat) and bots are refused.
    sender = message.from_user
    user = None if message.sender_chat is not None or sender is None or sender.is_bot else sender
    found.inbox.defer(update)
    found.desk.submit(AgentItem(
        update_id=update.update_id, thread_id=message.message_thread_id, message_id=message.message_id,
        user_id=user.id if user else None, first_name=user.first_name if user else "",
        text=message.text or message.caption, has_media=message.text is None,
        forwarded=message.forward_origin is not None,
    ))


async def _on_error(update: object, context: Context) -> None:
    # No update contents in the log: they hold customers' words and names.
    update_id = update.update_id if isinstance(update, Update) else None
    log.error("handler failed for update %s", update_id, exc_info=context.error)


# --- start, stop, timers -------------------------------------------------------------------------

async def _on_start(application: Application) -> None:
    """Command menus, then the updates a previous run stored but did not finish (in order)."""
    found = _data(application).ready()
    try:
        await application.bot.set_my_commands([BotCommand(n, d) for n, d in texts.CUSTOMER_COMMANDS],
                                              scope=BotCommandScopeAllPrivateChats())
        if found.settings.agent_chat_id is not None:
            await application.bot.set_my_commands([BotCommand(n, d) for n, d in texts.AGENT_COMMANDS],
                                                  scope=BotCommandScopeChat(found.settings.agent_chat_id))
    except TelegramError:
        log.warning("could not register the command menus", exc_info=True)
    await replay_pending(application)


async def replay_pending(application: Application) -> int:
    """Store what the journal kept, then process every pending update, oldest first.

    Processed directly (not through the update queue, which is small and not yet drained at this
    point), before polling starts, so each chat's replayed messages come before its new ones.
    """
    state = _data(application).inbox
    try:
        recovered = await durable.store(inbox.recover_journal, what="recovering the inbox journal", tries=5)
        if recovered:
            log.warning("stored %d updates from the inbox journal", recovered)
    except durable.StoreUnavailable:
        log.error("the inbox journal could not be stored yet; it is kept for the next start")
    pending = await durable.store(inbox.pending, what="reading pending updates")
    for stored in pending:
        update = Update.de_json(stored.payload, application.bot)
        if update is None:
            continue
        state.replaying.add(stored.update_id)
        await application.process_update(update)
    if pending:
        log.info("replaying %d updates stored before the last stop", len(pending))
    return len(pending)


async def _on_shutdown(application: Application) -> None:
    found = _data(application).ready()
    await found.relay.lanes.close()
    if found.desk is not None:
        await found.desk.lanes.close()
    await found.rasa.aclose()


async def _sweep(context: Context) -> None:
    found = services(context)
    try:
        await asyncio.to_thread(health.beat)  # the container's health check reads it
    except OSError:
        log.warning("could not write the heartbeat file")
    await found.handoff.check(None)
    await found.handoff.remind_waiting()
