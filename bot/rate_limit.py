"""Telegram's flood limits, all of them: ~30 messages/s per bot, 20/min per group, and about one
message per second in a private chat.

python-telegram-bot's `AIORateLimiter` covers the first two and retries after a `RetryAfter` (a 429
means Telegram did not deliver the message, so sending it again cannot duplicate it). It does not
limit private chats, which is where Hamdel sends most: a Rasa answer is often three messages in a
row. This subclass adds a per-chat leaky bucket (aiolimiter, the library AIORateLimiter itself
uses) for positive chat ids: a short burst of `private_burst` messages, then one per second.

The limits are Telegram's limits on *messages*. AIORateLimiter counts every call that names a chat,
so the typing indicator, the removal of a keyboard after a press and other edits used the same 30
per second: about 2.4 calls per customer message, which capped the bot near 13–16 customer messages
per second (benchmarks/telegram_path.py, docs/performance.md). Calls that send no message keep the
retry after a 429 and the pause every call takes after one, but no longer queue behind messages.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Coroutine
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.ext import AIORateLimiter

# Methods that put a message into a chat; chat actions, edits and callback answers are not messages.
SENDING_METHODS = frozenset({
    "sendMessage", "copyMessage", "forwardMessage", "sendPhoto", "sendDocument", "sendVoice", "sendVideo",
    "sendAudio", "sendSticker", "sendAnimation", "sendMediaGroup", "sendLocation", "sendContact",
})


class HamdelRateLimiter(AIORateLimiter):
    """AIORateLimiter plus a per-private-chat limit (Telegram: avoid more than ~1 message/s per chat)."""

    def __init__(self, *, private_per_second: float = 1.0, private_burst: int = 3, max_retries: int = 5,
                 overall_max_rate: float = 30, group_max_rate: float = 20, max_tracked_chats: int = 50_000) -> None:
        super().__init__(overall_max_rate=overall_max_rate, group_max_rate=group_max_rate, max_retries=max_retries)
        self._private_rate = private_per_second
        self._private_burst = max(1, private_burst)
        self._chats: OrderedDict[int, AsyncLimiter] = OrderedDict()
        self._max_tracked = max_tracked_chats

    def _private_limiter(self, chat_id: int) -> AsyncLimiter:
        limiter = self._chats.get(chat_id)
        if limiter is None:
            # Capacity `burst`, refilled at `rate` per second: a burst, then one per second.
            limiter = AsyncLimiter(self._private_burst, self._private_burst / self._private_rate)
            self._chats[chat_id] = limiter
            while len(self._chats) > self._max_tracked:
                self._chats.popitem(last=False)
        else:
            self._chats.move_to_end(chat_id)
        return limiter

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        chat_id = data.get("chat_id")
        try:
            chat_id = int(chat_id) if chat_id is not None else None
        except (TypeError, ValueError):
            chat_id = None
        if endpoint not in SENDING_METHODS:
            # No chat id for the base class: no share of the message limits, the same 429 retries.
            unlimited = {key: value for key, value in data.items() if key != "chat_id"}
            return await super().process_request(callback, args, kwargs, endpoint, unlimited, rate_limit_args)
        if chat_id is not None and chat_id > 0:
            async with self._private_limiter(chat_id):
                return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
        return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
