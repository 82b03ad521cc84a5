"""The customer's side: each private chat is one ordered lane from Telegram to Rasa and back.

* Hear without interrupting (seed 000/002): text messages that follow each other within the quiet
  window are one turn, so the bot answers the whole story, not its first line.
* Nothing is lost: the inbox row of every message stays `pending` until Rasa's answer has been
  sent. If Rasa or the action server is down, slow or answers nothing (the REST channel says `[]`
  when an action fails), the customer hears a calm holding message once and the same turn is
  retried with back-off, in order. Rasa being unreachable is an outage and is waited out; a turn
  that reaches Rasa and fails (timeout, HTTP 500, `[]`) or whose work raises counts against the
  message: after `max_attempts` tries its rows end `failed`, the customer is told honestly once and
  the agents' group gets a note (update ids only), so one poisonous message cannot hold the chat.
* Bounded: quick messages are merged up to `MAX_MERGED_CHARS`; a chat with more than
  `MAX_QUEUED` messages waiting has the surplus marked `failed` and is asked once to wait.
* While a human owns the chat (its ticket has an agents' topic), the bot stays silent and
  forwards what the customer sends to that topic.
* Photos, documents and voice notes become evidence on the customer's open ticket (Telegram file
  ids only), or wait in the inbox until the complaint has a ticket.
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from telegram import Bot, Message, Update
from telegram.constants import ChatAction
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError

from bot import casefile, durable, inbox, texts
from bot.formatting import PayloadBook, keyboard, split_message, split_with_prefix
from bot.lanes import Lanes
from hamdel.persian import to_persian_digits
from hamdel.rasa_client import BotMessage, Button, RasaClient, RasaUnavailable

log = logging.getLogger(__name__)
Kind = Literal["text", "payload", "media", "contact", "notice"]


class TextInterceptor(Protocol):
    """Something offered a customer's text before Rasa (the follow-ups' «what could we have done
    better?»); True means it took the text and answered. The bot lists them in its own order."""

    def __call__(self, chat_id: int, user_id: int, text: str, /) -> Awaitable[bool]: ...


BACKOFF = (1.0, 2.0, 4.0, 8.0, 15.0)  # Rasa unreachable: waited out, no limit
FAILURE_BACKOFF = (5.0, 15.0, 45.0, 90.0)  # a try that failed: 5 tries span about 2.5 minutes
MAX_ATTEMPTS = 5
MAX_MERGED_CHARS = 4096  # one Telegram message: a turn never carries more than this to Rasa
# ...nor more UTF-8 bytes than one message can have (4,096 UTF-16 units, at most 3 bytes each), so
# a request to Rasa stays under 16 KB even for merged emoji (4 bytes per character).
MAX_MERGED_BYTES = 3 * 4096
MAX_QUEUED = 100  # messages waiting in one chat's lane


class TurnGaveUp(Exception):
    """The turn failed `max_attempts` times; its rows are to end `failed`."""


@dataclass
class CustomerItem:
    """One customer update, reduced to what the lane needs (the raw update is in the inbox)."""

    update_id: int
    user_id: int
    chat_id: int
    kind: Kind
    received: float  # event-loop time the customer sent it (for the quiet window)
    text: str = ""  # the message, or the Rasa payload of a button/command
    shown: str | None = None  # what the transcript shows for a payload (a button's title)
    display_name: str | None = None
    message_id: int | None = None
    media_kind: str | None = None
    file_id: str | None = None
    file_unique_id: str | None = None
    caption: str | None = None
    phone: str | None = None  # a shared contact's number, already checked as an Iranian mobile


def media_of(message: Message) -> tuple[str, str, str | None, str | None] | None:
    """(kind, file_id, file_unique_id, caption) for the message types kept as evidence."""
    if message.photo:
        biggest = message.photo[-1]
        return "photo", biggest.file_id, biggest.file_unique_id, message.caption
    for kind in ("document", "voice", "video", "audio"):
        item = getattr(message, kind)
        if item is not None:
            return kind, item.file_id, item.file_unique_id, message.caption
    return None


class CustomerRelay:
    """Runs the customer lanes. `handoff` is called after each turn to open agents' topics."""

    def __init__(self, *, bot: Bot, rasa: RasaClient, agent_chat_id: int | None, quiet_window: float,
                 handoff: Callable[[int], Awaitable[None]], book: PayloadBook,
                 interceptors: Sequence[TextInterceptor] = (), backoff: Sequence[float] = BACKOFF,
                 failure_backoff: Sequence[float] = FAILURE_BACKOFF,
                 max_attempts: int = MAX_ATTEMPTS, max_queued: int = MAX_QUEUED) -> None:
        self.bot, self.rasa, self.agent_chat_id = bot, rasa, agent_chat_id
        self.max_attempts = max(1, min(max_attempts, 5))
        self.max_queued = max_queued
        self.window = quiet_window
        self.handoff = handoff
        self.book = book
        self.interceptors = interceptors
        self.backoff = tuple(backoff)
        self.failure_backoff = tuple(failure_backoff)
        self.lanes: Lanes[CustomerItem] = Lanes(self._process)
        self._holding_told: set[int] = set()
        self._flood_told: set[int] = set()
        self._overflow: list[asyncio.Task[None]] = []

    def submit(self, item: CustomerItem) -> None:
        """Queue the item in its chat's lane; beyond `max_queued` waiting, it ends `failed` at once."""
        if self.lanes.waiting(item.chat_id) >= self.max_queued:
            task = asyncio.create_task(self._overflowed(item))
            self._overflow.append(task)
            task.add_done_callback(self._overflow.remove)
            return
        self._flood_told.discard(item.chat_id)
        self.lanes.submit(item.chat_id, item)

    async def _overflowed(self, item: CustomerItem) -> None:
        log.warning("a chat has %d messages waiting; a further one is refused", self.max_queued)
        await self._finish([item.update_id], inbox.FAILED)
        if item.chat_id not in self._flood_told:
            self._flood_told.add(item.chat_id)
            await self._send(item.chat_id, texts.TOO_MANY_WAITING)

    # --- the lane ------------------------------------------------------------------------------

    async def _process(self, _key: Hashable, first: CustomerItem, queue: asyncio.Queue[CustomerItem]) -> None:
        loop = asyncio.get_running_loop()
        waiting = [first]
        while waiting:
            head = waiting.pop(0)
            if head.kind != "text":
                await self._guarded([head], functools.partial(self._single, head))
                continue
            batch = [head]
            size, encoded = len(head.text), len(head.text.encode())
            while True:  # the quiet window: more text soon after the last one is the same turn
                if not queue.empty():
                    following = queue.get_nowait()
                else:
                    wait = self.window - (loop.time() - batch[-1].received)
                    if wait <= 0:
                        break
                    try:
                        following = await asyncio.wait_for(queue.get(), wait)
                    except TimeoutError:
                        break
                if (following.kind == "text" and following.received - batch[-1].received <= self.window
                        and size + 1 + len(following.text) <= MAX_MERGED_CHARS
                        and encoded + 1 + len(following.text.encode()) <= MAX_MERGED_BYTES):
                    batch.append(following)
                    size += 1 + len(following.text)
                    encoded += 1 + len(following.text.encode())
                else:
                    waiting.append(following)
                    break
            await self._guarded(batch, functools.partial(self._text_turn, batch))

    async def _guarded(self, items: list[CustomerItem], work: Callable[[], Awaitable[None]]) -> None:
        """Run the work of these items; if it raises, try again later in order, at most
        `max_attempts` tries in all, then mark the rows `failed` and tell the customer once."""
        ids = [item.update_id for item in items]
        failures = 0
        while True:
            try:
                if await durable.store(inbox.attempts, ids, what="reading attempts") > self.max_attempts:
                    raise TurnGaveUp  # replayed after restarts too often
                await work()
                return
            except TurnGaveUp:
                break
            except durable.StoreUnavailable:
                raise
            except Exception as error:  # logged by class; the rows decide what happens next
                log.error("a customer turn failed (%s); it is retried", type(error).__name__)
                log.debug("turn failure", exc_info=True)
                if not await durable.store(inbox.next_try, ids, self.max_attempts, what="counting a failed turn"):
                    break
                failures += 1
                await asyncio.sleep(self._pause_after(failures))
        await self._give_up(items[0], ids)

    async def _give_up(self, item: CustomerItem, ids: list[int]) -> None:
        log.error("a customer turn failed %d times; %d updates marked failed", self.max_attempts, len(ids))
        await self._finish(ids, inbox.FAILED)
        self._holding_told.discard(item.chat_id)
        await self._send(item.chat_id, texts.TURN_FAILED)
        if self.agent_chat_id is not None:
            await self._deliver(self.bot.send_message, chat_id=self.agent_chat_id,
                                text=texts.AGENT_TURN_FAILED.format(ids=", ".join(map(str, ids))))

    async def _finish(self, ids: list[int], status: str = inbox.DONE) -> None:
        """Mark rows finished, retrying a database blip; if it stays away they are replayed later."""
        try:
            await durable.store(inbox.finish, ids, status, what="marking updates finished", tries=8)
        except durable.StoreUnavailable:
            log.error("%d updates stay pending after a storage failure", len(ids))

    async def _best_effort(self, call: Callable[..., Any], *args: Any) -> None:
        """Bookkeeping after a reply was sent: retried, but never a reason to answer twice."""
        try:
            await durable.store(call, *args, what="recording the transcript", tries=5)
        except durable.StoreUnavailable:
            log.error("a transcript line could not be stored")

    async def _text_turn(self, batch: list[CustomerItem]) -> None:
        first = batch[0]
        ids = [item.update_id for item in batch]
        text = "\n".join(item.text for item in batch)
        for intercept in self.interceptors:  # e.g. the answer to "what could we have done better?"
            if await intercept(first.chat_id, first.user_id, text):
                await asyncio.to_thread(casefile.record_line, first.user_id, "customer", text)
                await self._finish(ids)
                return
        owner = await asyncio.to_thread(casefile.human_owned, first.user_id)
        if owner is not None:
            for item in batch:
                await self._to_topic(owner, item)
            await self._finish(ids)
            return
        # Messages an earlier run already sent to Rasa as one turn stay that turn (bot/inbox.py).
        for group in await durable.store(inbox.turns, ids, what="grouping messages into turns"):
            part = [item for item in batch if item.update_id in group]
            said = "\n".join(item.text for item in part)
            line = await asyncio.to_thread(casefile.record_turn_line, first.user_id, said, list(group))
            await self._rasa_turn(part[0], said, group, line)

    async def _single(self, item: CustomerItem) -> None:
        if item.kind == "payload":
            owner = await asyncio.to_thread(casefile.human_owned, item.user_id)
            if owner is not None and item.shown is not None:  # an old button while a human owns the chat
                await self._to_topic(owner, item)
                await self._finish([item.update_id])
                return
            line = await asyncio.to_thread(casefile.record_turn_line, item.user_id, item.shown or item.text,
                                           [item.update_id])
            await self._rasa_turn(item, item.text, [item.update_id], line)
        elif item.kind == "media":
            await self._evidence(item)
        elif item.kind == "contact":
            if item.phone:
                await asyncio.to_thread(casefile.set_phone, item.user_id, item.chat_id, item.phone)
                await self._send(item.chat_id, texts.CONTACT_SAVED.format(phone=to_persian_digits(item.phone)))
            else:
                await self._send(item.chat_id, texts.CONTACT_NOT_SAVED)
            await self._finish([item.update_id])
        else:  # notice: a sticker, a location, an edit — a sentence, or the topic if a human owns it
            owner = await asyncio.to_thread(casefile.human_owned, item.user_id)
            if owner is not None and item.message_id is not None:
                await self._to_topic(owner, item)
            else:
                await self._send(item.chat_id, item.text)
            await self._finish([item.update_id])

    # --- Rasa ----------------------------------------------------------------------------------

    async def _rasa_turn(self, item: CustomerItem, text: str, ids: list[int], line: int | None = None) -> None:
        """One turn through Rasa. `line` (the transcript line of the customer's words) travels in the
        metadata, so a ticket this turn opens knows where its story began; the bot's answers after
        `ticket_opened` (the summary) are lines of that ticket."""
        metadata = {"display_name": item.display_name, "chat_id": item.chat_id, "channel": "telegram",
                    "message_id": item.message_id, "update_ids": ids, "transcript_line": line}
        # A turn tried before (a retry, a replay after a crash) is answered from Rasa's tracker, and
        # the replies an earlier run already delivered are not sent again.
        earlier = await durable.store(inbox.begin_turn, ids, what="recording the turn")
        replies = await self._ask(item.chat_id, casefile.conversation_id(item.user_id), text, metadata, ids,
                                  tried=earlier.tries > 1)
        opened = False
        opened_number: str | None = None
        for index, reply in enumerate(replies):
            event = (reply.custom or {}).get("event")
            if event == "ticket_opened":
                opened = True
                opened_number = (reply.custom or {}).get("ticket_number")
            if index < earlier.replies_sent:
                continue
            if reply.text:
                await self._send(item.chat_id, reply.text, reply.buttons)
                await self._best_effort(casefile.record_line, item.user_id, "bot", reply.text, None, opened_number)
            if reply.image:
                await self._deliver(self.bot.send_photo, chat_id=item.chat_id, photo=reply.image)
            with contextlib.suppress(durable.StoreUnavailable):  # unrecorded: resent only after a crash
                await durable.store(inbox.reply_sent, ids, index + 1, what="recording a sent reply", tries=5)
            durable.checkpoint("after_first_reply")
        await self._finish(ids)
        try:
            if opened:
                await self._attach_waiting_media(item)
            await self.handoff(item.user_id)
        except Exception as error:  # noqa: BLE001 - the answer is out; the handoff sweep retries
            log.error("after-turn work failed (%s); the handoff sweep retries it", type(error).__name__)

    async def _ask(self, chat_id: int, conversation: str, text: str, metadata: dict[str, Any],
                   ids: list[int], *, tried: bool = False) -> list[BotMessage]:
        """Rasa's answer: holding message once, retries with back-off, never the same turn twice.

        Rasa unreachable is waited out (the message is not at fault). A try that reached Rasa and
        failed counts; after `max_attempts` counted tries TurnGaveUp ends the turn.
        """
        turn_id = f"tg:{min(ids)}"
        attempt = failures = 0
        while True:
            try:
                async with self._typing(chat_id):
                    replies = await self.rasa.send(conversation, text, metadata, turn_id=turn_id, retry=tried or attempt > 0)
                self._holding_told.discard(chat_id)
                return replies
            except RasaUnavailable as error:
                log.warning("Rasa unavailable (%s); retrying turn (attempt %d)", error, attempt + 1)
                pause = self.backoff[min(attempt, len(self.backoff) - 1)]
                if error.reached:
                    if not await durable.store(inbox.next_try, ids, self.max_attempts, what="counting a failed turn"):
                        raise TurnGaveUp from None
                    failures += 1
                    pause = self._pause_after(failures)
                if chat_id not in self._holding_told:
                    self._holding_told.add(chat_id)
                    await self._send(chat_id, texts.HOLDING)
                await asyncio.sleep(pause)
                attempt += 1

    def _pause_after(self, failures: int) -> float:
        return self.failure_backoff[min(max(failures - 1, 0), len(self.failure_backoff) - 1)]

    @contextlib.asynccontextmanager
    async def _typing(self, chat_id: int) -> AsyncIterator[None]:
        """Show «در حال نوشتن…» while Rasa works (Telegram shows it for ~5 s per call)."""
        async def keep_typing() -> None:
            while True:
                with contextlib.suppress(TelegramError):
                    await self.bot.send_chat_action(chat_id=chat_id, action=ChatAction.TYPING)
                await asyncio.sleep(4.5)

        task = asyncio.create_task(keep_typing())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # --- sending -------------------------------------------------------------------------------

    async def _send(self, chat_id: int, text: str, buttons: Sequence[Button] = ()) -> None:
        parts = split_message(text)
        for index, part in enumerate(parts):
            markup = keyboard(buttons, self.book) if index == len(parts) - 1 else None
            await self._deliver(self.bot.send_message, chat_id=chat_id, text=part, reply_markup=markup)

    async def _deliver(self, method: Callable[..., Awaitable[Any]], **kwargs: Any) -> Any:
        """Send once; the rate limiter already waited out any RetryAfter. Network trouble is retried
        a few times; a customer who blocked the bot is logged (without personal data) and skipped."""
        for attempt in range(4):
            try:
                return await method(**kwargs)
            except Forbidden:
                log.warning("a customer blocked the bot; reply not delivered")
                return None
            except RetryAfter as error:  # beyond the limiter's own retries
                await asyncio.sleep(_seconds(error.retry_after) + 0.1)
            except BadRequest:
                log.exception("Telegram refused a reply")
                return None
            except TelegramError:
                log.warning("sending failed (attempt %d); retrying", attempt + 1, exc_info=True)
                await asyncio.sleep(1 + attempt)
        log.error("gave up sending a reply after 4 attempts")
        return None

    async def _to_topic(self, owner: casefile.TicketRef, item: CustomerItem) -> None:
        if self.agent_chat_id is None or not owner.topic_id:
            return
        if item.kind in ("text", "payload"):
            line = item.text if item.kind == "text" else (item.shown or item.text)
            for part in split_with_prefix(f"{texts.CUSTOMER_SAYS}\n", line):
                await self._deliver(self.bot.send_message, chat_id=self.agent_chat_id,
                                    message_thread_id=owner.topic_id, text=part)
        else:
            await self._deliver(self.bot.copy_message, chat_id=self.agent_chat_id, message_thread_id=owner.topic_id,
                                from_chat_id=item.chat_id, message_id=item.message_id)
            line = _media_line(item)
        await asyncio.to_thread(casefile.record_line, item.user_id, "customer", line, owner.id)

    # --- evidence ------------------------------------------------------------------------------

    async def _evidence(self, item: CustomerItem) -> None:
        owner = await asyncio.to_thread(casefile.human_owned, item.user_id)
        ticket = owner or await asyncio.to_thread(casefile.newest_open, item.user_id)
        kind_label = texts.EVIDENCE_KINDS.get(item.media_kind or "", texts.EVIDENCE_KINDS["document"])
        if ticket is None:
            await self._finish([item.update_id], inbox.AWAITING_TICKET)
            await self._send(item.chat_id, texts.EVIDENCE_KEPT.format(kind=kind_label))
            return
        await asyncio.to_thread(casefile.attach_evidence, ticket.id, item.media_kind or "document", item.file_id or "",
                                item.file_unique_id, item.caption)
        if owner is not None:
            await self._to_topic(owner, item)
        else:
            await asyncio.to_thread(casefile.record_line, item.user_id, "customer", _media_line(item), ticket.id)
            await self._send(item.chat_id, texts.EVIDENCE_ATTACHED.format(kind=kind_label, number=ticket.number))
        await self._finish([item.update_id])

    async def _attach_waiting_media(self, item: CustomerItem) -> None:
        """The complaint now has a ticket: attach what the customer sent before it existed."""
        waiting = await asyncio.to_thread(inbox.awaiting_ticket, item.chat_id)
        ticket = await asyncio.to_thread(casefile.newest_open, item.user_id) if waiting else None
        if ticket is None:
            return
        for stored in waiting:
            update = Update.de_json(stored.payload, self.bot)
            media = media_of(update.message) if update and update.message else None
            if media is not None:
                await asyncio.to_thread(casefile.attach_evidence, ticket.id, media[0], media[1], media[2], media[3])
            await self._finish([stored.update_id])


def _media_line(item: CustomerItem) -> str:
    label = texts.EVIDENCE_KINDS.get(item.media_kind or "", item.media_kind or "پیام")
    return f"[{label}]" + (f" {item.caption}" if item.caption else "")


def _seconds(value: Any) -> float:
    return value.total_seconds() if hasattr(value, "total_seconds") else float(value)
