"""The follow-up scheduler: claims due rows from the database and sends them through the Bot API.

It runs inside the bot process as one asyncio task (`followups.integration.attach`), but nothing
in it depends on the bot being up: follow-ups that fell due while it was down are simply due when
it comes back. Two schedulers (two bot processes) share the work safely because every row is
claimed with one conditional UPDATE (see `hamdel.storage.followups` for the at-most-once design).

Throughput comes from group commit, not from weakening the guarantees: each message is still
marked in flight before its request and recorded after it, but all marks that pile up while the
database thread is busy go out in one transaction. Database work runs on one dedicated thread so
the event loop (and the customers' conversations) never waits on SQLite.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Generic, TypeVar

import httpx
from sqlalchemy.orm import Session, sessionmaker
from telegram import Bot
from telegram.error import Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut

from followups.messages import Outgoing, Skip, compose
from followups.quiet_hours import is_quiet
from hamdel.followup_policy import FollowUpPolicy, SchedulerSettings
from hamdel.storage import followups as repo
from hamdel.storage.db import get_sessionmaker
from hamdel.storage.models import FollowUpKind, FollowUpStatus, utcnow

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
T = TypeVar("T")
R = TypeVar("R")


class Pacer:
    """Spaces request starts evenly (no bursts) at `rate` per second, and stops everything while
    Telegram's flood control (`RetryAfter`) is in force: the limit is per bot, not per chat.

    `wait()` is called before a row is marked in flight (so the in-flight window stays short) and
    `gate()` right before the request: database latency between the two would otherwise bunch
    requests together and overshoot the rate within a one-second window.
    """

    def __init__(self, rate: float | None) -> None:
        self._interval = 1.0 / rate if rate else 0.0
        self._next = 0.0
        self._last_gate = 0.0
        self._paused_until = 0.0

    async def gate(self) -> None:
        if not self._interval and not self._paused_until:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        at = max(self._last_gate + self._interval, self._paused_until, now)
        self._last_gate = at
        if at > now:
            await asyncio.sleep(at - now)

    async def wait(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            slot = max(self._next, self._paused_until, now)
            self._next = slot + self._interval
            if slot > now:
                await asyncio.sleep(slot - now)
            if loop.time() >= self._paused_until:  # a pause may have begun while we slept
                return

    def pause(self, seconds: float) -> None:
        until = asyncio.get_running_loop().time() + seconds
        self._paused_until = max(self._paused_until, until)


class GroupCommit(Generic[T, R]):
    """Collects items submitted while the database thread is busy and writes them in one call.

    `flush(items)` runs on the database thread and returns one result per item, in order.
    """

    def __init__(self, run: Callable[..., Awaitable[Any]], flush: Callable[[list[T]], list[R]]) -> None:
        self._run, self._flush = run, flush
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._pending:
            await asyncio.sleep(0)  # let every ready worker add its item first
            batch, self._pending = self._pending, []
            try:
                results = await self._run(self._flush, [item for item, _ in batch])
            except BaseException as exc:  # noqa: BLE001 - handed to every waiter
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)


@dataclass
class Plan:
    """One claimed row and what to do with it."""

    followup_id: int
    kind: FollowUpKind
    due_at: datetime
    action: Outgoing | Skip
    follow_on: repo.NewFollowUp | None = None


@dataclass
class RunStats:
    sent: int = 0
    cancelled: int = 0
    failed: int = 0
    retried_after: int = 0
    released: int = 0
    lateness: list[float] = field(default_factory=list)  # seconds from due to sent


def default_worker_id() -> str:
    return f"{socket.gethostname()[:24]}:{os.getpid()}"


def _not_sent(error: TelegramError) -> bool:
    """True when the request certainly never reached Telegram, so sending again duplicates nothing."""
    cause = error.__cause__
    if isinstance(cause, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
        return True
    return isinstance(error, TimedOut) and "Pool timeout" in str(error)


def _retry_seconds(error: RetryAfter) -> float:
    value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class FollowUpScheduler:
    """Sends due follow-ups. `now` is injected so tests compress hours into seconds."""

    def __init__(
        self,
        bot: Bot,
        *,
        policy: FollowUpPolicy,
        agent_chat_id: int | None = None,
        now: Clock = utcnow,
        session_factory: sessionmaker[Session] | None = None,
        worker_id: str | None = None,
        settings: SchedulerSettings | None = None,
        maintenance_every: timedelta = timedelta(seconds=30),
        agent_reminders: bool = True,
    ) -> None:
        self.bot = bot
        self.policy = policy
        self.agent_chat_id = agent_chat_id
        self.now = now
        self.settings = settings or policy.scheduler
        self.worker_id = worker_id or default_worker_id()
        self.stats = RunStats()
        self._sessions = session_factory or get_sessionmaker()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="followups-db")
        self._pacer = Pacer(self.settings.max_per_second)
        self._stopping = asyncio.Event()
        self._maintenance_every = maintenance_every
        self._last_maintenance: datetime | None = None
        self._agent_reminders = agent_reminders
        self._in_flight = GroupCommit[tuple[int, str], bool](self._db, self._mark_in_flight)
        self._outcomes = GroupCommit[repo.Outcome, None](self._db, self._record)

    # --- database thread ----------------------------------------------------------------------

    async def _db(self, fn: Callable[..., R], *args: Any) -> R:
        return await asyncio.get_running_loop().run_in_executor(self._executor, partial(fn, *args))

    def _in_session(self, fn: Callable[[Session], R]) -> R:
        with self._sessions() as session:
            result = fn(session)
            session.commit()
            return result

    def _mark_in_flight(self, items: list[tuple[int, str]]) -> list[bool]:
        now = self.now()

        def work(session: Session) -> set[int]:
            marked: set[int] = set()
            by_token: dict[str, list[int]] = {}
            for followup_id, token in items:
                by_token.setdefault(token, []).append(followup_id)
            for token, ids in by_token.items():
                marked |= repo.mark_in_flight(session=session, ids=ids, token=token, now=now)
            return marked

        marked = self._in_session(work)
        return [followup_id in marked for followup_id, _ in items]

    def _record(self, outcomes: list[repo.Outcome]) -> list[None]:
        self._in_session(lambda session: repo.record_outcomes(session=session, outcomes=outcomes))
        return [None] * len(outcomes)

    def _maintenance(self, now: datetime) -> None:
        def work(session: Session) -> None:
            uncertain = repo.fail_uncertain(session=session, now=now, lease=self.settings.lease)
            if uncertain:
                log.warning("%d follow-ups were in flight when a scheduler died; not resent (at-most-once)",
                            uncertain)
            if self._agent_reminders:
                repo.ensure_agent_reminders(session=session, policy=self.policy, now=now)

        self._in_session(work)

    def _claim(self, token: str, now: datetime, kinds: frozenset[FollowUpKind] | None) -> list[Plan]:
        limit = self.settings.batch_size

        def work(session: Session) -> list[Plan]:
            claimed = repo.claim_due(session=session, token=token, now=now, limit=limit, kinds=kinds)
            if claimed < limit:
                repo.reclaim_stale(session=session, token=token, now=now, lease=self.settings.lease,
                                   limit=limit - claimed, kinds=kinds)
            return [self._plan(row) for row in repo.claimed_rows(session=session, token=token)]

        return self._in_session(work)

    def _plan(self, row: Any) -> Plan:
        action = compose(row, policy=self.policy, agent_chat_id=self.agent_chat_id)
        follow_on = None
        if (row.kind is FollowUpKind.CHECK_IN and isinstance(action, Outgoing)
                and row.sequence + 1 < self.policy.check_in_max):
            follow_on = repo.NewFollowUp(row.ticket_id, FollowUpKind.CHECK_IN, row.sequence + 1, row.due_at)
        return Plan(row.id, row.kind, row.due_at, action, follow_on)

    def _release(self, ids: Sequence[int], token: str) -> int:
        return self._in_session(lambda session: repo.release(session=session, ids=ids, token=token))

    def _renew(self, followup_id: int, token: str, error: str) -> bool:
        now = self.now()
        return self._in_session(lambda session: repo.renew_after_retry_after(
            session=session, followup_id=followup_id, token=token, now=now, error=error))

    # --- event loop ---------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to finish the requests under way, give back unsent claims and return."""
        self._stopping.set()

    async def close(self) -> None:
        self._executor.shutdown(wait=True)

    async def run(self, keep_running: Callable[[], bool] = lambda: True) -> None:
        """Poll until `stop()` or until `keep_running()` turns false (the application stopping)."""
        log.info("follow-up scheduler %s started", self.worker_id)
        try:
            while not self._stopping.is_set() and keep_running():
                try:
                    handled = await self.run_once()
                except Exception:  # a database hiccup must not end follow-ups for good
                    log.exception("follow-up cycle failed; trying again shortly")
                    handled = 0
                if handled == 0:
                    try:
                        await asyncio.wait_for(self._stopping.wait(), self.settings.poll_interval.total_seconds())
                    except TimeoutError:
                        pass
        finally:
            log.info("follow-up scheduler %s stopped (sent %d, cancelled %d, failed %d)",
                     self.worker_id, self.stats.sent, self.stats.cancelled, self.stats.failed)

    async def run_until_idle(self) -> RunStats:
        """Send everything due now, then return (tests and the benchmark)."""
        while not self._stopping.is_set() and await self.run_once():
            pass
        return self.stats

    async def run_once(self) -> int:
        """Claim one batch of due follow-ups and deal with every row of it; returns the batch size."""
        now = self.now()
        if self._last_maintenance is None or now - self._last_maintenance >= self._maintenance_every:
            self._last_maintenance = now
            await self._db(self._maintenance, now)
        kinds = None
        if is_quiet(now, self.policy):
            kinds = frozenset(k for k in FollowUpKind if k.value in self.policy.quiet_exempt)
            if not kinds:
                return 0
        token = repo.new_claim_token(self.worker_id)
        plans = await self._db(self._claim, token, now, kinds)
        if not plans:
            return 0
        skips = [p for p in plans if isinstance(p.action, Skip)]
        for plan in skips:
            skip: Skip = plan.action  # type: ignore[assignment]
            if skip.status is FollowUpStatus.CANCELLED:
                self.stats.cancelled += 1
            else:
                self.stats.failed += 1
        if skips:
            await asyncio.gather(*(self._outcomes.submit(repo.Outcome(
                p.followup_id, p.action.status, now, p.action.reason)) for p in skips))  # type: ignore[union-attr]
        sends = [p for p in plans if isinstance(p.action, Outgoing)]
        gate = asyncio.Semaphore(self.settings.concurrency)

        async def one(plan: Plan) -> None:
            async with gate:
                await self._deliver(plan, token)

        await asyncio.gather(*(one(p) for p in sends))
        return len(plans)

    async def _deliver(self, plan: Plan, token: str) -> None:
        out: Outgoing = plan.action  # type: ignore[assignment]
        while True:
            await self._pacer.wait()
            if self._stopping.is_set():
                self.stats.released += await self._db(self._release, [plan.followup_id], token)
                return
            if not await self._in_flight.submit((plan.followup_id, token)):
                log.warning("follow-up %d was taken over by another scheduler; not sending", plan.followup_id)
                return
            try:
                await self._pacer.gate()
                await self.bot.send_message(chat_id=out.chat_id, text=out.text, reply_markup=out.reply_markup,
                                            message_thread_id=out.message_thread_id)
            except RetryAfter as error:
                seconds = _retry_seconds(error)
                self.stats.retried_after += 1
                log.warning("Telegram flood control: waiting %.1f s before follow-up %d", seconds, plan.followup_id)
                self._pacer.pause(seconds)
                if not await self._db(self._renew, plan.followup_id, token, f"retry after {seconds:g}s"):
                    return
                continue
            except Forbidden as error:
                blocked = out.customer_id
                if blocked is not None:
                    log.warning("customer %d blocked the bot; follow-ups for them stop", blocked)
                outcome = repo.Outcome(plan.followup_id, FollowUpStatus.FAILED, self.now(),
                                       f"forbidden: {error.message}", blocked_customer_id=blocked)
                self.stats.failed += 1
            except (TimedOut, NetworkError) as error:
                if _not_sent(error):
                    log.warning("Bot API unreachable (%s); follow-up %d goes back to the queue",
                                type(error.__cause__).__name__, plan.followup_id)
                    self._pacer.pause(5.0)
                    self.stats.released += await self._db(self._release, [plan.followup_id], token)
                    return
                outcome = repo.Outcome(plan.followup_id, FollowUpStatus.FAILED, self.now(),
                                       f"outcome unknown: {type(error).__name__}; not resent")
                self.stats.failed += 1
            except TelegramError as error:
                outcome = repo.Outcome(plan.followup_id, FollowUpStatus.FAILED, self.now(),
                                       f"{type(error).__name__}: {error.message}")
                self.stats.failed += 1
            else:
                sent_at = self.now()
                follow_on = plan.follow_on
                if follow_on is not None:
                    follow_on = repo.NewFollowUp(follow_on.ticket_id, follow_on.kind, follow_on.sequence,
                                                 sent_at + self.policy.check_in_repeat)
                outcome = repo.Outcome(plan.followup_id, FollowUpStatus.SENT, sent_at, follow_on=follow_on)
                self.stats.sent += 1
                self.stats.lateness.append((sent_at - plan.due_at).total_seconds())
            await self._outcomes.submit(outcome)
            return
