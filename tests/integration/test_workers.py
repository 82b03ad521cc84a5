"""Scale-out with Rasa's own mechanism: two Rasa workers (SANIC_WORKERS) sharing one port, the SQLite
tracker in WAL mode, a private redis-server behind Hamdel's atomic lock store (rasa_addons/lock_store.py),
and two action-server workers writing the same SQLite database. Many whole complaint conversations at
once must each be answered turn by turn, kept in order, stored once, served by both workers, and end in
exactly one ticket each; a burst of messages from one chat must be handled one whole turn at a time.

Needs redis-server (Debian: `apt-get install redis-server`): skipped without it, failed with CI set.
"""
from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from sqlalchemy import select

from hamdel.services import REDIS_SERVER, Stack, ensure_model, free_port
from hamdel.storage.db import migrate, session_scope
from hamdel.storage.models import Ticket

pytestmark = pytest.mark.integration
CHATS = 8  # conversations at once
BURST_CHATS = 3  # chats sending several messages at once
PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


def turns(chat: int) -> list[str]:
    """A whole complaint (benchmarks' turn-latency conversation), with an order number of its own."""
    order = str(4587100 + chat).translate(PERSIAN_DIGITS)
    return [f"سلام، سفارشم به شماره {order} از دوشنبه هنوز نرسيده و پشتیبانی هم جواب نمیده",
            "/deny", "/affirm", "لطفا زودتر بفرستید"]


def cpu_ticks(pid: int) -> int:
    """User + system CPU time of a process, in clock ticks (/proc/<pid>/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


@pytest.fixture(scope="module")
def workers_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, str, dict[str, str]]]:
    if shutil.which("redis-server") is None and not Path(REDIS_SERVER).is_file():
        message = "redis-server is not installed (apt-get install redis-server); Rasa's workers need its lock store"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    workdir = tmp_path_factory.mktemp("workers")
    url = f"sqlite:///{workdir / 'hamdel.db'}"
    migrate(url)
    stack = Stack(rasa_port=free_port(), action_port=free_port(), log_dir=workdir / "log", workers=2, action_workers=2,
                  env={"DATABASE_URL": url, "HAMDEL_SPOOL": str(workdir / "spool.jsonl"),
                       "TRACKER_DB": str(workdir / "tracker.db"), "RASA_TOKEN": "t" + secrets.token_urlsafe(32),
                       "ACTION_SERVER_SECRET": secrets.token_urlsafe(32)})
    try:
        redis_env = stack.start_redis()  # private even if REDIS_HOST is set in the environment
        stack.start(ensure_model())
        stack.wait_ready(timeout=420)
        yield stack, url, redis_env
    finally:
        stack.stop()
        for log in (workdir / "log").glob("*.log"):
            print(f"--- {log.name} (tail) ---\n" + "\n".join(log.read_text(errors="replace").splitlines()[-15:]))


async def say(stack: Stack, sender: str, text: str) -> list[dict]:
    # A connection per message (as after an idle keep-alive): each is accepted by whichever worker is free.
    async with httpx.AsyncClient(base_url=stack.rasa_url, timeout=180, headers={"Connection": "close"}) as client:
        response = await client.post("/webhooks/rest/webhook", params={"token": stack.token},
                                     json={"sender": sender, "message": text, "metadata": {"display_name": "مریم"}})
    response.raise_for_status()
    return list(response.json())


async def converse(stack: Stack, chat: int) -> list[list[dict]]:
    """One customer: each message waits for the answer to the previous one, as the bot's lanes do."""
    return [await say(stack, f"telegram:{900000 + chat}", text) for text in turns(chat)]


def user_texts(stack: Stack, sender: str) -> list[str]:
    tracker = httpx.get(f"{stack.rasa_url}/conversations/{sender}/tracker", params={"token": stack.token}, timeout=30)
    tracker.raise_for_status()
    return [event.get("text") for event in tracker.json()["events"] if event["event"] == "user"]


def test_two_workers_keep_every_conversation_whole_and_in_order(workers_stack: tuple[Stack, str, dict[str, str]]) -> None:
    stack, url, _ = workers_stack
    pids = stack.rasa_worker_pids()
    assert len(pids) == 2 and stack.processes[1].pid not in pids, pids  # Sanic forked two workers
    before = {pid: cpu_ticks(pid) for pid in pids}

    async def everyone() -> list[list[list[dict]]]:
        return await asyncio.gather(*(converse(stack, chat) for chat in range(CHATS)))

    conversations = asyncio.run(everyone())

    for chat, replies in enumerate(conversations):
        assert all(replies), f"chat {chat}: a message went unanswered ({[len(r) for r in replies]})"
        assert "HM-" in " ".join(r.get("text", "") for r in replies[-1]), f"chat {chat}: no ticket in the last answer"
        assert user_texts(stack, f"telegram:{900000 + chat}") == turns(chat), f"chat {chat}: tracker differs"

    spent = {pid: cpu_ticks(pid) - before[pid] for pid in pids}
    print(f"\nCPU ticks per Rasa worker over {CHATS} conversations: {spent}")
    assert all(ticks >= 0.1 * sum(spent.values()) for ticks in spent.values()), spent  # both served turns

    with session_scope(url) as session:
        owners = Counter(ticket.customer.external_id for ticket in session.scalars(select(Ticket)))
    assert owners == {str(900000 + chat): 1 for chat in range(CHATS)}


def test_a_burst_from_one_chat_is_processed_one_message_at_a_time(workers_stack: tuple[Stack, str, dict[str, str]]) -> None:
    """Several messages of one chat at once (three such chats at the same time) land on both workers;
    Hamdel's atomic lock store (rasa_addons/lock_store.py) makes Rasa handle each chat's messages one
    after another: each is answered, stored once, and each turn ends before the next begins. With
    Rasa's own RedisLockStore (RasaHQ/rasa#9213) two of them could be served at once and one turn's
    events were lost (the lock store's own race: tests/rasa_addons/test_lock_store.py)."""
    stack, _, redis_env = workers_stack
    senders = [f"telegram:77700{n}" for n in range(BURST_CHATS)]
    texts = ["سلام", "سفارشم هنوز نرسیده", "پشتیبانی هم جواب نمیده", "لطفا زودتر بفرستید", "سفارش شماره ۴۵۸۷۲۰۰"]

    async def bursts() -> list[list[dict]]:
        return await asyncio.gather(*(say(stack, sender, text) for sender in senders for text in texts))

    replies = asyncio.run(bursts())
    assert all(replies), f"a message went unanswered ({[len(r) for r in replies]})"
    for sender in senders:
        tracker = httpx.get(f"{stack.rasa_url}/conversations/{sender}/tracker", params={"token": stack.token}, timeout=30)
        tracker.raise_for_status()
        events = tracker.json()["events"]
        users = [event["text"] for event in events if event["event"] == "user"]
        assert sorted(users) == sorted(texts), (sender, users)  # every message stored, once
        # Whole turns one after another: after each user message the bot answered and went back to
        # listening before the next user message (or the end), and the events are in time order.
        positions = [i for i, event in enumerate(events) if event["event"] == "user"] + [len(events)]
        for start, end in zip(positions, positions[1:], strict=False):
            turn = events[start:end]
            assert any(e["event"] == "bot" for e in turn), (sender, turn)
            assert any(e["event"] == "action" and e.get("name") == "action_listen" for e in turn), (sender, turn)
        stamps = [event["timestamp"] for event in events]
        assert stamps == sorted(stamps), f"{sender}: the tracker's events are not in time order"

    # The locks were Hamdel's (endpoints.workers.yml, db 1): its ticket counter counted these
    # messages, and no conversation's lock outlived its turns.
    red = redis.Redis(host=redis_env["REDIS_HOST"], port=int(redis_env["REDIS_PORT"]),
                      password=redis_env["REDIS_PASSWORD"] or None, db=1)
    try:
        assert int(red.get("lock:ticket_counter") or 0) >= BURST_CHATS * len(texts)
        assert red.keys("lock:tickets:*") == []
    finally:
        red.close()
