"""Turning Rasa's answers into Telegram messages: inline keyboards whose callback data fits
Telegram's 64 bytes, long texts split at sentence boundaries, Iranian mobile numbers.

Pure functions (no I/O) so every rule here is unit-tested on its own.
"""
from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import InlineKeyboardButtonLimit, MessageLimit

from hamdel.persian import to_ascii_digits
from hamdel.rasa_client import Button

MAX_TEXT = MessageLimit.MAX_TEXT_LENGTH  # 4096
MAX_CALLBACK_BYTES = InlineKeyboardButtonLimit.MAX_CALLBACK_DATA  # 64
PAYLOAD_PREFIX = "r:"  # a Rasa payload, verbatim
HASHED_PREFIX = "h:"  # a payload too long for Telegram, looked up by its hash


class PayloadBook:
    """Remembers payloads too long for `callback_data` (Telegram allows 64 bytes).

    Hamdel's own payloads (`/affirm`, `/request_human` …) are all short and travel verbatim; a
    test checks that. This book is the safety net for longer ones (e.g. a payload with entities):
    it lives in memory, so after a restart such a button answers «این دکمه دیگه فعال نیست» and the
    customer types the answer instead — nothing breaks, nothing is guessed.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        self._book: OrderedDict[str, str] = OrderedDict()
        self._capacity = capacity

    def encode(self, payload: str) -> str:
        data = PAYLOAD_PREFIX + payload
        if len(data.encode("utf-8")) <= MAX_CALLBACK_BYTES:
            return data
        key = HASHED_PREFIX + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]
        self._book[key] = payload
        self._book.move_to_end(key)
        while len(self._book) > self._capacity:
            self._book.popitem(last=False)
        return key

    def decode(self, data: str) -> str | None:
        """The Rasa payload behind a button, or None if it is not ours or no longer known."""
        if data.startswith(PAYLOAD_PREFIX):
            return data[len(PAYLOAD_PREFIX):]
        if data.startswith(HASHED_PREFIX):
            return self._book.get(data)
        return None


def keyboard(buttons: Sequence[Button], book: PayloadBook, per_row: int = 2) -> InlineKeyboardMarkup | None:
    """Rasa buttons as an inline keyboard; short titles share a row, long ones get their own."""
    if not buttons:
        return None
    rows: list[list[InlineKeyboardButton]] = []
    for button in buttons:
        item = InlineKeyboardButton(button.title, callback_data=book.encode(button.payload))
        if rows and len(rows[-1]) < per_row and len(button.title) <= 18 and len(rows[-1][0].text) <= 18:
            rows[-1].append(item)
        else:
            rows.append([item])
    return InlineKeyboardMarkup(rows)


def split_message(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Split `text` into parts of at most `limit` units, cutting at the last paragraph break,
    else the last sentence end, else the last space inside the limit (never mid-word if avoidable).

    Telegram counts UTF-16 code units; Persian letters are one unit each, emoji two — so the limit
    is applied to UTF-16 length, not to Python's character count.
    """
    text = text.strip()
    parts: list[str] = []
    while _units(text) > limit:
        window = _prefix_within(text, limit)
        cut = _boundary(window)
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        parts.append(text)
    return parts


def split_with_prefix(prefix: str, text: str, limit: int = MAX_TEXT) -> list[str]:
    """`text` split so that every part, with `prefix` in front, fits `limit` UTF-16 units.

    Relayed messages carry a prefix («💬 مشتری:»); a 4,096-unit message plus the prefix would
    otherwise be refused by Telegram (400) and lost.
    """
    room = limit - units(prefix)
    if room < 1:
        raise ValueError("the prefix leaves no room for the text")
    return [prefix + part for part in split_message(text, room)] or [prefix.rstrip()]


def units(text: str) -> int:
    """Telegram's length of `text`: UTF-16 code units."""
    return _units(text)


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _prefix_within(text: str, limit: int) -> str:
    end = min(len(text), limit)
    while _units(text[:end]) > limit:
        end -= 1
    return text[:end]


def _boundary(window: str) -> int:
    """Where to cut `window`: after a newline, a sentence end or a space, whichever comes first in
    that order of preference and is not in the first third (tiny parts read badly)."""
    floor = len(window) // 3
    for pattern in (r"\n", r"[.!?؟؛…](?=\s)", r"\s"):
        ends = [m.end() for m in re.finditer(pattern, window) if m.end() > floor]
        if ends:
            return ends[-1]
    return len(window)


_MOBILE = re.compile(r"^(?:\+?98|0098|0)?(9\d{9})$")


def iranian_mobile(raw: str) -> str | None:
    """`+98 912 345 6789`, `۰۹۱۲۳۴۵۶۷۸۹`, `989123456789` → `09123456789`; anything else → None."""
    digits = re.sub(r"[\s\-()]", "", to_ascii_digits(raw or ""))
    match = _MOBILE.match(digits)
    return f"0{match.group(1)}" if match else None
