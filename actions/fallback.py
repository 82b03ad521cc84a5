"""The dialogue's safety net when no rule or memorised story fits.

It is a custom action on purpose: Rasa's built-in fallback runs inside the Rasa server, so with the
action server down it would still tell the customer «I didn't understand» — a misleading answer the
front end cannot tell from a real one. Served from here, an unreachable action server makes Rasa
answer with nothing, which `hamdel.rasa_client` reports as a failure, and the message is retried.
"""
from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher


class ActionFallback(Action):
    """Ask the customer to put it another way, and forget the turn so it does not skew the dialogue."""

    def name(self) -> str:
        return "action_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        dispatcher.utter_message(response="utter_default")
        return [UserUtteranceReverted()]
