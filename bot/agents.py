"""The agents' side: messages and commands in a ticket's forum topic.

Whatever an authorised agent writes in the topic reaches the customer (text as text, media as a
copy, never revealing who wrote it); commands change the ticket: `/take`, `/note` (internal, never
sent), `/resolve`, `/close`, `/handback`. Only members of the agents' group may act, checked with
`getChatMember` (cached briefly) and an optional allow-list; anonymous admins are refused because
nobody could be held to what "the group" promised. Refusals are logged without personal data.
Each topic is an ordered lane, so an agent's messages reach the customer in the order written.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Hashable
from dataclasses import dataclass

from telegram import Bot, ChatMember
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot import casefile, durable, inbox, texts
from bot.lanes import Lanes
from hamdel.followup_policy import FollowUpPolicy
from hamdel.labels import STATUS_LABELS
from hamdel.storage.models import TicketStatus
from hamdel.ticket_service import TransitionRefused

log = logging.getLogger(__name__)
MEMBER_STATUSES = frozenset({ChatMember.OWNER, ChatMember.ADMINISTRATOR, ChatMember.MEMBER})
COMMANDS = frozenset({"take", "note", "resolve", "close", "handback"})


@dataclass(frozen=True)
class AgentItem:
    update_id: int
    thread_id: int
    message_id: int
    user_id: int | None  # None for an anonymous admin or a channel posting in the group
    first_name: str
    text: str | None
    has_media: bool
    forwarded: bool = False  # a forwarded «/close» is someone else's words: not a command, not relayed


class AgentGate:
    """Who may act on tickets: group members (by `getChatMember`), optionally only allow-listed ids."""

    def __init__(self, bot: Bot, agent_chat_id: int, allowlist: frozenset[int], ttl: float = 60.0) -> None:
        self.bot, self.agent_chat_id, self.allowlist, self.ttl = bot, agent_chat_id, allowlist, ttl
        self._cache: dict[int, tuple[float, bool]] = {}

    async def check(self, user_id: int | None) -> str | None:
        """None if allowed, else the reason for the refusal (for the log; no ids in it)."""
        if user_id is None:
            return "anonymous sender"
        if self.allowlist and user_id not in self.allowlist:
            return "not on the allow-list"
        cached = self._cache.get(user_id)
        if cached and time.monotonic() - cached[0] < self.ttl:
            return None if cached[1] else "not a member of the agents' group"
        allowed = await self._is_member(user_id, cached)
        self._cache[user_id] = (time.monotonic(), allowed)
        return None if allowed else "not a member of the agents' group"

    async def _is_member(self, user_id: int, cached: tuple[float, bool] | None) -> bool:
        """`getChatMember`, retried on network trouble; then the last known answer, else the error
        goes up (the desk tells the topic instead of dropping the agent's message)."""
        for attempt in range(3):
            try:
                member = await self.bot.get_chat_member(chat_id=self.agent_chat_id, user_id=user_id)
                return member.status in MEMBER_STATUSES
            except BadRequest:  # "user not found" and the like
                return False
            except RetryAfter as error:
                wait = error.retry_after
                await asyncio.sleep(wait.total_seconds() if hasattr(wait, "total_seconds") else float(wait))
            except NetworkError:  # includes TimedOut
                log.warning("getChatMember failed (attempt %d)", attempt + 1)
                await asyncio.sleep(0.5 * 2 ** attempt)
        if cached is not None:
            return cached[1]
        raise NetworkError("membership could not be checked")


class AgentDesk:
    def __init__(self, *, bot: Bot, agent_chat_id: int, gate: AgentGate, policy: FollowUpPolicy) -> None:
        self.bot, self.agent_chat_id, self.gate, self.policy = bot, agent_chat_id, gate, policy
        self.lanes: Lanes[AgentItem] = Lanes(self._process)

    def submit(self, item: AgentItem) -> None:
        self.lanes.submit(("topic", item.thread_id), item)

    async def _process(self, _key: Hashable, item: AgentItem, _queue: asyncio.Queue[AgentItem]) -> None:
        """Handle one topic message; a failure ends its row `failed` and is said in the topic, so an
        agent's reply is never silently lost (nor marked done)."""
        try:
            await self._handle(item)
        except Exception as error:  # logged by class only; the agent is told
            log.error("an agents' topic message could not be handled (%s)", type(error).__name__)
            log.debug("agent update failure", exc_info=True)
            await self._mark(item.update_id, inbox.FAILED)
            await self._topic(item.thread_id, texts.AGENT_ACTION_FAILED)
            return
        await self._mark(item.update_id, inbox.DONE)

    async def _mark(self, update_id: int, status: str) -> None:
        try:
            await durable.store(inbox.finish, [update_id], status, what="marking an agent update", tries=8)
        except durable.StoreUnavailable:
            log.error("an agent update stays pending after a storage failure")

    async def _handle(self, item: AgentItem) -> None:
        ref = await asyncio.to_thread(casefile.by_topic, item.thread_id)
        if ref is None:
            return  # a topic that is not a ticket (General, a team chat): not ours
        refusal = await self.gate.check(item.user_id)
        if refusal is not None:
            log.warning("agent action refused in a ticket topic: %s", refusal)
            await self._topic(item.thread_id, texts.AGENT_REFUSED)
            return
        assert item.user_id is not None
        if item.forwarded:  # someone else's words: neither a command nor something to send on
            await self._topic(item.thread_id, texts.AGENT_FORWARD_IGNORED)
            return
        command, _, rest = (item.text or "").partition(" ")
        name = command[1:].split("@", 1)[0].lower() if command.startswith("/") else ""
        if name in COMMANDS:
            await self._command(name, rest.strip(), ref, item)
        elif not name:
            await self._relay(ref, item)

    async def _command(self, name: str, rest: str, ref: casefile.TicketRef, item: AgentItem) -> None:
        agent = item.user_id or 0
        if name == "note":
            if not rest:
                await self._topic(item.thread_id, texts.AGENT_NOTE_EMPTY)
                return
            await asyncio.to_thread(casefile.note, ref.id, agent, rest)
            await self._topic(item.thread_id, texts.AGENT_NOTE_SAVED)
            return
        try:
            await self._move(name, ref, item)
        except TransitionRefused as refused:  # e.g. /resolve twice, anything on a closed ticket
            label = STATUS_LABELS.get(refused.current.value, refused.current.value)
            await self._topic(item.thread_id, texts.AGENT_ALREADY.format(status=label))

    async def _move(self, name: str, ref: casefile.TicketRef, item: AgentItem) -> None:
        """The status commands; the ticket service decides what each may do from the ticket's
        current status (a /take on a resolved ticket reopens it) and refuses the rest."""
        agent = item.user_id or 0
        if name == "take":
            ref = await asyncio.to_thread(casefile.take, ref.id, agent)
            await self._topic(item.thread_id, texts.AGENT_TAKEN.format(agent=item.first_name))
            await self._customer(ref, texts.AGENT_TOOK.format(number=ref.number))
        elif name == "resolve":
            ref = await asyncio.to_thread(casefile.finish, ref.id, agent, TicketStatus.RESOLVED, self.policy)
            await self._topic(item.thread_id, texts.AGENT_RESOLVED)
            await self._customer(ref, texts.RESOLVED_BY_AGENT.format(number=ref.number))
        elif name == "close":
            ref = await asyncio.to_thread(casefile.finish, ref.id, agent, TicketStatus.CLOSED, self.policy)
            await self._topic(item.thread_id, texts.AGENT_CLOSED)
            await self._customer(ref, texts.CLOSED_BY_AGENT.format(number=ref.number))
            try:
                await self.bot.close_forum_topic(chat_id=self.agent_chat_id, message_thread_id=item.thread_id)
            except TelegramError:
                log.warning("could not close the forum topic", exc_info=True)
        elif name == "handback":
            ref = await asyncio.to_thread(casefile.hand_back, ref.id, agent)
            await self._topic(item.thread_id, texts.AGENT_HANDED_BACK)
            await self._customer(ref, texts.HANDED_BACK.format(number=ref.number))

    async def _relay(self, ref: casefile.TicketRef, item: AgentItem) -> None:
        """An agent's words (or media) to the customer; answering also takes the chat."""
        if ref.customer_chat_id is None:
            return
        try:
            if item.text and not item.has_media:
                await self.bot.send_message(chat_id=ref.customer_chat_id, text=item.text)
            else:
                await self.bot.copy_message(chat_id=ref.customer_chat_id, from_chat_id=self.agent_chat_id,
                                            message_id=item.message_id)
        except Forbidden:
            await self._topic(item.thread_id, texts.AGENT_DELIVERY_FAILED.format(reason=texts.AGENT_CUSTOMER_BLOCKED))
            return
        except TelegramError as error:
            log.warning("an agent's reply did not reach the customer: %s", type(error).__name__)
            await self._topic(item.thread_id, texts.AGENT_DELIVERY_FAILED.format(reason=type(error).__name__))
            return
        line = item.text or "[پیوست]"
        await asyncio.to_thread(casefile.agent_replied, ref.id, item.user_id or 0, line)
        if not ref.human_active and ref.status in (TicketStatus.OPEN, TicketStatus.ESCALATED):
            with contextlib.suppress(TransitionRefused):  # closed meanwhile: the words still went out
                await asyncio.to_thread(casefile.take, ref.id, item.user_id or 0)

    async def _topic(self, thread_id: int, text: str) -> None:
        try:
            await self.bot.send_message(chat_id=self.agent_chat_id, message_thread_id=thread_id, text=text)
        except TelegramError:
            log.warning("could not post in the agents' topic", exc_info=True)

    async def _customer(self, ref: casefile.TicketRef, text: str) -> None:
        if ref.customer_chat_id is None:
            return
        try:
            await self.bot.send_message(chat_id=ref.customer_chat_id, text=text)
            await asyncio.to_thread(casefile.record_line, int(ref.customer_chat_id), "bot", text, ref.id)
        except TelegramError:
            log.warning("could not tell the customer about a ticket change", exc_info=True)
