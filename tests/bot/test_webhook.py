"""Webhook mode: Telegram posts updates to us, and only requests carrying the secret token are
accepted (anyone can find a public URL; only Telegram knows the secret)."""
from __future__ import annotations

import asyncio
import dataclasses
import socket
from datetime import timedelta

import httpx

from bot.__main__ import webhook_options
from bot.app import build_application
from bot.rate_limit import HamdelRateLimiter
from devtools.bot_api_standin import BotApiStandIn, text_update
from hamdel.followup_policy import SchedulerSettings, load_followup_policy
from hamdel.settings import Settings
from tests.bot.conftest import AGENTS, CUSTOMER
from tests.bot.fake_rasa import FakeRasa


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_only_requests_with_the_secret_token_are_processed(database_url: str) -> None:
    api, rasa, port = BotApiStandIn(agent_chat_id=AGENTS), FakeRasa(), free_port()
    await api.start()
    await rasa.start()
    settings = Settings(telegram_token="123:TEST", telegram_base_url=api.base_url, agent_chat_id=AGENTS,
                        rasa_url=rasa.url, quiet_window_seconds=0.2, database_url=database_url,
                        telegram_webhook_url=f"http://127.0.0.1:{port}/hooks/hamdel",
                        telegram_webhook_secret="s3cret-value", telegram_webhook_listen="127.0.0.1",
                        telegram_webhook_port=port)
    policy = dataclasses.replace(load_followup_policy(), scheduler=SchedulerSettings(
        poll_interval=timedelta(milliseconds=100), max_per_second=None))
    app = build_application(settings, followup_policy=policy, start_followups=False,
                            rate_limiter=HamdelRateLimiter(private_per_second=50, private_burst=50))
    options = webhook_options(settings)
    assert options["url_path"] == "hooks/hamdel"
    await app.initialize()
    await app.post_init(app)  # type: ignore[misc]
    assert app.updater is not None
    await app.updater.start_webhook(**options)
    await app.start()
    try:
        registered = api.calls("setWebhook")[-1]
        assert registered["url"] == f"http://127.0.0.1:{port}/hooks/hamdel"
        assert registered["secret_token"] == "s3cret-value"
        url = f"http://127.0.0.1:{port}/hooks/hamdel"
        async with httpx.AsyncClient() as client:
            forged = await client.post(url, json=text_update(CUSTOMER, CUSTOMER, "جعلی"),
                                       headers={"X-Telegram-Bot-Api-Secret-Token": "guess"})
            missing = await client.post(url, json=text_update(CUSTOMER, CUSTOMER, "بی‌امضا"))
            genuine = await client.post(url, json=text_update(CUSTOMER, CUSTOMER, "سفارشم نرسیده"),
                                        headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-value"})
        assert forged.status_code == 403 and missing.status_code == 403
        assert genuine.status_code == 200
        await api.wait_for_messages(CUSTOMER, 1)
        await asyncio.sleep(0.3)
        assert rasa.messages() == ["سفارشم نرسیده"]
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        await app.post_shutdown(app)  # type: ignore[misc]
        await rasa.stop()
        await api.stop()
