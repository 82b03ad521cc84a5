"""A text the model has already read is answered from the parse kept for it, the same parse the
graph gives (rasa_addons/parse_cache.py). Runs the trained model inside the Rasa environment (a
subprocess), so it is an integration test: `make test` trains before this step."""
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
from types import SimpleNamespace
from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage
from rasa.core.processor import MessageProcessor

through_graph = MessageProcessor._parse_message_with_graph
import rasa_addons  # noqa: F401  (installs the kept parses, as loading the model does)
from rasa_addons import parse_cache
kept_entry = MessageProcessor._parse_message_with_graph


def load():
    processor = Agent.load(sys.argv[1]).processor
    runs = []
    run = processor.graph_runner.run
    processor.graph_runner.run = lambda *a, **k: runs.append(1) or run(*a, **k)
    return processor, runs


def parse(processor, runs, text, **kwargs):
    runs.clear()
    message = UserMessage(text, sender_id="cache-test")
    tracker = asyncio.run(processor.get_tracker("cache-test"))
    return kept_entry(processor, message, tracker, **kwargs), bool(runs)


processor, runs = load()
report = {"texts": {}}
for text in json.loads(sys.argv[2]):
    tracker = asyncio.run(processor.get_tracker("cache-test"))
    graph = through_graph(processor, UserMessage(text, sender_id="cache-test"), tracker)
    first, first_ran = parse(processor, runs, text)
    first["intent"]["name"] = "changed by the caller"  # a caller's change must not reach the next one
    second, second_ran = parse(processor, runs, text)
    report["texts"][text] = {"first_ran_graph": first_ran, "second_ran_graph": second_ran,
                             "second_same_as_graph": second == graph, "intent": second["intent"]["name"]}

text = "سلام"
parse(processor, runs, text)
report["full_message_ran_graph"] = [parse(processor, runs, "یه متن کامل", only_output_properties=False)[1]
                                   for _ in range(2)]
other, other_runs = load()  # another model loaded (a retrained one): its own reading
report["another_model_ran_graph"] = parse(other, other_runs, text)[1]

parse_cache.TEXTS_KEPT = 3
for n in range(6):
    parse(processor, runs, f"سفارش شماره {n} نرسیده")
report["kept_after_six_with_room_for_three"] = len(processor.__dict__[parse_cache._STORE])

schema = processor.model_metadata.predict_schema
reading = SimpleNamespace(model_metadata=SimpleNamespace(nlu_target="run_RegexMessageHandler", predict_schema=SimpleNamespace(
    nodes={**schema.nodes, "run_RegexMessageHandler": SimpleNamespace(needs={"messages": "__tracker__"})})))
report["kept_when_nlu_reads_the_tracker"] = parse_cache._store(reading) is not None
print(json.dumps(report, ensure_ascii=False))
"""
TEXTS = ["سلام", "لطفا زودتر بفرستید", "پولمو پس بدید", "سفارشم به شماره ۴۵۸۷۱۲۳ هنوز نرسيده 😡", "/affirm"]


@pytest.fixture(scope="module")
def report() -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "RASA_TELEMETRY_ENABLED": "false"}
    result = subprocess.run(
        [str(PROJECT_ROOT / ".venv-rasa" / "bin" / "python"), "-c", SCRIPT, str(ensure_model()),
         json.dumps(TEXTS, ensure_ascii=False)],
        capture_output=True, text=True, cwd=PROJECT_ROOT, env=env, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.parametrize("text", [t for t in TEXTS if not t.startswith("/")])
def test_a_text_read_once_is_answered_the_second_time_without_the_graph_and_the_same(
        report: dict[str, dict[str, dict[str, object]]], text: str) -> None:
    seen = report["texts"][text]
    assert seen["first_ran_graph"] and not seen["second_ran_graph"]
    assert seen["second_same_as_graph"]
    assert seen["intent"] != "changed by the caller"


def test_a_button_payload_is_kept_too(report: dict[str, dict[str, dict[str, object]]]) -> None:
    assert report["texts"]["/affirm"]["second_same_as_graph"]
    assert report["texts"]["/affirm"]["intent"] == "affirm"


def test_the_full_message_rasa_asks_for_with_features_is_never_kept(report: dict[str, object]) -> None:
    assert report["full_message_ran_graph"] == [True, True]


def test_another_model_reads_the_text_itself(report: dict[str, object]) -> None:
    assert report["another_model_ran_graph"] is True


def test_the_store_is_bounded(report: dict[str, object]) -> None:
    assert report["kept_after_six_with_room_for_three"] == 3


def test_nothing_is_kept_when_the_models_nlu_reads_the_conversation(report: dict[str, object]) -> None:
    assert report["kept_when_nlu_reads_the_tracker"] is False
