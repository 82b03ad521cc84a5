"""The Telegram front end (python-telegram-bot v22): customers in private chats, agents in a forum
supergroup. Start with `bot.app.build_application`; `bot.__main__.run_bot` runs it."""
