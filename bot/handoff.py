"""Handing a chat to people: one forum topic per ticket in the agents' supergroup, with a card that
holds everything the customer already said (seed 001: the customer never repeats anything).

A ticket needs a topic when it is escalated and no human owns it yet — because the customer asked
for a person, the bot misunderstood twice, the complaint is severe or the customer angry, or the
customer answered «not solved» to a follow-up. The bot checks after every customer turn and, for
escalations that happen elsewhere (follow-ups, a crash between escalation and topic), on a timer.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from telegram import Bot
from telegram.error import BadRequest, TelegramError

from bot import casefile, texts
from bot.formatting import split_message, units
from hamdel.persian import to_persian_digits

log = logging.getLogger(__name__)
MAX_TRANSCRIPT_MESSAGES = 10  # about 38,000 characters; the whole transcript stays in the database


class Handoff:
    def __init__(self, *, bot: Bot, agent_chat_id: int | None, first_response_hours: int,
                 take_timeout: timedelta) -> None:
        self.bot = bot
        self.agent_chat_id = agent_chat_id
        self.first_response_hours = first_response_hours
        self.take_timeout = take_timeout
        # One lock per ticket (never two topics for one ticket) instead of one for all: posting a
        # long transcript for one ticket must not hold up every other chat's handoff.
        self._locks: dict[int, asyncio.Lock] = {}
        self._warned = False

    async def check(self, user_id: int | None = None) -> None:
        """Open (or reopen) the agents' topic of every escalated ticket no human owns yet."""
        if self.agent_chat_id is None:
            if not self._warned:
                log.warning("AGENT_CHAT_ID is not set: escalated tickets stay in the database without a topic")
                self._warned = True
            return
        for ticket_id, topic_id in await asyncio.to_thread(casefile.needing_handoff, user_id):
            lock = self._locks.setdefault(ticket_id, asyncio.Lock())
            if lock.locked():
                continue  # another task is handing this ticket over right now
            async with lock:
                try:
                    if topic_id:
                        await self._reopen(ticket_id, topic_id)
                    else:
                        await self._open(ticket_id)
                except TelegramError as error:
                    log.error("could not hand ticket %d to the agents (%s); will retry", ticket_id,
                              type(error).__name__)
            self._locks.pop(ticket_id, None)

    async def _open(self, ticket_id: int) -> None:
        assert self.agent_chat_id is not None  # check() hands nothing over without the agents' group
        if not await asyncio.to_thread(casefile.claim_topic, ticket_id):
            return
        card = await asyncio.to_thread(casefile.handoff_card, ticket_id)
        try:
            topic = await self.bot.create_forum_topic(chat_id=self.agent_chat_id, name=card.topic_name)
        except TelegramError:
            await asyncio.to_thread(casefile.release_topic_claim, ticket_id)
            raise
        ref = await asyncio.to_thread(casefile.topic_opened, ticket_id, topic.message_thread_id)
        await self._post(ref.topic_id, card.card)
        chunks = _chunks(card.transcript)
        if len(chunks) > MAX_TRANSCRIPT_MESSAGES:
            left_out = len(chunks) - MAX_TRANSCRIPT_MESSAGES
            chunks = chunks[-MAX_TRANSCRIPT_MESSAGES:]
            await self._post(ref.topic_id, texts.TRANSCRIPT_TRIMMED.format(count=to_persian_digits(str(left_out))))
        for index, chunk in enumerate(chunks, start=1):
            title = texts.TRANSCRIPT_TITLE.format(part=to_persian_digits(str(index)),
                                                  parts=to_persian_digits(str(len(chunks))))
            await self._post(ref.topic_id, f"{title}\n{chunk}")
        log.info("ticket %d handed to the agents (topic %d)", ticket_id, ref.topic_id)

    async def _reopen(self, ticket_id: int, topic_id: int) -> None:
        assert self.agent_chat_id is not None
        ref = await asyncio.to_thread(casefile.reactivate, ticket_id)
        if ref is None:
            return  # already handed back to the agents by another sweep
        try:
            await self.bot.reopen_forum_topic(chat_id=self.agent_chat_id, message_thread_id=topic_id)
        except BadRequest:
            pass  # it was not closed
        reason = await asyncio.to_thread(casefile.escalation_reason, ticket_id)
        await self._post(topic_id, texts.AGENT_ESCALATED_AGAIN.format(number=ref.number, reason=reason))

    async def _post(self, topic_id: int | None, text: str) -> None:
        assert self.agent_chat_id is not None
        for part in split_message(text):
            await self.bot.send_message(chat_id=self.agent_chat_id, message_thread_id=topic_id, text=part)

    async def remind_waiting(self) -> None:
        """Tell customers honestly when nobody has taken their chat within `take_timeout`."""
        if self.agent_chat_id is None:
            return
        for ref in await asyncio.to_thread(casefile.waiting_too_long, self.take_timeout):
            hours = to_persian_digits(str(self.first_response_hours))
            minutes = to_persian_digits(str(int(self.take_timeout.total_seconds() // 60)))
            try:
                if ref.customer_chat_id is not None:
                    await self.bot.send_message(chat_id=ref.customer_chat_id,
                                                text=texts.STILL_WAITING.format(number=ref.number, hours=hours))
                await self.bot.send_message(chat_id=self.agent_chat_id, message_thread_id=ref.topic_id,
                                            text=texts.AGENT_NO_TAKER.format(minutes=minutes, hours=hours))
            except TelegramError:
                log.warning("could not send the still-waiting notice for ticket %d", ref.id, exc_info=True)


def _chunks(lines: list[str], limit: int = 3800) -> list[str]:
    """Transcript lines grouped into messages under Telegram's limit, counted in UTF-16 units
    (room left for the title)."""
    chunks: list[str] = []
    current = ""
    for line in lines:
        for piece in split_message(line, limit):
            if current and units(current) + 1 + units(piece) > limit:
                chunks.append(current)
                current = piece
            else:
                current = f"{current}\n{piece}" if current else piece
    if current:
        chunks.append(current)
    return chunks
