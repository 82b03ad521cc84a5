"""Wiring follow-ups into the Telegram bot: `attach(application)` is called by `build_application()`.

It registers
* a `CallbackQueryHandler` for `fu:` buttons ("was it solved?" yes/no, the 1–5 rating, "skip"),
* a `CommandHandler` for `/stop` (no more follow-ups for this customer),
* the scheduler loop,
and returns a `FollowUps` handle: the scheduler, the answers, and `take_comment`, the text
interceptor that takes the answer to "what could we have done better?" while that question is open.
The bot offers customer text to it explicitly (bot/app.py decides the order); this package never
reaches into the bot's `bot_data`.

Handlers sit in group -1 and end with `ApplicationHandlerStop`, so the bot's own catch-all handlers
never see a follow-up button or `/stop` as a complaint.

Starting and stopping: the loop is started by a `JobQueue.run_once(when=0)` job, i.e. when the
application *starts* — with `run_polling`, `run_webhook` or a hand-written `async with app:
await app.start()` alike (post_init only runs under `run_*`). The job hands the loop to
`application.create_task`, so `Application.stop()` waits for it; the loop ends by itself within one
poll interval once `application.running` turns false, giving back claims it has not started
sending. Without a JobQueue, post_init/post_stop are chained (existing callbacks keep running first).
"""
from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from telegram import InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    filters,
)

from followups import messages, texts
from followups.scheduler import Clock, FollowUpScheduler
from hamdel.followup_policy import FollowUpPolicy, load_followup_policy
from hamdel.settings import get_settings
from hamdel.storage import followups as repo
from hamdel.storage.db import session_scope
from hamdel.storage.models import Customer, FollowUpKind, Ticket, utcnow
from hamdel import ticket_service

log = logging.getLogger(__name__)

CHANNEL = "telegram"
HANDLER_GROUP = -1
_DATA = re.compile(r"^fu:(solved|rate|skip):(\d+)(?::([yn1-5]))?$")


@dataclass(frozen=True)
class Reply:
    """What to tell the customer (and, sometimes, the agents) after an answer."""

    text: str
    keyboard: InlineKeyboardMarkup | None = None
    agent_text: str | None = None
    agent_thread_id: int | None = None


class FollowUpAnswers:
    """The customer's side of follow-ups, as plain methods over the database (testable without
    Telegram); the handlers below only translate updates into calls and replies into messages."""

    def __init__(self, *, policy: FollowUpPolicy, now: Clock = utcnow, agent_chat_id: int | None = None) -> None:
        self.policy, self.now, self.agent_chat_id = policy, now, agent_chat_id

    def solved(self, *, user_id: int, followup_id: int, solved: bool) -> Reply:
        now = self.now()
        with session_scope() as session:
            followup = repo.followup_for_answer(session=session, followup_id=followup_id,
                                                customer_external_id=str(user_id))
            if followup is None or followup.kind is not FollowUpKind.RESOLUTION_CHECK:
                return Reply(texts.NO_LONGER_VALID)
            ticket = followup.ticket
            if not ticket_service.confirm_solved(session=session, ticket=ticket, solved=solved, now=now):
                return Reply(texts.ALREADY_ANSWERED if ticket.solved_confirmed is not None else texts.NO_LONGER_VALID)
            if solved:
                if not ticket.customer.followups_opted_out:
                    repo.schedule(session=session, ticket=ticket, kind=FollowUpKind.SATISFACTION,
                                  due_at=now + self.policy.satisfaction_after)
                return Reply(texts.pick(texts.SOLVED_THANKS, followup_id))
            ticket_service.escalate(session=session, ticket=ticket, reason="customer_not_solved", actor="customer", now=now)
            if not ticket.customer.followups_opted_out:
                repo.schedule(session=session, ticket=ticket, kind=FollowUpKind.CHECK_IN,
                              due_at=now + self.policy.check_in_after)
            log.info("ticket %d reopened by its customer (reopened %d times)", ticket.id, ticket.reopened_count)
            return Reply(texts.pick(texts.NOT_SOLVED_REOPENED, followup_id).format(number=ticket.number),
                         agent_text=messages.agent_reopened_text(ticket), agent_thread_id=ticket.agent_topic_id)

    def rated(self, *, user_id: int, followup_id: int, score: int) -> Reply:
        now = self.now()
        with session_scope() as session:
            followup = repo.followup_for_answer(session=session, followup_id=followup_id,
                                                customer_external_id=str(user_id))
            if followup is None or followup.kind is not FollowUpKind.SATISFACTION:
                return Reply(texts.NO_LONGER_VALID)
            ticket = followup.ticket
            if not ticket_service.record_rating(session=session, ticket=ticket, score=score, now=now):
                return Reply(texts.ALREADY_ANSWERED)
            text, keyboard = messages.rated_reply(score, ticket.id)
            return Reply(text, keyboard)

    def skip_comment(self, *, user_id: int, ticket_id: int) -> Reply:
        now = self.now()
        with session_scope() as session:
            ticket = self._awaiting(session, user_id, now)
            if ticket is None or ticket.id != ticket_id:
                return Reply(texts.COMMENT_SKIPPED)
            ticket_service.record_comment(session=session, ticket=ticket, comment=None, now=now)
            return Reply(texts.COMMENT_SKIPPED)

    def comment(self, *, user_id: int, text: str) -> Reply | None:
        """The answer to "what could we have done better?", or None if that question is not open."""
        text = text.strip()
        if not text or text.startswith("/"):
            return None
        now = self.now()
        with session_scope() as session:
            ticket = self._awaiting(session, user_id, now)
            if ticket is None:
                return None
            ticket_service.record_comment(session=session, ticket=ticket, comment=text, now=now)
            return Reply(texts.pick(texts.COMMENT_THANKS, ticket.id),
                         agent_text=messages.agent_comment_text(ticket, text), agent_thread_id=ticket.agent_topic_id)

    def stop(self, *, user_id: int) -> Reply:
        with session_scope() as session:
            customer = session.query(Customer).filter_by(channel=CHANNEL, external_id=str(user_id)).one_or_none()
            if customer is None:
                return Reply(texts.STOPPED_NOT_A_CUSTOMER)
            cancelled = repo.opt_out(session=session, customer=customer)
            log.info("customer %d stopped follow-ups (%d cancelled)", customer.id, cancelled)
            return Reply(texts.STOPPED)

    def _awaiting(self, session: Any, user_id: int, now: Any) -> Ticket | None:
        return repo.ticket_awaiting_comment(session=session, channel=CHANNEL, external_id=str(user_id), now=now,
                                            window=self.policy.comment_window)


async def _tell_agents(application: Application, answers: FollowUpAnswers, reply: Reply) -> None:
    if reply.agent_text is None or answers.agent_chat_id is None:
        return
    try:
        await application.bot.send_message(chat_id=answers.agent_chat_id, text=reply.agent_text,
                                           message_thread_id=reply.agent_thread_id)
    except TelegramError:
        log.exception("could not notify the agents' topic")


def _handlers(application: Application, answers: FollowUpAnswers) -> tuple[
        Any, Any, Callable[[int, int, str], Awaitable[bool]]]:
    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A follow-up button: solved yes/no, a rating, or "rather not write anything".

        Every step that can fail is caught: a database error becomes an honest «try again» (the
        buttons stay, so the press can be repeated), a Telegram error is logged; the update always
        ends here (ApplicationHandlerStop), never as a complaint turn.
        """
        query = update.callback_query
        if query is None:
            raise ApplicationHandlerStop
        try:
            await query.answer()
        except TelegramError:
            log.warning("could not acknowledge a follow-up button press")
        match = _DATA.match(query.data or "")
        user_id = query.from_user.id
        saved = True
        try:
            if match is None:
                reply = Reply(texts.NO_LONGER_VALID)
            elif match[1] == "solved":
                reply = await asyncio.to_thread(answers.solved, user_id=user_id, followup_id=int(match[2]),
                                                solved=match[3] == "y")
            elif match[1] == "rate":
                reply = await asyncio.to_thread(answers.rated, user_id=user_id, followup_id=int(match[2]),
                                                score=int(match[3] or 0))
            else:
                reply = await asyncio.to_thread(answers.skip_comment, user_id=user_id, ticket_id=int(match[2]))
        except Exception as error:  # noqa: BLE001 - the customer hears the truth; the log has the class only
            log.error("a follow-up answer could not be saved (%s)", type(error).__name__)
            reply, saved = Reply(texts.TRY_AGAIN), False
        if query.message is not None:
            try:
                if saved:  # the question is answered: its buttons go, so nobody taps them twice
                    await query.edit_message_reply_markup(reply_markup=None)
            except TelegramError:
                pass
            try:
                await context.bot.send_message(chat_id=query.message.chat.id, text=reply.text,
                                               reply_markup=reply.keyboard)
            except TelegramError as error:
                log.warning("could not answer a follow-up button (%s)", type(error).__name__)
        await _tell_agents(application, answers, reply)
        raise ApplicationHandlerStop

    async def on_stop(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """`/stop` in a private chat: the customer wants no more follow-ups."""
        if update.effective_user is None or update.effective_chat is None:
            return
        try:
            reply = await asyncio.to_thread(answers.stop, user_id=update.effective_user.id)
        except Exception as error:  # noqa: BLE001
            log.error("a /stop could not be saved (%s)", type(error).__name__)
            reply = Reply(texts.TRY_AGAIN_STOP)
        try:
            await context.bot.send_message(chat_id=update.effective_chat.id, text=reply.text)
        except TelegramError as error:
            log.warning("could not answer /stop (%s)", type(error).__name__)
        raise ApplicationHandlerStop

    async def interceptor(chat_id: int, user_id: int, text: str) -> bool:
        """Takes the customer's text when it answers "what could we have done better?"."""
        reply = await asyncio.to_thread(answers.comment, user_id=user_id, text=text)
        if reply is None:
            return False
        await application.bot.send_message(chat_id=chat_id, text=reply.text)
        await _tell_agents(application, answers, reply)
        return True

    return on_button, on_stop, interceptor


@dataclass(frozen=True)
class FollowUps:
    """What `attach` hands the bot. `take_comment(chat_id, user_id, text)` is True when the text
    was the answer to "what could we have done better?" (then it is answered and the bot is done)."""

    scheduler: FollowUpScheduler
    answers: FollowUpAnswers
    take_comment: Callable[[int, int, str], Awaitable[bool]]


def attach(
    application: Application,
    *,
    policy: FollowUpPolicy | None = None,
    now: Clock = utcnow,
    agent_chat_id: int | None = None,
    start_scheduler: bool = True,
) -> FollowUps:
    """Register the follow-up handlers on `application` and start the scheduler with it."""
    policy = policy or load_followup_policy()
    if agent_chat_id is None:
        agent_chat_id = get_settings().agent_chat_id
    answers = FollowUpAnswers(policy=policy, now=now, agent_chat_id=agent_chat_id)
    on_button, on_stop, interceptor = _handlers(application, answers)
    application.add_handler(CallbackQueryHandler(on_button, pattern=r"^fu:"), group=HANDLER_GROUP)
    application.add_handler(CommandHandler("stop", on_stop, filters=filters.ChatType.PRIVATE), group=HANDLER_GROUP)
    scheduler = FollowUpScheduler(application.bot, policy=policy, agent_chat_id=agent_chat_id, now=now)
    if start_scheduler:
        _start_with(application, scheduler)
    return FollowUps(scheduler=scheduler, answers=answers, take_comment=interceptor)


def _start_with(application: Application, scheduler: FollowUpScheduler) -> None:
    def keep_running() -> bool:
        return application.running

    if application.job_queue is not None:
        async def start(_context: ContextTypes.DEFAULT_TYPE) -> None:
            application.create_task(scheduler.run(keep_running), name="followups-scheduler")

        application.job_queue.run_once(start, when=0, name="followups-scheduler")
        return

    previous_init, previous_stop = application.post_init, application.post_stop
    task: dict[str, asyncio.Task[None]] = {}

    async def post_init(app: Application) -> None:
        if previous_init is not None:
            await previous_init(app)
        task["loop"] = asyncio.create_task(scheduler.run(), name="followups-scheduler")

    async def post_stop(app: Application) -> None:
        scheduler.stop()
        if "loop" in task:
            await task["loop"]
        if previous_stop is not None:
            await previous_stop(app)

    application.post_init, application.post_stop = post_init, post_stop
