"""The business policy: which remedies this business can promise (config/policy.yml).

Lead and Provide in H.E.L.P. depend on it: the bot promises only what the file allows (seed 000:
«مراقب باشیم که خارج از توان و مسئولیت خود به مشتری وعده ندهیم»). The file is read on every call
so an operator's edit takes effect without a restart; it is small, so this costs microseconds.

Reading a wish is deliberately simple and predictable, because the operator edits the phrases:
- a phrase counts only in a clause that does not refuse it («عذرخواهی نمی‌خوام، پولمو می‌خوام» is a
  refund, not an apology);
- a phrase may be limited to some complaint categories (`keyword_categories`): «زودتر» is «ارسال
  فوری» about a parcel, but «زودتر جواب بدید» about support is a wish for follow-up;
- the longest matching phrase wins, so «خسارت نقدی» is cash compensation, not «خسارت».
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hamdel import file_cache
from hamdel.settings import get_settings

_ZWNJ = "\u200c"
# Clause boundaries: punctuation and the words that turn a sentence around («ولی», «اما», «بلکه»).
# One character class and fixed words: linear on any input.
_CLAUSE_SPLIT = re.compile(r"[،,.;؛!?؟\n]+|\s(?:ولی|اما|بلکه|فقط)\s")
# Refusals that follow what is refused («عذرخواهی نمی‌خوام»), folded (no half-spaces).
_REFUSALS_AFTER = ("نمیخوام", "نمیخواهم", "نمیخوایم", "نمیخواد", "نخواستم", "نمیخواستم", "لازم نیست",
                   "لازم ندارم", "نیازی نیست", "نمیخوامش")
# Refusals that come before («نه عذرخواهی»).
_REFUSALS_BEFORE = ("نه", "نمیخوام", "بدون")


def fold(text: str) -> str:
    """Text as phrases are compared: no half-spaces, single spaces («می‌خوام» = «میخوام»)."""
    return " ".join(text.replace(_ZWNJ, "").split())


@dataclass(frozen=True)
class Remedy:
    name: str
    label: str
    allowed: bool
    promise: str = ""
    reason: str = ""
    categories: tuple[str, ...] = ()
    alternatives: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    keyword_categories: tuple[str, ...] = ()

    def applies_to(self, category: str | None) -> bool:
        return self.allowed and (not self.categories or category in self.categories)

    def named_in(self, category: str | None) -> bool:
        """Whether this remedy's phrases mean it in a complaint of this category."""
        return not self.keyword_categories or category is None or category in self.keyword_categories


@dataclass(frozen=True)
class Decision:
    """What the bot may say about the customer's wish."""

    allowed: bool
    remedy: Remedy | None
    reason: str = ""
    alternatives: tuple[Remedy, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class WishMention:
    remedy: str
    phrase: str
    refused: bool


def _clauses(text: str) -> list[str]:
    return [c.strip() for c in _CLAUSE_SPLIT.split(f" {fold(text)} ") if c and c.strip()]


def _refused(clause: str, start: int, end: int, next_start: int) -> bool:
    """A phrase is refused by «نه» just before it, or by a refusal after it in its own clause
    (before the next phrase)."""
    before = clause[:start].split()
    if before and before[-1] in _REFUSALS_BEFORE:
        return True
    after = clause[end:next_start].split()
    if after[:1] == ["نه"] and next_start == len(clause):  # «عذرخواهی نه»
        return True
    return any(word in _REFUSALS_AFTER or word.startswith("نمیخوام") for word in after) or \
        any(phrase in " ".join(after) for phrase in _REFUSALS_AFTER if " " in phrase)


@dataclass(frozen=True)
class BusinessPolicy:
    business_name: str
    remedies: dict[str, Remedy]
    unlisted_reason: str
    unlisted_alternatives: tuple[str, ...]
    review_promise: str
    no_wish_label: str
    no_wish_promise: str
    first_response_hours: int
    not_for_category_reason: str = "«{label}» برای این جور مشکل‌ها در اختیار ما نیست"

    def mentions(self, text: str, category: str | None = None) -> list[WishMention]:
        """Every remedy phrase in the text (longest phrase first where they overlap), with whether
        the customer refused it."""
        found: list[WishMention] = []
        phrases = [(fold(phrase), remedy.name, phrase) for remedy in self.remedies.values()
                   if remedy.named_in(category) for phrase in remedy.keywords if fold(phrase)]
        folded_text = fold(text)
        phrases = [p for p in phrases if p[0] in folded_text]  # most texts name one or two
        for clause in _clauses(text) if phrases else []:
            hits: list[tuple[int, int, str, str]] = []
            for folded, name, phrase in phrases:
                at = clause.find(folded)
                if at >= 0:
                    hits.append((at, at + len(folded), name, phrase))
            # Keep the longest of overlapping phrases: «خسارت نقدی» hides «خسارت».
            hits.sort(key=lambda h: (h[0], -(h[1] - h[0])))
            kept: list[tuple[int, int, str, str]] = []
            for hit in sorted(hits, key=lambda h: -(h[1] - h[0])):
                if all(hit[1] <= k[0] or hit[0] >= k[1] for k in kept):
                    kept.append(hit)
            kept.sort()
            for i, (start, end, name, phrase) in enumerate(kept):
                next_start = kept[i + 1][0] if i + 1 < len(kept) else len(clause)
                found.append(WishMention(name, phrase, _refused(clause, start, end, next_start)))
        return found

    def match_wish(self, text: str, category: str | None = None) -> str | None:
        """The remedy the customer asks for: the longest phrase that is not refused."""
        wanted = [m for m in self.mentions(text, category) if not m.refused]
        return max(wanted, key=lambda m: len(fold(m.phrase))).remedy if wanted else None

    def refused(self, text: str) -> set[str]:
        """Remedies the customer explicitly does not want, and never asks for in the same text."""
        mentions = self.mentions(text)
        return {m.remedy for m in mentions if m.refused} - {m.remedy for m in mentions if not m.refused}

    def decide(self, wish: str | None, category: str | None) -> Decision:
        """Decide whether the customer's wish (a canonical remedy or None for free text) is possible."""
        remedy = self.remedies.get(wish or "")
        if remedy is not None and remedy.applies_to(category):
            return Decision(allowed=True, remedy=remedy)
        if remedy is None:
            reason, names = self.unlisted_reason, self.unlisted_alternatives
        elif not remedy.allowed:
            reason, names = remedy.reason, remedy.alternatives
        else:  # allowed in general, but not for this kind of complaint
            reason = self.not_for_category_reason.format(label=remedy.label)
            names = remedy.alternatives or self.unlisted_alternatives
        alternatives = tuple(
            self.remedies[n] for n in dict.fromkeys(names)
            if n in self.remedies and self.remedies[n].applies_to(category) and n != (wish or "")
        )
        return Decision(allowed=False, remedy=remedy, reason=reason, alternatives=alternatives)


def _remedy(name: str, raw: dict[str, Any]) -> Remedy:
    return Remedy(
        name=name,
        label=str(raw.get("label", name)),
        allowed=bool(raw.get("allowed", False)),
        promise=str(raw.get("promise", "")),
        reason=str(raw.get("reason", "")),
        categories=tuple(raw.get("categories") or ()),
        alternatives=tuple(raw.get("alternatives") or ()),
        keywords=tuple(raw.get("keywords") or ()),
        keyword_categories=tuple(raw.get("keyword_categories") or ()),
    )


def load_policy(path: Path | None = None) -> BusinessPolicy:
    """Read and validate the operator's policy file; a broken file fails loudly, never silently."""
    return file_cache.parsed(Path(path or get_settings().business_policy_path), _policy_from_text)


def _policy_from_text(text: str) -> BusinessPolicy:
    raw = yaml.safe_load(text) or {}
    remedies = {name: _remedy(name, spec or {}) for name, spec in (raw.get("remedies") or {}).items()}
    for remedy in remedies.values():
        unknown = [a for a in remedy.alternatives if a not in remedies]
        if unknown:
            raise ValueError(f"policy: remedy {remedy.name} names unknown alternatives {unknown}")
        if remedy.allowed and not remedy.promise:
            raise ValueError(f"policy: allowed remedy {remedy.name} needs a `promise` text")
        if not remedy.allowed and not remedy.reason:
            raise ValueError(f"policy: remedy {remedy.name} is not allowed, so it needs a `reason` text")
    unlisted = raw.get("unlisted_wish") or {}
    no_wish = raw.get("no_wish") or {}
    unknown = [a for a in unlisted.get("alternatives") or () if a not in remedies]
    if unknown:
        raise ValueError(f"policy: unlisted_wish names unknown alternatives {unknown}")
    extra = {"not_for_category_reason": str(raw["not_for_category_reason"])} if raw.get("not_for_category_reason") else {}
    return BusinessPolicy(
        business_name=str(raw.get("business_name", "")),
        remedies=remedies,
        unlisted_reason=str(unlisted.get("reason", "")),
        unlisted_alternatives=tuple(unlisted.get("alternatives") or ()),
        review_promise=str(unlisted.get("review_promise", "")),
        no_wish_label=str(no_wish.get("label", "")),
        no_wish_promise=str(no_wish.get("promise", "")),
        first_response_hours=int(raw.get("first_response_hours", 24)),
        **extra,
    )
