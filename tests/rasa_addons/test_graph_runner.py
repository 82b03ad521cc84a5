"""Rasa's graphs give the same outputs, in a valid order, with the same errors, after
rasa_addons/graph_runner.py runs them with a loop planned once instead of dask: graphs of real
`GraphComponent`s (a diamond, a node no target needs, an input, a placeholder target), run through
Rasa's dask runner and through the loop.

Runs in `.venv` and drives `.venv-rasa` through a subprocess, like test_action_response_schema.py.
"""
from __future__ import annotations

import pytest

from tests.rasa_addons import run_in_rasa

SCRIPT = r"""
import json, tempfile
from pathlib import Path
from rasa.engine.graph import ExecutionContext, GraphComponent, GraphSchema, SchemaNode
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.engine.storage.local_model_storage import LocalModelStorage

stock = DaskGraphRunner.run
import rasa_addons  # noqa: F401  (importing the package installs the loop, as Rasa's model loading does)
patched = DaskGraphRunner.run

CALLS = []


class Join(GraphComponent):
    # A component that writes down its call and joins what it was given.
    @classmethod
    def create(cls, config, model_storage, resource, execution_context):
        return cls(config)

    def __init__(self, config):
        self.config = config

    def join(self, a=None, b=None, message=None):
        CALLS.append(self.config["name"])
        if self.config.get("fail"):
            raise ValueError("the component failed")
        parts = [str(part) for part in (a, b, message) if part is not None]
        return self.config["name"] + "(" + ",".join(parts) + ")"


def node(name, needs, target=False, fail=False):
    return SchemaNode(needs=needs, uses=Join, constructor_name="create", fn="join",
                      config={"name": name, "fail": fail}, is_target=target)


schema = GraphSchema({
    "read": node("read", {"message": "__message__"}),
    "left": node("left", {"a": "read"}),
    "right": node("right", {"a": "read"}),
    "both": node("both", {"a": "left", "b": "right"}, target=True),
    "unused": node("unused", {"a": "read"}),
    "after": node("after", {"a": "both", "b": "read"}, target=True),
    "broken": node("broken", {"a": "read"}, fail=True),
    "orphan": node("orphan", {"a": "__not_given__"}),
})
storage = LocalModelStorage(Path(tempfile.mkdtemp()))
context = ExecutionContext(schema, "test-model")
needs = {name: set(n.needs.values()) for name, n in schema.nodes.items()}


def outcome(run, inputs, targets):
    runner = DaskGraphRunner(schema, storage, context)
    CALLS.clear()
    try:
        result = {"result": run(runner, inputs, targets)}
        if result["result"] is not None:
            result["result"] = {k: str(v) for k, v in result["result"].items()}
    except Exception as error:
        result = {"error": type(error).__name__, "message": str(error)}
    order_ok = all(all(CALLS.index(need) < CALLS.index(name) for need in needs[name] if need in CALLS)
                   for name in CALLS)
    result["called"] = sorted(CALLS)
    result["called_once"] = len(CALLS) == len(set(CALLS))
    result["order_ok"] = order_ok
    return result


cases = {
    "diamond": ({"__message__": "سلام"}, ["both"]),
    "two targets": ({"__message__": "سلام"}, ["after", "left"]),
    "schema targets": ({"__message__": "سلام"}, None),
    "twice in a row": ({"__message__": "دوباره"}, ["both"]),
    "a failing node": ({"__message__": "سلام"}, ["broken"]),
    "input named like a node": ({"__message__": "read"}, ["both"]),
    "missing input": ({"__message__": "سلام"}, ["orphan"]),
    "placeholder target": ({"__message__": "سلام"}, ["__message__", "read"]),
}
report = {"replaced": patched is not stock, "cases": {}}
runner = DaskGraphRunner(schema, storage, context)
for name, (inputs, targets) in cases.items():
    report["cases"][name] = [outcome(stock, inputs, targets), outcome(patched, inputs, targets)]
print(json.dumps(report, ensure_ascii=False))
"""


@pytest.fixture(scope="module")
def report() -> dict:
    return run_in_rasa(SCRIPT)


def test_importing_hamdels_components_replaces_rasas_runner(report: dict) -> None:
    assert report["replaced"]


@pytest.mark.parametrize("case", ["diamond", "two targets", "schema targets", "twice in a row", "placeholder target"])
def test_a_graph_gives_the_same_outputs_calling_each_needed_node_once_after_its_needs(report: dict, case: str) -> None:
    stock, patched = report["cases"][case]
    assert "result" in stock, stock
    assert patched["result"] == stock["result"]
    assert patched["called"] == stock["called"]
    assert patched["called_once"] and patched["order_ok"]
    assert "unused" not in patched["called"]


def test_the_diamond_joins_both_branches_of_the_message(report: dict) -> None:
    _, patched = report["cases"]["diamond"]
    assert patched["result"] == {"both": "both(left(read(سلام)),right(read(سلام)))"}


@pytest.mark.parametrize("case", ["a failing node", "input named like a node", "missing input"])
def test_a_broken_run_fails_with_rasas_own_error(report: dict, case: str) -> None:
    stock, patched = report["cases"][case]
    assert "error" in stock, stock
    assert (patched["error"], patched["message"]) == (stock["error"], stock["message"])
