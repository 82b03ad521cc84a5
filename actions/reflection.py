"""Hear → reflect back: restate the complaint in the customer's own words, from the company's side.

Seed 000: «پیش از رسیدن به یک راه حل، گفته‌های مشتری را تکرار و بازگو کنید». The customer must
recognise their own words (order number, what happened, since when, what was promised), so this does
not paraphrase: it keeps the informative sentences, drops greetings, fillers, insults and shouting,
and shifts person with `actions.person_shift` («پولمو گرفتید» → «پولتون رو گرفتیم»), in the
spoken-polite register of `domain.yml`. Numbers are never touched: digits are only shown in Persian.

Pure functions over normalised text (hamdel.persian.normalize); no I/O.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from actions.person_shift import ZWNJ, UnsafeShift, parse_verb, to_second_person
from hamdel.persian import to_ascii_digits, to_persian_digits

_ARABIC_LETTERS = (("ي", "ی"), ("ك", "ک"), ("ى", "ی"), ("ة", "ه"))
_SENTENCE_END = re.compile(r"(?<=[.!?؟…])\s+|([!?؟]+)|\n+")  # the captured marks tell a question
_EMOJI = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\uFE0F\u200d\u2b50\u2b55\u203c\u2049]+")
_STRETCH = re.compile(r"([^\W\d_])\1{2,}")  # letters only: «خیلیییی» shrinks, «1250000» never does
_SHOUT = re.compile(r"[!]+|[؟?]{2,}")
_SPACES = re.compile(r"[ \t]{2,}")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
_PERSIAN = re.compile("[\u0600-\u06ff]")

# Sentence openings that carry no fact: greetings, politeness, fillers.
_OPENERS = (
    "با عرض سلام و احترام", "با عرض سلام", "با سلام و احترام", "با سلام", "با احترام", "سلام علیکم", "سلام وقت بخیر", "سلام", "درود", "وقت بخیر",
    "وقتتون بخیر", "وقت شما بخیر", "خسته نباشید", "روز بخیر", "عصر بخیر", "شب بخیر", "ببخشید",
    "عرض ادب", "ممنون", "مرسی", "مزاحم میشم", "مزاحم می‌شم", "مزاحمتون شدم", "مزاحم شدم", "شرمنده", "salam", "slm", "الو", "خب", "ببینید", "راستش", "صادقانه بگم", "رک بگم", "راستشو بخواید", "آقا", "خانم",
)
_FILLERS = {"همین", "همین بود", "ممنون", "مرسی", "تشکر", "باشه", "اوکی", "خب", "آره", "نه", "بله",
            "واقعا", "واقعا که", "یعنی چی", "چه وضعشه", "این چه وضعشه", "این چه وضعیه", "دستتون درد نکنه",
            "ممنون از شما", "مرسی از شما", "آخه", "اه", "ای بابا", "بابا", "لطفا", "لطفاً",
            "واقعا دیگه نمیدونم چی بگم", "دیگه نمیدونم چی بگم", "نمیدونم چی بگم", "واقعا نمیدونم چی بگم",
            "این دیگه آخرشه", "دیگه شورشو درآوردید", "آخه این چه وضعشه"}
# Insults are removed as whole words, in any of their inflected forms («احمقا», «بیشعورای»,
# «دزدها»), never a piece of another word («دزدیدنش», they stole it); a clause left with nothing
# but shouting is dropped. Words for the act itself («دزدی» theft, «دزدید» stole) are facts and stay.
_INSULT_STEMS = (
    "بیشعور", "احمق", "آشغال", "کلاهبردار", "دزد", "گمشو", "گمشید", "لعنت", "لعنتی", "عوضی", "بیعرضه",
    "مفتخور", "نالایق", "بیشرف", "حرومزاده", "شیاد",
)
_ACT_NOUNS = {"دزد", "کلاهبردار", "مفتخور", "شیاد", "نالایق", "لعنت"}  # + ‑ی is the act or a quality
_INSULT_SUFFIXES = ("", "ا", "ای", "ها", "های", "هایی", "ین", "ید", "یا", "ی")
_INSULTS = frozenset(
    stem + suffix
    for stem in _INSULT_STEMS
    for suffix in _INSULT_SUFFIXES
    if not (stem in _ACT_NOUNS and suffix in ("ی", "ید"))
) | {"دزدید؟"}  # asked, «you thieves?»; without the question mark it is «stole»
_VOCATIVE = "ای"
_INSULT_PHRASES = ("خیلی بدید", "خیلی بدین", "افتضاحید", "افتضاحین", "خاک بر سرتون", "خاک بر سرت", "خاک تو سرتون", "خاک تو سرت", "مرده شورتون", "گند بزنن")
_LEADING_BUT = re.compile(r"^(?:ولی|اما|و|بعد هم|بعدش هم) ")  # the sentence it answered was left out
_LET_ME_SAY = re.compile(r"^(?:ب[زذ]ارید [^،,]{0,30}?بگم[،,]? ?|[^،,.]{0,30}?بگم[،,] ?|راستی[،,]? )")  # «یه چیز دیگه هم بگم،»
_MAY_INSULT = re.compile("|".join(re.escape(p) for p in sorted({w[:3] for w in _INSULT_STEMS} | {"بی\u200c"}
                                                                 | {p[:3] for p in _INSULT_PHRASES})))
_RHETORICAL = re.compile(r"^(?:چرا|آخه|آخر|اصلا|اصن|یعنی)\s+")
_MODALS = {"باید", "میشه", "می‌شه", "نمیشه", "نمی‌شه", "که", "تا", "اگه", "اگر", "چرا", "کی", "وقتی"}
_PLEASE = re.compile(r"^خواهش (?:می‌|می)?کنم[،,]? ")
_COPULAS = {"است", "هست", "نیست", "بود", "نبود"}
_POLITE = {"لطفا", "لطفاً", "خواهشا", "خواهشاً", "لطفا،"}

# Nouns customers own in complaints, kept as key words on the ticket.
OWNED_NOUNS = {
    "سفارش", "پول", "بسته", "کالا", "گوشی", "حساب", "کارت", "پرداخت", "مرسوله", "شماره", "آدرس",
    "خرید", "فاکتور", "قبض", "اشتراک", "اینترنت", "سیم‌کارت", "کد", "تیکت", "شکایت", "وقت",
    "مبلغ", "کیف", "لپ‌تاپ", "لپتاپ", "یخچال", "تلویزیون", "لباس", "کفش", "ساعت", "محصول", "پیک",
    "موجودی", "هزینه", "درخواست", "پیام", "مودم", "شارژ", "اطلاعات", "تماس", "پشتیبانی", "جنس",
}


_OPENER = re.compile(
    "(?:" + "|".join(re.escape(o) for o in sorted(_OPENERS, key=len, reverse=True)) + r")(?![\w\u200c])[ ،,.!؛:]*"
)


@dataclass(frozen=True)
class Reflection:
    """What the bot says back, and the key words stored on the ticket."""

    text: str
    key_words: tuple[str, ...]


_NUMBER_WORDS = r"(?<![\w\u200c])(?:\d+|یک|یه|دو|سه|چهار|پنج|شش|شیش|هفت|هشت|نه|ده|یازده|دوازده|پونزده|پانزده|بیست|سی|چند|چندین)"
_UNITS = r"(?:روز|هفته|ماه|ساعت|سال|دقیقه)"
_WEEKDAYS = r"(?:شنبه|یکشنبه|یک‌شنبه|دوشنبه|سه‌شنبه|چهارشنبه|پنجشنبه|پنج‌شنبه|جمعه)"
DURATION = re.compile(
    rf"(?:{_NUMBER_WORDS} {_UNITS}(?:{ZWNJ}?(?:ه|ست|است))?(?! *(?:دیگه|بعد))"
    rf"|از (?:{_WEEKDAYS}|دیروز|پریروز|دیشب|هفته‌ی پیش|هفته پیش|ماه پیش|ماه قبل|هفته قبل|اول ماه|صبح|عید|پارسال)"
    rf"|{_WEEKDAYS} (?:گذشته|پیش|قبل))"
)
_AMOUNT_UNIT = r"(?:تومن|تومان|ریال|هزار|میلیون|میلیارد|تومنی|تومانی|ت\b)"
AMOUNT = re.compile(rf"(?<![\d,٬])\d[\d,٬]*(?:\.\d+)? ?{_AMOUNT_UNIT}")
PHONE = re.compile(r"(?<!\d)(?:\+98|0098|0)9\d{9}(?!\d)")
DATE = re.compile(r"(?<!\d)\d{2,4}[/\-]\d{1,2}[/\-]\d{1,4}(?!\d)")
ORDER_NUMBER = re.compile(r"(?<![\w-])(?:[A-Za-z]{1,3}-?)?\d{5,12}(?![\w,٬/])")
_NUMBERISH = re.compile(r"\d[\d,٬./\-]*")


_SPLIT_NUMBER = re.compile(r"(?<=\d) ?([,٬]) ?(?=\d{3}(?!\d))|(?<=\d) ?([/:]) ?(?=\d)")


def rejoin_numbers(text: str) -> str:
    """«1 , 250 , 000» → «1,250,000»، «1403 / 08 / 20» → «1403/08/20»: the normaliser's spacing splits numbers."""
    return _SPLIT_NUMBER.sub(lambda m: m.group(1) or m.group(2), text)


def find_durations(text: str) -> list[str]:
    """«سه روزه»، «از دوشنبه»، «دو هفته‌ست»: since when, as written."""
    return [m.group(0).strip() for m in DURATION.finditer(text)]


def find_amounts(text: str) -> list[str]:
    return [m.group(0) for m in AMOUNT.finditer(text)]


def find_order_numbers(text: str) -> list[str]:
    """Order ids and tracking codes: 5–12 digits that are neither an amount, a phone number nor a date."""
    taken = {i for pattern in (AMOUNT, PHONE, DATE) for m in pattern.finditer(text) for i in range(*m.span())}
    return [m.group(0) for m in ORDER_NUMBER.finditer(text) if m.start() not in taken]


def numbers_in(text: str) -> list[str]:
    """Every number as its digits (for checks: a reflection never changes one)."""
    return [re.sub(r"\D", "", n) for n in _NUMBERISH.findall(to_ascii_digits(text))]


def _remove_insults(sentence: str) -> str:
    if not _MAY_INSULT.search(sentence):
        return sentence
    for phrase in _INSULT_PHRASES:
        sentence = sentence.replace(phrase, " ")
    kept: list[str] = []
    for word in sentence.split(" "):
        if _is_insult(word):
            if kept and kept[-1] == _VOCATIVE:  # «ای احمقا»: the «O» goes with it
                kept.pop()
            continue
        kept.append(word)
    return " ".join(kept)


def _is_insult(word: str) -> bool:
    folded = word.replace("\u200c", "")
    return folded in _INSULTS or folded.strip("،,.؛:!؟?") in _INSULTS


def clean_for_reflection(sentence: str) -> str:
    """Drop emoji, shouting, stretched letters and insults: reflect the facts, not the volume."""
    for arabic, persian in _ARABIC_LETTERS:  # str.replace: much faster than translate on long text
        sentence = sentence.replace(arabic, persian)
    sentence = _EMOJI.sub(" ", sentence)
    sentence = _STRETCH.sub(r"\1", sentence)
    sentence = _SHOUT.sub(lambda m: ". " if "!" in m.group(0) else "؟ ", sentence)  # still ends a sentence
    sentence = _remove_insults(sentence)
    sentence = _SPACES.sub(" ", sentence)
    return "\n".join(line.strip(" ،,.؛:") for line in sentence.split("\n"))


def _strip_opener(sentence: str) -> str:
    while True:
        match = _OPENER.match(sentence)
        if match is None or not match.group(0):
            return sentence
        sentence = sentence[match.end():]


def split_sentences(story: str) -> list[str]:
    """Informative sentences of the story, cleaned; greetings, fillers and bare shouting dropped."""
    story = clean_for_reflection(story)  # once for the whole story: a 4,096-character one stays fast
    out: list[str] = []
    pieces = _SENTENCE_END.split(story)
    for part, mark in zip(pieces[0::2], [*pieces[1::2], None], strict=False):
        part = (part or "").strip(" ،,.؛:")
        part = _strip_opener(_LET_ME_SAY.sub("", _strip_opener(part))).strip(" ،,.؛:")
        if not part or part in _FILLERS or len(part) <= 2:
            continue
        out.append(part + "؟" if mark and ("؟" in mark or "?" in mark) else part)
    return out


def _wants_us_to(clause: str) -> str:
    """«پولمو پس بدید» is a request: said back as «می‌خواید پولتون رو پس بدیم», not as a statement."""
    words = [w for w in clause.split(" ") if w]
    if not words:
        return clause
    polite = [i for i, w in enumerate(words) if w in _POLITE]
    if polite and 0 < polite[0] < len(words) - 1:
        # «شماره کارتم ... هست لطفا پولو بریزید»: the request starts at «لطفا».
        before, after = " ".join(words[: polite[0]]), " ".join(words[polite[0]:])
        return f"{to_second_person(before)}؛ {_wants_us_to(after)}"
    last = parse_verb(words[-1])
    if last is None or last.past or last.ending not in ("ید", "ین") or last.prefix in ("می", "نمی"):
        return to_second_person(clause)
    if last.stem in {"دار", "هست", "نیست", "باش"}:
        return to_second_person(clause)
    for word in words[:-1]:
        if word in _MODALS or word in _COPULAS or parse_verb(word) is not None:
            return to_second_person(clause)  # not a bare request: «گفت شما حق ندارید شکایت کنید»
    while words and words[0] in _POLITE:
        words = words[1:]
    return "می‌خواید " + to_second_person(" ".join(words))


def _say_back(sentence: str) -> str:
    """One sentence from the company's side; an all-Finglish sentence is quoted as written."""
    asked = sentence.endswith("؟")
    sentence = sentence.rstrip("؟").strip(" ،,.؛:")
    if _LATIN_WORD.search(sentence) and not _PERSIAN.search(sentence):
        return f"«{sentence}»"
    sentence = _PLEASE.sub("لطفا ", sentence)  # «خواهش می‌کنم» here means «please», not «I request»
    try:
        to_second_person(sentence, strict=True)
    except UnsafeShift:
        return f"«{sentence}»"  # quoted as written rather than guessing who did what
    if asked or _WHY_AT_AN_END.search(_ASKING_LEAD.sub("", sentence)):
        return _say_question(sentence)
    return _say_statement(_RHETORICAL.sub("", sentence).strip())


def _say_statement(sentence: str) -> str:
    clauses = re.split(r"(،|؛|(?<!\d),|,(?!\d))", sentence)
    said = "".join(part if part in ("،", ",", "؛") else _wants_us_to(part.strip()) if part.strip() else part
                   for part in clauses)
    said = re.sub(r"\s*(،|؛|(?<!\d),|,(?!\d))\s*", r"\1 ", said)
    return _SPACES.sub(" ", said).strip(" ،,؛")


# ----- questions ------------------------------------------------------------------------------------
# Said back as a statement, a question changes meaning: «پولمو پس نمیدین؟» is not «پولتون رو پس
# نمی‌دیم» (a refusal). It stays the customer's question: «می‌پرسید چرا …»، «می‌پرسید … کجاست»,
# «می‌پرسید پولتون رو پس می‌دیم یا نه» (a yes/no question names both answers, so its verb is said in
# the affirmative); «میشه …؟» asks for something («می‌خواید …»); «مگه نگفتید …؟» asserts «گفتیم …»;
# a purely rhetorical one («این چه وضعشه؟»، «چه خبره؟») carries no fact and is dropped.
_ASKED = "می‌پرسید "
_WH_WORDS = {
    "چرا", "کی", "کجا", "کجاست", "کجاس", "کجان", "کو", "چی", "چیه", "چیشد", "چطور", "چطوری", "چجوری",
    "چگونه", "چقدر", "چند", "چندتا", "کدوم", "کدام", "چیکار", "چکار", "چه",
}
_KNOW_OR_TELL = {"بدونم", "بدونیم", "بدانم", "نمیدونم", "بگید", "بگین", "بفرمایید", "بگو"}  # «میخوام بدونم کی…»
_ASKING_LEAD = re.compile(
    r"^(?:(?:آخه|آخر|اصلا|اصلاً|اصن|خب|آقا|واقعا) +"
    r"|پس +(?=(?:چرا|کی|کجا|کجاست|کو|چی|چطور|چطوری|چجوری|چقدر|چیکار)(?![\w\u200c])))+"
)
_WHY_AT_AN_END = re.compile(r"^چرا(?![\w\u200c])|(?<= )چرا$")  # «چرا …» and «… چرا» ask without «؟» too
_RHETORICAL_QUESTIONS = {
    "چه خبره", "چه خبره اینجا", "یعنی چی", "چی شده", "چیه این وضع", "این چه وضعشه", "کسی هست", "کسی نیست",
    "خجالت نمیکشید", "خجالت نمیکشین", "شما خجالت نمیکشید", "شما خجالت نمیکشین", "حیا نمیکنید", "شرم نمیکنید",
}
_TRAILING_PARTICLES = {"دیگه", "پس", "آخه", "ها"}  # «پولمو پس نمیدین دیگه؟»: not said before «یا نه»
_WHAT_DO_YOU_MEAN = re.compile(r"^یعنی چی(?: که)? +")  # «یعنی چی که پرونده‌م بسته شده»: a protest of a fact
_MAY_YOU = re.compile(
    r"^(?:میشه|می‌شه|امکانش هست(?: که)?|امکان داره|میتونید|می‌تونید|میتونین|می‌تونین)(?: لطفا| لطفاً)? +"
)
_CLAUSES = re.compile(r"(،|؛|(?<!\d),|,(?!\d))")


def _say_question(sentence: str) -> str:
    """Clauses before the one that asks are said back as facts; from it on, as the customer's question."""
    parts = _CLAUSES.split(sentence)
    texts = parts[0::2]
    first = next((n for n, text in enumerate(texts) if _wh_word(text.split()) is not None), len(texts) - 1)
    before = "".join(parts[: 2 * first]).strip(" ،,؛")
    asked = _ask("".join(parts[2 * first:]).strip(" ،,؛"))
    if not before:
        return asked
    return f"{_say_statement(before)}، {asked}" if asked else _say_statement(before)


def _wh_word(words: list[str]) -> int | None:
    return next((i for i, w in enumerate(words) if w.replace(ZWNJ, "") in _WH_WORDS), None)


def _ask(text: str) -> str:
    text = _ASKING_LEAD.sub("", text).strip()
    if not text or text.replace(ZWNJ, "") in _RHETORICAL_QUESTIONS:
        return ""
    if text.startswith("این چه ") and " که " not in text:
        return ""  # «این چه طرز برخورده؟»
    protest = _WHAT_DO_YOU_MEAN.match(text)
    if protest:
        return _say_statement(text[protest.end():])
    words = text.split()
    wh = _wh_word(words)
    if wh is not None:
        if any(w.replace(ZWNJ, "") in _KNOW_OR_TELL for w in words[:wh]):
            return _say_statement(text)  # already an indirect question: «می‌خواید بدونید … کی …»
        if words[-1] == "چرا" and len(words) > 1:
            words = ["چرا", *words[:-1]]  # «جواب نمیدین چرا» → «می‌پرسید چرا جواب نمی‌دیم»
        return _ASKED + to_second_person(" ".join(words))
    request = _MAY_YOU.match(text)
    if request:
        wanted = _wants_us_to(text[request.end():])
        return wanted if wanted.startswith("می‌خواید") else _ASKED + to_second_person(text)
    if words[0] in ("مگه", "مگر"):  # «مگه نگفتید امروز میرسه؟» says «you told me it arrives today»
        denied = next((i for i, w in enumerate(words) if _affirmative(w) != w), None)
        if denied is None:
            return f"«{text}»"
        return _say_statement(" ".join([*words[1:denied], _affirmative(words[denied]), *words[denied + 1:]]))
    if any(w.startswith("هیچ") or w in ("نیست", "نیستش") for w in words):
        return f"«{text}»"  # «کسی نیست جواب بده؟» has no affirmative to ask about
    if " یا " in f" {text} ":
        return _ASKED + to_second_person(text)  # «… فرستادید یا نه»: both answers already named
    while len(words) > 1 and words[-1] in _TRAILING_PARTICLES:
        words = words[:-1]
    verb_at = _last_verb(words)
    if verb_at is None and (len(words) == 1 or len(words) == 2 and any(ch.isdigit() for ch in text)):
        return _say_statement(" ".join(words))  # «سفارش ۱۲۳۴۵؟»: a reference, nothing is asked
    if verb_at is not None:
        words[verb_at] = _affirmative(words[verb_at])
    return _ASKED + to_second_person(" ".join(words)) + " یا نه"


def _last_verb(words: list[str]) -> int | None:
    return next((i for i in range(len(words) - 1, -1, -1) if parse_verb(words[i].replace(ZWNJ, "")) is not None), None)


def _affirmative(word: str) -> str:
    """«نمیدین» → «میدین»، «برنگردوندید» → «برگردوندید»، «نیستید» → «هستید»: the verb without its negation."""
    bare = word.replace(ZWNJ, "")
    verb = parse_verb(bare)
    if verb is not None and verb.stem == "نیست" and bare.startswith("نیست"):
        return "هست" + bare[len("نیست"):]
    if verb is None or verb.perfect or verb.prefix not in ("ن", "نمی"):
        return word
    at = len(verb.preverb)
    return bare[:at] + bare[at + 1:]


_PROBLEM = re.compile(
    r"(?<!\w)(?:نرسید|نرسیده|نیومد|نیومده|نیامد|نیاورد|نفرستاد|خراب|شکست|شکسته|کنسل|لغو|برداشت|کسر|کم شد|قطع|"
    r"جواب|اشتباه|برنگشت|برنگشته|برنگردوند|پس ندا|معیوب|سوخت|ایراد|مشکل|دیر|تاخیر|تأخیر|توهین|داد زد|بی‌ادب|"
    r"گم|دزدید|پاره|نشت|تقلبی|فاسد|نداد|ندادن|ندادید|نکرد|نکردن|نکردید|اضافه|دوبار|دو بار|بلاک|مسدود|"
    r"هنوز|برخورد|پیگیری|تعویض|مرجوع|گارانتی|ضمانت|کثیف|ناقص|خالی|نصفه|تحویل|ارسال نشده|خبری نیست|خبری نشد)"
)
_PROMISE = re.compile(r"قول|قرار بود|گفتن|گفتید|گفت|وعده|تضمین|پیامک|اس ?ام ?اس|تماس گرفت|زنگ")
_FEELING_ONLY = re.compile(
    r"اعصاب|عصبانی|خسته|ناراحت|ناامید|افتضاح|مسخره|شرم|متاسف|متأسف|خرید نمی|آبرو|حیف|خیلی بد(?:ه|ید|ین)?(?!\w)"
)


_REQUEST = re.compile(r"(?:^|\s)(?:لطفا|لطفاً|خواهشا|خواهشاً|خواهش می‌کنم|خواهش میکنم)(?:\s|$)")


def _score(sentence: str, index: int) -> int:
    score = 0
    if re.search(r"\d", sentence):
        score += 3
    if DURATION.search(sentence):
        score += 2
    if _PROMISE.search(sentence):
        score += 2
    if _PROBLEM.search(sentence):
        score += 2
    if index == 0:
        score += 1
    if _REQUEST.search(sentence):
        score -= 3  # what the customer wants is asked next; a long story's reflection keeps the facts
    if _FEELING_ONLY.search(sentence) and score <= 1:
        score -= 2
    return score


def _trim(text: str, max_chars: int) -> str:
    """Shorten at a clause boundary, never inside a word."""
    if len(text) <= max_chars:
        return text
    window = text[:max_chars]
    for mark in ("؛ ", "، ", " و ", " ولی ", " که "):
        cut = window.rfind(mark)
        if cut > max_chars // 2:
            return window[:cut].rstrip(" ،؛") + "…"
    return window.rsplit(" ", 1)[0].rstrip(" ،؛") + "…"


def _select(sentences: list[str], max_sentences: int, max_chars: int) -> list[int]:
    """Which sentences to keep: all when the story is short, else the core complaint in story order."""
    if len(sentences) <= max_sentences and sum(len(s) + 2 for s in sentences) <= max_chars:
        return list(range(len(sentences)))
    scores = [_score(sentence, i) for i, sentence in enumerate(sentences)]
    ranked = sorted(range(len(sentences)), key=lambda i: (scores[i], i), reverse=True)
    chosen: list[int] = []
    used = 0
    for i in ranked:
        if len(chosen) >= max_sentences:
            break
        if scores[i] < 0 and chosen:
            continue
        cost = len(sentences[i]) + 2
        if chosen and used + cost > max_chars:
            continue
        chosen.append(i)
        used += cost
    return sorted(chosen)


def reflect_story(story: str, *, order_id: str | None = None, max_sentences: int = 5, max_chars: int = 320) -> Reflection:
    """Build the reflection of a (normalised) story.

    A correction made with `apply_correction` has already replaced what was wrong; the newest
    sentences win ties. Facts (order number, since when) are kept even when their sentence is not.
    """
    story = rejoin_numbers(story or "")
    sentences = split_sentences(story)
    if not sentences and story.strip():
        fallback = clean_for_reflection(story)
        sentences = [fallback] if fallback else []
    chosen = _select(sentences, max_sentences, max_chars)
    picked = [
        _say_back(_LEADING_BUT.sub("", sentences[i]) if n == 0 or chosen[n - 1] != i - 1 else sentences[i])
        for n, i in enumerate(chosen)
    ]
    text = "؛ ".join(p for p in picked if p)
    if not text and sentences:  # only a rhetorical question («این چه وضعشه؟»): the customer's words, quoted
        text = "؛ ".join(f"«{sentences[i].rstrip('؟')}»" for i in chosen)
    text = _trim(text, max_chars)

    orders = find_order_numbers(story)
    if order_id and not orders:
        orders.append(order_id)  # a number the story names (perhaps corrected) wins over a remembered one
    latest_order = orders[-1] if orders else None
    if latest_order and latest_order not in text:
        text += f" (سفارش {latest_order})"
    durations = find_durations(story)
    if durations and not any(d in text for d in durations):
        text += f"، {durations[-1]}"
    if text and not text.endswith(("…", ".", "؟")):
        text += "."

    key_words: list[str] = []
    for item in [*orders, *find_amounts(story), *durations]:
        if item not in key_words:
            key_words.append(item)
    for word in re.findall(r"[\w\u200c]+", story):
        base = word[:-1] if word.endswith("م") and word[:-1] in OWNED_NOUNS else word
        base = base[:-2] if base.endswith("مو") and base[:-2] in OWNED_NOUNS else base
        if base in OWNED_NOUNS and base not in key_words:
            key_words.append(base)
    return Reflection(text=_isolate_leading_latin(to_persian_digits(text)), key_words=tuple(key_words[:12]))


_LEADING_LATIN = re.compile(r"^[A-Za-z][A-Za-z0-9 _\-]*[A-Za-z0-9]|^[A-Za-z]")


def _isolate_leading_latin(text: str) -> str:
    """A line that starts with Latin letters is laid out left to right by Telegram: isolate them (U+2068…U+2069)."""
    return _LEADING_LATIN.sub(lambda m: f"\u2068{m.group(0)}\u2069", text, count=1)


# ----- corrections --------------------------------------------------------------------------------
_NEGATION_OPENERS = re.compile(r"^(?:نه|نخیر|اشتباه شد|اشتباه گفتم|ببخشید|منظورم این بود که|منظورم)[،,\s]+")
_DURATION_CORE = re.compile(rf"{_NUMBER_WORDS} {_UNITS}")
_WEEKDAY = re.compile(_WEEKDAYS)
_DIGITS = re.compile(r"\d+")


def _typed_items(text: str) -> list[tuple[str, str]]:
    """(kind, value) pairs in order of appearance: numbers, durations, weekdays."""
    items: list[tuple[int, str, str]] = []
    for m in _DIGITS.finditer(text):
        after = text[m.end(): m.end() + 8]
        if re.match(rf" ?{_UNITS}", after):
            continue
        items.append((m.start(), "number", m.group(0)))
    for m in _DURATION_CORE.finditer(text):
        items.append((m.start(), "duration", m.group(0)))
    for m in _WEEKDAY.finditer(text):
        if not any(start <= m.start() < start + len(value) for start, _, value in items):
            items.append((m.start(), "weekday", m.group(0)))
    return [(kind, value) for _, kind, value in sorted(items)]


def apply_correction(story: str, correction: str) -> str:
    """Return the story with the corrected part replaced.

    «نه، سه روز نه، پنج روزه» replaces the duration; «شماره سفارش 45871 نیست، 45817 ـه» replaces the
    number. When the customer names only the right value and the story has exactly one value of that
    kind, that one is replaced. Otherwise the correction is appended, and being newest it wins.
    """
    story = story or ""
    fixed = (correction or "").strip()
    if not fixed:
        return story
    items = _typed_items(fixed)
    by_kind: dict[str, list[str]] = {}
    for kind, value in items:
        by_kind.setdefault(kind, []).append(value)
    for kind, values in by_kind.items():
        in_story = [value for k, value in _typed_items(story) if k == kind]
        if len(values) >= 2:
            wrong, right = values[0], values[-1]
            if wrong != right and wrong in story:
                return _replace_whole(story, wrong, right)
        if len(values) == 1 and len(set(in_story)) == 1 and in_story[0] != values[0]:
            return _replace_whole(story, in_story[0], values[0])
    rest = _NEGATION_OPENERS.sub("", fixed).strip()
    if rest != fixed:  # «نه، …»: the customer says one thing was wrong; replace the sentence it corrects
        replaced = _replace_sentence(story, rest)
        if replaced is not None:
            return replaced
    return f"{story}\n{rest}" if story else rest


_STORY_SEPARATORS = re.compile(r"((?<=[.!?؟])\s+|\n+)")
_STOP_WORDS = {"رو", "را", "و", "که", "به", "از", "با", "هم", "ولی", "اما", "یه", "این", "اون", "من", "شما", "ما"}


def _content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[\w\u200c]+", text) if len(w) > 1 and w not in _STOP_WORDS}


def _replace_sentence(story: str, correction: str) -> str | None:
    """The story sentence sharing at least two content words with the correction, replaced by it."""
    parts = _STORY_SEPARATORS.split(story)
    wanted = _content_words(correction)
    best, best_shared = None, 1
    for i in range(0, len(parts), 2):
        shared = len(_content_words(parts[i]) & wanted)
        if shared > best_shared:
            best, best_shared = i, shared
    if best is None:
        return None
    parts[best] = correction
    return "".join(parts)


def _replace_whole(text: str, old: str, new: str) -> str:
    """Replace `old` only where it stands as a whole (a number is not replaced inside a longer one)."""
    pattern = re.compile(rf"(?<![\d\w]){re.escape(old)}(?!\d)")
    return pattern.sub(new, text)
