"""Hamdel's atomic Redis lock store (rasa_addons/lock_store.py) inside the Rasa environment.

One subprocess in `.venv-rasa` (as tests/rasa_addons/test_word_vectors.py drives it) against a
private redis-server on loopback (started as hamdel.services.Stack.start_redis does: a spare port, a
random password on stdin, nothing on disk). It builds the store the way Rasa does from an endpoints
file, runs several processes, each with many asyncio tasks taking the lock of one conversation at
once, and checks expiry. For comparison the same race runs against Rasa's own `RedisLockStore`; its
result is printed, not asserted (RasaHQ/rasa#9213 loses a race only sometimes).

Needs redis-server (Debian: `apt-get install redis-server`): skipped without it, failed with CI=true.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from hamdel.services import REDIS_SERVER, Stack

ROOT = Path(__file__).resolve().parents[2]
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"
PROCESSES, TASKS = 4, 6  # 24 turns of one conversation at once, from 4 "workers"

SCRIPT = r"""
import asyncio, json, os, subprocess, sys, time
import redis
from rasa.core.lock_store import LockError, LockStore, RedisLockStore
from rasa.core.utils import number_of_sanic_workers
from rasa.utils.endpoints import EndpointConfig
from rasa_addons.lock_store import AtomicRedisLockStore

PORT, PASSWORD = os.environ["REDIS_PORT"], os.environ["REDIS_PASSWORD"]
# As an endpoints file gives it (every ${VAR} a string).
CONFIG = {"type": "rasa_addons.lock_store.AtomicRedisLockStore", "url": "127.0.0.1", "port": PORT,
          "password": PASSWORD, "db": "3", "key_prefix": "test"}
red = redis.Redis(host="127.0.0.1", port=int(PORT), password=PASSWORD, db=3)
report = {}


def atomic_store():
    return LockStore.create(EndpointConfig.from_dict(CONFIG))


def rasa_store():
    return RedisLockStore(host="127.0.0.1", port=int(PORT), password=PASSWORD, db=3, key_prefix="rasa")


def worker(factory, conversation):
    # A Sanic worker's stand-in: a store of its own, TASKS turns of one conversation at the same time.
    # Each turn does a read-modify-write of a counter (a tracker's events) while holding the lock.
    store = factory()
    async def turn():
        try:
            async with store.lock(conversation, wait_time_in_seconds=0.005) as lock:
                ticket = lock.now_serving  # the acquired snapshot's head is our own ticket
                inside = red.incr(f"inside:{conversation}")
                red.rpush(f"served:{conversation}", json.dumps([ticket, inside]))
                events = int(red.get(f"events:{conversation}") or 0)
                await asyncio.sleep(0.003)
                red.set(f"events:{conversation}", events + 1)
                red.decr(f"inside:{conversation}")
        except LockError:
            red.incr(f"errors:{conversation}")
    async def bounded():
        # Rasa's own store can strand a waiter whose ticket it lost (polling for ever): count it.
        try:
            await asyncio.wait_for(turn(), 20)
        except asyncio.TimeoutError:
            red.incr(f"stuck:{conversation}")
    async def main():
        await asyncio.gather(*(bounded() for _ in range(TASKS)))
    # Every worker imports Rasa first, then they all start at one signal, as requests would.
    red.incr(f"ready:{conversation}")
    while not red.exists(f"go:{conversation}"):
        time.sleep(0.01)
    asyncio.run(main())


def race(factory_name, conversation):
    # Each worker is a fresh interpreter (this script with "worker"), not a fork of one that has
    # imported Rasa and TensorFlow: forking a process with threads can hang the child.
    processes = [subprocess.Popen([sys.executable, sys.argv[0], "worker", factory_name, conversation, str(TASKS)])
                 for _ in range(PROCESSES)]
    deadline = time.monotonic() + 120
    while int(red.get(f"ready:{conversation}") or 0) < PROCESSES and time.monotonic() < deadline:
        time.sleep(0.05)
    red.set(f"go:{conversation}", 1)
    codes = []
    for process in processes:
        try:
            codes.append(process.wait(timeout=max(1, deadline + 60 - time.monotonic())))
        except subprocess.TimeoutExpired:
            process.kill()
            codes.append("killed")
    served = [json.loads(item) for item in red.lrange(f"served:{conversation}", 0, -1)]
    return {"served": [ticket for ticket, _ in served], "most_inside": max([inside for _, inside in served], default=0),
            "events": int(red.get(f"events:{conversation}") or 0), "errors": int(red.get(f"errors:{conversation}") or 0),
            "stuck": int(red.get(f"stuck:{conversation}") or 0), "exit_codes": codes}


if sys.argv[1] == "worker":
    TASKS = int(sys.argv[4])
    worker({"atomic": atomic_store, "rasa": rasa_store}[sys.argv[2]], sys.argv[3])
    sys.exit(0)
PROCESSES, TASKS = int(sys.argv[1]), int(sys.argv[2])
os.environ["SANIC_WORKERS"] = "2"
report["sanic_workers"] = number_of_sanic_workers(EndpointConfig.from_dict(CONFIG))
store = atomic_store()
report["class"] = type(store).__name__
report["atomic"] = race("atomic", "telegram:1")
report["rasa"] = race("rasa", "telegram:2")
report["keys_after_race"] = sorted(key.decode() for key in red.keys("test:*"))


async def expiry():
    result = {}
    # A holder that crashed (never cleaned up): its ticket expires and the next one is served.
    store.issue_ticket("telegram:3", lock_lifetime=0.5)
    result["ttl_ms"] = red.pttl("test:lock:tickets:telegram:3")
    started = time.monotonic()
    async with store.lock("telegram:3", wait_time_in_seconds=0.02) as lock:
        result["waited_for_crashed"] = time.monotonic() - started
        newer = lock.now_serving
    result["gone_after_cleanup"] = red.exists("test:lock:tickets:telegram:3") == 0

    # A waiter whose own ticket expires behind a long turn stops waiting (LockError), not forever.
    async def long_turn():
        async with store.lock("telegram:4", wait_time_in_seconds=0.02):
            await asyncio.sleep(1.5)
    holder = asyncio.create_task(long_turn())
    await asyncio.sleep(0.1)
    started = time.monotonic()
    try:
        async with store.lock("telegram:4", lock_lifetime=0.4, wait_time_in_seconds=0.02):
            result["expired_waiter"] = "served"
    except LockError:
        result["expired_waiter"] = "LockError"
    result["expired_waiter_after"] = time.monotonic() - started
    await holder

    # A holder whose ticket expired cannot, on finishing, take away the next holder's ticket.
    old = store.issue_ticket("telegram:5", lock_lifetime=0.3)
    await asyncio.sleep(0.5)
    async with store.lock("telegram:5", wait_time_in_seconds=0.02) as lock:
        current = lock.now_serving
        store.cleanup("telegram:5", old)
        after = store.get_lock("telegram:5")
        result["newer_kept"] = after is not None and after.now_serving == current and current > old
        third = store.issue_ticket("telegram:5")
        result["third_waits"] = store.get_lock("telegram:5").is_locked(third)
        store.cleanup("telegram:5", third)
    result["numbers_keep_growing"] = newer < old < current
    return result


report["expiry"] = asyncio.run(expiry())
report["keys_at_end"] = sorted(key.decode() for key in red.keys("test:*"))
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, str]]:
    """A private redis-server, started and stopped the way the stack does it (Stack.start_redis)."""
    if shutil.which("redis-server") is None and not Path(REDIS_SERVER).is_file():
        message = "redis-server is not installed (apt-get install redis-server); the lock store test needs one"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    stack = Stack(log_dir=tmp_path_factory.mktemp("redis"))
    env = stack.start_redis()
    try:
        yield int(env["REDIS_PORT"]), env["REDIS_PASSWORD"]
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def report(private_redis: tuple[int, str], tmp_path_factory: pytest.TempPathFactory) -> dict:
    if not RASA_PYTHON.exists():
        pytest.skip("no Rasa environment (.venv-rasa); run make setup")
    port, password = private_redis
    script = tmp_path_factory.mktemp("race") / "race.py"
    script.write_text(SCRIPT, encoding="utf-8")
    result = subprocess.run(
        [str(RASA_PYTHON), str(script), str(PROCESSES), str(TASKS)], capture_output=True, text=True, cwd=ROOT,
        timeout=300,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore",
             "SQLALCHEMY_SILENCE_UBER_WARNING": "1", "RASA_TELEMETRY_ENABLED": "false",
             # Rasa's store strands waiters whose ticket it lost until the lock expires: 5 s, not 60.
             "TICKET_LOCK_LIFETIME": "5", "REDIS_PORT": str(port), "REDIS_PASSWORD": password},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_rasa_builds_it_from_an_endpoints_file_and_allows_several_workers(report: dict) -> None:
    assert report["class"] == "AtomicRedisLockStore"
    assert report["sanic_workers"] == 2


def test_one_conversation_from_many_workers_is_served_one_at_a_time_in_ticket_order(report: dict) -> None:
    atomic, rasa = report["atomic"], report["rasa"]
    print(f"\nRasa's RedisLockStore in the same race: most turns at once {rasa['most_inside']}, "
          f"{rasa['events']} of {PROCESSES * TASKS} updates kept, {rasa['errors']} LockErrors, {rasa['stuck']} stuck")
    assert atomic["exit_codes"] == [0] * PROCESSES, atomic["exit_codes"]
    assert atomic["errors"] == atomic["stuck"] == 0
    assert len(atomic["served"]) == PROCESSES * TASKS  # every turn served once
    assert atomic["most_inside"] == 1  # never two at a time
    assert atomic["served"] == sorted(set(atomic["served"])), atomic["served"]  # in the order tickets were issued
    assert atomic["events"] == PROCESSES * TASKS  # no read-modify-write under the lock was lost
    assert report["keys_after_race"] == ["test:lock:ticket_counter"]  # every lock gone, key_prefix applied


def test_an_expired_ticket_never_blocks_for_ever(report: dict) -> None:
    expiry = report["expiry"]
    assert 0 < expiry["ttl_ms"] <= 500  # the lock itself expires in Redis with its last ticket
    assert 0.3 < expiry["waited_for_crashed"] < 3, expiry  # a crashed holder blocks for its lifetime only
    assert expiry["gone_after_cleanup"]
    assert expiry["expired_waiter"] == "LockError" and expiry["expired_waiter_after"] < 1.2, expiry
    assert expiry["newer_kept"] and expiry["third_waits"] and expiry["numbers_keep_growing"], expiry
    assert report["keys_at_end"] == ["test:lock:ticket_counter"]
