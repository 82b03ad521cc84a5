"""The business policy: which remedies this business can promise (config/policy.yml).

Lead and Provide in H.E.L.P. depend on it: the bot promises only what the file allows (seed 000:
«مراقب باشیم که خارج از توان و مسئولیت خود به مشتری وعده ندهیم»). The file is read on every call
so an operator's edit takes effect without a restart; it is small, so this costs microseconds.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hamdel.settings import get_settings


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

    def applies_to(self, category: str | None) -> bool:
        return self.allowed and (not self.categories or category in self.categories)


@dataclass(frozen=True)
class Decision:
    """What the bot may say about the customer's wish."""

    allowed: bool
    remedy: Remedy | None
    reason: str = ""
    alternatives: tuple[Remedy, ...] = field(default_factory=tuple)


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

    def match_wish(self, text: str) -> str | None:
        """A remedy named by the operator's key phrases (the longest matching phrase wins, so
        «خسارت نقدی» is cash compensation, not «خسارت»)."""
        matches = [(len(k), r.name) for r in self.remedies.values() for k in r.keywords if k in text]
        return max(matches)[1] if matches else None

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
            reason = f"«{remedy.label}» برای این نوع مشکل در اختیار ما نیست"
            names = remedy.alternatives or self.unlisted_alternatives
        alternatives = tuple(
            self.remedies[n] for n in names if n in self.remedies and self.remedies[n].applies_to(category)
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
    )


def load_policy(path: Path | None = None) -> BusinessPolicy:
    """Read and validate the operator's policy file; a broken file fails loudly, never silently."""
    path = path or get_settings().business_policy_path
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    remedies = {name: _remedy(name, spec or {}) for name, spec in (raw.get("remedies") or {}).items()}
    for remedy in remedies.values():
        unknown = [a for a in remedy.alternatives if a not in remedies]
        if unknown:
            raise ValueError(f"policy: remedy {remedy.name} names unknown alternatives {unknown}")
        if remedy.allowed and not remedy.promise:
            raise ValueError(f"policy: allowed remedy {remedy.name} needs a `promise` text")
    unlisted = raw.get("unlisted_wish") or {}
    no_wish = raw.get("no_wish") or {}
    return BusinessPolicy(
        business_name=str(raw.get("business_name", "")),
        remedies=remedies,
        unlisted_reason=str(unlisted.get("reason", "")),
        unlisted_alternatives=tuple(unlisted.get("alternatives") or ()),
        review_promise=str(unlisted.get("review_promise", "")),
        no_wish_label=str(no_wish.get("label", "")),
        no_wish_promise=str(no_wish.get("promise", "")),
        first_response_hours=int(raw.get("first_response_hours", 24)),
    )
