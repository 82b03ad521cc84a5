"""`make bench`: Hamdel against the stock `rasa init` bot on the same machine, side by side.

    .venv/bin/python benchmarks/bench.py [--quick] [--workers N] [--no-telegram] [--json FILE]

Why a stock bot: absolute milliseconds depend on the machine, the ratio to Rasa's own example bot
(trained here by `rasa init`, no custom actions, in-memory tracker) does not, so the issue's targets
are ratios. Both stacks are started together; the 1-user phase alternates between them in rounds,
so a drift of the machine's speed touches both alike, and each load phase runs while the other bot
sits idle.

What is measured, through Rasa's REST channel (POST /webhooks/rest/webhook), with whole
conversations (Hamdel: a complaint story, "that's all", "yes, that's it", a wish → ticket;
stock: the mood bot's greet, sad, yes, bye). Every Hamdel conversation's story names its own order
number, so the story is a text the model has never read (Rasa keeps the parse of a text it has
read, rasa_addons/parse_cache.py); the wish is the same short text in every conversation, as
customers' common wishes are, and is answered from the kept parse after the first conversation:
  * one user: conversations one after another, alternating rounds; per-turn p50 / p95;
  * 20 users at once, each starting its next turn when the last was answered (closed loop):
    per-turn p50 / p95 and messages per second, which is the rate at saturation;
  * sustained rate: messages arrive on a fixed clock (open loop; a customer still waits for the
    answer before sending the next message of their conversation), in steps of 5 msg/s, each
    step timed from the *scheduled* arrival so queueing counts; the highest rate whose p95 stays
    under 1 s;
  * nothing lost or duplicated: every message must get an answer, and afterwards every
    conversation's tracker must hold each message exactly once (GET /conversations/<id>/tracker);
  * RSS of the whole stack (Rasa, action server and their children), the peak sampled under load.
Then the Telegram path (benchmarks/telegram_path.py): updates through the local Bot API stand-in to
replies sent, 30 msg/s for 60 s, quiet window 0.

The load generator runs on the same two cores; figures are for this machine, ratios travel.
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hamdel.services import QUIET_ENV, RASA_BIN, Stack, ensure_model  # noqa: E402
from hamdel.storage.db import migrate  # noqa: E402

HAMDEL_TURNS = (
    ("story", "سلام، سفارشم به شماره {order} از دوشنبه هنوز نرسيده و پشتیبانی هم جواب نمیده"),
    ("that's all", "/deny"),
    ("confirm", "/affirm"),
    ("wish → ticket", "لطفا زودتر بفرستید"),
)
STOCK_TURNS = (("greet", "hello"), ("sad", "I am sad"), ("yes", "yes"), ("bye", "bye"))
# What the answer to a kind of turn must hold, or it is counted as off script, not as answered (a
# fallback is quick, and would flatter a figure): the reflection says the order number back, the
# confirmation asks what would help (every unconditional variation says «از دستمون برمیاد»), the
# wish gets the ticket; the stock bot's answers are rasa init's own.
HAMDEL_EXPECT = {"that's all": "{order}", "confirm": "از دستمون برمیاد", "wish → ticket": "HM-"}
STOCK_EXPECT = {"greet": "Hey! How are you?", "sad": "Here is something to cheer you up", "yes": "Great, carry on!",
                "bye": "Bye"}
STOCK_DIR = ROOT / "var" / "bench" / "stock-rasa-init"
SLO_SECONDS = 1.0
CONCURRENT_USERS = 20


@dataclass
class Phase:
    """Latencies (ms) of one phase and what went wrong in it."""

    latencies: list[float] = field(default_factory=list)
    lost: int = 0
    off_script: int = 0  # answered, but not with what the turn asks for
    seconds: float = 0.0
    senders: dict[str, int] = field(default_factory=dict)  # sender → messages answered

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def p(self, q: int) -> float:
        return percentile(self.latencies, q)


def percentile(values: Sequence[float], q: int) -> float:
    """The q-th percentile (inclusive method); NaN when there is nothing to measure."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


@dataclass
class Target:
    """One running bot: where to talk to it, what to say, which processes make it up."""

    name: str
    url: str
    turns: tuple[tuple[str, str], ...]
    pids: Callable[[], list[int]]
    token: str | None = None
    expect: dict[str, str] = field(default_factory=dict)  # kind of turn → text its answer must hold

    def params(self) -> dict[str, str]:
        return {"token": self.token} if self.token else {}


ORDER_NUMBERS = itertools.count(4_587_123)
PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


class Conversation:
    """A customer working through `turns`; answers one message at a time. `{order}` in a turn's
    text is this customer's own order number, in Persian digits."""

    def __init__(self, sender: str, turns: tuple[tuple[str, str], ...]) -> None:
        self.sender, self.next = sender, 0
        self.order = str(next(ORDER_NUMBERS)).translate(PERSIAN_DIGITS)
        self.turns = tuple((kind, text.replace("{order}", self.order)) for kind, text in turns)

    @property
    def done(self) -> bool:
        return self.next >= len(self.turns)


async def say(client: httpx.AsyncClient, target: Target, conversation: Conversation, phase: Phase,
              started: float | None = None) -> None:
    """Send the conversation's next message; record latency from `started` (default: now)."""
    kind, text = conversation.turns[conversation.next]
    conversation.next += 1
    began = time.perf_counter() if started is None else started
    try:
        reply = await client.post("/webhooks/rest/webhook", json={"sender": conversation.sender, "message": text})
        messages = reply.json() if reply.status_code == 200 else []
    except (httpx.HTTPError, ValueError):
        messages = []
    if not messages:
        phase.lost += 1
        return
    expected = target.expect.get(kind, "").replace("{order}", conversation.order)
    if expected not in " ".join(str(m.get("text") or "") for m in messages if isinstance(m, dict)):
        phase.off_script += 1
        return
    phase.latencies.append((time.perf_counter() - began) * 1000)
    phase.senders[conversation.sender] = phase.senders.get(conversation.sender, 0) + 1


async def one_user(client: httpx.AsyncClient, target: Target, conversations: int, tag: str) -> tuple[Phase, dict[str, Phase]]:
    phase, by_kind = Phase(), {kind: Phase() for kind, _ in target.turns}
    began = time.perf_counter()
    for n in range(conversations):
        conversation = Conversation(f"bench-{tag}-1u-{n}", target.turns)
        while not conversation.done:
            kind = conversation.turns[conversation.next][0]
            before = len(phase.latencies)
            await say(client, target, conversation, phase)
            if len(phase.latencies) > before:
                by_kind[kind].latencies.append(phase.latencies[-1])
    phase.seconds = time.perf_counter() - began
    return phase, by_kind


async def closed_loop(client: httpx.AsyncClient, target: Target, users: int, seconds: float, tag: str) -> Phase:
    """`users` customers, each sending its next message as soon as the last one was answered."""
    phase = Phase()
    deadline = time.perf_counter() + seconds

    async def customer(index: int) -> None:
        n = 0
        while time.perf_counter() < deadline:
            conversation = Conversation(f"bench-{tag}-cl-{index}-{n}", target.turns)
            while not conversation.done and time.perf_counter() < deadline:
                await say(client, target, conversation, phase)
            n += 1

    began = time.perf_counter()
    await asyncio.gather(*(customer(i) for i in range(users)))
    phase.seconds = time.perf_counter() - began
    return phase


async def open_loop(client: httpx.AsyncClient, target: Target, rate: float, seconds: float, tag: str) -> Phase:
    """Messages on a fixed clock of `rate` per second; each goes to a conversation whose last
    message was answered (a new customer when none is free). Latency counts from the scheduled
    arrival, so time spent queued behind a slow server is not hidden."""
    phase = Phase()
    idle: list[Conversation] = []
    tasks: set[asyncio.Task[None]] = set()
    made = 0

    async def send(conversation: Conversation, scheduled: float) -> None:
        await say(client, target, conversation, phase, started=scheduled)
        if not conversation.done:
            idle.append(conversation)

    began = time.perf_counter()
    for k in range(int(rate * seconds)):
        scheduled = began + k / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if idle:
            conversation = idle.pop()
        else:
            conversation, made = Conversation(f"bench-{tag}-ol{rate:g}-{made}", target.turns), made + 1
        task = asyncio.create_task(send(conversation, scheduled))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks, timeout=60)
    phase.seconds = seconds
    return phase


async def stored_exactly_once(client: httpx.AsyncClient, target: Target, phases: Sequence[Phase]) -> tuple[int, int]:
    """(conversations checked, conversations whose tracker does not hold each answered message once)."""
    expected: dict[str, int] = {}
    for phase in phases:
        for sender, count in phase.senders.items():
            expected[sender] = expected.get(sender, 0) + count
    wrong = 0
    gate = asyncio.Semaphore(4)

    async def check(sender: str, count: int) -> None:
        nonlocal wrong
        async with gate:
            reply = await client.get(f"/conversations/{sender}/tracker", params=target.params())
        users = [e for e in reply.json().get("events", []) if e.get("event") == "user"] if reply.status_code == 200 else []
        if len(users) != count:
            wrong += 1

    await asyncio.gather(*(check(s, c) for s, c in expected.items()))
    return len(expected), wrong


def rss_mb(pids: Sequence[int]) -> float:
    """Resident memory of these processes and all their descendants, from /proc (Linux)."""
    seen: set[int] = set()
    todo = list(pids)
    total_kb = 0
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            total_kb += int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))
            for task in Path(f"/proc/{pid}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, StopIteration, ValueError):
            continue
    return total_kb / 1024


async def one_user_paired(targets: Sequence[Target], pairs: int, conversations: int) -> dict[str, tuple[Phase, dict[str, Phase]]]:
    """The 1-user phase, alternated: `pairs` rounds of `conversations` for each target in turn, so
    a drift of the machine's speed (this one moves by 10–25 % between runs) touches both alike."""
    results = {t.name: (Phase(), {kind: Phase() for kind, _ in t.turns}) for t in targets}
    clients = {t.name: httpx.AsyncClient(base_url=t.url, timeout=120) for t in targets}
    try:
        for target in targets:
            await one_user(clients[target.name], target, 3, "warm")
        for round_ in range(pairs):
            for target in targets:
                phase, by_kind = await one_user(clients[target.name], target, conversations, f"p{round_}")
                total, kinds = results[target.name]
                total.latencies += phase.latencies
                total.lost += phase.lost
                total.off_script += phase.off_script
                total.seconds += phase.seconds
                for sender, count in phase.senders.items():
                    total.senders[sender] = count
                for kind, values in by_kind.items():
                    kinds[kind].latencies += values.latencies
    finally:
        for client in clients.values():
            await client.aclose()
    return results


async def measure(target: Target, quick: bool, single: Phase, by_kind: dict[str, Phase]) -> dict[str, Any]:
    """Every figure for one running target, given its 1-user phase."""
    burst, step = (8.0, 6.0) if quick else (20.0, 12.0)
    figures: dict[str, Any] = {}
    peak = 0.0
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=target.url, timeout=120, limits=limits) as client:
        figures["one_user"] = {"p50": single.p(50), "p95": single.p(95), "lost": single.lost,
                               "by_turn": {k: round(v.p(50), 1) for k, v in by_kind.items()}}
        print(f"  [{target.name}] {CONCURRENT_USERS} users at once for {burst:g} s…", flush=True)
        sampler_stop = asyncio.Event()

        async def sample() -> None:
            nonlocal peak
            while not sampler_stop.is_set():
                peak = max(peak, rss_mb(target.pids()))
                await asyncio.sleep(0.5)

        sampler = asyncio.create_task(sample())
        crowd = await closed_loop(client, target, CONCURRENT_USERS, burst, "m")
        figures["concurrent"] = {"p50": crowd.p(50), "p95": crowd.p(95), "rate": crowd.rate, "lost": crowd.lost}
        sustained, steps, rate = 0.0, [], 5.0
        phases = [single, crowd]
        while True:
            print(f"  [{target.name}] {rate:g} msg/s for {step:g} s…", flush=True)
            phase = await open_loop(client, target, rate, step, "m")
            phases.append(phase)
            steps.append({"rate": rate, "p50": phase.p(50), "p95": phase.p(95), "lost": phase.lost + phase.off_script})
            if phase.lost or phase.off_script or not phase.p(95) <= SLO_SECONDS * 1000:
                break
            sustained, rate = rate, rate + 5
        sampler_stop.set()
        await sampler
        figures["sustained"] = {"rate": sustained, "steps": steps}
        checked, wrong = await stored_exactly_once(client, target, phases)
    figures["rss_mb"] = peak
    figures["stored"] = {"conversations": checked, "not_exactly_once": wrong}
    figures["lost"] = sum(p.lost for p in phases)
    figures["off_script"] = sum(p.off_script for p in phases)
    return figures


# --- the two stacks ---------------------------------------------------------------------------

def stock_model() -> Path:
    """Rasa's own example bot, created and trained by `rasa init` once into var/bench/."""
    models = sorted((STOCK_DIR / "models").glob("*.tar.gz")) if STOCK_DIR.exists() else []
    if models:
        return models[-1]
    shutil.rmtree(STOCK_DIR, ignore_errors=True)
    STOCK_DIR.mkdir(parents=True)
    print("[bench] training the stock `rasa init` bot once (about 2–3 minutes on 2 cores)…", flush=True)
    subprocess.run([str(RASA_BIN), "init", "--no-prompt", "--init-dir", str(STOCK_DIR)], cwd=STOCK_DIR,
                   env={**os.environ, **QUIET_ENV}, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    return sorted((STOCK_DIR / "models").glob("*.tar.gz"))[-1]


@contextmanager
def stock_stack(port: int = 17005) -> Iterator[Target]:
    model = stock_model()
    log = (STOCK_DIR / "rasa.log").open("ab")
    process = subprocess.Popen(
        [str(RASA_BIN), "run", "--enable-api", "--model", str(model), "--interface", "127.0.0.1", "--port", str(port)],
        cwd=STOCK_DIR, env={**os.environ, **QUIET_ENV}, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            if process.poll() is not None:
                raise SystemExit(f"the stock Rasa exited; see {STOCK_DIR / 'rasa.log'}")
            try:
                if httpx.get(f"{url}/status", timeout=2).json().get("model_file"):
                    break
            except (httpx.HTTPError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the stock Rasa did not load its model in 300 s")
            time.sleep(1)
        yield Target("stock rasa init", url, STOCK_TURNS, lambda: [process.pid], expect=STOCK_EXPECT)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@contextmanager
def hamdel_stack(workers: int, workdir: Path) -> Iterator[Target]:
    url = f"sqlite:///{workdir / 'hamdel.db'}"
    migrate(url)
    env = {"DATABASE_URL": url, "HAMDEL_SPOOL": str(workdir / "spool.jsonl"), "TRACKER_DB": str(workdir / "tracker.db")}
    stack = Stack(rasa_port=16005, action_port=16055, log_dir=workdir / "log", env=env, workers=workers)
    stack.start(ensure_model())
    try:
        stack.wait_ready(timeout=300)
        yield Target("Hamdel", stack.rasa_url, HAMDEL_TURNS, lambda: [p.pid for p in stack.processes], token=stack.token,
                     expect=HAMDEL_EXPECT)
    finally:
        stack.stop()


# --- report -----------------------------------------------------------------------------------

def report(stock: dict[str, Any], hamdel: dict[str, Any], workers: int) -> None:
    def ratio(h: float, s: float) -> str:
        return f"{h / s:.2f}×" if s else "–"

    rows = [
        ("1 user: p50 per turn (ms)", stock["one_user"]["p50"], hamdel["one_user"]["p50"], "≤ 0.60×"),
        ("1 user: p95 per turn (ms)", stock["one_user"]["p95"], hamdel["one_user"]["p95"], "≤ 80 ms"),
        (f"{CONCURRENT_USERS} users: p50 per turn (ms)", stock["concurrent"]["p50"], hamdel["concurrent"]["p50"], ""),
        (f"{CONCURRENT_USERS} users: p95 per turn (ms)", stock["concurrent"]["p95"], hamdel["concurrent"]["p95"], ""),
        ("messages/s at saturation", stock["concurrent"]["rate"], hamdel["concurrent"]["rate"], ""),
        ("sustained msg/s, p95 ≤ 1 s", stock["sustained"]["rate"], hamdel["sustained"]["rate"], "≥ 30, ≥ 2×"),
        ("RSS of the whole stack (MB)", stock["rss_mb"], hamdel["rss_mb"], "≤ 1,500 MB"),
    ]
    print(f"\nHamdel ({workers} Rasa process{'es' if workers > 1 else ''}) and the stock `rasa init` bot "
          f"on this machine ({os.cpu_count()} cores)")
    print(f"{'':34}{'stock':>10}{'Hamdel':>10}{'ratio':>9}   target")
    for label, s, h, goal in rows:
        print(f"{label:34}{s:>10.1f}{h:>10.1f}{ratio(h, s):>9}   {goal}")
    for name, figures in (("stock", stock), ("Hamdel", hamdel)):
        stored = figures["stored"]
        print(f"{name}: {figures['lost']} messages unanswered, {figures['off_script']} answered off script; "
              f"{stored['not_exactly_once']} of {stored['conversations']} "
              f"conversations not stored exactly once")
    print("Hamdel per kind of turn, 1 user, p50 ms: " + ", ".join(f"{k} {v:g}" for k, v in hamdel["one_user"]["by_turn"].items()))
    for name, figures in (("stock", stock), ("Hamdel", hamdel)):
        print(f"{name} open-loop steps: " + "; ".join(
            f"{s['rate']:g}/s p95 {s['p95']:.0f} ms" + (f" ({s['lost']} lost or off script)" if s["lost"] else "") for s in figures["sustained"]["steps"]))


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter phases (a smoke run, figures are rough)")
    parser.add_argument("--workers", type=int, default=1, help="Rasa processes for Hamdel (needs redis-server)")
    parser.add_argument("--no-telegram", action="store_true", help="skip the Telegram path")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args(argv)
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    results: dict[str, Any] = {"machine": {"cores": os.cpu_count()}, "workers": args.workers}
    pairs, conversations = (2, 3) if args.quick else (6, 5)
    with tempfile.TemporaryDirectory(prefix="hamdel-bench-") as tmp:
        print("[bench] starting Hamdel and the stock `rasa init` bot…", flush=True)
        with hamdel_stack(args.workers, Path(tmp)) as hamdel, stock_stack() as stock:
            print(f"[bench] one user, {pairs} alternating rounds of {conversations} conversations each…", flush=True)
            single = asyncio.run(one_user_paired([hamdel, stock], pairs, conversations))
            for key, target in (("hamdel", hamdel), ("stock", stock)):
                results[key] = asyncio.run(measure(target, args.quick, *single[target.name]))
    report(results["stock"], results["hamdel"], args.workers)
    if not args.no_telegram:
        try:
            from benchmarks import telegram_path
        except ImportError:
            print("\n(the Telegram-path benchmark is not available)")
        else:
            print("\n[bench] the Telegram path: updates → bot → Rasa → replies, through the Bot API stand-in")
            results["telegram"] = telegram_path.main(["--workers", str(args.workers)] + (["--seconds", "20"] if args.quick else []))
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    return results


if __name__ == "__main__":
    main()
