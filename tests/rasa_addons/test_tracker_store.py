"""Hamdel's tracker store (rasa_addons/tracker_store.py) gives Rasa the same conversations as
Rasa's SQL tracker store, and stores the same rows: every story and conversation test of the
project, turn by turn, through both stores side by side, with turns that crash before saving,
a second process writing to the same conversation between turns and during one, new sessions, and
events stamped before their session start; and at every read, what the store hands out is what
Rasa's own store reads from the same table.

Runs in `.venv` and drives `.venv-rasa` through a subprocess, like test_action_response_schema.py.
"""
from __future__ import annotations

import pytest

from tests.rasa_addons import run_in_rasa

SCRIPT = r"""
import asyncio, json, random, sqlite3, sys, tempfile, time
from pathlib import Path
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import EventVerbosity
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
from rasa_addons.tracker_store import CachedSQLTrackerStore

domain = Domain.load("domain.yml")
steps = []
for path in ("nlu_data/stories/complaint.yml", "tests/test_stories.yml"):
    steps += YAMLStoryReader(domain).read_from_file(path)
rng = random.Random(1405)
work = Path(tempfile.mkdtemp())
stock = SQLTrackerStore(domain, db=str(work / "stock.db"))
stock_other_process = SQLTrackerStore(domain, db=str(work / "stock.db"))
hamdel = CachedSQLTrackerStore(domain, db=str(work / "hamdel.db"), cached_conversations=16)
hamdel_other_process = CachedSQLTrackerStore(domain, db=str(work / "hamdel.db"))
report = {"turns": 0, "differences": [], "crashes": 0, "other_writer": 0, "sessions": 0, "early_stamps": 0,
          "read_from_database": 0, "written_during_turn": 0}
read = hamdel._retrieve
async def counting_read(*args, **kwargs):
    report["read_from_database"] += 1
    return await read(*args, **kwargs)
hamdel._retrieve = counting_read


def turns_of(step):
    # a turn: a customer message and the actions after it, as the processor adds them
    turns, turn = [], []
    for event in step.events:
        if isinstance(event, ActionExecuted) and not event.action_name:
            continue
        if isinstance(event, UserUttered) and turn:
            turns.append(turn)
            turn = []
        turn.append(event)
    return turns + [turn] if turn else turns


def fresh(event, stamp):
    copy = Event.from_parameters(event.as_dict())  # each store gets its own objects, as from a real turn
    if stamp:
        copy.timestamp = time.time()
    return copy


def unstamped(value):
    # each store stamps the events it makes itself (a new conversation's first action_listen)
    if isinstance(value, dict):
        return {key: unstamped(item) for key, item in value.items() if key not in ("timestamp", "latest_event_time")}
    if isinstance(value, list):
        return [unstamped(item) for item in value]
    return value


def state(tracker):
    return json.dumps(unstamped(tracker.current_state(EventVerbosity.ALL)), sort_keys=True, ensure_ascii=False)


async def main():
    raced = set()
    cold_reader = SQLTrackerStore(domain, db=str(work / "hamdel.db"))
    for number, step in enumerate(steps * 3):
        sender = f"{number}:{step.block_name}"
        for turn_number, turn in enumerate(turns_of(step)):
            roll = rng.random()
            if roll < 0.1:  # another worker handles a message of this conversation in between
                report["other_writer"] += 1
                for store in (stock_other_process, hamdel_other_process):
                    other = await store.get_or_create_tracker(sender)
                    other.update(SlotSet("anger", 0.5, timestamp=time.time()))
                    await store.save(other)
            trackers = [await stock.get_or_create_tracker(sender), await hamdel.get_or_create_tracker(sender)]
            report["turns"] += 1
            if sender not in raced and state(trackers[0]) != state(trackers[1]):
                report["differences"].append([sender, turn_number, "read"])
            # whatever happened before, what the store hands out is what Rasa reads from its table
            cold = await cold_reader.retrieve(sender)
            if cold is not None and state(cold) != state(trackers[1]):
                report["differences"].append([sender, turn_number, "read against the table"])
            if 0.78 < roll <= 0.80:  # another process writes while this turn is being handled
                report["written_during_turn"] += 1
                raced.add(sender)  # Rasa's store counts that row as its own and drops one of the turn's
                other = await hamdel_other_process.get_or_create_tracker(sender)
                other.update(SlotSet("anger", 0.9, timestamp=time.time()))
                await hamdel_other_process.save(other)
            if roll > 0.93:  # the customer comes back after the session expired
                report["sessions"] += 1
                early = rng.random() < 0.3  # the turn's events keep stamps older than the new session
                report["early_stamps"] += early
                opening = [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]
                turn = opening + [fresh(event, stamp=False) if early else event for event in turn]
            stamp = not (roll > 0.93 and early)
            if 0.80 < roll <= 0.85:  # the machine's clock went back: events stamped before their session start
                stamp = False
                report["early_stamps"] += 1
            for tracker in trackers:
                for event in turn:
                    tracker.update(fresh(event, stamp), domain)
            if 0.85 < roll <= 0.93:  # the turn fails before Rasa saves it
                report["crashes"] += 1
                continue
            for store, tracker in zip((stock, hamdel), trackers):
                await store.save(tracker)
            if sender in raced:  # every event of the turn and the other process's row are stored
                stored = await cold_reader.retrieve(sender)
                if [e for e in list(trackers[1].events)[-len(turn):] if e not in stored.events]:
                    report["differences"].append([sender, turn_number, "event lost"])
    # Every conversation read back cold (a restart) and the rows themselves
    for sender in await stock.keys():
        if sender in raced:
            continue
        cold = [await SQLTrackerStore(domain, db=str(work / name)).retrieve(sender) for name in ("stock.db", "hamdel.db")]
        if state(cold[0]) != state(cold[1]):
            report["differences"].append([sender, "cold read"])
    rows = [[(sender, kind, action, intent, unstamped(json.loads(data))) for sender, kind, action, intent, data in
             sqlite3.connect(work / name).execute(
                 "select sender_id, type_name, action_name, intent_name, data from events order by id")
             if sender not in raced]
            for name in ("stock.db", "hamdel.db")]
    report["rows"] = len(rows[0])
    report["same_rows"] = rows[0] == rows[1]
    report["kept_at_most"] = len(hamdel._kept) <= 16
    # Rasa's endpoints ask whether a conversation exists (through the wrapper Rasa puts around every
    # store) before reading it: the answer must not use up the kept tracker.
    import rasa_addons  # noqa: F401  (installs the wrapper's `exists`, as Rasa's model loading does)
    from rasa.core.tracker_store import FailSafeTrackerStore
    wrapped = FailSafeTrackerStore(hamdel)
    kept_sender = next(iter(hamdel._kept))
    report["exists"] = [await wrapped.exists(kept_sender), await wrapped.exists("nobody")]
    report["still_kept_after_exists"] = kept_sender in hamdel._kept
    # A customer writing for the first time: the count of rows says there is nothing to read.
    reads = report["read_from_database"]
    report["new_conversation"] = [await hamdel.retrieve("first-message") is None, report["read_from_database"] - reads]


asyncio.run(main())
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def report() -> dict:
    return run_in_rasa(SCRIPT, timeout=600)


def test_every_turn_reads_the_conversation_rasas_store_reads(report: dict) -> None:
    assert report["turns"] > 300
    assert report["differences"] == []


def test_both_stores_hold_the_same_rows(report: dict) -> None:
    assert report["rows"] > 1500
    assert report["same_rows"]


def test_the_awkward_cases_happened(report: dict) -> None:
    assert report["crashes"] >= 10
    assert report["other_writer"] >= 10
    assert report["sessions"] >= 10
    assert report["early_stamps"] >= 2
    assert report["written_during_turn"] >= 5


def test_asking_whether_a_conversation_exists_leaves_its_kept_tracker_for_the_read(report: dict) -> None:
    assert report["exists"] == [True, False]
    assert report["still_kept_after_exists"]


def test_a_new_conversation_is_not_read_from_the_database(report: dict) -> None:
    assert report["new_conversation"] == [True, 0]


def test_most_turns_skip_the_database_read_and_the_store_stays_bounded(report: dict) -> None:
    assert report["read_from_database"] < report["turns"] / 2
    assert report["kept_at_most"]
