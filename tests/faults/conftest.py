"""The fault scenarios drive the real bot through the Bot API stand-in and the scripted Rasa, with
the fixtures of tests/bot (in-process) and tests/faults/botprocess.py (the bot as its own process)."""
from tests.bot.conftest import harness, make_harness  # noqa: F401 - fixtures
from tests.faults.botprocess import standins  # noqa: F401 - fixture
