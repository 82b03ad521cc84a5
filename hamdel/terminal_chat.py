"""The main job without a Telegram token: a terminal conversation through the full pipeline
(normalisation, NLU, dialogue, actions, tickets in the database).

Buttons appear as numbered choices; typing the number presses the button. Each line is one turn;
stdin may be a pipe, so the same code drives scripted demos.
"""
from __future__ import annotations

import asyncio
import getpass
import sys

from hamdel.rasa_client import BotMessage, RasaClient, RasaUnavailable
from hamdel.settings import get_settings
from hamdel.storage.db import session_scope
from hamdel import ticket_service

PROMPT = "شما › "
BOT = "همدل › "
WELCOME = "گفت‌وگو با همدل (برای خروج: Ctrl+D یا /exit). هر خط یک پیام است."
HOLDING = "یه لحظه صبر کنید؛ سیستم پاسخ‌گویی کمی کند شده و پیامتون محفوظه. دوباره امتحان می‌کنم…"
GAVE_UP = "الان نتونستم پاسخ بدم. پیامتون ثبت شده؛ لطفاً کمی بعد دوباره بنویسید."
RETRY_DELAYS = (2, 5, 10)


def render(message: BotMessage, buttons: list[str]) -> str:
    lines = [f"{BOT}{message.text}"] if message.text else []
    for button in message.buttons:
        buttons.append(button.payload)
        lines.append(f"    [{len(buttons)}] {button.title}")
    return "\n".join(lines)


def record(conversation_id: str, speaker: str, text: str, ticket_number: str | None = None) -> int:
    """One transcript line; the bot's lines after `ticket_opened` (the summary) belong to that ticket."""
    with session_scope() as session:
        ticket_id = (ticket_service.ticket_id_for_number(session=session, conversation_id=conversation_id,
                                                         number=ticket_number) if ticket_number else None)
        return ticket_service.record_transcript(session=session, conversation_id=conversation_id, speaker=speaker,
                                                text=text, ticket_id=ticket_id)


async def converse(rasa_url: str, conversation_id: str, lines: asyncio.Queue[str | None]) -> None:
    buttons: list[str] = []
    async with RasaClient(base_url=rasa_url, timeout=60, token=get_settings().rasa_api_token()) as rasa:
        while (line := await lines.get()) is not None:
            line = line.strip()
            if not line:
                continue
            if line == "/exit":
                break
            text = buttons[int(line) - 1] if line.isdigit() and 0 < int(line) <= len(buttons) else line
            buttons = []
            # The line's id travels with the turn, so a ticket this turn opens knows where its story began.
            line_id = await asyncio.to_thread(record, conversation_id, "customer", text)
            for attempt, delay in enumerate((0, *RETRY_DELAYS)):
                await asyncio.sleep(delay)
                try:
                    replies = await rasa.send(conversation_id, text,
                                              {"display_name": getpass.getuser(), "transcript_line": line_id})
                    break
                except RasaUnavailable:
                    if attempt == 0:
                        print(f"{BOT}{HOLDING}", flush=True)
            else:
                print(f"{BOT}{GAVE_UP}", flush=True)
                continue
            opened_number: str | None = None
            for reply in replies:
                if (reply.custom or {}).get("event") == "ticket_opened":
                    opened_number = (reply.custom or {}).get("ticket_number")
                if reply.text:
                    await asyncio.to_thread(record, conversation_id, "bot", reply.text, opened_number)
                shown = render(reply, buttons)
                if shown:
                    print(shown, flush=True)


async def read_stdin(queue: asyncio.Queue[str | None]) -> None:
    interactive = sys.stdin.isatty()
    while True:
        if interactive:
            print(PROMPT, end="", flush=True)
        line = await asyncio.to_thread(sys.stdin.readline)
        if not line:
            await queue.put(None)
            return
        await queue.put(line)


async def chat(rasa_url: str, conversation_id: str) -> None:
    print(WELCOME, flush=True)
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    reader = asyncio.create_task(read_stdin(queue))
    try:
        await converse(rasa_url, conversation_id, queue)
    finally:
        reader.cancel()
