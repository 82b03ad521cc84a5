"""S8: S1 and S3 on PostgreSQL, the production database (DATABASE_URL=postgresql+psycopg://…).

The same scenarios, bodies and figures as on SQLite (tests/faults/test_delivery.py, S1;
tests/faults/test_s3_kill9.py, S3), against a throw-away PostgreSQL server this module starts
(tests/faults/postgres.py), one fresh database per test; and S1 once more with a real outage: the
server itself stopped and started again. Skipped, with the reason shown, only
where no PostgreSQL binaries exist (CI installs them: .ci/run).
"""
from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot import inbox
from devtools.bot_api_standin import BotApiStandIn, text_update
from hamdel.storage.db import session_scope
from hamdel.storage.models import InboundUpdate
from tests.bot.conftest import HarnessFactory
from tests.conftest import use_database
from tests.bot.fake_rasa import FakeRasa
from tests.faults.postgres import BIN_DIRS, Server, fresh_database, throwaway_server
from tests.faults.test_delivery import _per_chat, _statuses, store_outage_during_100_updates
from tests.faults.test_s3_kill9 import STEPS, check_kill9_at


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[Server]:
    if not BIN_DIRS:
        pytest.skip("PostgreSQL is not installed (CI installs it: apt-get install postgresql)")
    with throwaway_server() as server:
        yield server


@pytest.fixture
def database_url(postgres_server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Replaces the SQLite file of tests/conftest.py: a fresh, migrated PostgreSQL database."""
    yield from use_database(fresh_database(postgres_server), tmp_path, monkeypatch)


async def test_s8_s1_on_postgresql(make_harness: HarnessFactory, monkeypatch: pytest.MonkeyPatch,
                                   database_url: str) -> None:
    assert database_url.startswith("postgresql")
    await store_outage_during_100_updates(make_harness, monkeypatch, "S8 (S1 on PostgreSQL)")


@pytest.mark.parametrize("step", STEPS)
async def test_s8_s3_on_postgresql(step: str, standins: tuple[BotApiStandIn, FakeRasa], database_url: str,
                                   tmp_path: Path) -> None:
    assert database_url.startswith("postgresql")
    await check_kill9_at(step, standins, database_url, tmp_path, "S8 (S3 on PostgreSQL)")


async def test_s8_the_postgresql_server_itself_stops_for_a_while_during_100_updates(
        make_harness: HarnessFactory, postgres_server: Server, database_url: str) -> None:
    """S1 with a real outage: the server is stopped (every connection dropped, new ones refused) and
    started again, so every query of the bot fails, not only the inbox's writes."""
    harness = await make_harness()
    sent: dict[int, list[str]] = defaultdict(list)
    chats = [8800 + n for n in range(10)]
    outage: asyncio.Task[float] | None = None
    for round_ in range(10):
        if round_ == 2:
            outage = asyncio.create_task(asyncio.to_thread(_stopped_for, postgres_server, 2.5))
        for chat in chats:
            text = f"چت {chat} پیام {round_}"
            sent[chat].append(text)
            harness.push(text_update(chat, chat, text))
        await asyncio.sleep(0.15)
    assert outage is not None
    down = await outage
    await harness.api.wait_for(lambda: sum(len(v) for v in _per_chat(harness.rasa.received).values()) >= 100,
                               timeout=90, what="every message to reach Rasa")
    await harness.api.wait_for(lambda: inbox.pending() == [], timeout=30, what="every row finished")
    said = _per_chat(harness.rasa.received)
    lost = sum(len(set(sent[c]) - set(said[c])) for c in chats)
    duplicated = sum(len(said[c]) - len(set(said[c])) for c in chats)
    out_of_order = sum(said[c] != sent[c] for c in chats)
    with session_scope() as session:  # an outage costs a message at most one counted try
        tries = sorted(session.scalars(select(InboundUpdate.attempts)))
    print(f"\nS8 (PostgreSQL server stopped for {down:.1f} s): 100 updates, 10 chats: lost {lost}, duplicated "
          f"{duplicated}, chats out of order {out_of_order}, rows {_statuses()}, most tries of one message "
          f"{tries[-1]}, messages tried more than once {sum(t > 1 for t in tries)}")
    assert (lost, duplicated, out_of_order) == (0, 0, 0)
    assert _statuses() == {"done": 100}
    assert tries[-1] <= 2


def _stopped_for(server: Server, seconds: float) -> float:
    """Stop the server, wait, start it again; how long it was really away."""
    began = time.monotonic()
    server.stop()
    time.sleep(seconds)
    server.start()
    return time.monotonic() - began
