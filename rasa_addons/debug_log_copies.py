"""Rasa's debug-log snapshots are taken only when debug logging is on.

Why: Rasa 3.6 passes deep copies of the policies' states, the message's entities and every
action's events to `structlogger.debug(...)`, and Python builds those arguments before the call,
whether or not the debug line is ever written. With Rasa's default log level (info) that is work
for nothing at every prediction and every action: about 4 % of the Rasa server's busy time in the
profile (docs/performance.md).

`install()` gives the three modules that do this (`rasa.core.processor`,
`rasa.core.policies.memoization`, `rasa.core.policies.rule_policy`) their own view of the `copy`
module: the same module, except that `deepcopy` hands back its argument unchanged while the `rasa`
logger is not enabled for DEBUG, and a real deep copy when it is (`--debug`, `LOG_LEVEL=DEBUG`),
so a debug log reads exactly as before. Each `copy.deepcopy` in those modules is an argument of a
`structlogger.debug` call; `tests/rasa_addons/test_debug_log_copies.py` reads their source and fails
if Rasa ever uses one for anything else. Installed with the package (rasa_addons/__init__.py) on
Rasa 3.6.x only.
"""
from __future__ import annotations

import copy
import logging
from typing import Any

MODULES = ("rasa.core.processor", "rasa.core.policies.memoization", "rasa.core.policies.rule_policy")
_INSTALLED = False


class CopyForDebugLogs:
    """The `copy` module, with `deepcopy` skipped while Rasa's debug lines are not written."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        if self._logger.isEnabledFor(logging.DEBUG):
            return copy.deepcopy(value, memo)
        return value

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def install() -> bool:
    """Give each module its view of `copy` once; True when they all have it."""
    global _INSTALLED
    if _INSTALLED:
        return True
    import importlib

    view = CopyForDebugLogs(logging.getLogger("rasa"))
    for name in MODULES:
        module = importlib.import_module(name)
        if getattr(module, "copy", None) is copy:
            module.copy = view  # type: ignore[attr-defined]
    _INSTALLED = True
    return True
