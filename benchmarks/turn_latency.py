"""How long a customer waits for Hamdel's answer, per turn, on this machine. Prints figures; not a test.

    .venv/bin/python benchmarks/turn_latency.py [--conversations 10]

Starts Rasa and the action server on spare ports with a throwaway SQLite file, then holds N whole
complaint conversations (story, "that's all", confirm, wish → ticket) through the REST channel,
one after another, and reports p50/p95/max per kind of turn. The Telegram bot adds its quiet
window (3 s by default) on top, on purpose: it waits for the customer to finish.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hamdel.services import Stack, ensure_model  # noqa: E402
from hamdel.storage.db import migrate  # noqa: E402

TURNS = (
    ("story", "سلام، سفارشم به شماره ۴۵۸۷۱۲۳ از دوشنبه هنوز نرسيده و پشتیبانی هم جواب نمیده"),
    ("that's all", "/deny"),
    ("confirm", "/affirm"),
    ("wish → ticket", "لطفا زودتر بفرستید"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conversations", type=int, default=10)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="hamdel-latency-"))
    url = f"sqlite:///{workdir / 'hamdel.db'}"
    migrate(url)
    stack = Stack(rasa_port=16005, action_port=16055, log_dir=workdir / "log",
                  env={"DATABASE_URL": url, "HAMDEL_SPOOL": str(workdir / "spool.jsonl")})
    started = time.monotonic()
    stack.start(ensure_model())
    try:
        stack.wait_ready(timeout=300)
        print(f"servers ready in {time.monotonic() - started:.0f} s")
        timings: dict[str, list[float]] = {name: [] for name, _ in TURNS}
        with httpx.Client(base_url=stack.rasa_url, timeout=60) as client:
            for n in range(args.conversations + 1):
                for name, text in TURNS:
                    began = time.perf_counter()
                    reply = client.post("/webhooks/rest/webhook", json={"sender": f"bench:{n}", "message": text})
                    elapsed = time.perf_counter() - began
                    if not reply.json():
                        raise SystemExit(f"empty answer to {name!r}; see {workdir / 'log'}")
                    if n:  # the first conversation warms the model up and is not counted
                        timings[name].append(elapsed * 1000)
        print(f"{'turn':<16}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}   ({args.conversations} conversations)")
        everything: list[float] = []
        for name, values in timings.items():
            everything += values
            p95 = statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 else values[0]
            print(f"{name:<16}{statistics.median(values):>9.0f}{p95:>9.0f}{max(values):>9.0f}")
        p95_all = statistics.quantiles(everything, n=20, method="inclusive")[-1]
        print(f"{'all turns':<16}{statistics.median(everything):>9.0f}{p95_all:>9.0f}{max(everything):>9.0f}")
    finally:
        stack.stop()


if __name__ == "__main__":
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    main()
