"""The catalogues of Telegram and follow-up texts: codes and commands never turn a line around."""
from __future__ import annotations

import re
from collections.abc import Iterator
from types import ModuleType

import pytest

from bot import texts as bot_texts
from followups import texts as followup_texts

FSI, PDI = "\u2068", "\u2069"
COMMAND = re.compile(r"/[a-z]+")


def sentences(module: ModuleType) -> Iterator[tuple[str, str]]:
    for name, value in vars(module).items():
        if name.isupper() and isinstance(value, str):
            yield name, value
        elif name.isupper() and isinstance(value, tuple):
            yield from ((name, v) for v in value if isinstance(v, str))


ALL = [pair for module in (bot_texts, followup_texts) for pair in sentences(module)]


@pytest.mark.parametrize(("name", "text"), ALL, ids=[f"{n}-{i}" for i, (n, _) in enumerate(ALL)])
def test_codes_and_commands_are_isolated_and_never_open_a_line(name: str, text: str) -> None:
    for match in re.finditer(r"\{number\}|" + COMMAND.pattern, text):
        before, after = text[: match.start()], text[match.end():]
        assert before.endswith(FSI) and after.startswith(PDI), f"{name}: {match.group()} is not isolated"
    for line in text.split("\n"):
        assert not line.lstrip("• ").startswith(FSI), f"{name}: a line starts with a code or command"


def test_the_formal_copula_is_gone_from_what_customers_read() -> None:
    agents_only = ("AGENT_", "CARD_", "TRANSCRIPT_", "CUSTOMER_SAYS", "CUSTOMER_SENT_MEDIA")  # colleagues: plain written style
    customer_facing = [t for n, t in ALL if not n.startswith(agents_only)]
    assert not [t for t in customer_facing if re.search(r"(?<![\w\u200c])است(?![\w\u200c])", t)]
    assert not [t for t in customer_facing if re.search(r"(?<![\w\u200c])(?:نحوه‌ی|عیناً|طبق گزارش)", t)]
