"""`python -m bot` as an operator runs it: a separate process, long polling, configured only by the
environment; it answers, stops cleanly on Ctrl+C, and its log holds neither the customer's words
nor the bot token."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from devtools.bot_api_standin import BotApiStandIn, text_update
from tests.bot.conftest import AGENTS, CUSTOMER
from tests.bot.fake_rasa import FakeRasa

ROOT = Path(__file__).resolve().parents[2]
SECRET_WORDS = "شماره‌ی کارت من ۶۰۳۷۹۹۱۲۳۴۵۶۷۸۹۰ است"


async def test_the_bot_process_answers_stops_cleanly_and_logs_no_personal_data(database_url: str) -> None:
    api, rasa = BotApiStandIn("123456:SECRET-TOKEN", agent_chat_id=AGENTS), FakeRasa()
    await api.start()
    await rasa.start()
    env = {**os.environ, "TELEGRAM_TOKEN": "123456:SECRET-TOKEN", "TELEGRAM_BASE_URL": api.base_url,
           "RASA_URL": rasa.url, "DATABASE_URL": database_url, "AGENT_CHAT_ID": str(AGENTS),
           "QUIET_WINDOW_SECONDS": "0.2", "LOG_LEVEL": "INFO", "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "bot"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        await api.wait_for(lambda: bool(api.calls("getUpdates")), timeout=60, what="the bot polling")
        api.push_update(text_update(CUSTOMER, CUSTOMER, SECRET_WORDS))
        await api.wait_for_messages(CUSTOMER, 1, timeout=30)
        assert rasa.messages() == [SECRET_WORDS]
        assert api.calls("setMyCommands")  # the menus were registered at start
    finally:
        process.send_signal(signal.SIGINT)
        try:
            output, _ = await asyncio.to_thread(process.communicate, timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
            await rasa.stop()
            await api.stop()
    assert process.returncode == 0, output
    assert "long polling" in output
    assert SECRET_WORDS not in output and "۶۰۳۷" not in output
    assert "SECRET-TOKEN" not in output
