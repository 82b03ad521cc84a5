"""One Persian normalisation for training data and live text.

Rasa's featurizers see whatever this returns, both when the model is trained (through the
`rasa_addons.persian_normalizer` component) and when a customer writes; `tests/test_persian.py`
proves that every training example is already a fixed point, so entity offsets annotated in
`nlu_data/` stay correct.

Why these choices:
- hazm fixes Arabic ي/ك, half-spaces (می خواهم → می‌خواهم) and punctuation spacing, which is what
  makes «میخوام», «می خوام» and «می‌خوام» one token for the featurizers.
- Digits go to ASCII, not Persian: Rasa folds only ASCII digits into its number feature, regexes for
  order and ticket numbers stay simple, and stored values are what a database query expects.
- Digit groups stay whole: hazm spaces punctuation, which turns «1,250,000» into «1 , 250 , 000»,
  «1403/08/20» into «1403 / 08 / 20» and «HM-482917» into «HM- 482917». A comma, slash, dot or
  hyphen between digits, and a Latin code before a hyphen and digits, are hidden from hazm (moved to
  a private-use plane, one character for one) and put back afterwards.
- Repeated letters are kept as they are (hazm would turn «خیلیییی» into «خیلی»): stretching a word is
  how customers shout, and the anger estimate in `actions/empathy.py` reads it.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")
_PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
_ZWNJ = "\u200c"
# Invisible marks that customers' keyboards leave behind and that split tokens for no reason.
_INVISIBLE = re.compile("[\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_SPACES = re.compile(r"[ \t\u00a0]+")
_ZWNJ_RUNS = re.compile(_ZWNJ + "{2,}")
_ZWNJ_AT_EDGES = re.compile(rf"(^|\s){_ZWNJ}+|{_ZWNJ}+(\s|$)")
# hazm's spacing rules put a space between a number and a following Persian letter; that breaks
# nothing for the classifier. Groups hazm must not space out (each pattern is linear: its parts
# are disjoint character classes, and the look-behind starts it only at the beginning of a run).
_DIGIT_GROUP = re.compile(r"(?<![\d])\d+(?:[,/.\-\u060c\u066b\u066c]\d+)+")
_LATIN_CODE = re.compile(r"(?<![A-Za-z])[A-Za-z]+-\d+")
_HIDDEN = 0xF0000  # Supplementary Private Use Area-A: hazm leaves these characters alone
_HIDDEN_CHARS = re.compile("[\U000F0000-\U000FFFFF]")
# What hazm does for a visible number, done for a hidden group: a space between it and a Persian letter.
_LETTER = "[\u0621-\u064a\u067e\u0686\u0698\u06a9\u06af\u06cc]"
_HIDDEN_DIGIT = "[\U000F0030-\U000F0039]"
_LETTER_NEXT_TO_GROUP = re.compile(f"(?<={_LETTER})(?={_HIDDEN_DIGIT})|(?<={_HIDDEN_DIGIT})(?={_LETTER})")


def _hide(match: re.Match[str]) -> str:
    return "".join(chr(_HIDDEN + ord(ch)) for ch in match.group(0))


def _reveal(text: str) -> str:
    return _HIDDEN_CHARS.sub(lambda m: chr(ord(m.group(0)) - _HIDDEN), text)


@lru_cache(maxsize=1)
def _hazm_normalizer() -> Any:
    """Build hazm's Normalizer once: construction takes about a second."""
    from hazm import Normalizer  # imported lazily: `import hazm` costs about a second too

    return Normalizer(
        correct_spacing=True,
        remove_diacritics=True,
        remove_specials_chars=False,  # keeps emoji and punctuation, which carry tone
        decrease_repeated_chars=False,
        persian_style=False,  # would turn "" quotes into «», shifting nothing useful
        persian_numbers=False,
        unicodes_replacement=True,
        seperate_mi=True,
    )


def to_ascii_digits(text: str) -> str:
    """Map Persian (۰-۹) and Arabic-Indic (٠-٩) digits to 0-9."""
    return text.translate(_DIGITS)


def to_persian_digits(text: str) -> str:
    """Map 0-9 to Persian digits, for text shown to customers."""
    return str(text).translate(_PERSIAN_DIGITS)


def _tidy(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    text = _INVISIBLE.sub("", text)
    text = _ZWNJ_RUNS.sub(_ZWNJ, text)
    text = _ZWNJ_AT_EDGES.sub(lambda m: m.group(1) or m.group(2) or "", text)
    text = _SPACES.sub(" ", text)
    return "\n".join(line.strip() for line in text.strip().split("\n"))


def normalize(text: str) -> str:
    """Return the one canonical form of a Persian message used everywhere in Hamdel.

    Idempotent: ``normalize(normalize(x)) == normalize(x)``, which is what lets already-normalised
    training data pass through the Rasa component unchanged.
    """
    if not text:
        return ""
    text = _tidy(to_ascii_digits(_HIDDEN_CHARS.sub("", text)))
    text = _DIGIT_GROUP.sub(_hide, _LATIN_CODE.sub(_hide, text))
    text = _LETTER_NEXT_TO_GROUP.sub(" ", text)
    text = _reveal(_hazm_normalizer().normalize(text))
    return _tidy(to_ascii_digits(text))


def realign_span(original: str, normalized: str, start: int, end: int) -> tuple[int, int]:
    """Map a character span of `original` onto `normalized`.

    Entity annotations in training data are offsets into the text as written; after
    normalisation those offsets may point elsewhere (hazm inserts and removes characters). A
    character-level diff tells where each original character went.
    """
    from difflib import SequenceMatcher

    original = to_ascii_digits(original)  # same length, so offsets hold; the diff sees only hazm's changes
    if original == normalized:
        return start, end
    mapping: dict[int, int] = {}
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, original, normalized, autojunk=False).get_opcodes():
        for k in range(i1, i2):
            if tag == "equal":
                mapping[k] = j1 + (k - i1)
            elif tag == "replace":
                mapping[k] = min(j2 - 1, j1 + (k - i1)) if j2 > j1 else j1
    new_start = next((mapping[k] for k in range(start, end) if k in mapping), None)
    new_end = next((mapping[k] + 1 for k in range(end - 1, start - 1, -1) if k in mapping), None)
    if new_start is None or new_end is None or new_end <= new_start:
        raise ValueError(f"entity span {start}:{end} vanished during normalisation")
    return new_start, new_end
