"""Talking to the Rasa server through its REST channel, with the checks Rasa itself leaves out.

Rasa's REST channel answers 200 with whatever it collected, possibly `[]`, when an action or the
model fails (shared/notes/pitfalls.md). Every Hamdel turn produces at least one message, so an empty
answer is treated as a failure here, and callers keep the customer's message to retry later
instead of pretending it was answered.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import httpx

logger = logging.getLogger(__name__)


class RasaUnavailable(Exception):
    """Rasa (or its action server) did not produce an answer; the turn must be retried later."""


@dataclass(frozen=True)
class Button:
    title: str
    payload: str


@dataclass(frozen=True)
class BotMessage:
    """One message of Rasa's answer: text with optional buttons, or a custom event for the front end.

    Custom events Hamdel's actions send (``custom`` dict):
    - ``{"event": "ticket_opened", "ticket_number": "HM-123456"}``
    - ``{"event": "handoff", "ticket_number": "HM-123456", "reason": "customer_request"}``
    """

    text: str | None = None
    buttons: tuple[Button, ...] = ()
    custom: dict[str, Any] | None = None
    image: str | None = None


@dataclass
class RasaClient:
    base_url: str
    timeout: float = 30.0
    token: str | None = None
    _client: httpx.AsyncClient | None = field(default=None, init=False, repr=False)

    async def __aenter__(self) -> RasaClient:
        self._client = httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout)
        return self._client

    async def send(self, conversation_id: str, text: str, metadata: dict[str, Any] | None = None) -> list[BotMessage]:
        """Send one customer turn; return Rasa's messages or raise RasaUnavailable."""
        params = {"token": self.token} if self.token else None
        body = {"sender": conversation_id, "message": text, "metadata": metadata or {}}
        try:
            response = await self.client.post("/webhooks/rest/webhook", json=body, params=params)
        except httpx.HTTPError as error:
            raise RasaUnavailable(f"Rasa unreachable: {type(error).__name__}") from error
        if response.status_code != 200:
            raise RasaUnavailable(f"Rasa answered HTTP {response.status_code}")
        try:
            raw = response.json()
        except ValueError as error:
            raise RasaUnavailable("Rasa answered something that is not JSON") from error
        messages = [parse_message(item) for item in raw if isinstance(item, dict)]
        if not any(m.text or m.custom for m in messages):
            # Rasa swallowed an error (action server down, timeout): nothing was said.
            await self.rewind(conversation_id)
            raise RasaUnavailable("Rasa answered with no messages")
        return messages

    async def rewind(self, conversation_id: str) -> None:
        """Undo a failed turn so that retrying it is clean.

        After an action fails, Rasa keeps predicting until its circuit breaker trips and never logs
        `action_listen`; every later message then hits the same limit and the conversation stays
        silent for good. Reverting the failed user message restores the state before it.
        """
        params = {"token": self.token} if self.token else None
        try:
            await self.client.post(f"/conversations/{conversation_id}/tracker/events", params=params,
                                   json={"event": "rewind"})
        except httpx.HTTPError:
            logger.warning("could not rewind a failed turn; Rasa is unreachable")

    async def is_ready(self) -> bool:
        """True when the server is up and has a model loaded."""
        try:
            response = await self.client.get("/status" if self.token else "/", params={"token": self.token} if self.token else None)
        except httpx.HTTPError:
            return False
        return response.status_code == 200


def parse_message(item: dict[str, Any]) -> BotMessage:
    buttons = tuple(
        Button(title=str(b.get("title", "")), payload=str(b.get("payload", "")))
        for b in item.get("buttons") or ()
        if isinstance(b, dict)
    )
    custom = item.get("custom") if isinstance(item.get("custom"), dict) else None
    return BotMessage(text=item.get("text"), buttons=buttons, custom=custom, image=item.get("image"))
