"""S5: hostile texts (Unicode space runs, RTL overrides, zero-width marks, control characters,
emoji only, 4,096 characters) through the normaliser, through every compiled regex of the project
(each under 50 ms on each text) and through a whole turn of the bot — no crash, no stall.

The regexes are discovered, not listed: every module of the project is imported and each
`re.Pattern` it holds (module attributes, and patterns inside module-level tuples, lists, dicts and
class attributes) is run, so a regex added tomorrow is checked too.
"""
from __future__ import annotations

import asyncio
import importlib
import pkgutil
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from devtools.bot_api_standin import text_update
from hamdel.persian import normalize
from hamdel.settings import PROJECT_ROOT
from tests.bot.conftest import Harness

BUDGET_SECONDS = 0.050
PACKAGES = ("hamdel", "bot", "followups", "actions", "devtools", "rasa_addons", "console")
SPACES = "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"

HOSTILE: dict[str, str] = {
    "em-spaces between letters": "a" + "\u2003" * 4094 + "a",
    "every Unicode space": (SPACES * 300)[:4096],
    "spaces between digits": ("۱" + "\u2003" * 7) * 512,
    "digits and spaces": ("12 " * 1366)[:4096],
    "RTL overrides": ("\u202eسفارش\u202c\u2066۴۵۸۷\u2069" * 400)[:4096],
    "zero-width marks": ("\u200b\u200c\u200d\ufeff" * 1024),
    "zero-width between letters": ("س\u200c" * 2048),
    "control characters": "".join(chr(c) for c in range(32) if c not in (10, 13)) * 128,
    "emoji only": "😡" * 2048,
    "4096 Persian letters": "ب" * 4096,
    "4096 digits": "۹" * 4096,
    "exclamation marks": "!" * 4096,
    "stretched word": "خیلیییی" + "ی" * 4089,
    "repeated phrase": ("سفارش شماره ۱۲۳ " * 300)[:4096],
    "phone-like": ("+98 912 " * 600)[:4096],
    "ticket-like": ("HM-" * 1400)[:4096],
    "newlines": "\n" * 4096,
    "mixed": "a\u2003۱\u200c😡\u202e!" * 512,  # 8 UTF-16 units each
}


def _modules() -> Iterator[tuple[str, Any]]:
    for package in PACKAGES:
        try:
            root = importlib.import_module(package)
        except ImportError:
            continue  # rasa_addons needs Rasa's environment; its regexes are tested there
        yield package, root
        for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
            if ".migrations" in info.name or info.name.endswith("__main__"):
                continue
            try:
                yield info.name, importlib.import_module(info.name)
            except ImportError:
                continue


def _patterns_in(value: Any, depth: int = 0) -> Iterator[re.Pattern[str]]:
    if isinstance(value, re.Pattern):
        if isinstance(value.pattern, str):
            yield value
    elif depth < 3 and isinstance(value, (tuple, list, set, frozenset)):
        for item in value:
            yield from _patterns_in(item, depth + 1)
    elif depth < 3 and isinstance(value, dict):
        for item in value.values():
            yield from _patterns_in(item, depth + 1)


def project_regexes() -> dict[str, re.Pattern[str]]:
    """Every compiled regex the project's modules hold, by `module.attribute`."""
    found: dict[str, re.Pattern[str]] = {}
    for name, module in _modules():
        if not str(getattr(module, "__file__", "")).startswith(str(PROJECT_ROOT)):
            continue
        for attribute, value in vars(module).items():
            owners = [(attribute, value)]
            if isinstance(value, type) and value.__module__ == module.__name__:
                owners += [(f"{attribute}.{a}", v) for a, v in vars(value).items()]
            for label, candidate in owners:
                for index, pattern in enumerate(_patterns_in(candidate)):
                    found[f"{name}.{label}[{index}]"] = pattern
    return found


REGEXES = project_regexes()


def test_the_discovery_finds_the_projects_regexes() -> None:
    print(f"\nS5: {len(REGEXES)} compiled regexes in {len({k.rsplit('.', 1)[0] for k in REGEXES})} modules")
    assert len(REGEXES) >= 10
    assert any(name.startswith("actions.status.") for name in REGEXES)
    assert any(name.startswith("bot.formatting.") for name in REGEXES)


def _worst(pattern: re.Pattern[str], text: str) -> float:
    started = time.perf_counter()
    pattern.search(text)
    for _ in pattern.finditer(text):
        pass
    pattern.match(text)
    return time.perf_counter() - started


@pytest.mark.parametrize("label", sorted(HOSTILE))
def test_every_regex_stays_within_50_ms_on_hostile_text(label: str) -> None:
    text = HOSTILE[label]
    assert len(text.encode("utf-16-le")) // 2 <= 4096 or label == "emoji only"
    timings = {name: _worst(pattern, text) for name, pattern in REGEXES.items()}
    for name in [n for n, t in timings.items() if t > BUDGET_SECONDS]:
        timings[name] = min(timings[name], _worst(REGEXES[name], text))  # once more: a busy machine
    slowest = max(timings, key=timings.__getitem__)
    print(f"S5 {label}: slowest {slowest} {timings[slowest] * 1000:.1f} ms over {len(timings)} regexes")
    too_slow = {n: f"{t * 1000:.0f} ms" for n, t in timings.items() if t > BUDGET_SECONDS}
    assert too_slow == {}


@pytest.mark.parametrize("label", sorted(HOSTILE))
def test_the_normaliser_takes_any_hostile_text(label: str) -> None:
    normalize("گرم")  # hazm's Normalizer is built on first use (about a second): not part of the figure
    started = time.perf_counter()
    result = normalize(HOSTILE[label])
    elapsed = time.perf_counter() - started
    print(f"S5 normalise {label}: {elapsed * 1000:.1f} ms")
    assert isinstance(result, str)
    assert "\u202e" not in result and "\u200b" not in result


async def test_a_whole_turn_of_hostile_text_through_the_bot(harness: Harness) -> None:
    """Every hostile text as a customer's message: each one answered, in order, no crash."""
    chat = 7100
    for index, label in enumerate(sorted(HOSTILE)):
        harness.push(text_update(chat + index, chat + index, HOSTILE[label]))
    for index, label in enumerate(sorted(HOSTILE)):
        said = await harness.wait_texts(chat + index, 1, timeout=20)
        assert said and said[0].startswith("شنیدم:"), label
    await asyncio.sleep(0.2)
    print(f"S5 whole turns: {len(HOSTILE)} hostile messages answered, {len(harness.rasa.messages())} Rasa turns")
    assert len(harness.rasa.messages()) == len(HOSTILE)
