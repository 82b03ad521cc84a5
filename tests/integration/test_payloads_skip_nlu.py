"""A button's «/intent» payload is parsed without the NLU graph, with exactly the parse the graph
would have given (rasa_addons/intent_payloads.py); free text and unknown payloads still go through
the model. Runs the trained model inside the Rasa environment (a subprocess), so it is an
integration test: `make test` trains before this step."""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from hamdel.services import ensure_model
from hamdel.settings import PROJECT_ROOT

pytestmark = pytest.mark.integration

SCRIPT = r"""
import asyncio, json, sys
from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage
from rasa.core.processor import MessageProcessor

through_graph = MessageProcessor._parse_message_with_graph
import rasa_addons  # noqa: F401  (installs the payload shortcut, as loading the model does)
shortcut = MessageProcessor._parse_message_with_graph
agent = Agent.load(sys.argv[1])
processor = agent.processor
graph_runs = []
run = processor.graph_runner.run
processor.graph_runner.run = lambda *a, **k: graph_runs.append(1) or run(*a, **k)
report = {}
for text in json.loads(sys.argv[2]):
    message = UserMessage(text, sender_id="payload-test")
    tracker = asyncio.run(processor.get_tracker("payload-test"))
    graph_runs.clear()
    fast = shortcut(processor, message, tracker)
    used_graph = bool(graph_runs)
    slow = through_graph(processor, message, tracker)
    report[text] = {"same": fast == slow, "used_graph": used_graph, "intent": fast["intent"]["name"]}
print(json.dumps(report, ensure_ascii=False))
"""
PAYLOADS = ["/affirm", "/deny", " /deny ", "/affirm@0.5", '/request_resolution{"remedy": "refund"}']
THROUGH_THE_MODEL = ["/no_such_intent", "/", "/پیگیری", "سفارشم هنوز نرسیده", "/deny و یه چیز دیگه"]


@pytest.fixture(scope="module")
def report() -> dict[str, dict[str, object]]:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "RASA_TELEMETRY_ENABLED": "false"}
    result = subprocess.run(
        [str(PROJECT_ROOT / ".venv-rasa" / "bin" / "python"), "-c", SCRIPT, str(ensure_model()),
         json.dumps(PAYLOADS + THROUGH_THE_MODEL, ensure_ascii=False)],
        capture_output=True, text=True, cwd=PROJECT_ROOT, env=env, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.parametrize("text", PAYLOADS)
def test_a_button_payload_skips_the_graph_and_parses_the_same(report: dict[str, dict[str, object]], text: str) -> None:
    assert report[text] == {"same": True, "used_graph": False, "intent": report[text]["intent"]}
    assert report[text]["intent"] in {"affirm", "deny", "request_resolution"}


@pytest.mark.parametrize("text", THROUGH_THE_MODEL)
def test_free_text_and_unknown_payloads_still_go_through_the_model(report: dict[str, dict[str, object]], text: str) -> None:
    assert report[text]["same"] is True
    assert report[text]["used_graph"] is True
