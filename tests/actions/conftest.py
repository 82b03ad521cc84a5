"""Fixtures for action tests: trackers built like Rasa builds them, a dispatcher, the real domain."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from hamdel.persian import normalize

DOMAIN_FILE = Path(__file__).resolve().parents[2] / "domain.yml"


@pytest.fixture(scope="session")
def domain() -> dict[str, Any]:
    return yaml.safe_load(DOMAIN_FILE.read_text(encoding="utf-8"))


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


def user_event(text: str, intent: str, entities: list[dict[str, Any]] | None = None,
               metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "event": "user",
        "text": text,
        "metadata": metadata or {},
        "parse_data": {"text": normalize(text), "intent": {"name": intent, "confidence": 0.99},
                       "entities": entities or []},
    }


def make_tracker(
    text: str = "",
    intent: str = "complain_delivery",
    *,
    slots: dict[str, Any] | None = None,
    entities: list[dict[str, Any]] | None = None,
    history: list[dict[str, Any]] | None = None,
    sender_id: str = "telegram:1001",
    metadata: dict[str, Any] | None = None,
) -> Tracker:
    """A tracker whose latest message is `text`, as the NLU (with our normaliser) would parse it."""
    latest = user_event(text, intent, entities, metadata)
    return Tracker(
        sender_id=sender_id,
        slots=dict(slots or {}),
        latest_message=latest["parse_data"],
        events=[*(history or []), latest],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


def slots_from(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The slot values a list of events leaves behind (later events win, as in Rasa)."""
    values: dict[str, Any] = {}
    for event in events:
        if event.get("event") == "slot":
            values[event["name"]] = event["value"]
    return values
