"""Rasa's requests to the action server reuse one connection instead of opening one per call
(rasa_addons/http_sessions.py), and carry what Rasa's own requests carry.

Runs in `.venv` and drives `.venv-rasa` through a subprocess, like test_action_response_schema.py:
a small aiohttp server stands in for the action server and notes each request's client port.
"""
from __future__ import annotations

import json

import pytest

from tests.rasa_addons import run_in_rasa

SCRIPT = r"""
import asyncio, json
from aiohttp import web
from rasa.utils.endpoints import EndpointConfig

rasas_session = EndpointConfig.session
import rasa_addons  # noqa: F401  (installs the kept sessions, as loading the model does)
from rasa_addons.http_sessions import request_json

seen, bodies = [], []
# A customer's words as they reach Rasa: Persian, Arabic letters, a half-space, an emoji, and a
# lone surrogate (Telegram's JSON can carry one), with a slash and a quote.
WORDS = "سفارشم ۴۵۸۷۱۲۳ نرسيده، ك می\u200cخوام 😡 \ud83d / \"فوری\""


async def webhook(request):
    bodies.append(await request.text())
    body = await request.json()
    seen.append({"port": request.transport.get_extra_info("peername")[1], "secret": request.headers.get("X-Hamdel-Action-Secret"),
                 "auth": request.headers.get("Authorization"), "token": request.query.get("token")})
    return web.json_response({"events": [], "responses": [{"text": body["next_action"]}]})


async def calls(endpoint, count):
    runner = web.AppRunner(web.Application())
    runner.app.router.add_post("/webhook", webhook)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    endpoint.url = f"http://127.0.0.1:{port}/webhook"
    answers = [await endpoint.request(json={"next_action": f"action_{n}", "text": WORDS, "confidence": 1e-07}, method="post")
               for n in range(count)]
    await runner.cleanup()
    return [answer["responses"][0]["text"] for answer in answers]


def endpoint():
    return EndpointConfig("http://placeholder", headers={"X-Hamdel-Action-Secret": "s3cret"}, token="t0ken",
                          basic_auth={"username": "rasa", "password": "pw"})


report = {}
kept = endpoint()
report["answers"] = asyncio.run(calls(kept, 5))
report["body"] = bodies[0]
report["kept_ports"] = len({s["port"] for s in seen})
report["sent"] = seen[0]
seen.clear()
report["answers_on_a_new_loop"] = asyncio.run(calls(kept, 3))  # a new event loop: a new session
report["ports_on_a_new_loop"] = len({s["port"] for s in seen})
seen.clear()
bodies.clear()
stock = endpoint()
stock.session = lambda: rasas_session(stock)  # Rasa's own behaviour, for comparison
asyncio.run(calls(stock, 5))
report["stock_ports"] = len({s["port"] for s in seen})
report["stock_sent"] = seen[0]
report["stock_body"] = bodies[0]

# A whole tracker as Rasa sends it with an action call: the same value once parsed.
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
tracker = DialogueStateTracker.from_events("telegram:1", [
    ActionExecuted("action_listen"),
    UserUttered(WORDS, {"name": "complain_delivery", "confidence": 0.973},
                [{"entity": "order_id", "value": "4587123", "start": 7, "end": 14}], metadata={"turn_id": "t-1"}),
    ActionExecuted("action_hear_story", policy="RulePolicy", confidence=1.0),
    SlotSet("key_words", ["۴۵۸۷۱۲۳", "نرسيده"]), SlotSet("anger", 1.5), SlotSet("order_id", None),
    BotUttered("بذارید ببینم درست متوجه شدم", {"buttons": [{"title": "بله", "payload": "/affirm"}]}),
])
state = tracker.current_state(EventVerbosity.ALL)
report["tracker_same"] = json.loads(request_json(state)) == json.loads(json.dumps(state))
report["tracker_events"] = len(state["events"])
report["text_exact"] = request_json(WORDS) == json.dumps(WORDS)
try:
    request_json(b"bytes")
    report["bytes"] = "written"
except TypeError:
    report["bytes"] = "refused"
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def report() -> dict:
    return run_in_rasa(SCRIPT, keep_stderr=True)


def test_five_action_calls_use_one_connection_where_rasa_opened_five(report: dict) -> None:
    assert report["answers"] == [f"action_{n}" for n in range(5)]
    assert report["kept_ports"] == 1
    assert report["stock_ports"] == 5


def test_each_call_carries_what_rasas_own_call_carries(report: dict) -> None:
    assert report["sent"] == {**report["stock_sent"], "port": report["sent"]["port"]}
    assert report["sent"]["secret"] == "s3cret" and report["sent"]["token"] == "t0ken"
    assert report["sent"]["auth"].startswith("Basic ")


def test_a_new_event_loop_gets_a_working_session_of_its_own(report: dict) -> None:
    assert report["answers_on_a_new_loop"] == ["action_0", "action_1", "action_2"]
    assert report["ports_on_a_new_loop"] == 1


def test_sessions_left_open_are_released_quietly_when_their_loop_or_the_process_ends(report: dict) -> None:
    assert "Unclosed" not in report["stderr"]


def test_the_body_is_the_document_rasas_json_writes(report: dict) -> None:
    body, stock = report["body"], report["stock_body"]
    assert json.loads(body) == json.loads(stock)
    assert json.loads(body)["next_action"] == "action_0" and json.loads(body)["confidence"] == 1e-07
    assert body != stock and body.isascii() and stock.isascii()  # ujson wrote it (compact), as ASCII as json's
    assert report["text_exact"]  # the customer's words, lone surrogate included, escaped exactly as json escapes them
    assert report["tracker_same"] and report["tracker_events"] == 7
    assert report["bytes"] == "refused"
