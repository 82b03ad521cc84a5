"""Where a turn's time goes: py-spy samples Rasa and the action server while one customer holds
whole complaint conversations, and the samples are sorted into the parts of a turn.

    .venv/bin/python benchmarks/profile_turn.py [--seconds 30] [--out results/profile]

Prints, per server, the share of its busy time and the milliseconds per customer turn spent in
each part (NLU, policies, tracker store load and save, action calls and Rasa's check of their
answers, the action server's own work, HTTP and the rest), and keeps the raw samples (py-spy's
collapsed stacks, one line per stack: open them with speedscope or flamegraph.pl) in --out.
docs/performance.md is written from this output. Needs ptrace rights (root, or
kernel.yama.ptrace_scope=0); a benchmark, not a test.
"""
from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench import HAMDEL_TURNS, Conversation, Phase, Target, say  # noqa: E402
from hamdel.services import Stack, ensure_model  # noqa: E402
from hamdel.storage.db import migrate  # noqa: E402

SAMPLE_RATE = 200  # per second
# A stack is counted in the first part whose marker appears in it, looking from the root down,
# so "NLU" holds everything done while parsing (DIET, featurizers, normalisation) and so on.
RASA_PARTS = (
    ("NLU: parse the message (normaliser, featurizers, DIET)", ("parse_message (rasa/core/processor.py",)),
    ("tracker store: load the conversation (SQL, events)", ("get_tracker (rasa/core/processor.py",
                                                           "fetch_tracker_and_update_session (rasa/core/processor.py")),
    ("tracker store: save the new events (SQL)", ("save_tracker (rasa/core/processor.py",)),
    ("policies: choose the next action (rules, memoization)", ("_predict_next_with_tracker (rasa/core/processor.py",)),
    ("check of the action server's answer (jsonschema)", ("_validate_action_result",)),
    ("action call: tracker to JSON, HTTP, events back", ("run (rasa/core/actions/action.py",)),
    ("utterances and other actions", ("_run_action (rasa/core/processor.py",)),
    ("rest of the message handling", ("handle_message (rasa/core/processor.py",)),
    ("HTTP server and event loop", ("http1 (sanic/http.py", "connection_task")),
)
ACTION_PARTS = (
    ("reading the request (JSON of tracker and domain)", ("load_json", "Request.json")),
    ("the actions' own work (database, texts)", ("ActionExecutor.run",)),
    ("HTTP server and event loop", ("handle_request", "connection_task", "http1")),
)
IDLE_LEAVES = ("serve (sanic/server/runners.py", "_run_server_forever (sanic/server/runners.py", "select (selectors.py",
               "wait (threading.py", "_worker (concurrent/futures/thread.py")


def summarise(collapsed: Path, parts: tuple[tuple[str, tuple[str, ...]], ...]) -> tuple[Counter[str], int]:
    """Samples per part (plus 'other') from py-spy's collapsed stacks; idle samples are dropped."""
    counts: Counter[str] = Counter()
    idle = 0
    for line in collapsed.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, number = line.rpartition(" ")
        if not number.isdigit():
            continue
        frames = stack.split(";")
        if frames[-1].startswith(IDLE_LEAVES):
            idle += int(number)
            continue
        part = next((name for name, markers in parts if any(m in stack for m in markers)), "other (start-up, threads, GC)")
        counts[part] += int(number)
    return counts, idle


def report(title: str, counts: Counter[str], idle: int, turns: int, parts: tuple[tuple[str, tuple[str, ...]], ...]) -> None:
    busy = sum(counts.values())
    print(f"\n{title}: {busy / SAMPLE_RATE:.1f} s busy of {(busy + idle) / SAMPLE_RATE:.1f} s sampled, {turns} turns")
    print(f"  {'part':58}{'share':>8}{'ms/turn':>10}")
    for name in [p for p, _ in parts] + ["other (start-up, threads, GC)"]:
        if counts[name]:
            print(f"  {name:58}{counts[name] / busy:>8.0%}{counts[name] / SAMPLE_RATE / turns * 1000:>10.1f}")
    print(f"  {'total':58}{1:>8.0%}{busy / SAMPLE_RATE / turns * 1000:>10.1f}")


async def converse(target: Target, seconds: float) -> int:
    """One customer after another, whole conversations, for `seconds`; returns turns answered."""
    phase = Phase()
    async with httpx.AsyncClient(base_url=target.url, timeout=60) as client:
        deadline, n = time.monotonic() + seconds, 0
        while time.monotonic() < deadline:
            conversation = Conversation(f"profile-{n}", target.turns)
            while not conversation.done:
                await say(client, target, conversation, phase)
            n += 1
    return len(phase.latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "profile")
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hamdel-profile-") as tmp:
        work = Path(tmp)
        url = f"sqlite:///{work / 'hamdel.db'}"
        migrate(url)
        stack = Stack(rasa_port=16305, action_port=16355, log_dir=work / "log",
                      env={"DATABASE_URL": url, "HAMDEL_SPOOL": str(work / "spool.jsonl"), "TRACKER_DB": str(work / "tracker.db")})
        stack.start(ensure_model())
        try:
            stack.wait_ready(timeout=300)
            target = Target("Hamdel", stack.rasa_url, HAMDEL_TURNS, lambda: [], token=stack.token)
            asyncio.run(converse(target, 5))  # warm-up: first calls trace TensorFlow functions
            spies = {
                name: subprocess.Popen([py_spy, "record", "--rate", str(SAMPLE_RATE), "--duration", str(int(args.seconds) + 2),
                                        "--format", "raw", "--output", str(args.out / f"{name}.collapsed"), "--pid", str(process.pid)],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                for name, process in (("actions", stack.processes[0]), ("rasa", stack.processes[1]))
            }
            time.sleep(1)
            turns = asyncio.run(converse(target, args.seconds))
            for spy in spies.values():
                spy.wait(timeout=60)
        finally:
            stack.stop()
    print(f"{turns} turns in {args.seconds:g} s, one customer at a time ({turns / args.seconds:.1f} turns/s)")
    report("Rasa server", *summarise(args.out / "rasa.collapsed", RASA_PARTS), turns, RASA_PARTS)
    report("action server", *summarise(args.out / "actions.collapsed", ACTION_PARTS), turns, ACTION_PARTS)
    print(f"\nraw samples: {args.out}/rasa.collapsed, {args.out}/actions.collapsed (speedscope or flamegraph.pl)")


if __name__ == "__main__":
    main()
