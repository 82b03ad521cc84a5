"""RulePolicy picks the same candidate rules after rasa_addons/rule_lookup.py stops its walk early:
rules cut from the project's own conversations (some loosened, some with a changed value, some
requiring a slot to be unset, some from the start of a conversation), asked about every step of
every conversation, by intent and by text.

Runs in `.venv` and drives `.venv-rasa` through a subprocess, like test_action_response_schema.py.
"""
from __future__ import annotations

import pytest

from tests.rasa_addons import run_in_rasa

SCRIPT = r"""
import json, random
from rasa.core.policies.rule_policy import RulePolicy
from rasa.shared.core.constants import SHOULD_NOT_BE_SET
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader

stock = RulePolicy._get_possible_keys
import rasa_addons  # noqa: F401  (importing the package installs the shorter walk)
patched = RulePolicy._get_possible_keys
policy = RulePolicy.__new__(RulePolicy)  # the lookup uses no trained attribute of the policy

domain = Domain.load("domain.yml")
steps = []
for path in ("nlu_data/stories/complaint.yml", "tests/test_stories.yml"):
    steps += YAMLStoryReader(domain).read_from_file(path)
rng = random.Random(1405)
conversations = []
for step in steps:
    tracker = DialogueStateTracker(step.block_name, domain.slots)
    for event in step.events:
        if not isinstance(event, ActionExecuted) or event.action_name:
            tracker.update(event, domain)
    conversations.append(domain.states_for_tracker_history(tracker))


def cut_rule(states):
    length = rng.randint(1, 5)
    start = 0 if rng.random() < 0.15 else rng.randint(0, max(0, len(states) - length))
    rule = [json.loads(json.dumps(state)) for state in states[start:start + length]]
    for state in rule:
        for sub_state in state.values():
            for key in list(sub_state):
                roll = rng.random()
                if roll < 0.25:
                    del sub_state[key]  # a looser rule
                elif roll < 0.30:
                    sub_state[key] = "something else"  # a rule that does not match here
                elif roll < 0.35:
                    sub_state[key] = SHOULD_NOT_BE_SET
    return json.dumps(rule, sort_keys=True)


lookup = {cut_rule(rng.choice(conversations)): "action" for _ in range(400)}
# Rules at the edges of the grouping: an intent or an action that must not be set, no action at all
for states in conversations:
    for state in states[1:]:
        action = state.get("prev_action", {}).get("action_name")
        intent = state.get("user", {}).get("intent")
        for rule in ([{"prev_action": {"action_name": action}, "user": {"intent": SHOULD_NOT_BE_SET}}],
                     [{"prev_action": {"action_name": SHOULD_NOT_BE_SET}, "user": {"intent": intent}}],
                     [{"user": {"intent": intent}}], [{"prev_action": {"action_name": action}}]):
            lookup[json.dumps(rule, sort_keys=True)] = "action"
report = {"replaced": patched is not stock, "rules": len(lookup), "questions": 0, "matched": 0, "differences": []}
def by_text(states):
    # RulePolicy's first question after a message: the newest state's text instead of its intent
    last = json.loads(json.dumps(states[-1]))
    user = last.get("user", {})
    user.pop("intent", None)
    user["text"] = "سفارشم نرسیده"
    return states[:-1] + [last]


for number, states in enumerate(conversations):
    for end in range(1, len(states) + 1):
        for question in (states[:end], by_text(states[:end])):
            want = stock(policy, lookup, question)
            got = patched(policy, lookup, question)
            report["questions"] += 1
            report["matched"] += bool(want)
            if got != want:
                report["differences"].append([number, end, len(want), len(got)])
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def report() -> dict:
    return run_in_rasa(SCRIPT, timeout=600)


def test_importing_hamdels_components_replaces_rasas_walk(report: dict) -> None:
    assert report["replaced"]


def test_every_step_of_every_conversation_gets_the_same_candidate_rules(report: dict) -> None:
    assert report["rules"] > 300
    assert report["questions"] > 600
    assert report["matched"] > report["questions"] / 4  # the rules do match often, so the check means something
    assert report["differences"] == []
