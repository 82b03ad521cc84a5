"""One home for the ticket rules: read the source tree (not run it) and fail when anything other
than `hamdel/ticket_service.py` writes a ticket's state, its audit events or its transcript, or when
the core (`hamdel/`) or the follow-ups reach into the Telegram front end (`bot/`).

A rule written in two places drifts (issue 11: `/take` reopened tickets without a status event
because casefile moved the status itself). Seed data for benchmarks and tests may build rows
directly; migrations describe the schema; neither is scanned.
"""
from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVICE = "hamdel/ticket_service.py"
NOT_SCANNED = ("tests/", "benchmarks/", "hamdel/storage/migrations/")
# Ticket columns only the service changes. `status` and `story` are common names (a label's status,
# a reflection's story): they count when the object is a ticket by name or the value a TicketStatus.
TICKET_FIELDS = frozenset({
    "reopened_count", "assigned_agent_id", "human_active", "agent_topic_id", "escalation_reason",
    "first_human_response_at", "resolved_at", "closed_at", "acknowledged_at", "solved_confirmed",
    "csat_score", "csat_comment",
})
COMMON_FIELDS = frozenset({"status", "story"})
WRITTEN_ROWS = frozenset({"Ticket", "TicketEvent", "TranscriptLine"})
ENTRY_POINT = "hamdel/__main__.py"  # starts the bot, so it may import it


@functools.cache
def parsed() -> dict[str, ast.Module]:
    """Every Python file of the project (not the virtual environments), parsed once."""
    trees: dict[str, ast.Module] = {}
    tops = [p for p in ROOT.iterdir() if not p.name.startswith(".") and (p.is_dir() or p.suffix == ".py")]
    for path in sorted(f for top in tops for f in ([top] if top.is_file() else top.rglob("*.py"))):
        name = path.relative_to(ROOT).as_posix()
        if name.startswith(NOT_SCANNED) or "/." in name or "site-packages" in name:
            continue
        trees[name] = ast.parse(path.read_text(encoding="utf-8"), filename=name)
    return trees


def sources() -> Iterator[tuple[str, ast.Module]]:
    yield from parsed().items()


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _targets(node: ast.AST) -> Iterator[ast.expr]:
    if isinstance(node, ast.Assign):
        for target in node.targets:
            yield from _flatten(target)
    elif isinstance(node, ast.AugAssign | ast.AnnAssign):
        yield from _flatten(node.target)


def _flatten(target: ast.expr) -> Iterator[ast.expr]:
    if isinstance(target, ast.Tuple | ast.List):
        for element in target.elts:
            yield from _flatten(element)
    else:
        yield target


def _about_a_ticket(node: ast.AST, target: ast.Attribute) -> bool:
    value = getattr(node, "value", None)
    return "ticket" in ast.unparse(target.value).lower() or (
        value is not None and "TicketStatus" in ast.unparse(value))


def ticket_writes(tree: ast.Module) -> list[str]:
    """Every place in `tree` that writes ticket state, as «line: what»."""
    found: list[str] = []
    for node in ast.walk(tree):
        for target in _targets(node):
            if isinstance(target, ast.Attribute) and (
                    target.attr in TICKET_FIELDS or target.attr in COMMON_FIELDS and _about_a_ticket(node, target)):
                found.append(f"{node.lineno}: assigns .{target.attr}")
        if isinstance(node, ast.Call):
            called = _name(node.func)
            if called in WRITTEN_ROWS:
                found.append(f"{node.lineno}: builds {called}(…)")
            if called in ("update", "insert") and node.args and _name(node.args[0]) in WRITTEN_ROWS:
                found.append(f"{node.lineno}: {called}({_name(node.args[0])})")
        if (isinstance(node, ast.Attribute) and node.attr == "__table__"
                and _name(node.value) in WRITTEN_ROWS):
            found.append(f"{node.lineno}: uses {_name(node.value)}.__table__")
    return found


def bot_imports(tree: ast.Module) -> list[str]:
    found: list[str] = []
    for node in ast.walk(tree):
        names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        found += [f"{node.lineno}: imports {name}" for name in names if name == "bot" or name.startswith("bot.")]
    return found


def test_only_the_ticket_service_writes_ticket_state_events_and_transcript() -> None:
    offenders = {name: writes for name, tree in sources() if name != SERVICE and (writes := ticket_writes(tree))}
    assert offenders == {}, "ticket state is written outside hamdel/ticket_service.py"


def test_the_scan_sees_the_services_own_writes() -> None:
    """The scan is not blind: the service itself does every one of these things."""
    service = parsed()[SERVICE]
    writes = "\n".join(ticket_writes(service))
    for needle in ("assigns .status", "assigns .reopened_count", "builds TicketEvent", "builds TranscriptLine",
                   "builds Ticket(", "update(Ticket)"):
        assert needle in writes


def test_neither_the_core_nor_the_follow_ups_import_the_telegram_front_end() -> None:
    offenders = {name: found for name, tree in sources()
                 if name.startswith(("hamdel/", "followups/")) and name != ENTRY_POINT
                 and (found := bot_imports(tree))}
    assert offenders == {}
    assert bot_imports(parsed()[ENTRY_POINT]), "the entry point starts the bot"
