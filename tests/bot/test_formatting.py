"""Telegram's limits on what the bot sends: 64-byte callback data, 4096-unit messages, and the
Iranian mobile numbers a shared contact may carry."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.formatting import MAX_CALLBACK_BYTES, PayloadBook, iranian_mobile, keyboard, split_message
from hamdel.rasa_client import Button

DOMAIN = Path(__file__).resolve().parents[2] / "domain.yml"


def domain_payloads() -> list[str]:
    responses = yaml.safe_load(DOMAIN.read_text(encoding="utf-8"))["responses"]
    return [button["payload"] for variants in responses.values() for variant in variants
            for button in variant.get("buttons") or ()]


def test_every_button_hamdel_sends_travels_verbatim_within_64_bytes() -> None:
    payloads = domain_payloads()
    assert payloads, "domain.yml has buttons"
    book = PayloadBook()
    for payload in payloads:
        data = book.encode(payload)
        assert data == f"r:{payload}"
        assert len(data.encode("utf-8")) <= MAX_CALLBACK_BYTES
        assert book.decode(data) == payload


def test_a_long_payload_is_hashed_and_still_found() -> None:
    book = PayloadBook()
    payload = '/request_resolution{"resolution": "replacement", "note": "' + "خیلی طولانی " * 10 + '"}'
    data = book.encode(payload)
    assert len(data.encode("utf-8")) <= MAX_CALLBACK_BYTES
    assert data.startswith("h:")
    assert book.decode(data) == payload
    assert PayloadBook().decode(data) is None  # after a restart: unknown, never guessed
    assert book.decode("fu:rate:1:5") is None  # not ours: follow-up buttons have their own handler


def test_buttons_become_an_inline_keyboard_in_order() -> None:
    markup = keyboard([Button("بله، درسته", "/affirm"), Button("نه، اصلاح می‌کنم", "/deny")], PayloadBook())
    assert markup is not None
    flat = [b for row in markup.inline_keyboard for b in row]
    assert [b.text for b in flat] == ["بله، درسته", "نه، اصلاح می‌کنم"]
    assert [b.callback_data for b in flat] == ["r:/affirm", "r:/deny"]
    assert keyboard([], PayloadBook()) is None


def test_a_short_text_is_one_message() -> None:
    assert split_message("  سلام، وقتتون بخیر.  ") == ["سلام، وقتتون بخیر."]
    assert split_message("   ") == []


def test_a_long_answer_is_split_at_sentence_ends_within_the_limit() -> None:
    sentence = "سفارش شما با تأخیر ارسال شد و ما از این بابت واقعاً متأسفیم. "
    text = sentence * 120  # about 7,000 characters
    parts = split_message(text)
    assert len(parts) == 2
    assert all(len(p.encode("utf-16-le")) // 2 <= 4096 for p in parts)
    assert all(p.endswith(".") for p in parts)  # cut after a sentence, not mid-word
    assert " ".join(parts).split() == text.split()  # nothing lost


def test_emoji_count_double_toward_the_limit() -> None:
    text = "😡" * 3000  # 6,000 UTF-16 units
    parts = split_message(text)
    assert len(parts) == 2 and "".join(parts) == text
    assert all(len(p.encode("utf-16-le")) // 2 <= 4096 for p in parts)


def test_paragraphs_are_preferred_cut_points() -> None:
    text = "الف " * 800 + "\n" + "ب " * 1500
    parts = split_message(text)
    assert parts[0].split() == ["الف"] * 800 and parts[1].split() == ["ب"] * 1500


@pytest.mark.parametrize(("raw", "expected"), [
    ("+989123456789", "09123456789"),
    ("989123456789", "09123456789"),
    ("۰۹۱۲ ۳۴۵ ۶۷۸۹", "09123456789"),
    ("00989351234567", "09351234567"),
    ("9123456789", "09123456789"),
    ("+14155552671", None),
    ("021-88776655", None),
    ("", None),
])
def test_iranian_mobiles_are_recognised_in_any_digits(raw: str, expected: str | None) -> None:
    assert iranian_mobile(raw) == expected
