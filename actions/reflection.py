"""Hear → reflect back: restate the complaint in the customer's own key words, in second person.

Seed 000: «پیش از رسیدن به یک راه حل، گفته‌های مشتری را تکرار و بازگو کنید». The customer must
recognise their own words (order number, what happened, how long), so this does not paraphrase:
it picks the informative sentences, drops greetings and shouting, and shifts person
(سفارشم → سفارشتان، خریدم → خریدید، می‌خوام → می‌خواید).

Pure functions over normalised text (hamdel.persian.normalize); no I/O.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from hamdel.persian import to_persian_digits

ZWNJ = "\u200c"
_SENTENCE_END = re.compile(r"(?<=[.!?؟…])\s+|\n+")
_EMOJI = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\uFE0F\u200d]+")
_STRETCH = re.compile(r"(\w)\1{2,}")
_BANG_RUN = re.compile(r"[!؟?]{2,}")
_SPACES = re.compile(r"\s{2,}")

# Sentences (or sentence openings) that carry no fact: greetings, politeness, fillers.
_OPENERS = (
    "سلام", "درود", "وقت بخیر", "وقتتون بخیر", "وقت شما بخیر", "خسته نباشید", "روز بخیر",
    "ببخشید", "با عرض سلام", "عرض ادب", "salam",
)
_FILLERS = {"همین", "همین بود", "ممنون", "مرسی", "تشکر", "باشه", "اوکی", "خب", "آره", "نه", "بله"}
_INSULTS = ("بی‌شعور", "بیشعور", "احمق", "آشغال", "کلاهبردار", "دزد", "گمشو", "خاک بر سر", "لعنت")

# Nouns customers own in complaints: "my X" becomes "your X".
OWNED_NOUNS = {
    "سفارش", "پول", "بسته", "کالا", "گوشی", "حساب", "کارت", "پرداخت", "مرسوله", "شماره", "آدرس",
    "خرید", "فاکتور", "قبض", "اشتراک", "اینترنت", "سیم‌کارت", "کد", "تیکت", "شکایت", "وقت",
    "اعصاب", "مبلغ", "کیف", "لپ‌تاپ", "لپتاپ", "یخچال", "تلویزیون", "لباس", "کفش", "ساعت",
    "وسایل", "جنس", "محصول", "پیک", "حقوق", "موجودی", "هزینه", "درخواست", "پیام", "ماشین", "خونه",
    "خانه", "بچه", "مادر", "پدر", "همسر", "سیم", "مودم", "شارژ", "بسته‌ی", "اطلاعات", "تماس",
}
PAST_STEMS = {
    "خرید", "کرد", "رفت", "گرفت", "داشت", "زد", "گفت", "دید", "شد", "داد", "اومد", "آمد", "خواست",
    "تونست", "توانست", "فرستاد", "برد", "نوشت", "پرداخت", "موند", "ماند", "کشید", "رسید", "دونست",
    "دانست", "شنید", "خورد", "پوشید", "گذاشت", "برداشت", "سفارش داد", "تماس گرفت", "پیگیری کرد",
    "زنگ زد", "منتظر موند", "باز کرد", "چک کرد", "ثبت کرد", "پس داد", "آورد", "آوردم", "ریخت",
}
# Predicates customers use about themselves: منتظرم → منتظرید
STATE_WORDS = {"منتظر", "ناراحت", "عصبانی", "شاکی", "مطمئن", "مجبور", "خسته", "نگران", "ناراضی", "پشیمون", "کلافه"}
_PRONOUNS = {
    "من": "شما", "منو": "شما را", "مرا": "شما را", "منم": "شما هم", "بهم": "به شما", "ازم": "از شما",
    "برام": "برایتان", "برایم": "برایتان", "باهام": "با شما", "خودم": "خودتان", "خودمو": "خودتان را",
    "مال‌من": "مال شما", "ما": "ما",
}


@dataclass(frozen=True)
class Reflection:
    """What the bot says back, and the key words stored on the ticket."""

    text: str
    key_words: tuple[str, ...]


_NUMBER_WORDS = r"(?:\d+|یک|یه|دو|سه|چهار|پنج|شش|هفت|هشت|نه|ده|چند|چندین)"
_UNITS = r"(?:روز|هفته|ماه|ساعت|سال|دقیقه)"
_WEEKDAYS = r"(?:شنبه|یکشنبه|یک‌شنبه|دوشنبه|سه‌شنبه|سه شنبه|چهارشنبه|پنجشنبه|پنج‌شنبه|جمعه)"
DURATION = re.compile(
    rf"(?:{_NUMBER_WORDS}\s*{_UNITS}(?:\s*(?:است|ه|‌ه|ست|‌ست|پیش|گذشته|تمام))?"
    rf"|{_NUMBER_WORDS}\s*{_UNITS}(?:ه|‌ه|ست|‌ست)"
    rf"|از\s+(?:{_WEEKDAYS}|دیروز|پریروز|دیشب|هفته‌ی پیش|هفته پیش|ماه پیش|ماه قبل|هفته قبل|اول ماه|صبح|دیروز صبح)"
    rf"|{_WEEKDAYS}\s+(?:گذشته|پیش|قبل))"
)
ORDER_NUMBER = re.compile(r"(?<![\w-])(?:[A-Za-z]{1,3}-?)?\d{5,12}(?!\w)")


def clean_for_reflection(sentence: str) -> str:
    """Drop emoji, shouting and stretched letters: reflect the facts, not the volume."""
    sentence = _EMOJI.sub("", sentence)
    sentence = _STRETCH.sub(r"\1", sentence)
    sentence = _BANG_RUN.sub("", sentence)
    sentence = sentence.replace("!", "")
    for insult in _INSULTS:
        sentence = sentence.replace(insult, "")
    return _SPACES.sub(" ", sentence).strip(" ،,.؛")


def _strip_opener(sentence: str) -> str:
    changed = True
    while changed:
        changed = False
        for opener in _OPENERS:
            if sentence.startswith(opener):
                sentence = sentence[len(opener):].lstrip(" ،,.!؛:")
                changed = True
    return sentence


def split_sentences(story: str) -> list[str]:
    parts = [p.strip() for p in _SENTENCE_END.split(story) if p and p.strip()]
    out = []
    for part in parts:
        part = clean_for_reflection(_strip_opener(part))
        if part and part not in _FILLERS and len(part) > 2:
            out.append(part)
    return out


def _shift_word(word: str, next_word: str | None) -> str:
    """Shift one word from first to second person; unknown words are left exactly as written."""
    if word in _PRONOUNS:
        return _PRONOUNS[word]
    # Simple past first (خرید is a noun too, but «خریدم» in a complaint is "I bought"):
    # خریدم → خریدید، نگرفتم → نگرفتید
    if word.endswith("م"):
        stem = word[:-1]
        bare = stem[1:] if stem.startswith("ن") and stem[1:] in PAST_STEMS else stem
        if bare in PAST_STEMS:
            return stem + "ید"
        if stem in STATE_WORDS:
            return stem + (ZWNJ + "اید" if stem.endswith("ی") else "ید")
    # Possessives on known nouns, colloquial object marker included: سفارشمو → سفارشتان را
    for suffix, replacement in (("مو", "تان را"), ("م", "تان"), (ZWNJ + "ام", ZWNJ + "تان"), (ZWNJ + "م", ZWNJ + "تان")):
        if word.endswith(suffix):
            stem = word[: -len(suffix)]
            if stem in OWNED_NOUNS or stem.rstrip(ZWNJ) in OWNED_NOUNS:
                joiner = ZWNJ if stem.endswith(("ی", "ه", "ا", "و")) and not replacement.startswith(ZWNJ) else ""
                return stem + joiner + replacement
    # Present tense and continuous: می‌کنم → می‌کنید، نمی‌تونم → نمی‌تونید، میخوام → میخواید
    if re.match(rf"^(?:ن?می{ZWNJ}?|ن?میخ)", word) and word.endswith("م") and len(word) > 4:
        return word[:-1] + "ید"
    # Present perfect: خریده‌ام → خریده‌اید
    if word.endswith("ه" + ZWNJ + "ام"):
        return word[:-2] + "اید"
    if word in {"هستم", "نیستم", "دارم", "ندارم", "شدم", "بودم", "نبودم"}:
        return word[:-1] + "ید"
    # "my X" where X is unknown but followed by the object marker: ساعتم رو → ساعتتان رو
    if next_word in {"رو", "را"} and word.endswith("م") and len(word) > 3 and not word.endswith("یم"):
        return word[:-1] + "تان"
    return word


def to_second_person(sentence: str) -> str:
    words = sentence.split(" ")
    return " ".join(_shift_word(w, words[i + 1] if i + 1 < len(words) else None) for i, w in enumerate(words))


def find_durations(text: str) -> list[str]:
    return [m.group(0).strip() for m in DURATION.finditer(text)]


def find_order_numbers(text: str) -> list[str]:
    return [m.group(0) for m in ORDER_NUMBER.finditer(text)]


def _score(sentence: str) -> int:
    return 2 * bool(ORDER_NUMBER.search(sentence)) + bool(DURATION.search(sentence)) + (len(sentence) > 15)


def reflect_story(story: str, *, order_id: str | None = None, max_sentences: int = 3, max_chars: int = 320) -> Reflection:
    """Build the reflection of a (normalised) story.

    The newest sentences win ties, so a correction the customer added at the end replaces what it
    corrects; facts (order number, duration) are kept even when their sentence is not chosen.
    """
    sentences = split_sentences(story)
    if not sentences:
        sentences = [clean_for_reflection(story)] if story.strip() else []
    ranked = sorted(range(len(sentences)), key=lambda i: (_score(sentences[i]), i), reverse=True)
    chosen = sorted(ranked[:max_sentences])
    # The first sentence usually names the problem; keep it unless a correction replaced it.
    if sentences and 0 not in chosen and len(chosen) < max_sentences:
        chosen = [0, *chosen]
    picked = [to_second_person(sentences[i]) for i in chosen]
    text = "؛ ".join(picked)
    if len(text) > max_chars:
        text = text[: max_chars].rsplit(" ", 1)[0] + "…"

    orders = find_order_numbers(story)
    if order_id and order_id not in orders:
        orders.append(order_id)
    latest_order = orders[-1] if orders else None
    if latest_order and latest_order not in text:
        text += f" (سفارش {latest_order})"
    durations = find_durations(story)
    if durations and durations[-1] not in text:
        text += f"، {durations[-1]}"
    if text and not text.endswith(("…", ".", "؟")):
        text += "."

    key_words: list[str] = []
    for item in [*orders, *durations]:
        if item not in key_words:
            key_words.append(item)
    for word in re.findall(r"[\w\u200c]+", story):
        base = word[:-1] if word.endswith("م") and word[:-1] in OWNED_NOUNS else word
        if base in OWNED_NOUNS and base not in key_words:
            key_words.append(base)
    return Reflection(text=to_persian_digits(text), key_words=tuple(key_words[:12]))
