"""One normalisation everywhere: what customers type, what the model trained on, what Rasa sees."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from hamdel.persian import normalize, realign_span, to_ascii_digits, to_persian_digits

ROOT = Path(__file__).resolve().parents[1]
ZWNJ = "\u200c"
ENTITY = re.compile(r"\[([^\]]+)\](\([^)]*\)|\{[^}]*\})")


def test_arabic_letters_become_persian() -> None:
    assert normalize("شكايت دارم از سفارشي كه نرسيد") == "شکایت دارم از سفارشی که نرسید"


def test_missing_half_space_is_restored() -> None:
    assert normalize("می خواهم پولم را پس بگیرم") == f"می{ZWNJ}خواهم پولم را پس بگیرم"


def test_extra_half_spaces_and_spaces_are_removed() -> None:
    assert normalize(f"سلام   {ZWNJ}{ZWNJ}سفارشم  نرسیده") == "سلام سفارشم نرسیده"


@pytest.mark.parametrize("written", ["سفارش ۴۵۸۷۱۲۳", "سفارش ٤٥٨٧١٢٣", "سفارش 4587123"])
def test_every_digit_script_becomes_ascii(written: str) -> None:
    assert normalize(written) == "سفارش 4587123"


def test_tone_survives_normalisation() -> None:
    # Emoji, exclamation marks and stretched words are how customers shout: keep them.
    assert normalize("خیلییییی بده!!! 😡") == "خیلییییی بده!!! 😡"


@pytest.mark.parametrize("text", ["سلام، مي خواستم بگم بسته‌ام نرسيده!!", "hm-482917 چی شد؟", "كد ٤٥٦ 🙏",
                                  "مبلغ ۱٬۲۵۰٬۰۰۰تومن", "تاریخ۱۴۰۳/۰۸/۲۰بود", "1, 2, 3", "تیکتHM-482917؟"])
def test_normalisation_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


@pytest.mark.parametrize(("written", "normalised"), [
    ("۱,۲۵۰,۰۰۰ تومن اضافه کم شد", "1,250,000 تومن اضافه کم شد"),
    ("۱٬۲۵۰٬۰۰۰ تومن", "1٬250٬000 تومن"),
    ("تاریخ ۱۴۰۳/۰۸/۲۰ سفارش دادم", "تاریخ 1403/08/20 سفارش دادم"),
    ("۲.۵ کیلو کم بود", "2.5 کیلو کم بود"),
    ("1403-08-20", "1403-08-20"),
    ("پیگیری HM-482917 لطفا", "پیگیری HM-482917 لطفا"),
    ("مبلغ 1,250,000تومن", "مبلغ 1,250,000 تومن"),  # a number still stands apart from the word after it
])
def test_digit_groups_stay_whole(written: str, normalised: str) -> None:
    assert normalize(written) == normalised


def test_digit_helpers() -> None:
    assert to_ascii_digits("۱۲۳٤٥") == "12345"
    assert to_persian_digits("HM-482917") == "HM-۴۸۲۹۱۷"


def test_entity_span_follows_the_text_when_normalisation_moves_it() -> None:
    original = "مي خوام  سفارش 4587123 رو لغو كنم"
    start = original.index("4587123")
    normalized = normalize(original)
    new_start, new_end = realign_span(original, normalized, start, start + 7)
    assert normalized[new_start:new_end] == "4587123"


@pytest.mark.parametrize(("original", "value"), [
    ("کد سفارشم۵۰۳۸۸۱ هست", "۵۰۳۸۸۱"),  # hazm inserts a space right before Persian digits
    ("تیکت HM-۵۰۳۸۸۱ رو ببینید", "HM-۵۰۳۸۸۱"),
])
def test_entity_span_keeps_its_last_digit_when_digits_and_spacing_change(original: str, value: str) -> None:
    start = original.index(value)
    normalized = normalize(original)
    new_start, new_end = realign_span(original, normalized, start, start + len(value))
    assert normalized[new_start:new_end] == to_ascii_digits(value)


def _examples(path: Path) -> list[tuple[str, list[str]]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out = []
    for block in data.get("nlu", []):
        if "regex" in block:  # patterns, not messages: they match the normalised text (test below)
            continue
        for line in (block.get("examples") or "").splitlines():
            line = line.strip()
            if line.startswith("- "):
                body = line[2:]
                out.append((ENTITY.sub(lambda m: m.group(1), body), [m.group(1) for m in ENTITY.finditer(body)]))
    return out


NLU_FILES = sorted((ROOT / "nlu_data" / "nlu").glob("*.yml"))
HELD_OUT = ROOT / "tests" / "nlu" / "holdout.yml"


@pytest.mark.parametrize("path", NLU_FILES, ids=lambda p: p.name)
def test_training_data_is_already_normalised(path: Path) -> None:
    """Every example is a fixed point, so Rasa's normalising component never moves an entity."""
    problems = [text for text, entities in _examples(path)
                if normalize(text) != text or any(normalize(e) != e for e in entities)]
    assert problems == []


def test_held_out_entities_survive_normalisation() -> None:
    """The held-out set is raw, as customers type; each entity must still be found after normalising."""
    data = yaml.safe_load(HELD_OUT.read_text(encoding="utf-8"))
    problems = []
    for block in data["nlu"]:
        for line in (block.get("examples") or "").splitlines():
            body = line.strip()[2:]
            text, spans, last = "", [], 0
            for m in ENTITY.finditer(body):
                text += body[last:m.start()]
                spans.append((len(text), len(text) + len(m.group(1)), m.group(1)))
                text += m.group(1)
                last = m.end()
            # Digits first: same length, so offsets hold, and the diff below sees only hazm's changes.
            text = to_ascii_digits(text + body[last:])
            normalized = normalize(text)
            for start, end, value in spans:
                new_start, new_end = realign_span(text, normalized, start, end)
                if normalize(normalized[new_start:new_end]) != normalize(value):
                    problems.append((value, normalized[new_start:new_end]))
    assert problems == []


def test_rasa_component_and_application_normalise_identically() -> None:
    """The Rasa server (Python 3.10 environment) and the application (3.11) must agree exactly."""
    samples = ["سلام، مي خواستم بگم بسته‌ام نرسيده!!", "پولم رو پس بدین ۱۲۳۴۵", "ميخوام  شكايت كنم 😡", "kojast sefaresham?"]
    script = (
        "import json,sys\n"
        "from rasa.shared.nlu.training_data.message import Message\n"
        "from rasa_addons.persian_normalizer import PersianNormalizer\n"
        "samples=json.loads(sys.stdin.read())\n"
        "messages=[Message(data={'text': s}) for s in samples]\n"
        "PersianNormalizer().process(messages)\n"
        "print(json.dumps([m.get('text') for m in messages]))\n"
    )
    import json

    result = subprocess.run(
        [str(ROOT / ".venv-rasa" / "bin" / "python"), "-c", script],
        input=json.dumps(samples), capture_output=True, text=True, cwd=ROOT, timeout=300,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [normalize(s) for s in samples]


@pytest.mark.parametrize(("entity", "written", "found"), [
    ("phone", "شماره‌م ۰۹۱۲۱۲۳۴۵۶۷ هست", "09121234567"),
    ("phone", "با +989121234567 تماس بگیرید", "+ 989121234567"),
    ("ticket_id", "تیکت HM-482917 چی شد؟", "HM-482917"),
    ("ticket_id", "hm-۴۸۲۹۱۷ رو پیگیری کنید", "hm-482917"),
    ("ticket_id", "تیکت HM- 482917 چی شد؟", "HM- 482917"),  # as typed with a space, and as older training lines read
])
def test_entity_regexes_match_normalised_text(entity: str, written: str, found: str) -> None:
    """Rasa applies the regexes in nlu_data/nlu/entities.yml to the normalised message."""
    data = yaml.safe_load((ROOT / "nlu_data" / "nlu" / "entities.yml").read_text(encoding="utf-8"))
    patterns = [line.strip()[2:] for block in data["nlu"] if block.get("regex") == entity
                for line in block["examples"].splitlines() if line.strip().startswith("- ")]
    matches = [m.group(0) for p in patterns for m in re.finditer(p, normalize(written))]
    assert matches == [found]
