"""The whole pipeline on one machine: Rasa (3.10 environment) + the action server (3.11) + the
database, driven through Rasa's REST channel exactly as the Telegram bot and terminal chat drive it.

This also proves that rasa-sdk 3.21 on Python 3.11 serves Rasa 3.6 (the two environments talk).
"""
from __future__ import annotations

import asyncio
import json
import re
import subprocess

import httpx
import pytest
from sqlalchemy import select

from hamdel.services import Stack
from hamdel.settings import PROJECT_ROOT, get_settings
from hamdel.storage.db import session_scope
from hamdel.storage.models import FollowUp, FollowUpKind, Ticket, TicketStatus, TranscriptLine
from hamdel.terminal_chat import converse

pytestmark = pytest.mark.integration
SECOND_PERSON_ORDER = re.compile("سفارشت(?:ان|ون)")


def say(stack: Stack, sender: str, text: str) -> list[dict]:
    response = httpx.post(f"{stack.rasa_url}/webhooks/rest/webhook", timeout=60, params={"token": stack.token},
                          json={"sender": sender, "message": text, "metadata": {"display_name": "مریم"}})
    response.raise_for_status()
    replies = response.json()
    assert replies, f"Rasa answered nothing to {text!r}"  # the REST channel hides failures as []
    return replies


def texts(replies: list[dict]) -> str:
    return "\n".join(r.get("text", "") for r in replies if r.get("text"))


def test_a_persian_complaint_from_first_word_to_ticket(stack: tuple[Stack, str]) -> None:
    server, url = stack
    sender = "telegram:424242"

    assert texts(say(server, sender, "سلام"))

    # Hear: Arabic letters, Persian digits, no half-space — and the bot only asks for more.
    heard = say(server, sender, "سفارشم به شماره ۴۵۸۷۱۲۳ از دوشنبه هنوز نرسيده و مي خوام بدونم كجاست")
    assert any(r.get("buttons") for r in heard)
    heard = say(server, sender, "پشتیبانی هم هر بار زنگ زدم جواب نداد")
    assert "HM-" not in texts(heard)  # nothing is decided while the customer is still talking

    # Reflect back in their own words, second person, Persian digits, with yes/no buttons.
    reflected = say(server, sender, "/deny")
    reflection = texts(reflected)
    # «your order» in the second person, written or spoken register (سفارشتان / سفارشتون)
    assert SECOND_PERSON_ORDER.search(reflection) and "۴۵۸۷۱۲۳" in reflection and "از دوشنبه" in reflection
    assert [b["payload"] for b in reflected[-1]["buttons"]] == ["/affirm", "/deny"]

    # Empathize, then Lead with the open question.
    led = texts(say(server, sender, "/affirm"))
    assert "از دستمون برمیاد" in led  # every unconditional variation of utter_ask_remedy

    # Provide: a ticket and the summary of everything recorded.
    summary = texts(say(server, sender, "لطفا پولمو پس بدید"))
    assert "HM-" in summary and "بازگشت وجه" in summary and "۱۴۰" in summary

    with session_scope(url) as session:
        ticket = session.scalars(select(Ticket)).one()
        assert ticket.number in summary
        assert ticket.order_id == "4587123" and ticket.category.value == "delivery"
        assert "پشتیبانی هم هر بار زنگ زدم جواب نداد" in ticket.story
        assert ticket.reflection and SECOND_PERSON_ORDER.search(ticket.reflection)
        assert ticket.remedy_sought == "refund" and ticket.status is TicketStatus.OPEN
        assert ticket.customer.display_name == "مریم" and ticket.customer.external_id == "424242"
        # The summary is the acknowledgement: the only follow-up owed is the check-in.
        kinds = session.scalars(select(FollowUp.kind).where(FollowUp.ticket_id == ticket.id)).all()
        assert kinds == [FollowUpKind.CHECK_IN]
        number = ticket.number

    # Status lists this customer's ticket, and another customer sees nothing of it.
    assert number in texts(say(server, sender, "شکایتم به کجا رسید؟"))
    assert number not in texts(say(server, "telegram:999", "شکایتم به کجا رسید؟"))


COLD_READ = r"""
import json, sys
import asyncio
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import EventVerbosity
store = SQLTrackerStore(Domain.load("domain.yml"), db=sys.argv[1])
tracker = asyncio.run(store.retrieve(sys.argv[2]))
print(json.dumps(tracker.current_state(EventVerbosity.AFTER_RESTART)))
"""


def test_the_conversation_rasa_keeps_between_messages_is_the_one_in_the_database(stack: tuple[Stack, str]) -> None:
    """rasa_addons/tracker_store.py hands Rasa the tracker it saved last instead of reading it back;
    what Rasa then works on must be exactly what Rasa's own store reads from the table."""
    server, _ = stack
    sender = "telegram:515151"
    say(server, sender, "سلام")  # opens the session: read back from the table on the next message
    say(server, sender, "بسته‌ام با ۲ روز تأخیر رسید و جعبه‌اش هم له شده بود")
    say(server, sender, "/deny")  # this turn works on the kept tracker, and keeps it again
    # Rasa's predict endpoint reads the conversation through the store (the kept tracker) and shows it
    predicted = httpx.post(f"{server.rasa_url}/conversations/{sender}/predict", params={"token": server.token},
                           timeout=60)
    predicted.raise_for_status()
    kept = predicted.json()["tracker"]
    cold = subprocess.run(
        [str(PROJECT_ROOT / ".venv-rasa" / "bin" / "python"), "-c", COLD_READ, server._env()["TRACKER_DB"], sender],
        capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=300,
        env={"PYTHONPATH": str(PROJECT_ROOT), "PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert cold.returncode == 0, cold.stderr[-2000:]
    from_table = json.loads(cold.stdout.strip().splitlines()[-1])
    assert [e["event"] for e in kept["events"]].count("user") == 3  # the three messages of this session
    assert kept == from_table


def test_a_message_sent_while_the_action_server_is_down_is_answered_once_it_is_back(
    stack: tuple[Stack, str],
) -> None:
    """Rasa answers 200 with [] when actions fail; the client must call that a failure, undo the
    turn (Rasa's circuit breaker would otherwise silence the conversation for good), and the same
    message must then be answered normally."""
    import asyncio

    from hamdel.rasa_client import RasaClient, RasaUnavailable

    server, _ = stack
    server.processes[0].terminate()
    server.processes[0].wait(timeout=15)

    async def send(text: str) -> list:
        async with RasaClient(base_url=server.rasa_url, timeout=60, token=server.token) as client:
            return await client.send("telegram:55", text)

    with pytest.raises(RasaUnavailable):
        asyncio.run(send("سفارشم هنوز نرسیده"))

    server.start_actions()
    server.wait_ready(timeout=60)
    replies = asyncio.run(send("سفارشم هنوز نرسیده"))
    assert any(reply.buttons for reply in replies)  # «anything else?» — the story was heard


def test_rasas_api_refuses_requests_without_the_token(stack: tuple[Stack, str]) -> None:
    server, _ = stack
    for method, path in (("GET", "/status"), ("GET", "/conversations/telegram:1/tracker"), ("PUT", "/model")):
        assert httpx.request(method, f"{server.rasa_url}{path}", timeout=30).status_code == 401
        assert httpx.request(method, f"{server.rasa_url}{path}", params={"token": "wrong"}, timeout=30).status_code == 401


def test_an_action_call_without_the_secret_is_refused(stack: tuple[Stack, str]) -> None:
    server, _ = stack
    call = {"next_action": "action_hear_story", "sender_id": "telegram:1",
            "tracker": {"sender_id": "telegram:1", "slots": {}, "latest_message": {}, "events": []}, "domain": {}}
    assert httpx.post(f"http://127.0.0.1:{server.action_port}/webhook", json=call, timeout=30).status_code == 401


def test_a_story_told_across_a_rasa_restart_is_not_lost(stack: tuple[Stack, str]) -> None:
    """The tracker lives in SQLite (endpoints.yml): Rasa restarts mid-story and goes on with it."""
    from hamdel.services import ensure_model

    server, _ = stack
    first = say(server, "telegram:77", "سلام، سفارشم به شماره ۴۵۸۷۱۲۳ از دوشنبه هنوز نرسیده")
    assert any(r.get("buttons") for r in first)  # «anything else?»
    rasa = server.processes[1]
    rasa.terminate()
    rasa.wait(timeout=30)
    server.start_rasa(ensure_model())
    server.wait_ready(timeout=300)
    tracker = httpx.get(f"{server.rasa_url}/conversations/telegram:77/tracker", params={"token": server.token},
                        timeout=30).json()
    said = [e.get("text") for e in tracker["events"] if e.get("event") == "user"]
    assert said == ["سلام، سفارشم به شماره ۴۵۸۷۱۲۳ از دوشنبه هنوز نرسیده"]
    assert tracker["slots"].get("phase")  # the dialogue state came back too


def test_the_terminal_chat_files_its_story_and_summary_under_the_ticket_and_nothing_before(
        stack: tuple[Stack, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`make chat` without a token: the ticket's transcript starts where the story did."""
    server, url = stack
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("RASA_TOKEN", server.token)
    get_settings.cache_clear()
    conversation = "terminal:integration"
    lines: asyncio.Queue[str | None] = asyncio.Queue()
    for line in ("سلام", "گوشی که خریدم بعد از دو روز خاموش شد و دیگه روشن نمیشه", "/deny", "/affirm",
                 "یه گوشی سالم می‌خوام", None):
        lines.put_nowait(line)
    try:
        asyncio.run(converse(server.rasa_url, conversation, lines))
    finally:
        get_settings.cache_clear()
    shown = capsys.readouterr().out
    with session_scope(url) as session:
        ticket = session.scalars(select(Ticket).where(Ticket.conversation_id == conversation)).one()
        assert ticket.number in shown
        filed = session.scalars(select(TranscriptLine.text).where(TranscriptLine.ticket_id == ticket.id)
                                .order_by(TranscriptLine.id)).all()
        loose = session.scalars(select(TranscriptLine.text).where(TranscriptLine.conversation_id == conversation,
                                                                  TranscriptLine.ticket_id.is_(None))).all()
    assert filed[0] == "گوشی که خریدم بعد از دو روز خاموش شد و دیگه روشن نمیشه"
    assert any(ticket.number in text for text in filed)  # the summary is the ticket's line
    assert "سلام" in loose and "سلام" not in filed  # the greeting before the story stays outside
