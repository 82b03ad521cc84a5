"""`python -m bot` — the Telegram bot alone, for when Rasa and the action server run elsewhere
(`make services`, or containers). `make run` starts everything through `python -m hamdel`, which
calls `run_bot` below once the servers are ready.

Long polling by default. With TELEGRAM_WEBHOOK_URL set, a webhook server listens instead, and
Telegram must send TELEGRAM_WEBHOOK_SECRET in every request's `X-Telegram-Bot-Api-Secret-Token`
header (python-telegram-bot rejects requests without it).
"""
from __future__ import annotations

import logging
import os
from typing import Any
from urllib.parse import urlparse

from telegram import Update

from bot.app import build_application
from hamdel.settings import Settings, get_settings
from hamdel.storage.db import migrate

log = logging.getLogger(__name__)


def webhook_options(settings: Settings) -> dict[str, Any]:
    """Arguments for PTB's `run_webhook`/`start_webhook`: the local path is the public URL's path, and
    Telegram must echo the secret in `X-Telegram-Bot-Api-Secret-Token` (PTB answers 403 otherwise)."""
    if not settings.telegram_webhook_secret:
        raise SystemExit("TELEGRAM_WEBHOOK_SECRET is required in webhook mode")
    assert settings.telegram_webhook_url is not None
    return {
        "listen": settings.telegram_webhook_listen, "port": settings.telegram_webhook_port,
        "url_path": urlparse(settings.telegram_webhook_url).path.lstrip("/") or "telegram",
        "webhook_url": settings.telegram_webhook_url, "secret_token": settings.telegram_webhook_secret,
        "allowed_updates": Update.ALL_TYPES,
    }


def run_bot(settings: Settings) -> None:
    """Run until interrupted (Ctrl+C or SIGTERM); unfinished work stays in the inbox for next time."""
    application = build_application(settings)
    if settings.telegram_webhook_url:
        options = webhook_options(settings)
        print(f"[hamdel] Telegram bot running (webhook on :{options['port']}/{options['url_path']})", flush=True)
        application.run_webhook(**options)
    else:
        print("[hamdel] Telegram bot running (long polling); Ctrl+C stops it", flush=True)
        application.run_polling(allowed_updates=Update.ALL_TYPES)


def configure_logging(level: str | int = "INFO") -> None:
    """The bot's logging: libraries whose INFO lines carry personal data or the token are quieter."""
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines contain the bot token
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # a line per timer tick otherwise


def main() -> None:
    configure_logging(os.environ.get("LOG_LEVEL", "INFO"))
    settings = get_settings()
    settings.check_secrets()
    migrate()
    run_bot(settings)


if __name__ == "__main__":
    main()
