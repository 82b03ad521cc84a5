"""A scripted stand-in for Rasa's REST channel, so the Telegram tests control exactly what "Rasa"
answers and can take it down and bring it back. (The real Rasa is exercised in
tests/integration/test_telegram_full_stack.py.)"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

Script = Callable[[str, str], list[dict[str, Any]]]


def echo(_sender: str, message: str) -> list[dict[str, Any]]:
    return [{"text": f"شنیدم: {message}"}]


class FakeRasa:
    def __init__(self, script: Script = echo) -> None:
        self.script = script
        self.down = False  # answer like Rasa does when an action fails: 200 with []
        self.received: list[tuple[str, str]] = []  # (sender, message) of answered turns
        self.refused = 0
        self.rewinds: list[str] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/webhooks/rest/webhook", self._webhook)
        app.router.add_post("/conversations/{sender}/tracker/events", self._events)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def messages(self) -> list[str]:
        return [message for _, message in self.received]

    async def _webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        if self.down:
            self.refused += 1
            return web.json_response([])
        self.received.append((body["sender"], body["message"]))
        return web.json_response(self.script(body["sender"], body["message"]))

    async def _events(self, request: web.Request) -> web.Response:
        self.rewinds.append(request.match_info["sender"])
        return web.json_response({})
