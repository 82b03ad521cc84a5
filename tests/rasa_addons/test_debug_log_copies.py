"""Rasa's debug-log snapshots are taken only when debug logging is on
(rasa_addons/debug_log_copies.py), which is safe only while every deep copy in those modules is an
argument of a debug log line: checked here on Rasa's own source.

Runs in `.venv` and drives `.venv-rasa` through a subprocess, like test_action_response_schema.py.
"""
from __future__ import annotations

import pytest

from tests.rasa_addons import run_in_rasa

SCRIPT = r"""
import ast, copy, importlib, inspect, json, logging
import rasa_addons  # noqa: F401  (installs the views of `copy`, as loading the model does)
from rasa_addons import debug_log_copies

report = {"modules": {}}
for name in debug_log_copies.MODULES:
    module = importlib.import_module(name)
    tree = ast.parse(inspect.getsource(module))
    in_debug_lines = set()
    for call in ast.walk(tree):
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "debug":
            in_debug_lines |= {id(node) for node in ast.walk(call)}
    deep_copies = [node for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                   and node.func.attr == "deepcopy"]
    report["modules"][name] = {"deep_copies": len(deep_copies),
                               "outside_debug_lines": [node.lineno for node in deep_copies if id(node) not in in_debug_lines],
                               "has_the_view": isinstance(module.copy, debug_log_copies.CopyForDebugLogs)}

view = importlib.import_module("rasa.core.processor").copy
states = [{"user": {"intent": "deny"}}]
logging.getLogger("rasa").setLevel(logging.INFO)
report["info_level_same_object"] = view.deepcopy(states) is states
logging.getLogger("rasa").setLevel(logging.DEBUG)
snapshot = view.deepcopy(states)
report["debug_level_a_real_copy"] = snapshot == states and snapshot is not states and snapshot[0] is not states[0]
report["rest_of_copy_module"] = view.copy is copy.copy
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def report() -> dict:
    return run_in_rasa(SCRIPT)


@pytest.mark.parametrize("module", ["rasa.core.processor", "rasa.core.policies.memoization", "rasa.core.policies.rule_policy"])
def test_every_deep_copy_in_the_module_feeds_a_debug_log_line(report: dict, module: str) -> None:
    seen = report["modules"][module]
    assert seen["deep_copies"] >= 1
    assert seen["outside_debug_lines"] == []
    assert seen["has_the_view"]


def test_the_copy_is_skipped_at_info_level_and_made_at_debug_level(report: dict) -> None:
    assert report["info_level_same_object"] is True
    assert report["debug_level_a_real_copy"] is True
    assert report["rest_of_copy_module"] is True
