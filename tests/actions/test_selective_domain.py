"""Rasa sends its domain only to the actions that read it (selective domain), and the action
server serves a call that comes without one.

Rasa 3.6 sends the whole domain (about 95 KB of JSON) with every action call unless the action
endpoint sets `enable_selective_domain`; then only the actions declaring `send_domain: true` in
domain.yml get it. An action that reads `domain` without declaring it would silently get an empty
one, so the declarations are checked against the code here.
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from hamdel.action_server import Executor

ROOT = Path(__file__).resolve().parents[2]


def actions_reading_the_domain() -> set[str]:
    """Names of the actions whose `run` uses `domain` for anything but handing it to another
    action's `run`."""
    found = set()
    for path in sorted((ROOT / "actions").glob("*.py")):
        for cls in (n for n in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if isinstance(n, ast.ClassDef)):
            methods = {f.name: f for f in cls.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))}
            if "run" not in methods or "name" not in methods:
                continue
            returned = [n.value.value for n in ast.walk(methods["name"])
                        if isinstance(n, ast.Return) and isinstance(n.value, ast.Constant)]
            handed_on = {id(arg) for call in ast.walk(methods["run"]) if isinstance(call, ast.Call)
                         and isinstance(call.func, ast.Attribute) and call.func.attr == "run" for arg in call.args}
            uses = [n for n in ast.walk(methods["run"]) if isinstance(n, ast.Name) and n.id == "domain"
                    and id(n) not in handed_on]
            if uses and returned:
                found.add(returned[0])
    return found


def declared_in_domain() -> set[str]:
    actions = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))["actions"]
    return {name for entry in actions if isinstance(entry, dict)
            for name, config in entry.items() if (config or {}).get("send_domain")}


def test_exactly_the_actions_that_read_the_domain_ask_rasa_for_it() -> None:
    reading = actions_reading_the_domain()
    assert reading == {"action_choose_empathy", "action_link_prior_ticket"}  # the empathy variations
    assert declared_in_domain() == reading


@pytest.mark.parametrize("endpoints", ["endpoints.yml", "endpoints.workers.yml", "endpoints.production.yml"])
def test_every_deployment_sends_the_domain_selectively(endpoints: str) -> None:
    config = yaml.safe_load((ROOT / endpoints).read_text(encoding="utf-8"))
    assert config["action_endpoint"]["enable_selective_domain"] is True


class ShowDomain(Action):
    """Answers with the response names of the domain it was given."""

    def name(self) -> str:
        return "action_show_domain"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list:
        dispatcher.utter_message(text=",".join(sorted(domain.get("responses", {}))) or "هیچ")
        return []


def call(domain: dict[str, Any] | None) -> dict[str, Any]:
    payload: dict[str, Any] = {"next_action": "action_show_domain", "sender_id": "telegram:1", "version": "3.6.21",
                               "tracker": {"sender_id": "telegram:1", "slots": {}, "latest_message": {}, "events": []}}
    if domain is not None:
        payload["domain"] = domain
    return payload


async def test_a_call_without_the_domain_runs_the_action_with_an_empty_one() -> None:
    executor = Executor()
    executor.register_action(ShowDomain())
    answer = await executor.run(call(None))
    assert answer.responses[0]["text"] == "هیچ"


async def test_a_call_with_the_domain_gets_it_and_the_next_call_without_gets_nothing_remembered() -> None:
    executor = Executor()
    executor.register_action(ShowDomain())
    with_domain = await executor.run(call({"responses": {"utter_empathize": [], "utter_greet": []}}))
    assert with_domain.responses[0]["text"] == "utter_empathize,utter_greet"
    without = await executor.run(call(None))
    assert without.responses[0]["text"] == "هیچ"
