"""Telegram's limits are on messages: the typing indicator and keyboard edits must not queue behind
them, while messages keep the 30-per-second pace and every call still retries after a 429."""
from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter

from bot.rate_limit import HamdelRateLimiter


async def _calls(limiter: HamdelRateLimiter, endpoint: str, count: int, chats: int = 60) -> float:
    """Seconds `count` calls of `endpoint` take through the limiter, spread over `chats` private chats."""
    async def call() -> bool:
        return True

    began = time.monotonic()
    await asyncio.gather(*(limiter.process_request(call, (), {}, endpoint, {"chat_id": 1000 + i % chats}, None)
                           for i in range(count)))
    return time.monotonic() - began


async def test_typing_indicators_and_keyboard_edits_do_not_use_the_message_allowance() -> None:
    limiter = HamdelRateLimiter(overall_max_rate=10)
    await limiter.initialize()
    try:
        assert await _calls(limiter, "sendChatAction", 40) < 1.0
        assert await _calls(limiter, "editMessageReplyMarkup", 40) < 1.0
    finally:
        await limiter.shutdown()


async def test_messages_still_keep_the_overall_pace() -> None:
    limiter = HamdelRateLimiter(overall_max_rate=10)
    await limiter.initialize()
    try:
        # 25 messages at 10 per second (a first burst of 10): at least about 1.5 s.
        assert await _calls(limiter, "sendMessage", 25) >= 1.3
    finally:
        await limiter.shutdown()


async def test_a_429_on_a_typing_indicator_is_still_retried() -> None:
    limiter = HamdelRateLimiter()
    await limiter.initialize()
    attempts: list[float] = []

    async def flaky() -> Any:
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            raise RetryAfter(timedelta(seconds=0))
        return True

    try:
        assert await limiter.process_request(flaky, (), {}, "sendChatAction", {"chat_id": 42}, None) is True
        assert len(attempts) == 2
    finally:
        await limiter.shutdown()
