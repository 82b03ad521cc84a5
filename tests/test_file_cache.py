"""Operator files are parsed once per version: an edit takes effect on the next call, a broken edit
fails loudly, and an unchanged file is not read again (hamdel/file_cache.py)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from hamdel import file_cache
from hamdel.policy import load_policy
from hamdel.settings import PROJECT_ROOT


def test_an_unchanged_file_is_parsed_once(tmp_path: Path) -> None:
    calls: list[str] = []

    def parse(text: str) -> str:
        calls.append(text)
        return text.upper()

    target = tmp_path / "policy.yml"
    target.write_text("a", encoding="utf-8")
    assert [file_cache.parsed(target, parse) for _ in range(3)] == ["A", "A", "A"]
    assert calls == ["a"]


def test_an_edit_takes_effect_on_the_next_call_even_with_the_same_size(tmp_path: Path) -> None:
    target = tmp_path / "policy.yml"
    target.write_text("a", encoding="utf-8")
    assert file_cache.parsed(target, str.upper) == "A"
    target.write_text("b", encoding="utf-8")
    stat = target.stat()
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # same size, newer time
    assert file_cache.parsed(target, str.upper) == "B"


def test_a_broken_edit_of_the_business_policy_fails_every_time(tmp_path: Path) -> None:
    target = tmp_path / "policy.yml"
    target.write_text((PROJECT_ROOT / "config" / "policy.yml").read_text(encoding="utf-8"), encoding="utf-8")
    good = load_policy(target)
    assert load_policy(target) is good
    target.write_text("remedies:\n  refund: {allowed: true}\n", encoding="utf-8")  # allowed with no promise
    for _ in range(2):
        with pytest.raises(ValueError, match="promise"):
            load_policy(target)
