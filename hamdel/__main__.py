"""`python -m hamdel` — the main job: with TELEGRAM_TOKEN set, the Telegram bot and its servers;
without it, a terminal conversation through the same pipeline. Set-up and training happen on
first use (see `make chat`). The admins' web console starts next to them (`make admin` alone)."""
from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os

from hamdel.services import running_stack
from hamdel.settings import get_settings
from hamdel.storage.db import migrate


def main() -> None:
    parser = argparse.ArgumentParser(description="Hamdel, the complaint assistant")
    parser.add_argument("--terminal", action="store_true", help="terminal chat even if TELEGRAM_TOKEN is set")
    parser.add_argument("--conversation", default=None, help="conversation id for the terminal chat")
    args = parser.parse_args()
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "WARNING"), format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines carry the bot token in URLs
    settings = get_settings()
    settings.check_secrets()
    migrate()
    with running_stack() as stack:
        stack.start_console()
        print(f"[hamdel] admin console: http://{settings.admin_host}:{settings.admin_port} (log: var/log/console.log)",
              flush=True)
        if settings.telegram_token and not args.terminal:
            from bot.__main__ import run_bot  # the Telegram front end (bot/)

            run_bot(settings.model_copy(update={"rasa_url": stack.rasa_url}))
        else:
            from hamdel.terminal_chat import chat

            conversation = args.conversation or f"terminal:{getpass.getuser()}"
            asyncio.run(chat(stack.rasa_url, conversation))


if __name__ == "__main__":
    main()
