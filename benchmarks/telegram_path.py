"""The Telegram path under load: updates → the real bot process → real Rasa → replies. Prints figures; not a test.

    .venv/bin/python benchmarks/telegram_path.py [--rate 30] [--seconds 60] [--customers 200] [--drain 30]

What runs, all on this machine:
  * the local Bot API stand-in (`devtools/bot_api_standin.py`) in this process, where customers'
    updates are pushed and the bot's messages are recorded with the time they arrived;
  * the bot as production runs it, `python -m bot` (long polling), pointed at the stand-in, with
    QUIET_WINDOW_SECONDS=0 (each message is its own turn at once: the 3 s default would only add
    3 s to every figure and measure nothing) and an agents' group (the stand-in's forum), as in
    production;
  * Rasa and the action server (`hamdel.services.Stack`) on spare ports, the trained model as
    `ensure_model()` finds it (this script refuses to train one), a throwaway SQLite database
    migrated by `hamdel.storage.db.migrate` and a throwaway tracker file.

The load, and why it is shaped so:
  * Every customer works through one whole complaint conversation, the one `benchmarks/bench.py`
    sends through the REST channel, so the figures sit beside its own: the
    story (text), «همین بود» and «بله، درسته» (button presses: callback queries carrying the
    buttons' `r:/deny` and `r:/affirm` data on the bot message that showed them, as Telegram sends
    them; typing "/deny" would be an unknown command to the bot), then the wish (text), which
    opens a ticket.
  * Open loop: a clock fires `rate` times a second whatever the replies do, and each tick sends
    one message. A customer waits for the answer (all of it: a button can only be pressed once the
    message carrying it has arrived) before sending the next message of their conversation, so a
    tick goes to the customer who has been ready longest; when nobody is ready, a new customer
    (a new private chat) arrives and sends a story. At most `customers` conversations are under
    way at once; a tick that finds all of them waiting for answers is counted as *skipped*, so a
    saturated system shows as an achieved rate below the asked one rather than as an ever-growing
    crowd. A customer who finished leaves; the next newcomer gets a fresh chat (a second
    complaint in the same chat would be asked about the first ticket, another conversation).
  * Latency of a customer message: from `push_update` to the first bot message the stand-in
    received for that chat afterwards (the stand-in's own clock, so polling here adds nothing);
    "complete" is to the last message of the expected answer.

Lost and duplicated, honestly: before the load, one reference conversation is held alone (one
turn at a time, waiting until the chat has been quiet for 2 s) through the same path; the number
of bot messages each turn produced there is what that turn must produce under load. Because the
bot answers a chat strictly in order and a customer sends the next message only when the answer
is complete, every bot message of a chat belongs to the chat's latest customer message. So, per
customer message: no message at all by the end of the drain = *lost*; fewer than the reference =
*incomplete*; more = *duplicated* (answered twice, or extra messages such as «please wait»).
Surplus messages are also counted per chat (messages received minus the reference's sum over the
turns sent), which does not depend on attribution. A button the reference showed but the load run
did not (so the customer cannot go on) is counted as *off script*.

Rate limits: the stand-in's caps are off. Telegram's limits are modelled where the production bot
meets them, in its own `HamdelRateLimiter` (30 requests/s overall, 20/min per group, a burst of 3
then 1 message/s per private chat), which runs unchanged; a cap in the stand-in as well would only
turn the limiter's waits into 429s and retries without modelling Telegram better (its real
per-chat limit is not published). That limiter counts every call with a chat id against the 30/s,
typing actions and keyboard edits included, so the calls the bot made are printed by method.

After the last tick the script waits up to `drain` seconds for answers still owed (then 2 s more
for stray duplicates) and reports the bot's RSS (peak, sampled every 0.5 s, and at the end).
`main(argv)` prints and returns the figures; `run(...)` returns them without printing.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from devtools.bot_api_standin import BotApiStandIn, callback_update, text_update  # noqa: E402

AGENT_CHAT_ID = -100777  # the stand-in's forum supergroup
FIRST_CHAT_ID = 7_000_001  # private chats: chat id = user id, positive
SETTLE_SECONDS = 2.0  # reference run: a turn is over when its chat was quiet this long
POLL_SECONDS = 0.02  # how often new bot messages are read from the stand-in
RSS_EVERY_SECONDS = 0.5


@dataclass(frozen=True)
class Step:
    """One customer message: typed text, or a press of the button carrying this Rasa payload."""

    name: str
    kind: str  # "text" or "button"
    value: str


CONVERSATION = (
    Step("story", "text", "سلام، سفارشم به شماره ۴۵۸۷۱۲۳ از دوشنبه هنوز نرسيده و پشتیبانی هم جواب نمیده"),
    Step("that's all", "button", "/deny"),
    Step("confirm", "button", "/affirm"),
    Step("wish → ticket", "text", "لطفا زودتر بفرستید"),
)


# --- counting (pure; tests/benchmarks/test_telegram_path_helpers.py) ------------------------------

def percentile(values: Sequence[float], q: int) -> float:
    """The q-th percentile (inclusive method, as benchmarks/bench.py); NaN when there is nothing."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return float(values[0])
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


@dataclass
class Turn:
    """A customer message under load and the bot messages that answered it (their arrival times)."""

    chat_id: int
    step: str
    pushed_at: float
    expected: int
    replies: list[float] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return len(self.replies) >= self.expected

    def latency_ms(self) -> float | None:
        return (self.replies[0] - self.pushed_at) * 1000 if self.replies else None

    def complete_ms(self) -> float | None:
        return (self.replies[self.expected - 1] - self.pushed_at) * 1000 if self.complete else None


def tally(turns: Sequence[Turn], received_per_chat: dict[int, int]) -> dict[str, int]:
    """Lost / incomplete / duplicated customer messages, and surplus bot messages per chat.

    `received_per_chat` is every bot message each customer chat got, attributed or not; the
    surplus compares it with what the reference says the turns sent should have produced."""
    expected_per_chat: dict[int, int] = {}
    for turn in turns:
        expected_per_chat[turn.chat_id] = expected_per_chat.get(turn.chat_id, 0) + turn.expected
    surplus = sum(max(0, received_per_chat.get(chat, 0) - owed) for chat, owed in expected_per_chat.items())
    surplus += sum(n for chat, n in received_per_chat.items() if chat not in expected_per_chat)
    return {
        "lost": sum(1 for t in turns if not t.replies),
        "incomplete": sum(1 for t in turns if t.replies and len(t.replies) < t.expected),
        "duplicated": sum(1 for t in turns if len(t.replies) > t.expected),
        "surplus_messages": surplus,
    }


def latency_figures(turns: Sequence[Turn]) -> dict[str, float]:
    """p50 / p95 / max (ms) to the first reply and to the complete answer."""
    first = [ms for t in turns if (ms := t.latency_ms()) is not None]
    whole = [ms for t in turns if (ms := t.complete_ms()) is not None]
    return {"p50_ms": percentile(first, 50), "p95_ms": percentile(first, 95), "max_ms": max(first, default=float("nan")),
            "complete_p50_ms": percentile(whole, 50), "complete_p95_ms": percentile(whole, 95),
            "complete_max_ms": max(whole, default=float("nan"))}


def find_button(messages: Sequence[dict[str, Any]], payload: str) -> tuple[int, str] | None:
    """(message id, callback data) of the newest bot message whose keyboard has `payload`'s button.

    The bot sends short payloads verbatim as `r:<payload>` (bot/formatting.py); a hashed one could
    not be matched here and counts as off script."""
    wanted = "r:" + payload
    for message in reversed(messages):
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
            for button in row:
                if button.get("callback_data") == wanted:
                    return int(message["message_id"]), wanted
    return None


def rss_mb(pid: int) -> float | None:
    """Resident memory of a process (VmRSS), MB; None once it has gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        return None
    return None


# --- the run --------------------------------------------------------------------------------------

@dataclass
class Customer:
    """One private chat working through CONVERSATION."""

    chat_id: int
    next_step: int = 0
    turn: Turn | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)


class Driver:
    """The stand-in, the bot process, and the customers; see the module docstring."""

    def __init__(self, api: BotApiStandIn, bot: subprocess.Popen[bytes]) -> None:
        self.api, self.bot = api, bot
        self.customers: dict[int, Customer] = {}
        self.ready: deque[Customer] = deque()
        self.turns: list[Turn] = []
        self.received: dict[int, int] = {}
        self.agent_messages = 0
        self.finished = self.off_script = self.skipped = 0
        self.expected: list[int] = []
        self.reference_chats: set[int] = set()
        self._seen = 0
        self._next_chat = FIRST_CHAT_ID
        self.rss_peak = 0.0

    def new_customer(self) -> Customer:
        customer = Customer(self._next_chat)
        self._next_chat += 1
        self.customers[customer.chat_id] = customer
        return customer

    def push(self, customer: Customer, step: Step, expected: int) -> Turn | None:
        """Send the customer's next message; None (and the customer leaves) if its button is missing."""
        if step.kind == "text":
            update = text_update(customer.chat_id, customer.chat_id, step.value)
        else:
            found = find_button(customer.messages, step.value)
            if found is None:
                self.off_script += 1
                self.customers.pop(customer.chat_id, None)
                return None
            update = callback_update(customer.chat_id, customer.chat_id, found[1], found[0])
        self.api.push_update(update)
        turn = Turn(customer.chat_id, step.name, time.monotonic(), expected)
        customer.turn = turn
        customer.next_step += 1
        return turn

    def collect(self) -> None:
        """Read the bot's new messages; a customer whose answer is complete becomes ready (or leaves)."""
        sent = self.api.sent_messages()
        new, self._seen = sent[self._seen:], len(sent)
        for message in new:
            chat_id = int(message["chat_id"])
            if chat_id in self.reference_chats:
                continue  # a late word of the reference conversation is not the load's
            if chat_id == AGENT_CHAT_ID:
                self.agent_messages += 1
                continue
            self.received[chat_id] = self.received.get(chat_id, 0) + 1
            customer = self.customers.get(chat_id)
            if customer is None or customer.turn is None:
                continue  # a chat that left (off script) or an unasked message: counted as surplus
            customer.messages.append(message)
            turn = customer.turn
            turn.replies.append(float(message["sent_at"]))
            if len(turn.replies) == turn.expected and self.expected:  # exactly once per turn
                if customer.next_step >= len(CONVERSATION):
                    self.finished += 1
                    del self.customers[chat_id]
                else:
                    self.ready.append(customer)

    def sample_rss(self) -> float | None:
        value = rss_mb(self.bot.pid)
        if value is not None:
            self.rss_peak = max(self.rss_peak, value)
        return value

    def check_bot(self) -> None:
        if self.bot.poll() is not None:
            raise RuntimeError(f"the bot exited with code {self.bot.returncode}")

    async def reference(self, timeout: float = 120.0) -> list[int]:
        """One conversation alone: the number of bot messages each step produces (also the warm-up)."""
        customer = self.new_customer()
        counts: list[int] = []
        for step in CONVERSATION:
            turn = self.push(customer, step, expected=10**6)  # never "complete": nothing proceeds
            if turn is None:
                raise RuntimeError(f"reference conversation: no {step.value} button after "
                                   f"{[m.get('text', '')[:60] for m in customer.messages[-2:]]}")
            deadline = time.monotonic() + timeout
            while True:
                await asyncio.sleep(POLL_SECONDS)
                self.check_bot()
                self.collect()
                quiet = time.monotonic() - max(turn.replies, default=turn.pushed_at)
                if turn.replies and quiet >= SETTLE_SECONDS:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"reference conversation: no answer to {step.name!r} in {timeout:.0f} s")
            counts.append(len(turn.replies))
        if not any("HM-" in str(m.get("text") or "") for m in customer.messages[-counts[-1]:]):
            # The last step is the wish: without a ticket the load would measure a fallback, not Hamdel.
            raise RuntimeError("reference conversation: the wish opened no ticket "
                               f"({[str(m.get('text') or '')[:60] for m in customer.messages[-2:]]})")
        self.customers.pop(customer.chat_id, None)
        self.reference_chats.add(customer.chat_id)
        self.turns.clear()
        self.received.clear()
        self.agent_messages = 0
        return counts

    async def load(self, rate: float, seconds: float, max_customers: int, drain: float) -> dict[str, Any]:
        """The open-loop load, the drain, and the figures."""
        ticks = int(rate * seconds)
        collector = asyncio.create_task(self._collect_forever())
        requests_before = len(self.api.requests)
        begun = time.monotonic()
        lag_max = 0.0
        try:
            for tick in range(ticks):
                due = begun + tick / rate
                pause = due - time.monotonic()
                if pause > 0:
                    await asyncio.sleep(pause)
                lag_max = max(lag_max, time.monotonic() - due)
                self.collect()
                turn = None
                while turn is None:  # a customer who cannot go on (off script) gives the tick away
                    if self.ready:
                        customer = self.ready.popleft()
                    elif len(self.customers) < max_customers:
                        customer = self.new_customer()
                    else:
                        self.skipped += 1
                        break
                    turn = self.push(customer, CONVERSATION[customer.next_step], self.expected[customer.next_step])
                if turn is not None:
                    self.turns.append(turn)
            sending_ended = time.monotonic()
            deadline = sending_ended + drain
            while time.monotonic() < deadline and not all(t.complete for t in self.turns):
                await asyncio.sleep(0.1)
            await asyncio.sleep(2.0)  # stray duplicates
            self.collect()
            drained = time.monotonic() - sending_ended - 2.0
        finally:
            collector.cancel()
            try:
                await collector
            except asyncio.CancelledError:
                pass
        # What the bot asked of the Bot API meanwhile: its limiter counts every call with a chat_id
        # (typing actions and keyboard edits too) against the 30/s, so this shows where slots go.
        calls = Counter(method for method, _ in self.api.requests[requests_before:] if method != "getUpdates")
        elapsed = time.monotonic() - begun
        first_push = min((t.pushed_at for t in self.turns), default=begun)
        last_push = max((t.pushed_at for t in self.turns), default=begun)
        replies = sum(self.received.values())
        rss_end = self.sample_rss()
        return {
            "asked_rate": rate, "seconds": seconds, "max_customers": max_customers,
            "messages_sent": len(self.turns),
            "achieved_rate": len(self.turns) / (last_push - first_push) if last_push > first_push else float("nan"),
            "ticks_skipped": self.skipped, "clock_lag_max_ms": lag_max * 1000,
            "replies_received": replies, "agent_group_messages": self.agent_messages,
            "conversations_started": len({t.chat_id for t in self.turns}), "conversations_finished": self.finished,
            "off_script": self.off_script,
            "reference_replies_per_step": dict(zip([s.name for s in CONVERSATION], self.expected, strict=True)),
            **tally(self.turns, self.received), **latency_figures(self.turns),
            "by_step_p50_ms": {s.name: percentile([ms for t in self.turns if t.step == s.name
                                                   if (ms := t.latency_ms()) is not None], 50) for s in CONVERSATION},
            "drain_used_s": drained,
            "bot_api_calls": dict(calls.most_common()),
            "bot_api_calls_per_s": sum(calls.values()) / elapsed if elapsed > 0 else float("nan"),
            "bot_rss_peak_mb": self.rss_peak, "bot_rss_end_mb": rss_end,
        }

    async def _collect_forever(self) -> None:
        """Read replies while the sender sleeps, and sample the bot's memory."""
        next_rss = 0.0
        while True:
            self.check_bot()
            self.collect()
            if time.monotonic() >= next_rss:
                self.sample_rss()
                next_rss = time.monotonic() + RSS_EVERY_SECONDS
            await asyncio.sleep(POLL_SECONDS)


def _model() -> Path:
    """The trained model `ensure_model()` would serve; refuses instead of training one (minutes)."""
    from hamdel.services import ensure_model, model_path, production_model

    if not os.environ.get("HAMDEL_MODEL") and production_model() is None and not model_path().exists():
        raise SystemExit(f"no trained model for the current inputs ({model_path().name}); run `make train` first")
    return ensure_model()


def _start_bot(workdir: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`python -m bot`, as tests/faults/botprocess.py starts it: its own working folder (the
    repository's `.env` must not leak in), the repository on PYTHONPATH."""
    full = {**os.environ, **env, "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING"}
    with (workdir / "bot.log").open("ab") as log:
        return subprocess.Popen([sys.executable, "-m", "bot"], cwd=workdir, env=full, stdout=log,
                                stderr=subprocess.STDOUT)


async def _stop_bot(bot: subprocess.Popen[bytes]) -> None:
    """SIGTERM, waited for without blocking the loop (the stand-in answers the bot's last calls)."""
    if bot.poll() is None:
        bot.terminate()
    deadline = time.monotonic() + 20
    while bot.poll() is None and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    if bot.poll() is None:
        bot.kill()
        bot.wait(10)


async def _drive(workdir: Path, database_url: str, rasa_url: str, rasa_token: str, rate: float, seconds: float,
                 max_customers: int, drain: float) -> dict[str, Any]:
    api = BotApiStandIn(agent_chat_id=AGENT_CHAT_ID)  # rate caps off: see the module docstring
    await api.start()
    bot = _start_bot(workdir, {
        "ENVIRONMENT": "test", "DATABASE_URL": database_url, "TELEGRAM_TOKEN": api.token,
        "TELEGRAM_BASE_URL": api.base_url, "TELEGRAM_BASE_FILE_URL": api.base_file_url,
        "RASA_URL": rasa_url, "RASA_TOKEN": rasa_token, "QUIET_WINDOW_SECONDS": "0",
        "AGENT_CHAT_ID": str(AGENT_CHAT_ID), "HAMDEL_HEARTBEAT": str(workdir / "bot.heartbeat"),
        "HAMDEL_INBOX_JOURNAL": str(workdir / "inbox-journal.jsonl"), "HAMDEL_SPOOL": str(workdir / "spool.jsonl"),
    })
    driver = Driver(api, bot)
    try:
        deadline = time.monotonic() + 60
        while not api.calls("getUpdates"):  # polling: the bot has started
            driver.check_bot()
            if time.monotonic() > deadline:
                raise RuntimeError("the bot did not start polling within 60 s")
            await asyncio.sleep(0.1)
        driver.expected = await driver.reference()
        print(f"[telegram] reference conversation: bot messages per step {driver.expected}; load starts", flush=True)
        return await driver.load(rate, seconds, max_customers, drain)
    except RuntimeError as error:
        raise SystemExit(f"{error}; see {workdir / 'bot.log'}") from None
    finally:
        await _stop_bot(bot)
        await api.stop()


def run(*, rate: float = 30.0, seconds: float = 60.0, customers: int = 200, drain: float = 30.0,
        workdir: Path | None = None, workers: int = 1) -> dict[str, Any]:
    """Start everything, measure, stop everything; the figures as a dict (nothing printed but progress)."""
    from hamdel.services import Stack, free_port
    from hamdel.storage.db import migrate

    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    workdir = workdir or Path(tempfile.mkdtemp(prefix="hamdel-telegram-path-"))
    database_url = f"sqlite:///{workdir / 'hamdel.db'}"
    migrate(database_url)
    token = secrets.token_urlsafe(24)
    stack = Stack(rasa_port=free_port(), action_port=free_port(), log_dir=workdir / "log",
                  env={"DATABASE_URL": database_url, "HAMDEL_SPOOL": str(workdir / "spool.jsonl"),
                       "TRACKER_DB": str(workdir / "tracker.db"), "RASA_TOKEN": token}, workers=workers)
    model = _model()
    started = time.monotonic()
    print(f"[telegram] starting Rasa and the action server (logs in {workdir})…", flush=True)
    stack.start(model)
    try:
        stack.wait_ready(timeout=300)
        print(f"[telegram] servers ready in {time.monotonic() - started:.0f} s", flush=True)
        figures = asyncio.run(_drive(workdir, database_url, stack.rasa_url, token, rate, seconds, customers, drain))
    finally:
        stack.stop()
    figures["workdir"] = str(workdir)
    return figures


def report(figures: dict[str, Any]) -> str:
    """The figures as the lines `main` prints."""
    f = figures
    by_step = ", ".join(f"{name} {ms:.0f}" for name, ms in f["by_step_p50_ms"].items())
    return "\n".join([
        f"Telegram path: {f['asked_rate']:g} msg/s asked for {f['seconds']:g} s, at most {f['max_customers']} "
        f"conversations at once, quiet window 0",
        f"  messages sent        {f['messages_sent']} (achieved {f['achieved_rate']:.1f} msg/s; "
        f"{f['ticks_skipped']} ticks skipped with every customer waiting; clock lag max {f['clock_lag_max_ms']:.0f} ms)",
        f"  conversations        {f['conversations_started']} started, {f['conversations_finished']} finished, "
        f"{f['off_script']} off script",
        f"  replies received     {f['replies_received']} to customers (+{f['agent_group_messages']} to the agents' group); "
        f"reference per step {list(f['reference_replies_per_step'].values())}",
        f"  first reply          p50 {f['p50_ms']:.0f} ms, p95 {f['p95_ms']:.0f} ms, max {f['max_ms']:.0f} ms",
        f"  complete answer      p50 {f['complete_p50_ms']:.0f} ms, p95 {f['complete_p95_ms']:.0f} ms, "
        f"max {f['complete_max_ms']:.0f} ms",
        f"  first reply p50 by step (ms): {by_step}",
        f"  lost (no reply)      {f['lost']}",
        f"  incomplete answers   {f['incomplete']}",
        f"  duplicated           {f['duplicated']} messages answered more than the reference; "
        f"{f['surplus_messages']} surplus bot messages",
        f"  drain                {f['drain_used_s']:.1f} s used",
        f"  bot → Bot API calls  {f['bot_api_calls_per_s']:.1f}/s over the run: "
        + ", ".join(f"{method} {n}" for method, n in f["bot_api_calls"].items()),
        f"  bot RSS              peak {f['bot_rss_peak_mb']:.0f} MB, end "
        + (f"{f['bot_rss_end_mb']:.0f} MB" if f["bot_rss_end_mb"] is not None else "n/a"),
    ])


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Parse `argv`, run, print the figures and return them (benchmarks/bench.py prints them beside its own)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--rate", type=float, default=30.0, help="customer messages per second (open loop)")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the clock sends")
    parser.add_argument("--customers", type=int, default=200, help="most conversations under way at once")
    parser.add_argument("--drain", type=float, default=30.0, help="longest wait for answers still owed")
    parser.add_argument("--workers", type=int, default=1, help="Rasa processes (several need redis-server)")
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.seconds <= 0 or args.customers < 1 or args.drain < 0:
        parser.error("--rate and --seconds must be positive, --customers at least 1, --drain not negative")
    figures = run(rate=args.rate, seconds=args.seconds, customers=args.customers, drain=args.drain, workers=args.workers)
    print(report(figures), flush=True)
    return figures


if __name__ == "__main__":
    main()
