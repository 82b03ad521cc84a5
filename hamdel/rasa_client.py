"""Talking to the Rasa server through its REST channel, with the checks Rasa itself leaves out.

Rasa's REST channel answers 200 with whatever it collected, possibly `[]`, when an action or the
model fails (shared/notes/pitfalls.md). Every Hamdel turn produces at least one message, so an empty
answer is treated as a failure here, and callers keep the customer's message to retry later
instead of pretending it was answered.

A turn is idempotent per Telegram message: the caller gives each turn a `turn_id` (derived from the
Telegram update ids), sent in the message's metadata and therefore kept in Rasa's tracker. Before a
retry the client reads the tracker: a turn Rasa already finished is answered from the tracker (never
run twice), a turn Rasa started but did not finish is rewound, a turn Rasa never saw is sent.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import httpx

logger = logging.getLogger(__name__)


class RasaUnavailable(Exception):
    """Rasa (or its action server) did not produce an answer; the turn must be retried later.

    `reached` is False when the request certainly never got to Rasa (connection refused): that is
    an outage, not a failure of this message, and callers do not count it against the message.
    """

    def __init__(self, message: str, *, reached: bool = True) -> None:
        super().__init__(message)
        self.reached = reached


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

    @property
    def _params(self) -> dict[str, str] | None:
        return {"token": self.token} if self.token else None

    async def send(self, conversation_id: str, text: str, metadata: dict[str, Any] | None = None, *,
                   turn_id: str | None = None, retry: bool = False) -> list[BotMessage]:
        """Send one customer turn; return Rasa's messages or raise RasaUnavailable.

        With `retry` (a second or later try of the same `turn_id`), Rasa's tracker is consulted
        first, so a turn that reached Rasa before is never run twice.
        """
        if retry and turn_id is not None:
            done = await self.recover(conversation_id, turn_id)
            if done is not None:
                return done
        body = {"sender": conversation_id, "message": text,
                "metadata": {**(metadata or {}), **({"turn_id": turn_id} if turn_id else {})}}
        try:
            response = await self.client.post("/webhooks/rest/webhook", json=body, params=self._params)
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            raise RasaUnavailable(f"Rasa unreachable: {type(error).__name__}", reached=False) from error
        except httpx.HTTPError as error:
            raise RasaUnavailable(f"Rasa failed: {type(error).__name__}") from error
        if response.status_code != 200:
            if turn_id is not None:
                await self.recover(conversation_id, turn_id)
            raise RasaUnavailable(f"Rasa answered HTTP {response.status_code}",
                                  reached=response.status_code not in (401, 403))
        try:
            raw = response.json()
        except ValueError as error:
            raise RasaUnavailable("Rasa answered something that is not JSON") from error
        messages = [parse_message(item) for item in raw if isinstance(item, dict)]
        if not any(m.text or m.custom for m in messages):
            # Rasa swallowed an error (action server down, timeout): nothing was said.
            if turn_id is not None:
                await self.recover(conversation_id, turn_id)
            else:
                await self.rewind(conversation_id)
            raise RasaUnavailable("Rasa answered with no messages")
        return messages

    async def recover(self, conversation_id: str, turn_id: str) -> list[BotMessage] | None:
        """What Rasa already said for `turn_id`, or None after making sure the turn can be sent again.

        Rasa's latest user message carries the turn id when this turn reached it. If the turn then
        ran to `action_listen`, its answer is in the tracker and is returned. If not (an action
        failed, or the call was cut off), the turn is rewound; Rasa applies the rewind under the
        conversation's lock, i.e. after a turn still running has ended.
        """
        try:
            response = await self.client.get(f"/conversations/{conversation_id}/tracker",
                                             params={**(self._params or {}), "include_events": "AFTER_RESTART"})
        except httpx.HTTPError as error:
            raise RasaUnavailable(f"Rasa unreachable: {type(error).__name__}", reached=False) from error
        if response.status_code != 200:
            raise RasaUnavailable(f"Rasa answered HTTP {response.status_code} for the tracker")
        events = [e for e in (response.json().get("events") or []) if isinstance(e, dict)]
        last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=None)
        if last_user is None or (events[last_user].get("metadata") or {}).get("turn_id") != turn_id:
            return None  # Rasa never saw this turn
        after = events[last_user + 1:]
        finished = any(e.get("event") == "action" and e.get("name") == "action_listen" for e in after)
        said = [_from_bot_event(e) for e in after if e.get("event") == "bot"]
        if finished and any(m.text or m.custom for m in said):
            logger.info("a retried turn was already answered by Rasa; its answer is reused")
            return said
        await self.rewind(conversation_id)
        return None

    async def rewind(self, conversation_id: str) -> None:
        """Undo a failed turn so that retrying it is clean.

        After an action fails, Rasa keeps predicting until its circuit breaker trips and never logs
        `action_listen`; every later message then hits the same limit and the conversation stays
        silent for good. Reverting the failed user message restores the state before it.
        """
        try:
            await self.client.post(f"/conversations/{conversation_id}/tracker/events", params=self._params,
                                   json={"event": "rewind"})
        except httpx.HTTPError:
            logger.warning("could not rewind a failed turn; Rasa is unreachable")


def _from_bot_event(event: dict[str, Any]) -> BotMessage:
    """A `bot` event of Rasa's tracker as the message the REST channel would have sent."""
    raw = event.get("data")
    data: dict[str, Any] = raw if isinstance(raw, dict) else {}
    return parse_message({"text": event.get("text"), "buttons": data.get("buttons"), "custom": data.get("custom"),
                          "image": data.get("image")})


def parse_message(item: dict[str, Any]) -> BotMessage:
    buttons = tuple(
        Button(title=str(b.get("title", "")), payload=str(b.get("payload", "")))
        for b in item.get("buttons") or ()
        if isinstance(b, dict)
    )
    custom = item.get("custom") if isinstance(item.get("custom"), dict) else None
    return BotMessage(text=item.get("text"), buttons=buttons, custom=custom, image=item.get("image"))
