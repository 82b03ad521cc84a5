"""Rasa's graph of components run in a fixed order, without planning it with dask on every message.

Why: Rasa 3.6.21 runs its model (NLU and the policies) as a graph of components through
`DaskGraphRunner.run`. For every message, and for every step of the policies (three or four a turn),
it works out again which nodes the targets need (a recursive walk without memory), builds a dask
graph, lets dask order it, and runs it on dask's synchronous scheduler. The profile in
docs/performance.md put that planning and scheduling at about 8 % of the Rasa server's busy time,
more than the rule lookups.

`install()` replaces `run` with a plain loop: for each set of targets, the nodes they need are put
in dependency order once and remembered (the schema never changes for a runner); each run calls
the same `GraphNode`s with the same arguments, in an order where every node comes after the nodes
it needs, exactly as dask passes them (each node's `(name, output)` pair, an input as
`(name, value)`), and drops an output once no later node needs it, as dask releases them. Rasa's
checks are kept: an input named like a node is refused with Rasa's error, and a `RuntimeError`
becomes Rasa's `GraphRunError`. tests/rasa_addons/test_graph_runner.py runs graphs of real
`GraphComponent`s through dask and through this loop and compares outputs, call order constraints,
errors and released outputs; training (`rasa train`, the first CI step after the unit tests) and
every full-stack test run through it. Installed by `rasa_addons/__init__.py` on Rasa 3.6 only.
"""
from __future__ import annotations

from typing import Any, Optional

_INSTALLED = False
_PLANS = "_hamdel_plans"


def install() -> bool:
    """Patch `DaskGraphRunner.run` once; True when the patch is in place."""
    global _INSTALLED
    if _INSTALLED:
        return True
    from rasa.engine.exceptions import GraphRunError
    from rasa.engine.runner.dask import DaskGraphRunner

    def run(self: DaskGraphRunner, inputs: Optional[dict[str, Any]] = None,
            targets: Optional[list[str]] = None) -> dict[str, Any]:
        run_targets = list(targets) if targets else list(self._graph_schema.target_names)
        plan = _plan(self, run_targets)
        results: dict[str, Any] = {}
        for input_name, input_value in (inputs or {}).items():
            if isinstance(input_value, str) and input_value in plan.nodes:
                raise GraphRunError(
                    f"Input value '{input_value}' clashes with a node name. Make sure "
                    f"that none of the input names passed to the `run` method are the "
                    f"same as node names in the graph schema."
                )
            results[input_name] = (input_name, input_value)
        try:
            for node_name, needs, released in plan.steps:
                # a name dask cannot resolve is passed as the bare name, and the node refuses it as with dask
                results[node_name] = self._instantiated_nodes[node_name](*(results.get(need, need) for need in needs))
                for done in released:
                    results.pop(done, None)
            return dict(results[target] for target in run_targets)
        except RuntimeError as error:
            raise GraphRunError("Error running runner.") from error

    run.__doc__ = "Rasa's graph run, its nodes in an order planned once per set of targets (rasa_addons/graph_runner.py)."
    DaskGraphRunner.run = run  # type: ignore[method-assign]
    _INSTALLED = True
    return True


class _Plan:
    """The nodes a set of targets needs, in dependency order, and when each output may be dropped."""

    def __init__(self, schema: Any, targets: list[str]) -> None:
        minimal = schema.minimal_graph_schema(targets)
        self.nodes = set(minimal.nodes)
        order: list[str] = []
        state: dict[str, int] = {}  # 1: being visited, 2: placed

        def visit(name: str) -> None:
            if name not in minimal.nodes or state.get(name) == 2:
                return  # an input placeholder, or already placed
            if state.get(name) == 1:
                raise ValueError(f"the graph has a cycle through '{name}'")
            state[name] = 1
            for need in minimal.nodes[name].needs.values():
                visit(need)
            state[name] = 2
            order.append(name)

        for name in sorted(minimal.nodes):
            visit(name)
        last_use: dict[str, int] = {}
        for index, name in enumerate(order):
            for need in minimal.nodes[name].needs.values():
                last_use[need] = index
        kept = set(targets)
        steps = []
        for index, name in enumerate(order):
            released = [need for need, last in last_use.items()
                        if last == index and need not in kept and need in self.nodes]
            steps.append((name, tuple(minimal.nodes[name].needs.values()), tuple(released)))
        self.steps = tuple(steps)


def _plan(runner: Any, targets: list[str]) -> _Plan:
    plans: dict[tuple[str, ...], _Plan] = runner.__dict__.setdefault(_PLANS, {})
    key = tuple(targets)
    plan = plans.get(key)
    if plan is None:
        plan = plans[key] = _Plan(runner._graph_schema, targets)
    return plan
