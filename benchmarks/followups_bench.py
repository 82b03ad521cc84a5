"""Follow-up scheduler benchmark against the local Bot API stand-in. Prints figures; not a test.

    .venv/bin/python benchmarks/followups_bench.py [--quick]

Three runs, each on a fresh SQLite file with N acknowledgements already due (one customer chat per
follow-up, so a duplicate or a loss is visible per chat):
1. ceiling:  100,000 follow-ups, stand-in without a rate cap, scheduler pacing off;
2. capped:   3,000 follow-ups, stand-in capped at 30 messages/s, scheduler at its configured pace;
3. restart:  20,000 follow-ups, uncapped; the scheduler process is killed once 40% is delivered
             (SIGKILL: a crash; SIGTERM: a deploy) and a new one finishes the job after the lease,
             so stale claims are taken over.
Each reports achieved rate, lost, duplicated, and lateness (due → sent, p50 and p95).

The scheduler runs in a child process (`--worker`), as it would in the bot, and the stand-in in
this process, so killing the scheduler cannot take the record of what Telegram received with it.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select  # noqa: E402

from hamdel.storage.db import make_engine, migrate  # noqa: E402
from hamdel.storage.models import (  # noqa: E402
    Category, Customer, FollowUp, FollowUpKind, FollowUpStatus, Severity, Ticket, TicketStatus,
)

from devtools.bot_api_standin import BotApiStandIn  # noqa: E402

STANDIN = "devtools.bot_api_standin"

CHAT_BASE = 1_000_000


def seed(url: str, count: int, due: datetime) -> None:
    """`count` customers, tickets and due acknowledgements, inserted in bulk."""
    migrate(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(insert(Customer.__table__), [
            {"id": i + 1, "channel": "telegram", "external_id": str(CHAT_BASE + i), "chat_id": CHAT_BASE + i,
             "followups_opted_out": False, "created_at": due} for i in range(count)])
        conn.execute(insert(Ticket.__table__), [
            {"id": i + 1, "number": f"HM-B{i:07d}", "customer_id": i + 1, "conversation_id": f"telegram:{CHAT_BASE + i}",
             "channel": "telegram", "category": Category.DELIVERY, "story": "-", "key_words": [], "reflection": "-",
             "anger": 0, "severity": Severity.LOW, "status": TicketStatus.OPEN, "human_active": False,
             "reopened_count": 0, "received_at": due, "updated_at": due} for i in range(count)])
        conn.execute(insert(FollowUp.__table__), [
            {"id": i + 1, "ticket_id": i + 1, "kind": FollowUpKind.ACKNOWLEDGEMENT, "sequence": 0, "due_at": due,
             "status": FollowUpStatus.PENDING, "attempts": 0, "created_at": due} for i in range(count)])
    engine.dispose()


async def worker(url: str, base_url: str, rate: float | None, concurrency: int, batch: int, lease_s: float) -> None:
    """The child process: one scheduler, run until nothing is due; prints its stats as JSON."""
    os.environ["DATABASE_URL"] = url
    from telegram import Bot
    from telegram.request import HTTPXRequest

    from followups.scheduler import FollowUpScheduler
    from hamdel.followup_policy import SchedulerSettings, load_followup_policy

    policy = load_followup_policy()
    settings = SchedulerSettings(poll_interval=timedelta(seconds=0.2), lease=timedelta(seconds=lease_s),
                                 batch_size=batch, concurrency=concurrency, max_per_second=rate)
    request = HTTPXRequest(connection_pool_size=concurrency + 4)
    async with Bot("123:TEST", base_url=base_url, request=request) as bot:
        scheduler = FollowUpScheduler(bot, policy=policy, settings=settings, agent_reminders=False,
                                      worker_id=f"bench:{os.getpid()}", maintenance_every=timedelta(seconds=1))
        # SIGTERM is a deploy or a restart: finish the requests under way, give back the rest.
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, scheduler.stop)
        started = time.perf_counter()
        stats = await scheduler.run_until_idle()
        elapsed = time.perf_counter() - started
        await scheduler.close()
    print(json.dumps({"sent": stats.sent, "elapsed": elapsed, "retried_after": stats.retried_after,
                      "failed": stats.failed}), flush=True)


def spawn(url: str, base_url: str, args: argparse.Namespace, rate: float | None) -> subprocess.Popen[str]:
    cmd = [sys.executable, __file__, "--worker", "--db", url, "--base-url", base_url,
           "--concurrency", str(args.concurrency), "--batch", str(args.batch), "--lease", str(args.lease)]
    if rate:
        cmd += ["--rate", str(rate)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


async def wait(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, _ = await asyncio.to_thread(proc.communicate)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {}


def percentile(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def measure(url: str, standin: Any, count: int, elapsed: float) -> dict[str, Any]:
    per_chat = Counter(int(m["chat_id"]) for m in standin.sent_messages())
    delivered = sum(1 for c in range(CHAT_BASE, CHAT_BASE + count) if per_chat.get(c))
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(select(FollowUp.status, FollowUp.due_at, FollowUp.sent_at, FollowUp.last_error)).all()
    engine.dispose()
    lateness = sorted((r.sent_at - r.due_at).total_seconds() for r in rows if r.sent_at is not None)
    status = Counter(r.status.value for r in rows)
    return {
        "followups": count,
        "delivered": delivered,
        "lost": count - delivered,
        "duplicated": sum(n - 1 for n in per_chat.values() if n > 1),
        "rate_per_s": round(delivered / elapsed, 1) if elapsed else None,
        "lateness_p50_s": round(percentile(lateness, 50), 2),
        "lateness_p95_s": round(percentile(lateness, 95), 2),
        "db_status": dict(status),
        "uncertain_rows": sum(1 for r in rows if r.last_error and r.last_error.startswith("outcome unknown")),
    }


async def run(name: str, count: int, args: argparse.Namespace, *, cap: float | None, rate: float | None,
              kill_after: float | None = None, kill_signal: int = signal.SIGKILL) -> dict[str, Any]:
    """One scenario; `kill_after` is the delivered fraction at which the scheduler is SIGKILLed."""
    workdir = Path(tempfile.mkdtemp(prefix="followups-bench-"))
    url = f"sqlite:///{workdir / 'bench.db'}"
    started_seed = time.perf_counter()
    due = datetime.now(timezone.utc)
    await asyncio.to_thread(seed, url, count, due)
    seed_s = time.perf_counter() - started_seed
    standin = BotApiStandIn(rate_cap_per_second=cap)
    await standin.start()
    try:
        started = time.perf_counter()
        # lateness is measured from `due`, which includes seeding time; shift due to "now" instead
        engine = make_engine(url)
        due = datetime.now(timezone.utc)
        with engine.begin() as conn:
            conn.execute(FollowUp.__table__.update().values(due_at=due))
        engine.dispose()
        started = time.perf_counter()
        extra: dict[str, Any] = {}
        proc = spawn(url, standin.base_url, args, rate)
        if kill_after is not None:  # a fraction of the work: kill once that much has been delivered
            while len(standin.sent_messages()) < kill_after * count and proc.poll() is None:
                await asyncio.sleep(0.05)
            before = len(standin.sent_messages())
            proc.send_signal(kill_signal)
            await asyncio.to_thread(proc.wait)
            extra["delivered_before_kill"] = before
            await asyncio.sleep(args.lease + 0.5)  # the dead scheduler's claims must age past the lease
            proc = spawn(url, standin.base_url, args, rate)
        child = await wait(proc)
        elapsed = time.perf_counter() - started
        if kill_after is not None:
            elapsed -= args.lease + 0.5  # the deliberate wait is not the scheduler's speed
        if kill_after is None and child.get("elapsed"):
            elapsed = child["elapsed"]  # the scheduler's own time, without the child's Python start-up
        result = {"run": name, "stand_in_cap": cap, "scheduler_pace": rate, "seed_s": round(seed_s, 1),
                  "elapsed_s": round(elapsed, 1), **measure(url, standin, count, elapsed), **extra,
                  "retry_after_seen": child.get("retried_after"),
                  "last_scheduler_s": round(child.get("elapsed", 0), 1)}
    finally:
        await standin.stop()
    return result


async def main(args: argparse.Namespace) -> None:
    big, capped, restart = (2_000, 300, 2_000) if args.quick else (args.count, args.capped_count, args.restart_count)
    print(f"stand-in: {STANDIN}; concurrency {args.concurrency}, batch {args.batch}, lease {args.lease}s", flush=True)
    results = [await run("ceiling (no cap)", big, args, cap=None, rate=None)]
    print(json.dumps(results[-1], ensure_ascii=False), flush=True)
    results.append(await run("capped at 30/s", capped, args, cap=30, rate=args.pace))
    print(json.dumps(results[-1], ensure_ascii=False), flush=True)
    results.append(await run("SIGKILL + restart", restart, args, cap=None, rate=None, kill_after=0.4))
    print(json.dumps(results[-1], ensure_ascii=False), flush=True)
    results.append(await run("SIGTERM + restart", restart, args, cap=None, rate=None, kill_after=0.4,
                             kill_signal=signal.SIGTERM))
    print(json.dumps(results[-1], ensure_ascii=False), flush=True)
    print()
    print(f"{'run':22} {'n':>7} {'rate/s':>8} {'lost':>5} {'dup':>4} {'p50 s':>7} {'p95 s':>7} {'uncertain':>9}")
    for r in results:
        print(f"{r['run']:22} {r['followups']:>7} {r['rate_per_s']:>8} {r['lost']:>5} {r['duplicated']:>4} "
              f"{r['lateness_p50_s']:>7} {r['lateness_p95_s']:>7} {r['uncertain_rows']:>9}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts, a smoke run of a few seconds")
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--capped-count", type=int, default=3_000)
    parser.add_argument("--restart-count", type=int, default=20_000)
    parser.add_argument("--pace", type=float, default=29.0, help="scheduler's own pace for the capped run")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--lease", type=float, default=3.0, help="seconds (production: 2 minutes)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, default=None, help=argparse.SUPPRESS)
    ns = parser.parse_args()
    if ns.worker:
        asyncio.run(worker(ns.db, ns.base_url, ns.rate, ns.concurrency, ns.batch, ns.lease))
    else:
        asyncio.run(main(ns))
