"""Say the customer's sentence back from the company's side: «من/‑م/‑یم» → «شما/‑تون/‑ید», «شما/‑تون/‑ید» → «ما/‑مون/‑یم».

Why morphology and not word lists: customers conjugate every verb in every tense, with and without
half-spaces, in colloquial forms («میخوام»، «نمیتونم»، «دارم میام»، «گرفتین»). A verb is split into
preverb + prefix (می/نمی/ن/ب) + stem + personal ending, with the stems taken from hazm's conjugation
data (formal past#present stems plus the colloquial present stems of `iverbs.dat`); only the ending
is exchanged, so a suffix can never be doubled («میدیم» is می + د + یم → «میدید», never «میدیید»).
Nouns take possessive clitics only when the bare noun is in hazm's lexicon and the inflected form is
not a common word of its own («مردم»، «پیام» stay).

Who is who: in a complaint the customer's first person (singular or plural) is the customer and
their «شما» is the company. Third person («پیک نیومد»، «فرستادن») is left alone. Words a third party
or the company said («پشتیبانی‌تون گفت پیگیری می‌کنیم») are quoted speech and keep their person.

Pure functions; the lexicon and stems are loaded once, lazily (about 0.2 s).
"""
from __future__ import annotations

import importlib.util

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

ZWNJ = "\u200c"

# Personal endings, longest first so «میدیم» is می + د + یم and never می + دی + م.
_ENDINGS = ("یم", "ید", "ین", "ند", "م", "ی", "د", "ه", "ن", "")
_SHIFT_ENDING = {"م": "ید", "یم": "ید", "ید": "یم", "ین": "یم"}
_PREFIXES = ("نمی", "می", "ن", "بی", "ب", "")
_PREVERBS = ("بر", "در", "ور", "وا")
# Present stems that conjugate without می/ب in speech: «دارم»، «هستم»، «کنید» (light verb of a compound).
_BARE_PRESENT = {"دار", "هست", "نیست", "کن", "باش", "ش", "خواه", "فرما", "نما"}
# Colloquial stems hazm's data lacks (its iverbs hold present stems only); the value is the formal verb.
_COLLOQUIAL_PAST = {
    "اومد": "آمد", "تونست": "توانست", "دونست": "دانست", "موند": "ماند", "خوند": "خواند",
    "رسوند": "رساند", "برگردوند": "برگرداند", "گردوند": "گرداند", "فهموند": "فهماند",
    "شکوند": "شکاند", "سوزوند": "سوزاند", "پوکوند": "پوکاند", "چرخوند": "چرخاند", "کشوند": "کشاند",
    "پیچوند": "پیچاند", "پروند": "پراند", "ترکوند": "ترکاند", "گذروند": "گذراند", "خوابوند": "خواباند",
    "اورد": "آورد", "آورد": "آورد", "یومد": "آمد", "ومد": "آمد", "یاورد": "آورد", "یاوورد": "آورد",
    "وایساد": "ایستاد", "نشست": "نشست", "زد": "زد",
}
_COLLOQUIAL_PRESENT = {"ا": "آمد", "آ": "آمد", "ار": "آورد", "خوا": "خواست", "گ": "گفت", "د": "داد",
                       "ر": "رفت", "ش": "شد", "ذار": "گذاشت", "زار": "گذاشت", "گرد": "گشت",
                       "گردون": "گرداند", "برگردون": "برگرداند", "رسون": "رساند", "کن": "کرد", "تون": "توانست",
                       "دون": "دانست", "مون": "ماند", "شکون": "شکاند", "پیچون": "پیچاند"}
# Typo stems customers write, spoken back in the usual spelling («میخام» → «می‌خواید»).
_STEM_SPELLING = {"خا": "خوا", "خاه": "خوا"}
# Formal light verbs, said back in the spoken register: «ثبت نمودم» → «ثبت کردید».
_SPOKEN_LIGHT_VERB = {"نمود": "کرد", "نما": "کن", "فرما": "کن", "فرمود": "کرد"}
# Verbs whose object is somebody's words: what follows was said by the subject and keeps its person.
_SPEECH_STEMS = {"گفت", "گ", "گوی", "نوشت", "نویس"}

# Clitic-bearing pronouns and prepositions (a closed class, so listed).
_CUSTOMER_PRONOUNS = {
    "من": "شما", "منو": "شما رو", "مرا": "شما رو", "منم": "شما هم", "بهم": "بهتون", "ازم": "ازتون",
    "برام": "براتون", "برایم": "براتون", "واسم": "براتون", "باهام": "باهاتون", "خودم": "خودتون",
    "خودمو": "خودتون رو", "خودمم": "خودتون هم", "روم": "روتون", "پیشم": "پیشتون", "دنبالم": "دنبالتون",
    "سرم": "سرتون", "جلوم": "جلوتون", "مال‌من": "مال شما", "منه": "شماست", "ما": "شما", "مارو": "شما رو", "ماها": "شما",
    "بهمون": "بهتون", "ازمون": "ازتون", "برامون": "براتون", "واسمون": "براتون", "باهامون": "باهاتون",
    "خودمون": "خودتون", "خودمونو": "خودتون رو", "مام": "شما هم", "اینجانب": "شما", "بنده": "شما",
}
_COMPANY_PRONOUNS = {
    "شما": "ما", "شماها": "ما", "شما‌ها": "ما", "شماییم": "ما هستید", "شمائیم": "ما هستید", "شمارو": "ما رو",
    "شمام": "ما هم", "بهتون": "به ما", "ازتون": "از ما",
    "براتون": "برای ما", "برایتان": "برای ما", "واستون": "برای ما", "باهاتون": "با ما", "خودتون": "خودمون",
    "خودتونو": "خودمون رو", "بهتان": "به ما", "ازتان": "از ما", "باهاتان": "با ما", "خودتان": "خودمون",
}
# Predicates customers say about themselves: «منتظرم» is "I am waiting", not "my waiting".
_STATES = {
    "منتظر", "ناراحت", "عصبانی", "شاکی", "مطمئن", "مجبور", "خسته", "نگران", "ناراضی", "پشیمون",
    "پشیمان", "کلافه", "شرمنده", "ناامید", "دلخور", "مریض", "معطل", "آواره", "بیکار", "حیرون", "حیران",
    "عاصی", "مشتری", "راضی", "ناچار", "گرسنه", "سرگردون", "سرگردان", "شوکه", "مطلع", "آماده",
    "مقصر", "بی‌تقصیر", "بدهکار", "طلبکار",
}
# Everyday nouns of complaints that hazm's lexicon lacks («گوشی» is not in it).
_COMPLAINT_NOUNS = {
    "گوشی", "اپ", "اپلیکیشن", "تیکت", "پیج", "اکانت", "آدرس", "شارژ", "لپتاپ", "خونه", "سیم‌کارت",
    "سیمکارت", "مرسوله", "فاکتور", "رسید", "کیف", "هندزفری", "ایرپاد", "شارژر", "کد", "پنل", "وام",
    "قسط", "بیمه", "نت", "وای‌فای", "مبل", "کولر", "پکیج", "ماشین", "موتور", "سفارش", "پیامک", "بسته",
}
# «‑م» here is «هم» (again, still), not "my".
_NOT_POSSESSIVE = {
    "بازم", "هنوزم", "الانم", "حالام", "اونم", "اینم", "همینم", "دیگم", "تازم", "همون", "همین", "مهمون", "کدوم",
    "هرکدوم", "تموم", "خانم", "خانوم", "قسم", "کم", "هم", "مردم", "دوم", "سوم", "زمون", "آسمون", "خیلیم", "قبلنم",
    "قبلم", "بعدم", "یکیم", "همم",
    # loanwords that end in «م» (hazm lists some of them without a frequency)
    "فرم", "سیستم", "ترم", "آیتم", "پلتفرم", "تیم", "گرم", "کیلوگرم", "پریمیوم", "آلارم", "پروگرام", "اینستاگرام",
    "تلگرام", "ماکزیمم", "مینیمم",
}
# Words after which a noun comes, never a finite verb («منتظر بستم» is «my parcel»).
_PREPOSITIONS = {"منتظر", "به", "از", "با", "برای", "تو", "توی", "روی", "دنبال", "مال", "بدون", "ب", "واسه"}
# Past stems that are everyday nouns of complaints too («خریدم» = my purchase or I bought).
_VERB_NOUNS = {"خرید", "درخواست", "پرداخت", "رسید", "برداشت", "واریز", "سفارش"}
_NOUN_FOLLOWERS = {"هنوز", "هست", "هستش", "هم", "رو", "را", "کجاست", "کجا", "کو", "چیشد", "چی", "چرا"}
_OBJECT_MARKERS = {"رو", "را", "رو،", "را،"}
_FORMAL_OBJECT = {"را": "رو", "ک": "که", "ب": "به", "ی": "یه"}


@dataclass(frozen=True)
class Verb:
    """A verb split into its parts; `person` is the ending as written."""

    preverb: str
    prefix: str
    stem: str
    ending: str
    past: bool
    perfect: bool = False
    clitic: str = ""
    glide: str = ""  # the «ی» of formal «بفرمایید»، «بیایید» between a vowel stem and its ending

    def with_ending(self, ending: str, changed: bool = False) -> str:
        prefix = self.prefix
        if prefix in ("می", "نمی") and not self.stem.startswith(("ا", "آ")):
            prefix += ZWNJ
        stem = _STEM_SPELLING.get(self.stem, self.stem)
        if changed:
            stem = _SPOKEN_LIGHT_VERB.get(stem, stem)
        if self.perfect:
            written = f"{self.preverb}{prefix}{stem}ه{ZWNJ}ا{ending}" if ending else f"{self.preverb}{prefix}{stem}ه"
        else:
            glide = self.glide if ending.startswith("ی") and stem.endswith(("ا", "و")) else ""
            written = f"{self.preverb}{prefix}{stem}{glide}{ending}"
        return written + self.clitic


@dataclass(frozen=True)
class _Lexicon:
    words: dict[str, int]
    adjectives: frozenset[str]
    past: frozenset[str]
    present: frozenset[str]




@lru_cache(maxsize=1)
def _lexicon() -> _Lexicon:
    """Load hazm's word list and verb stems once."""
    # Only hazm's data files are read: locating the package without importing it spares the action
    # server hazm's imports (nltk, scikit-learn: about 120 MB and a second, docs/performance.md).
    spec = importlib.util.find_spec("hazm")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("hazm is not installed")
    data = Path(next(iter(spec.submodule_search_locations))).resolve() / "data"
    words: dict[str, int] = {}
    adjectives: set[str] = set(_STATES)
    with open(data / "words.dat", encoding="utf-8") as handle:
        for line in handle:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 2 and parts[1].isdigit():
                words[parts[0]] = max(words.get(parts[0], 0), int(parts[1]))
                if len(parts) >= 3 and "AJ" in parts[2].split(",") and int(parts[1]) > 10_000:
                    adjectives.add(parts[0])
    for noun in _COMPLAINT_NOUNS:
        words[noun] = max(words.get(noun, 0), 1_000_000)  # known nouns, as frequent as hazm's common ones
    with open(data / "iwords.dat", encoding="utf-8") as handle:
        for line in handle:
            informal = line.split()[:1]
            if informal:
                words.setdefault(informal[0], 0)
    past: set[str] = set(_COLLOQUIAL_PAST)
    present: set[str] = set(_COLLOQUIAL_PRESENT) | set(_STEM_SPELLING)
    for name in ("verbs.dat", "iverbs.dat"):
        with open(data / name, encoding="utf-8") as handle:
            for line in handle:
                line = line.strip()
                if "#" not in line:
                    continue
                head, _, rest = line.partition("#")
                fields = rest.split()
                if head:
                    past.add(head)
                for stem in fields[:2]:
                    if stem and not stem.isdigit():
                        present.add(stem)
    past.discard("")
    present.discard("")
    # hazm lists a few conjugated forms as stems («آوردید»): drop them, or «آوردید» would not shift.
    past -= {stem for stem in past for ending in ("ید", "ن") if stem.endswith(ending) and stem[: -len(ending)] in past}
    present |= {"هست", "نیست"}
    return _Lexicon(words=words, adjectives=frozenset(adjectives), past=frozenset(past), present=frozenset(present))


def warm_up() -> None:
    """Load the data now (at server start) rather than on the first customer's message."""
    _lexicon()


def _bare(word: str) -> str:
    return word.replace(ZWNJ, "")


@lru_cache(maxsize=16384)
def parse_verb(word: str) -> Verb | None:
    """Split a written verb form; None when the word is not a verb this module can conjugate."""
    lex = _lexicon()
    # Perfect with a half-space: «گرفته‌اید»، «خریده‌ام»، «نرسیده‌ام».
    if ZWNJ in word:
        head, _, tail = word.rpartition(ZWNJ)
        if head.endswith("ه") and tail in ("ام", "ای", "ایم", "اید", "اند"):
            inner = parse_verb(_bare(head[:-1]))
            if inner is not None and inner.past and inner.ending == "" and inner.prefix in ("", "ن"):
                return Verb(inner.preverb, inner.prefix, inner.stem, tail[1:], past=True, perfect=True)
            return None
    word = _bare(word)
    if len(word) < 2:
        return None
    best = _parse_plain(word, lex)
    if best is None:
        # An object clitic after the ending: «بردمش» = برد + م + ش.
        for clitic in ("شون", "ش"):
            if word.endswith(clitic) and len(word) > len(clitic) + 2:
                inner = _parse_plain(word[: -len(clitic)], lex)
                if inner is not None and inner.ending in ("م", "یم", "ید", "ین", "ی", "ن", "ند"):
                    return Verb(inner.preverb, inner.prefix, inner.stem, inner.ending, inner.past, clitic=clitic)
    return best


def _parse_plain(word: str, lex: _Lexicon) -> Verb | None:
    best: Verb | None = None
    for preverb in ("", *_PREVERBS):
        if preverb and not word.startswith(preverb):
            continue
        rest = word[len(preverb):]
        for prefix in _PREFIXES:
            if not rest.startswith(prefix):
                continue
            body = rest[len(prefix):]
            for ending in _ENDINGS:
                if ending and not body.endswith(ending):
                    continue
                stem = body[: len(body) - len(ending)] if ending else body
                if not stem:
                    continue
                candidate = _classify(preverb, prefix, stem, ending, lex)
                if candidate is None and ending.startswith("ی") and stem.endswith("ی") and stem[:-1].endswith(("ا", "و")):
                    glided = _classify(preverb, prefix, stem[:-1], ending, lex)
                    if glided is not None:
                        candidate = Verb(glided.preverb, glided.prefix, glided.stem, ending, glided.past, glide="ی")
                if candidate is not None and (best is None or _better(candidate, best)):
                    best = candidate
    return best


def _better(candidate: Verb, best: Verb) -> bool:
    """After می/نمی a personal ending beats a longer stem: «نمیدید» is «you don't give», not «he wasn't seeing»."""
    if candidate.prefix in ("می", "نمی") and len(candidate.ending) != len(best.ending):
        return len(candidate.ending) > len(best.ending)
    return len(candidate.stem) > len(best.stem)


def _classify(preverb: str, prefix: str, stem: str, ending: str, lex: _Lexicon) -> Verb | None:
    full = preverb + stem
    if (stem in lex.past or full in lex.past) and prefix in ("", "ن", "می", "نمی") and ending not in ("د", "ه"):
        return Verb(preverb, prefix, stem, ending, past=True)
    if stem in lex.present or full in lex.present:
        if ending == "":
            return None  # imperatives and bare stems are nouns far more often («کار»، «بار»)
        compound = preverb in ("بر", "در") or (stem.startswith(("بر", "در")) and len(stem) > 4)
        if prefix == "" and stem not in _BARE_PRESENT and not compound:
            return None  # «برگردونید» needs no «ب»; «کنید» is the light verb of a compound
        if prefix == "بی" and not stem.startswith(("ا", "آ")):
            return None
        if prefix == "ب" and stem.startswith(("ا", "آ")):
            return None
        return Verb(preverb, prefix, stem, ending, past=False)
    return None


def _possessive(word: str, next_word: str | None, after_preposition: bool = False, clause_end: bool = False) -> str | None:
    """«سفارشم» → «سفارشتون»، «پولمو» → «پولتون رو»، «بسته‌ام» → «بسته‌تون»; None if not a possessive."""
    lex = _lexicon()
    if _bare(word) in _NOT_POSSESSIVE or lex.words.get(word.rsplit(ZWNJ, 1)[-1], 0) > 200_000 and ZWNJ in word:
        return None  # «ثبت‌نام»: the compound ends in a word of its own
    for suffix, ending in (("مونیم", " هستید"), ("مونو", " رو"), ("مون", "")):
        if word.endswith(suffix):
            base = word[: -len(suffix)].rstrip(ZWNJ)
            if len(base) >= 2 and _is_noun(base) and lex.words.get(_bare(word), 0) <= 200_000:
                return _join(base, "تون") + ending
    for suffix, tail in (("مو", " رو"), ("م", ""), ("مم", " هم"), ("ام", "")):
        if not word.endswith(suffix):
            continue
        base = word[: -len(suffix)]
        if suffix == "ام" and not base.endswith(ZWNJ):
            continue
        base = base.rstrip(ZWNJ)
        said_without_he = lex.words.get(base, 0) < 1000 < lex.words.get(base + "ه", 0) and not base.endswith("ه")
        if said_without_he and (after_preposition or next_word in _NOUN_FOLLOWERS or suffix == "مو"):
            base += "ه"  # «منتظر بستم»، «بستمو» are «بسته‌م»، «بسته‌مو» written the way they are said
        elif suffix == "م" and base.endswith(("ش", "ت")) and lex.words.get(base, 0) < 1000 and _is_noun(base[:-1]):
            return None  # «آخرشم»، «پولشم»: «‑ش» + «هم»
        if len(base) < 2 or not _is_noun(base):
            continue
        if lex.words.get(_bare(word), 0) > 200_000:
            return None  # a word of its own: «مردم»، «پیام»، «تمام»
        if suffix == "مم" and clause_end:
            tail = " هستید"  # «منتظر سفارشمم»: «‑م» + «‑ام», I am (waiting for) my order
        return _join(base, "تون") + tail
    return None


def _is_noun(base: str) -> bool:
    """A noun of the lexicon, or its plural («سفارشا»، «بسته‌ها»)."""
    words = _lexicon().words
    if base in words:
        return True
    if ZWNJ in base:  # «موبایل‌بانک»: the head of a written compound decides
        return _is_noun(base.rsplit(ZWNJ, 1)[1])
    for plural in (ZWNJ + "ها", "ها", "ای", "ا"):
        if base.endswith(plural) and base[: -len(plural)] in words and len(base) - len(plural) >= 2:
            return True
    return False


def _state(word: str) -> str | None:
    """«منتظرم» → «منتظرید»، «خسته‌ام» → «خسته‌اید»، «ناراضیم» → «ناراضی هستید»."""
    for suffix in (ZWNJ + "ام", ZWNJ + "م", "ام", "م"):
        if word.endswith(suffix):
            base = word[: -len(suffix)]
            if base in _STATES:
                if base.endswith("ی"):
                    return base + " هستید"
                if base.endswith("ه"):
                    return base + ZWNJ + "اید"
                return base + "ید"
    return None


def _copula(word: str) -> str | None:
    """«بدهکاریم» (we owe) → «بدهکارید»; «مقصرید» (you are to blame) → «مقصریم», at the end of a clause."""
    lex = _lexicon()
    if word in lex.past:
        return None  # «دزدید» is «he stole», not «you are thieves»: a past verb wins over a copula
    for ending, other in (("یم", "ید"), ("ید", "یم"), ("ین", "یم")):
        base = word[: -len(ending)]
        if word.endswith(ending) and base in lex.adjectives and lex.words.get(word, 0) <= 200_000 and len(base) >= 3:
            return base + other
    return None


def _company_possessive(word: str) -> str | None:
    """«پشتیبانیتون» → «پشتیبانی‌مون»، «سایتتونو» → «سایت‌مون رو»."""
    lex = _lexicon()
    for suffix, tail in (("تونیم", "ید"), ("تونم", "ید"), ("تونو", " رو"), ("تونه", "ه"), ("تون", ""), ("تان", "")):
        if word.endswith(suffix):
            base = word[: -len(suffix)].rstrip(ZWNJ)
            if len(base) >= 2 and _is_noun(base) and lex.words.get(_bare(word), 0) <= 200_000:
                return _join(base, "مون") + tail
    return None


def _join(base: str, clitic: str) -> str:
    silent_he = base.endswith("ه") and not base.endswith(("اه", "وه"))  # «ماه»، «راه» end in a real h
    return base + (ZWNJ if silent_he or base.endswith("ی") else "") + clitic


@lru_cache(maxsize=16384)
def shift_word(word: str, next_word: str | None = None, previous_word: str | None = None, *,
               clause_end: bool = False) -> str:
    """Shift one token; anything not understood is returned exactly as written."""
    if not word or any(ch.isdigit() for ch in word) or not _is_persian(word):
        return word
    if word.endswith(ZWNJ + "ی") and not word[:-2].endswith(("ه", "ی", "ا", "و")) and len(word) > 3:
        return shift_word(word[:-2], "یه", previous_word) + " یه"  # hazm glued «ی» (for «یه») on
    if word in ("شمام", "شمائم") and clause_end:
        return "ما هستید"  # «مشترک شمام»: I am your subscriber
    if previous_word == "پشت" and word == "خطم":
        return "خط هستید"
    if word in _CUSTOMER_PRONOUNS:
        return _CUSTOMER_PRONOUNS[word]
    if word in _COMPANY_PRONOUNS:
        return _COMPANY_PRONOUNS[word]
    if word in _FORMAL_OBJECT:
        return _FORMAL_OBJECT[word]
    state = _state(word)
    if state is not None:
        return state
    if clause_end:
        copula = _copula(word)
        if copula is not None:
            return copula
    after_preposition = previous_word in _PREPOSITIONS
    possessive = _possessive(word, next_word, after_preposition, clause_end)
    if possessive is not None and (next_word in _OBJECT_MARKERS or after_preposition):
        return possessive  # «خریدم رو»، «منتظر بستم»: a noun is what comes there
    verb = parse_verb(word) if next_word not in _OBJECT_MARKERS else None  # «مردم رو»: never «I died»
    if verb is None and next_word in _OBJECT_MARKERS and previous_word == "که":
        verb = parse_verb(word)  # «پولی که برداشتید رو»: a relative clause's verb before «رو»
        verb = verb if verb is not None and verb.ending in ("ید", "ین", "یم") else None
    if (verb is not None and verb.prefix == "" and verb.ending == "م" and verb.past
            and (next_word is None or next_word[:1].isdigit() or next_word in _NOUN_FOLLOWERS)
            and not clause_end and (verb.preverb + verb.stem in _VERB_NOUNS
                                    or verb.stem + "ه" in _COMPLAINT_NOUNS)):
        verb = None  # «کد رهگیری درخواستم 5544…»، «خریدم هنوز نرسیده»: the noun with «my»
    if verb is not None and not (
        verb.perfect and verb.ending == "م" and next_word is not None and next_word not in _CLAUSE_BREAK
        and _lexicon().words.get(word[:-3], 0) > 1_000_000
    ):  # «بسته‌ام هنوز نرسیده» is a noun with «my»
        new = _SHIFT_ENDING.get(verb.ending)
        return verb.with_ending(new, changed=True) if new is not None else verb.with_ending(verb.ending)
    if possessive is not None:
        return possessive
    company = _company_possessive(word)
    if company is not None:
        return company
    return word


def _is_persian(word: str) -> bool:
    return any("\u0600" <= ch <= "\u06ff" for ch in word)


_TOKEN = re.compile(r"[\w\u200c]+|[^\w\u200c]+")
_CLAUSE_BREAK = {"و", "ولی", "اما", "درحالیکه", "درحالی‌که", "حالا", "الان", "بعدش", "ولے"}


def is_speech_verb(word: str) -> bool:
    verb = parse_verb(word)
    if verb is None or verb.stem not in _SPEECH_STEMS or verb.ending in ("م", "یم") or word == "نگه":
        return False
    return (verb.past and verb.prefix == "") or verb.prefix == "می"  # «گفت»، «میگه»; not «بگید»، «نگفتید»، «نگه»


class UnsafeShift(ValueError):
    """The sentence addresses someone as «تو» (‑ی): who did what cannot be said back safely."""


def _second_singular(word: str) -> bool:
    """«گرفتی»، «نمیدی»، «نفرستادی»: the informal «you»; not «بدی» (badness) or «خریدی» (a purchase)."""
    verb = parse_verb(word)
    if verb is None or verb.ending != "ی" or verb.perfect:
        return False
    if verb.prefix in ("می", "نمی"):
        return True
    return verb.past and _lexicon().words.get(_bare(word), 0) == 0 and verb.preverb + verb.stem not in _VERB_NOUNS


def to_second_person(sentence: str, *, strict: bool = False) -> str:
    """Shift a whole sentence, keeping spacing and punctuation; quoted speech keeps its person.

    With `strict`, a sentence that speaks to the company as «تو» raises `UnsafeShift` instead of
    being guessed at (the caller quotes it).
    """
    tokens = _TOKEN.findall(sentence)
    words = [i for i, t in enumerate(tokens) if _TOKEN.fullmatch(t) and (t[0].isalnum() or t[0] == "_")]
    out = list(tokens)
    quoting = False
    for n, i in enumerate(words):
        word = tokens[i]
        next_word = tokens[words[n + 1]] if n + 1 < len(words) else None
        gap_after = "".join(tokens[i + 1: words[n + 1]]) if n + 1 < len(words) else ""
        if quoting:
            if word in _CLAUSE_BREAK or (word == "در" and next_word in ("حالی", "حالیکه", "حالی‌که")):
                quoting = False
            else:
                # Someone else's words keep their person, except the customer's things: «گفت مدارکم
                # ناقصه» and «گفت مدارکت ناقصه» are both «مدارکتون» when the company says them back.
                if word in _FORMAL_OBJECT:
                    out[i] = _FORMAL_OBJECT[word]
                elif parse_verb(word) is None and word not in _CUSTOMER_PRONOUNS and _state(word) is None:
                    out[i] = _possessive(word, next_word) or word
                if any(ch in gap_after for ch in "،,.؛!?؟\n"):
                    quoting = False
                continue
        if strict and _second_singular(word):
            raise UnsafeShift(word)
        previous_word = tokens[words[n - 1]] if n > 0 else None
        clause_end = next_word is None or next_word in _CLAUSE_BREAK or any(ch in gap_after for ch in "،,.؛!?؟\n")
        out[i] = shift_word(word, next_word, previous_word, clause_end=clause_end)
        if is_speech_verb(word) and not any(ch in gap_after for ch in ".؛!?؟\n"):
            quoting = True
    return "".join(out)
