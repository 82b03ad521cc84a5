"""The fault scenarios drive the real bot through the Bot API stand-in and the scripted Rasa, with
the fixtures of tests/bot."""
from tests.bot.conftest import harness, make_harness  # noqa: F401 - fixtures
