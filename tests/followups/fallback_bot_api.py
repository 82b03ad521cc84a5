"""A minimal local Bot API, used only while `devtools.bot_api_standin` (written by the bot
engineer) is not in the tree. Same interface subset: start/stop, base_url, requests,
sent_messages, fail_next, blocked_chats, rate cap (429 with retry_after beyond it)."""
from __future__ import annotations

import itertools
import json
import time
from collections import deque
from typing import Any

from aiohttp import web


class FallbackBotApi:
    def __init__(self, token: str = "123:TEST", *, rate_cap_per_second: float | None = None,
                 agent_chat_id: int = -100777) -> None:
        self.token, self.rate_cap, self.agent_chat_id = token, rate_cap_per_second, agent_chat_id
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.blocked_chats: set[int] = set()
        self.members: dict[int, str] = {}
        self._messages: list[dict[str, Any]] = []
        self._failures: dict[str, deque[tuple[int, int]]] = {}
        self._window: deque[float] = deque()
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}/bot"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def sent_messages(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        return [m for m in self._messages if chat_id is None or m["chat_id"] == chat_id]

    def fail_next(self, method: str, *, status: int = 429, retry_after: int = 1, times: int = 1) -> None:
        self._failures.setdefault(method, deque()).extend([(status, retry_after)] * times)

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.content_type == "application/json":
            params = await request.json()
        else:
            params = {k: _maybe_json(v) for k, v in (await request.post()).items()}
        self.requests.append((method, params))
        queue = self._failures.get(method)
        if queue:
            status, retry_after = queue.popleft()
            return _error(status, retry_after)
        if method == "getMe":
            return _ok({"id": 123, "is_bot": True, "first_name": "Hamdel", "username": "hamdel_bot"})
        if method == "sendMessage":
            chat_id = int(params["chat_id"])
            if chat_id in self.blocked_chats:
                return _error(403, 0)
            if self.rate_cap is not None:
                now = time.monotonic()
                while self._window and now - self._window[0] >= 1.0:
                    self._window.popleft()
                if len(self._window) >= self.rate_cap:
                    return _error(429, 1)
                self._window.append(now)
            message = {"message_id": next(self._ids), "date": int(time.time()),
                       "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
                       "text": params.get("text", "")}
            self._messages.append({**params, "chat_id": chat_id, "message_id": message["message_id"]})
            return _ok(message)
        return _ok(True)


def _maybe_json(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(status: int, retry_after: int) -> web.Response:
    if status == 429:
        return web.json_response({"ok": False, "error_code": 429, "description": "Too Many Requests",
                                  "parameters": {"retry_after": retry_after}}, status=429)
    if status == 403:
        return web.json_response({"ok": False, "error_code": 403,
                                  "description": "Forbidden: bot was blocked by the user"}, status=403)
    return web.json_response({"ok": False, "error_code": status, "description": "error"}, status=status)


def callback_update(chat_id: int, user_id: int, data: str, message_id: int = 1) -> dict[str, Any]:
    return {"update_id": next(_update_ids), "callback_query": {
        "id": str(next(_update_ids)), "chat_instance": "x", "data": data,
        "from": {"id": user_id, "is_bot": False, "first_name": "مشتری"},
        "message": {"message_id": message_id, "date": int(time.time()), "text": "…",
                    "chat": {"id": chat_id, "type": "private"}}}}


def text_update(chat_id: int, user_id: int, text: str) -> dict[str, Any]:
    entities = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}] if text.startswith("/") else []
    return {"update_id": next(_update_ids), "message": {
        "message_id": next(_update_ids), "date": int(time.time()), "text": text, "entities": entities,
        "from": {"id": user_id, "is_bot": False, "first_name": "مشتری"},
        "chat": {"id": chat_id, "type": "private"}}}


_update_ids = itertools.count(1000)
