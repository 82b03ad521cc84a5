"""A scripted stand-in for Rasa's REST channel, so the Telegram tests control exactly what "Rasa"
answers and can take it down and bring it back. (The real Rasa is exercised in
tests/integration/test_telegram_full_stack.py.)

It keeps a tracker per conversation the way Rasa does (a `user` event with the message's metadata,
then `bot` events and `action_listen` when the turn finished; nothing more when it failed), answers
`GET /conversations/<id>/tracker`, and applies `rewind` by dropping the last user turn. Failures can
be scripted: `down` (200 with `[]`, as when an action fails), `fail_next("500" | "empty" | "hang")`,
and `refuse()` (nothing listens on the port: connection refused).
"""
from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any

from aiohttp import web

Script = Callable[[str, str], list[dict[str, Any]]]


def echo(_sender: str, message: str) -> list[dict[str, Any]]:
    return [{"text": f"شنیدم: {message}"}]


class FakeRasa:
    def __init__(self, script: Script = echo, *, token: str | None = None) -> None:
        self.script = script
        self.token = token
        self.down = False  # answer like Rasa does when an action fails: 200 with []
        self.received: list[tuple[str, str]] = []  # (sender, message) of answered turns
        self.completed: list[str] = []  # turn ids of the turns that ran to the end
        self.refused = 0
        self.rewinds: list[str] = []
        self.unauthorised = 0
        self.requests = 0
        self.largest_body = 0
        self.trackers: dict[str, list[dict[str, Any]]] = {}
        self._failures: list[str] = []
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/webhooks/rest/webhook", self._webhook)
        app.router.add_post("/conversations/{sender}/tracker/events", self._events)
        app.router.add_get("/conversations/{sender}/tracker", self._tracker)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def refuse(self) -> None:
        """Stop listening: every request is refused until `accept()`."""
        await self.stop()

    async def accept(self) -> None:
        self._release = asyncio.Event()
        await self.start()

    def fail_next(self, kind: str, times: int = 1) -> None:
        """The next `times` turns fail: "500" (HTTP 500), "empty" (200 with []), "hang" (no answer),
        "late" (the turn runs to the end in the tracker, but the answer is held back)."""
        self._failures.extend([kind] * times)

    def release_hangs(self) -> None:
        self._release.set()

    def messages(self) -> list[str]:
        return [message for _, message in self.received]

    def turns_run_twice(self) -> list[str]:
        return [turn for turn, n in Counter(self.completed).items() if n > 1]

    def _authorised(self, request: web.Request) -> bool:
        if self.token is None or request.query.get("token") == self.token:
            return True
        self.unauthorised += 1
        return False

    async def _webhook(self, request: web.Request) -> web.Response:
        raw = await request.read()
        self.requests += 1
        self.largest_body = max(self.largest_body, len(raw))
        if not self._authorised(request):
            return web.json_response({"message": "no token"}, status=401)
        body = await request.json()
        sender, message = body["sender"], body["message"]
        metadata = body.get("metadata") or {}
        events = self.trackers.setdefault(sender, [])
        events.append({"event": "user", "text": message, "metadata": metadata})
        failure = self._failures.pop(0) if self._failures else ("empty" if self.down else None)
        if failure == "500":
            return web.json_response({"message": "internal error"}, status=500)
        if failure == "hang":
            await self._release.wait()
            return web.json_response([])
        if failure == "empty":
            self.refused += 1
            return web.json_response([])
        replies = self.script(sender, message)
        for reply in replies:
            events.append({"event": "bot", "text": reply.get("text"),
                           "data": {"buttons": reply.get("buttons"), "custom": reply.get("custom")}})
        events.append({"event": "action", "name": "action_listen"})
        self.received.append((sender, message))
        self.completed.append(str(metadata.get("turn_id")))
        if failure == "late":  # the turn ran to the end, but the answer comes too late for the caller
            await self._release.wait()
        return web.json_response(replies)

    async def _tracker(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"message": "no token"}, status=401)
        sender = request.match_info["sender"]
        return web.json_response({"sender_id": sender, "events": self.trackers.get(sender, [])})

    async def _events(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"message": "no token"}, status=401)
        sender = request.match_info["sender"]
        self.rewinds.append(sender)
        events = self.trackers.get(sender, [])
        users = [i for i, e in enumerate(events) if e["event"] == "user"]
        if users:
            del events[users[-1]:]
        return web.json_response({})
