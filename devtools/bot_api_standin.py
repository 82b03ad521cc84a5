"""A local stand-in for the Telegram Bot API, for tests and benchmarks.

Why it exists: the bot, the follow-up scheduler and their tests must run the *real*
python-telegram-bot client (request encoding, error mapping, long polling, `Application` start-up
and shutdown) without a network, without a real bot token, and with failures we choose. Mocking
`Bot` methods would skip exactly the layer where real bugs hide (a keyboard JSON-encoded twice, a
429 that is not honoured, a `message_thread_id` that goes missing), so instead this module serves
the Bot API over HTTP on 127.0.0.1 and PTB is pointed at it with
`ApplicationBuilder().base_url(standin.base_url)` or `Bot(token, base_url=standin.base_url)`.

What it imitates (https://core.telegram.org/bots/api), closely enough for PTB to work unchanged:

* the transport: `/bot<token>/<method>` by GET or POST, parameters as a query string, a url-encoded
  or multipart form (where PTB JSON-encodes every non-string value) or a JSON body; method names
  are case-insensitive; answers are `{"ok": true, "result": ...}` or Telegram's error objects
  (`error_code`, `description`, `parameters.retry_after`) with the same HTTP status;
* long polling with `getUpdates`: updates stay queued until confirmed by a later `offset`, a newer
  `getUpdates` ends an older one with 409 Conflict, `allowed_updates` is remembered between calls,
  and `deleteWebhook(drop_pending_updates=True)` empties the queue;
* the messages the bot sends (kept for assertions, see `sent_messages`), edits, callback answers,
  forum topics in the agents' group, chat members in every status, commands per scope;
* the failures a bot must survive: flood control (429 with `retry_after`, on demand via
  `fail_next` or from a global or per-chat rate cap), users who blocked the bot (403), and a few
  of Telegram's 400s ("message text is empty", "message is too long", "BUTTON_DATA_INVALID",
  "message is not modified", "the chat is not a forum", "BOT_COMMAND_INVALID").

It is deliberately lenient where strictness would need state it cannot have: editing, copying or
forwarding a message it has never seen works, as does closing a topic it did not create.

Module-level factories (`text_update`, `callback_update`, `photo_update`, ...) build incoming
updates in Telegram's JSON format, to be queued with `push_update` (or parsed directly with
`telegram.Update.de_json`). Message ids are drawn per chat from one process-wide sequence shared
with the stand-in, so, as in Telegram, a customer's message and the bot's reply never share an id.
"""
from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.web_request import FileField

__all__ = [
    "BotApiStandIn", "callback_update", "contact_update", "document_update", "edited_text_update",
    "location_update", "photo_update", "sticker_update", "text_update", "voice_update",
]

# Form values PTB JSON-encodes that we decode back into structures. Nothing else is parsed as JSON,
# so a message text such as "123" or "[1]" stays the string the bot sent.
JSON_FIELDS = frozenset({
    "reply_markup", "entities", "caption_entities", "commands", "scope", "allowed_updates", "media",
    "link_preview_options", "reply_parameters",
})
# Numeric ids and counters: int when the value parses as one (a chat_id may also be "@channel").
INT_FIELDS = frozenset({
    "chat_id", "message_id", "message_thread_id", "from_chat_id", "user_id", "offset", "limit", "timeout",
    "reply_to_message_id", "icon_color", "duration", "cache_time",
})
# Flags PTB sends as "true"/"false".
BOOL_FIELDS = frozenset({
    "disable_notification", "protect_content", "allow_sending_without_reply", "drop_pending_updates",
    "show_alert", "disable_web_page_preview", "has_spoiler", "allow_paid_broadcast",
    "show_caption_above_media", "remove_caption",
})

# Methods that produce a message in a chat: recorded by `sent_messages`, subject to rate caps and
# to `blocked_chats`; the value is the parameter (and Message field) holding the media, if any.
SENDING_METHODS: dict[str, str | None] = {
    "sendMessage": None, "copyMessage": None, "forwardMessage": None, "sendPhoto": "photo",
    "sendDocument": "document", "sendVoice": "voice", "sendVideo": "video", "sendAudio": "audio",
    "sendSticker": "sticker",
}
# What a forwarded message carries over from its original.
CONTENT_FIELDS = ("text", "entities", "caption", "caption_entities", "photo", "document", "voice", "video",
                  "audio", "sticker", "location", "contact")

ANONYMOUS_ADMIN = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}
DEFAULT_TOPIC_COLOR = 7322096
# Telegram leaves these out unless asked for them in allowed_updates.
NOT_DELIVERED_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
MAX_TEXT = 4096
MAX_CAPTION = 1024
COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
CONFLICT = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"


class ApiError(Exception):
    """A refusal in Telegram's own shape; raised by method handlers, turned into the error reply."""

    def __init__(self, code: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.retry_after = code, description, retry_after

    def response(self) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return web.json_response(body, status=self.code)


def _too_many(retry_after: int) -> ApiError:
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)


@dataclasses.dataclass
class _Queued:
    """An update waiting in the getUpdates queue.

    `redelivery` marks an update pushed again after getUpdates had already handed it out (Telegram
    delivering it twice, as after a lost confirmation): it is handed out once more regardless of
    the offset, then confirmed like any other.
    """

    update: dict[str, Any]
    redelivery: bool = False
    delivered: bool = False

    @property
    def update_id(self) -> int:
        return int(self.update["update_id"])

    @property
    def kind(self) -> str:
        return next((k for k in self.update if k != "update_id"), "")


Handler = Callable[[str, dict[str, Any]], Awaitable[Any]]


class BotApiStandIn:
    """The Bot API on 127.0.0.1 with everything it was asked recorded; see the module docstring."""

    def __init__(self, token: str = "123:TEST", *, rate_cap_per_second: float | None = None,
                 per_chat_cap_per_second: float | None = None, agent_chat_id: int = -100777,
                 bot_username: str = "hamdel_bot") -> None:
        self.token = token
        self.rate_cap_per_second = rate_cap_per_second
        self.per_chat_cap_per_second = per_chat_cap_per_second
        self.agent_chat_id = agent_chat_id
        bot_id = token.split(":", 1)[0]
        self.bot_user: dict[str, Any] = {
            "id": int(bot_id) if bot_id.isdigit() else 123, "is_bot": True, "first_name": "Hamdel",
            "username": bot_username, "can_join_groups": True, "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.base_url = ""
        self.base_file_url = ""
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.members: dict[int, str] = {}
        self.blocked_chats: set[int] = set()
        self.topics: dict[int, dict[str, Any]] = {}
        # (scope as canonical JSON, language_code) -> commands, as setMyCommands left them.
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        # Contents served for file ids (getFile's size, downloads from base_file_url).
        self.file_contents: dict[str, bytes] = {}

        self._sent: list[dict[str, Any]] = []
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}  # what edits and forwards look up
        self._failures: dict[str, deque[ApiError]] = {}
        self._window: deque[float] = deque()
        self._chat_windows: dict[int, deque[float]] = {}
        self._queue: list[_Queued] = []
        self._confirmed = 0  # the highest offset seen: updates below it were confirmed
        self._handed_out: set[int] = set()  # update ids getUpdates has returned at least once
        self._allowed_updates: frozenset[str] | None = None  # None: Telegram's default set
        self._poll_generation = 0
        self._wakeup = asyncio.Event()
        self._closing = False
        self._webhook_url = ""
        self._thread_ids = itertools.count(1001)
        self._uploads = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._handlers: dict[str, Handler] = {
            "getMe": self._get_me, "logOut": self._true, "close": self._true,
            "getUpdates": self._get_updates, "setWebhook": self._set_webhook, "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            **{name: self._send for name in SENDING_METHODS},
            "editMessageText": self._edit, "editMessageCaption": self._edit, "editMessageReplyMarkup": self._edit,
            "answerCallbackQuery": self._true, "sendChatAction": self._true, "pinChatMessage": self._true,
            "unpinChatMessage": self._true, "deleteMessage": self._delete_message,
            "setMyCommands": self._set_my_commands, "deleteMyCommands": self._delete_my_commands,
            "getMyCommands": self._get_my_commands,
            "createForumTopic": self._create_forum_topic, "editForumTopic": self._change_forum_topic,
            "closeForumTopic": self._change_forum_topic, "reopenForumTopic": self._change_forum_topic,
            "deleteForumTopic": self._change_forum_topic,
            "getChatMember": self._get_chat_member, "getChat": self._get_chat, "getFile": self._get_file,
        }
        self._canonical = {name.lower(): name for name in self._handlers}

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1; `base_url` and `base_file_url` are valid afterwards."""
        self._loop = asyncio.get_running_loop()
        self._closing = False
        self._wakeup = asyncio.Event()  # bound to this loop, not to whichever loop built the object
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        # A short shutdown_timeout: stop() has already ended every long poll, nothing else lingers.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}/bot"
        self.base_file_url = f"http://127.0.0.1:{port}/file/bot"

    async def stop(self) -> None:
        """Answer every waiting getUpdates at once (so shutdown never waits out a long poll), then close."""
        self._closing = True
        self._wake_pollers()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- what tests use -------------------------------------------------------------------------

    def push_update(self, update: dict[str, Any]) -> None:
        """Queue an update for getUpdates. Pushing one that was already confirmed delivers it again,
        which is how a test makes Telegram redeliver (as it does when a confirmation is lost)."""
        running: asyncio.AbstractEventLoop | None
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if self._loop is not None and running is not self._loop and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._enqueue, update)
        else:
            self._enqueue(update)

    def fail_next(self, method: str, *, status: int = 429, retry_after: int = 1, times: int = 1,
                  description: str | None = None) -> None:
        """Make the next `times` calls of `method` fail with `status` before they do anything."""
        if description is None:
            description = {
                429: f"Too Many Requests: retry after {retry_after}",
                403: "Forbidden: bot was blocked by the user",
                400: "Bad Request: simulated failure",
            }.get(status, _phrase(status))
        error = ApiError(status, description, retry_after=retry_after if status == 429 else None)
        self._failures.setdefault(method.lower(), deque()).extend([error] * times)

    def sent_messages(self, chat_id: int | None = None, *, thread_id: int | None = None) -> list[dict[str, Any]]:
        """Messages the bot produced (not edits), oldest first, optionally of one chat and topic."""
        return [m for m in self._sent
                if (chat_id is None or m["chat_id"] == chat_id)
                and (thread_id is None or m.get("message_thread_id") == thread_id)]

    def confirmed_update_ids(self) -> list[int]:
        """Updates the bot has confirmed (Telegram would never send them again)."""
        return sorted(u for u in self._handed_out if u < self._confirmed)

    def calls(self, method: str) -> list[dict[str, Any]]:
        """Parameters of every call of `method` (any letter case), failed ones included."""
        wanted = self._canonical.get(method.lower(), method)
        return [params for name, params in self.requests if name == wanted]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
        """Wait until `predicate()` holds; on timeout fail with the last requests, which usually say why."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() >= deadline:
                raise AssertionError(f"timed out waiting for {what}\nlast requests:\n{self._dump()}")
            await asyncio.sleep(0.02)

    async def wait_for_messages(self, chat_id: int, count: int, *, thread_id: int | None = None,
                                timeout: float = 10.0) -> list[dict[str, Any]]:
        """Wait until the bot has sent at least `count` messages to the chat (or topic); return them."""
        where = f"chat {chat_id}" + (f" topic {thread_id}" if thread_id is not None else "")
        await self.wait_for(lambda: len(self.sent_messages(chat_id, thread_id=thread_id)) >= count, timeout,
                            what=f"{count} message(s) to {where}")
        return self.sent_messages(chat_id, thread_id=thread_id)

    def _dump(self) -> str:
        """The last 10 requests, leaving out getUpdates: a polling bot asks for updates every second,
        which would push the calls that explain a failure out of the dump."""
        shown = [(m, p) for m, p in self.requests if m != "getUpdates"][-10:]
        lines = [f"  {m} {json.dumps(p, ensure_ascii=False, default=str)[:200]}" for m, p in shown]
        polls = sum(1 for m, _ in self.requests if m == "getUpdates")
        if polls:
            lines.append(f"  (and {polls} getUpdates calls)")
        return "\n".join(lines) or "  (none)"

    # --- transport ------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        asked = request.match_info["method"]
        method = self._canonical.get(asked.lower(), asked)
        try:
            params = await _read_params(request)
        except ConnectionError:  # the client died mid-request (a killed scheduler): nothing arrived
            return web.Response(status=400)
        except ApiError as error:
            self.requests.append((method, {}))
            return error.response()
        self.requests.append((method, params))
        if request.match_info["token"] != self.token:
            return ApiError(401, "Unauthorized").response()
        failures = self._failures.get(method.lower())
        if failures:
            return failures.popleft().response()
        handler = self._handlers.get(method)
        if handler is None:
            return ApiError(404, "Not Found: method not found").response()
        try:
            result = await handler(method, params)
        except ApiError as error:
            return error.response()
        return web.json_response({"ok": True, "result": result})

    async def _download(self, request: web.Request) -> web.Response:
        """Files as Telegram serves them from `file_path` (getFile) under base_file_url."""
        if request.match_info["token"] != self.token:
            return web.Response(status=401, text="Unauthorized")
        path = request.match_info["path"]
        file_id = path.rsplit("/", 1)[-1]
        return web.Response(body=self._file_bytes(file_id), content_type="application/octet-stream")

    # --- updates --------------------------------------------------------------------------------

    def _enqueue(self, update: dict[str, Any]) -> None:
        update_id = int(update["update_id"])
        entry = _Queued(update, redelivery=update_id < self._confirmed or update_id in self._handed_out)
        self._queue.append(entry)
        message = next((v for k, v in update.items() if k != "update_id" and isinstance(v, dict)), None)
        if message is not None and "message_id" in message and isinstance(message.get("chat"), dict):
            chat_id = int(message["chat"]["id"])
            _note_message_id(chat_id, int(message["message_id"]))
            self._messages.setdefault((chat_id, int(message["message_id"])), message)
        self._wake_pollers()

    def _wake_pollers(self) -> None:
        self._wakeup.set()
        self._wakeup = asyncio.Event()

    def _confirm(self, offset: int | None) -> None:
        """Telegram's confirmation: an offset forgets every update below it; a negative one keeps
        only the last -offset updates."""
        if offset is None:
            return
        if offset < 0:
            self._queue = self._queue[offset:]
            return
        self._queue = [e for e in self._queue if e.update_id >= offset or (e.redelivery and not e.delivered)]
        self._confirmed = max(self._confirmed, offset)

    def _take(self, limit: int) -> list[dict[str, Any]]:
        allowed = self._allowed_updates
        kept: list[_Queued] = []
        batch: list[_Queued] = []
        for entry in self._queue:
            wanted = entry.kind in allowed if allowed is not None else entry.kind not in NOT_DELIVERED_BY_DEFAULT
            if not wanted:
                continue  # Telegram drops updates of types the bot did not ask for
            kept.append(entry)
            if len(batch) < limit:
                batch.append(entry)
        self._queue = kept
        for entry in batch:
            entry.delivered = True
            self._handed_out.add(entry.update_id)
        return [entry.update for entry in batch]

    async def _get_updates(self, method: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Long polling: answer at once when something is queued, else when something arrives or
        the timeout passes; a newer call ends this one with 409 as Telegram does."""
        if self._webhook_url:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                "use deleteWebhook to delete the webhook first")
        self._poll_generation += 1
        mine = self._poll_generation
        self._wake_pollers()  # an older getUpdates still waiting is ended by this one
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(allowed) if allowed else None
        self._confirm(_as_int(params.get("offset")))
        limit = min(max(_as_int(params.get("limit")) or 100, 1), 100)
        timeout = params.get("timeout") or 0
        timeout = max(float(timeout), 0.0) if isinstance(timeout, (int, float)) else 0.0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            wakeup = self._wakeup
            if self._closing:
                return []
            if mine != self._poll_generation:
                raise ApiError(409, CONFLICT)
            batch = self._take(limit)
            if batch:
                return batch
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            try:
                await asyncio.wait_for(wakeup.wait(), remaining)
            except TimeoutError:
                pass

    async def _set_webhook(self, method: str, params: dict[str, Any]) -> bool:
        self._webhook_url = str(params.get("url") or "")
        if params.get("drop_pending_updates") is True:
            self._queue.clear()
        return True

    async def _delete_webhook(self, method: str, params: dict[str, Any]) -> bool:
        self._webhook_url = ""
        if params.get("drop_pending_updates") is True:
            self._queue.clear()
        return True

    async def _get_webhook_info(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": self._webhook_url, "has_custom_certificate": False,
                "pending_update_count": 0 if self._webhook_url == "" else len(self._queue)}

    # --- sending --------------------------------------------------------------------------------

    async def _send(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Every message-producing method: refusals first (blocked, invalid, over the cap), then the
        Message (MessageId for copyMessage) and the record in `sent_messages`."""
        chat_id = _require_chat_id(params)
        if chat_id in self.blocked_chats:
            raise ApiError(403, "Forbidden: bot was blocked by the user" if chat_id > 0
                           else "Forbidden: bot was kicked from the supergroup chat")
        message = self._compose(method, chat_id, params)
        self._take_rate_slot(chat_id)
        message["message_id"] = _next_message_id(chat_id)
        self._messages[(chat_id, message["message_id"])] = message
        record = {**params, "method": method, "chat_id": chat_id, "message_id": message["message_id"],
                  "sent_at": time.monotonic()}
        if method in ("copyMessage", "forwardMessage"):
            record["from_message_id"] = params.get("message_id")
        self._sent.append(record)
        if method == "copyMessage":
            return {"message_id": message["message_id"]}
        return message

    def _compose(self, method: str, chat_id: int, params: dict[str, Any]) -> dict[str, Any]:
        """The Message Telegram would return (without its id yet), or ApiError for what it refuses."""
        message = self._message_shell(chat_id, params)
        markup = _inline_markup(params.get("reply_markup"))
        if method == "sendMessage":
            text = params.get("text")
            if not isinstance(text, str) or not text.strip():
                raise ApiError(400, "Bad Request: message text is empty")
            if len(text.encode("utf-16-le")) // 2 > MAX_TEXT:  # Telegram counts UTF-16 units
                raise ApiError(400, "Bad Request: message is too long")
            message["text"] = text
            if params.get("entities"):
                message["entities"] = params["entities"]
        elif method in ("copyMessage", "forwardMessage"):
            from_chat = _require_chat_id(params, "from_chat_id")
            source_id = _as_int(params.get("message_id"))
            if source_id is None:
                raise ApiError(400, "Bad Request: message identifier is not specified")
            original = self._messages.get((from_chat, source_id), {})
            message.update({k: original[k] for k in CONTENT_FIELDS if k in original})
            if method == "forwardMessage":
                message["forward_origin"] = _origin(original)
        else:
            field = SENDING_METHODS[method]
            assert field is not None
            message[field] = self._media(field, params.get(field))
        if "caption" in params and method != "sendMessage":
            caption = str(params["caption"])
            if len(caption) > MAX_CAPTION:
                raise ApiError(400, "Bad Request: message caption is too long")
            message["caption"] = caption
        if markup is not None:
            message["reply_markup"] = markup
        return message

    def _message_shell(self, chat_id: int, params: dict[str, Any]) -> dict[str, Any]:
        message: dict[str, Any] = {"message_id": 0, "date": int(time.time()), "chat": self._chat(chat_id),
                                   "from": dict(self.bot_user)}
        thread_id = params.get("message_thread_id")
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        reply_to = _as_int(params.get("reply_to_message_id"))
        if reply_to is None and isinstance(params.get("reply_parameters"), dict):
            reply_to = _as_int(params["reply_parameters"].get("message_id"))
        if reply_to is not None and (chat_id, reply_to) in self._messages:
            replied = dict(self._messages[(chat_id, reply_to)])
            replied.pop("reply_to_message", None)
            message["reply_to_message"] = replied
        return message

    def _media(self, field: str, value: Any) -> Any:
        """The media object of a sent file: a file_id is echoed, an upload gets a new id."""
        if isinstance(value, dict) and "data" in value:
            file_id = f"standin-{field}-{next(self._uploads)}"
            self.file_contents[file_id] = value["data"]
            file_name = value.get("file_name") or field
        elif isinstance(value, str) and value:
            file_id, file_name = value, "document"
        else:
            raise ApiError(400, f"Bad Request: there is no {field} in the request")
        unique = _unique_id(file_id)
        if field == "photo":
            return _photo_sizes(file_id)
        if field == "sticker":
            return _sticker(file_id)
        if field == "document":
            return {"file_id": file_id, "file_unique_id": unique, "file_name": file_name}
        if field == "video":
            return {"file_id": file_id, "file_unique_id": unique, "width": 640, "height": 360, "duration": 1}
        return {"file_id": file_id, "file_unique_id": unique, "duration": 1}  # voice, audio

    def _take_rate_slot(self, chat_id: int) -> None:
        """Flood control: beyond the global or per-chat cap within the last second, 429."""
        now = time.monotonic()
        windows: list[tuple[deque[float], float]] = []
        if self.rate_cap_per_second is not None:
            windows.append((self._window, self.rate_cap_per_second))
        if self.per_chat_cap_per_second is not None:
            windows.append((self._chat_windows.setdefault(chat_id, deque()), self.per_chat_cap_per_second))
        for window, cap in windows:
            while window and now - window[0] >= 1.0:
                window.popleft()
            if len(window) >= cap:
                raise _too_many(1)
        for window, _ in windows:
            window.append(now)

    # --- edits and small acknowledgements -------------------------------------------------------

    async def _true(self, method: str, params: dict[str, Any]) -> bool:
        return True

    async def _edit(self, method: str, params: dict[str, Any]) -> dict[str, Any] | bool:
        """editMessageText/Caption/ReplyMarkup. As in Telegram, an edit that omits reply_markup
        removes the inline keyboard, and an edit that changes nothing is refused."""
        markup = _inline_markup(params.get("reply_markup"))
        if method == "editMessageText":
            text = params.get("text")
            if not isinstance(text, str) or not text.strip():
                raise ApiError(400, "Bad Request: message text is empty")
            if len(text.encode("utf-16-le")) // 2 > MAX_TEXT:  # Telegram counts UTF-16 units
                raise ApiError(400, "Bad Request: message is too long")
        if params.get("inline_message_id"):
            return True
        chat_id = _require_chat_id(params)
        message_id = _as_int(params.get("message_id"))
        if message_id is None:
            raise ApiError(400, "Bad Request: message identifier is not specified")
        old = self._messages.get((chat_id, message_id))
        new = dict(old) if old is not None else {**self._message_shell(chat_id, {}), "message_id": message_id}
        if method == "editMessageText":
            new["text"] = params["text"]
            new.pop("entities", None)
            if params.get("entities"):
                new["entities"] = params["entities"]
        elif method == "editMessageCaption":
            new.pop("caption", None)
            if params.get("caption"):
                new["caption"] = str(params["caption"])
        new.pop("reply_markup", None)
        if markup is not None:
            new["reply_markup"] = markup
        if old is not None and all(old.get(k) == new.get(k) for k in ("text", "caption", "reply_markup")):
            raise ApiError(400, "Bad Request: message is not modified: specified new message content and reply "
                                "markup are exactly the same as a current content and reply markup of the message")
        new["edit_date"] = int(time.time())
        self._messages[(chat_id, message_id)] = new
        return new

    async def _delete_message(self, method: str, params: dict[str, Any]) -> bool:
        chat_id = _require_chat_id(params)
        self._messages.pop((chat_id, _as_int(params.get("message_id")) or 0), None)
        return True

    # --- commands -------------------------------------------------------------------------------

    @staticmethod
    def _command_key(params: dict[str, Any]) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    async def _set_my_commands(self, method: str, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        for command in commands:
            if not isinstance(command, dict) or not COMMAND_RE.match(str(command.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[self._command_key(params)] = commands
        return True

    async def _delete_my_commands(self, method: str, params: dict[str, Any]) -> bool:
        self.commands.pop(self._command_key(params), None)
        return True

    async def _get_my_commands(self, method: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        return self.commands.get(self._command_key(params), [])

    # --- forum topics ---------------------------------------------------------------------------

    async def _create_forum_topic(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = _require_chat_id(params)
        if chat_id != self.agent_chat_id:
            raise ApiError(400, "Bad Request: the chat is not a forum")
        name = params.get("name")
        if not isinstance(name, str) or not name:
            raise ApiError(400, "Bad Request: topic name is empty")
        thread_id = next(self._thread_ids)
        color = _as_int(params.get("icon_color")) or DEFAULT_TOPIC_COLOR
        self.topics[thread_id] = {"name": name, "icon_color": color, "closed": False}
        return {"message_thread_id": thread_id, "name": name, "icon_color": color}

    async def _change_forum_topic(self, method: str, params: dict[str, Any]) -> bool:
        """edit/close/reopen/deleteForumTopic; a topic it has not seen is taken to exist."""
        chat_id = _require_chat_id(params)
        if chat_id != self.agent_chat_id:
            raise ApiError(400, "Bad Request: the chat is not a forum")
        thread_id = _as_int(params.get("message_thread_id"))
        if thread_id is None:
            raise ApiError(400, "Bad Request: message thread not found")
        if method == "deleteForumTopic":
            self.topics.pop(thread_id, None)
            return True
        topic = self.topics.setdefault(thread_id, {"name": None, "icon_color": DEFAULT_TOPIC_COLOR, "closed": False})
        if method == "editForumTopic":
            if params.get("name"):
                topic["name"] = params["name"]
            if "icon_custom_emoji_id" in params:
                topic["icon_custom_emoji_id"] = params["icon_custom_emoji_id"]
        else:
            topic["closed"] = method == "closeForumTopic"
        return True

    # --- chats, members, files ------------------------------------------------------------------

    def _chat(self, chat_id: int) -> dict[str, Any]:
        if chat_id == self.agent_chat_id:
            return {"id": chat_id, "type": "supergroup", "title": "Agents", "is_forum": True}
        if chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": "مشتری"}
        return {"id": chat_id, "type": "supergroup", "title": f"Group {chat_id}"}

    async def _get_chat(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """A ChatFullInfo: the chat plus the fields Telegram always sends (PTB requires them)."""
        return {**self._chat(_require_chat_id(params)), "accent_color_id": 0, "max_reaction_count": 11,
                "accepted_gift_types": {"unlimited_gifts": False, "limited_gifts": False, "unique_gifts": False,
                                        "premium_subscription": False, "gifts_from_channels": False}}

    async def _get_chat_member(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """The member's status in the agents' group from `members` (default "left"), with every
        field that status carries in Telegram, so PTB builds the right ChatMember subclass."""
        _require_chat_id(params)
        user_id = _as_int(params.get("user_id"))
        if user_id is None:
            raise ApiError(400, "Bad Request: user not found")
        status = self.members.get(user_id, "left")
        member: dict[str, Any] = {"status": status, "user": {"id": user_id, "is_bot": False, "first_name": "کاربر"}}
        member.update(_MEMBER_FIELDS.get(status, {}))
        return member

    def _file_bytes(self, file_id: str) -> bytes:
        return self.file_contents.get(file_id, f"stand-in file {file_id}".encode())

    async def _get_file(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        file_id = params.get("file_id")
        if not isinstance(file_id, str) or not file_id:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {"file_id": file_id, "file_unique_id": _unique_id(file_id), "file_size": len(self._file_bytes(file_id)),
                "file_path": f"files/{file_id}"}

    async def _get_me(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        return self.bot_user


_ADMIN_RIGHTS = {
    "can_be_edited": False, "is_anonymous": False, "can_manage_chat": True, "can_delete_messages": True,
    "can_manage_video_chats": True, "can_restrict_members": True, "can_promote_members": False,
    "can_change_info": True, "can_invite_users": True, "can_post_stories": False, "can_edit_stories": False,
    "can_delete_stories": False, "can_pin_messages": True, "can_manage_topics": True,
}
_RESTRICTIONS = {
    "is_member": True, "can_send_messages": False, "can_send_audios": False, "can_send_documents": False,
    "can_send_photos": False, "can_send_videos": False, "can_send_video_notes": False,
    "can_send_voice_notes": False, "can_send_polls": False, "can_send_other_messages": False,
    "can_add_web_page_previews": False, "can_change_info": False, "can_invite_users": False,
    "can_pin_messages": False, "can_manage_topics": False, "can_react_to_messages": False, "can_edit_tag": False,
    "until_date": 0,
}
# The fields each status carries besides "status" and "user" (until_date 0 means "forever").
_MEMBER_FIELDS: dict[str, dict[str, Any]] = {
    "creator": {"is_anonymous": False},
    "administrator": _ADMIN_RIGHTS,
    "restricted": _RESTRICTIONS,
    "kicked": {"until_date": 0},
}


# --- request decoding ---------------------------------------------------------------------------

async def _read_params(request: web.Request) -> dict[str, Any]:
    """Parameters from the query string and the body, whichever encoding PTB (or anyone) used."""
    raw: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise ApiError(400, "Bad Request: can't parse JSON request body") from None
            if not isinstance(body, dict):
                raise ApiError(400, "Bad Request: JSON request body must be an object")
            raw.update(body)
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            for name, value in (await request.post()).items():
                if isinstance(value, FileField):
                    raw[name] = {"file_name": value.filename, "content_type": value.content_type,
                                 "data": value.file.read()}
                else:
                    raw[name] = value
    return {name: _decode(name, value) for name, value in raw.items()}


def _decode(name: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if name in JSON_FIELDS:
        try:
            return json.loads(value)
        except ValueError:
            raise ApiError(400, f"Bad Request: can't parse {name} JSON object") from None
    if name in INT_FIELDS:
        parsed = _as_int(value)
        if parsed is not None:
            return parsed
        if name == "timeout":
            try:
                return float(value)
            except ValueError:
                return value
        return value
    if name in BOOL_FIELDS and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _require_chat_id(params: dict[str, Any], name: str = "chat_id") -> int:
    value = params.get(name)
    if value is None or value == "":
        raise ApiError(400, f"Bad Request: {name} is empty")
    chat_id = _as_int(value)
    if chat_id is None:
        raise ApiError(400, "Bad Request: chat not found")
    return chat_id


def _inline_markup(markup: Any) -> dict[str, Any] | None:
    """The inline keyboard a Message carries back (Telegram returns no other kind), validated as
    Telegram does: callback_data of 1-64 bytes."""
    if not isinstance(markup, dict) or not markup.get("inline_keyboard"):
        return None
    for row in markup["inline_keyboard"]:
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    return markup


def _origin(original: dict[str, Any]) -> dict[str, Any]:
    sender = original.get("from")
    if isinstance(sender, dict):
        return {"type": "user", "date": original.get("date", int(time.time())), "sender_user": sender}
    return {"type": "hidden_user", "date": int(time.time()), "sender_user_name": "?"}


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"Error {status}"


# --- message ids shared by the stand-in and the factories ----------------------------------------

# chat id -> the last message id used in that chat, by anyone in this process.
_last_message_ids: dict[int, int] = {}
_update_ids = itertools.count(1)
_callback_ids = itertools.count(1)


def _next_message_id(chat_id: int) -> int:
    _last_message_ids[chat_id] = _last_message_ids.get(chat_id, 0) + 1
    return _last_message_ids[chat_id]


def _note_message_id(chat_id: int, message_id: int) -> None:
    if message_id > _last_message_ids.get(chat_id, 0):
        _last_message_ids[chat_id] = message_id


# --- update factories ---------------------------------------------------------------------------

def _unique_id(file_id: str) -> str:
    return f"u-{file_id}"[:32]


def _photo_sizes(file_id: str) -> list[dict[str, Any]]:
    """Two sizes, smallest first as Telegram sends them; the largest carries `file_id`."""
    return [
        {"file_id": f"{file_id}-small", "file_unique_id": _unique_id(f"{file_id}-small"), "width": 90, "height": 90,
         "file_size": 1_200},
        {"file_id": file_id, "file_unique_id": _unique_id(file_id), "width": 1280, "height": 960,
         "file_size": 98_000},
    ]


def _sticker(file_id: str) -> dict[str, Any]:
    return {"file_id": file_id, "file_unique_id": _unique_id(file_id), "type": "regular", "width": 512,
            "height": 512, "is_animated": False, "is_video": False, "emoji": "🙂"}


def _chat_of(chat_id: int, first_name: str, chat_type: str | None, forum: bool) -> dict[str, Any]:
    kind = chat_type or ("private" if chat_id > 0 else "supergroup")
    if kind == "private":
        return {"id": chat_id, "type": kind, "first_name": first_name}
    chat: dict[str, Any] = {"id": chat_id, "type": kind, "title": "Agents"}
    if forum:
        chat["is_forum"] = True
    return chat


def _message(chat_id: int, user_id: int, *, first_name: str = "مشتری", message_thread_id: int | None = None,
             chat_type: str | None = None, sender_chat: dict[str, Any] | None = None,
             message_id: int | None = None, **content: Any) -> dict[str, Any]:
    if message_id is None:
        message_id = _next_message_id(chat_id)
    else:
        _note_message_id(chat_id, message_id)
    message: dict[str, Any] = {
        "message_id": message_id, "date": int(time.time()),
        "chat": _chat_of(chat_id, first_name, chat_type, forum=message_thread_id is not None),
        "from": {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "fa"},
    }
    if sender_chat is not None:
        message["from"] = dict(ANONYMOUS_ADMIN)
        message["sender_chat"] = sender_chat
    if message_thread_id is not None:
        message["message_thread_id"] = message_thread_id
        message["is_topic_message"] = True
    message.update(content)
    return message


def _update(kind: str, payload: dict[str, Any], update_id: int | None) -> dict[str, Any]:
    return {"update_id": next(_update_ids) if update_id is None else update_id, kind: payload}


def text_update(chat_id: int, user_id: int, text: str, *, first_name: str = "مشتری", update_id: int | None = None,
                message_thread_id: int | None = None, chat_type: str | None = None,
                sender_chat: dict[str, Any] | None = None) -> dict[str, Any]:
    """A text message; "/command ..." carries the bot_command entity Telegram adds (length in
    UTF-16 code units, which is how Telegram measures entities)."""
    content: dict[str, Any] = {"text": text}
    if text.startswith("/"):
        command = text.split(maxsplit=1)[0]
        content["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command.encode("utf-16-le")) // 2}]
    return _update("message", _message(chat_id, user_id, first_name=first_name, message_thread_id=message_thread_id,
                                       chat_type=chat_type, sender_chat=sender_chat, **content), update_id)


def callback_update(chat_id: int, user_id: int, data: str, message_id: int = 1, *,
                    update_id: int | None = None) -> dict[str, Any]:
    """A button press on the bot's message `message_id` in `chat_id`."""
    message = {"message_id": message_id, "date": int(time.time()), "text": "…",
               "chat": _chat_of(chat_id, "مشتری", None, forum=False),
               "from": {"id": 123, "is_bot": True, "first_name": "Hamdel", "username": "hamdel_bot"}}
    query = {"id": str(next(_callback_ids)), "chat_instance": f"ci-{chat_id}", "data": data,
             "from": {"id": user_id, "is_bot": False, "first_name": "مشتری", "language_code": "fa"},
             "message": message}
    return _update("callback_query", query, update_id)


def photo_update(chat_id: int, user_id: int, *, caption: str | None = None, file_id: str = "photo-file-1",
                 update_id: int | None = None, message_thread_id: int | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {"photo": _photo_sizes(file_id)}
    if caption is not None:
        content["caption"] = caption
    return _update("message", _message(chat_id, user_id, message_thread_id=message_thread_id, **content), update_id)


def document_update(chat_id: int, user_id: int, *, file_id: str = "doc-file-1", file_name: str = "factor.pdf",
                    caption: str | None = None, update_id: int | None = None,
                    message_thread_id: int | None = None) -> dict[str, Any]:
    mime = "application/pdf" if file_name.lower().endswith(".pdf") else "application/octet-stream"
    content: dict[str, Any] = {"document": {"file_id": file_id, "file_unique_id": _unique_id(file_id),
                                            "file_name": file_name, "mime_type": mime, "file_size": 54_321}}
    if caption is not None:
        content["caption"] = caption
    return _update("message", _message(chat_id, user_id, message_thread_id=message_thread_id, **content), update_id)


def voice_update(chat_id: int, user_id: int, *, file_id: str = "voice-file-1", duration: int = 4,
                 update_id: int | None = None, message_thread_id: int | None = None) -> dict[str, Any]:
    voice = {"file_id": file_id, "file_unique_id": _unique_id(file_id), "duration": duration,
             "mime_type": "audio/ogg", "file_size": 8_000}
    return _update("message", _message(chat_id, user_id, message_thread_id=message_thread_id, voice=voice),
                   update_id)


def sticker_update(chat_id: int, user_id: int, *, update_id: int | None = None) -> dict[str, Any]:
    return _update("message", _message(chat_id, user_id, sticker=_sticker("sticker-file-1")), update_id)


def location_update(chat_id: int, user_id: int, *, latitude: float = 35.7, longitude: float = 51.4,
                    update_id: int | None = None) -> dict[str, Any]:
    return _update("message", _message(chat_id, user_id, location={"latitude": latitude, "longitude": longitude}),
                   update_id)


def contact_update(chat_id: int, user_id: int, phone_number: str, *, contact_user_id: int | None = None,
                   first_name: str = "مشتری", update_id: int | None = None) -> dict[str, Any]:
    """A shared contact; by default the sender's own (what the "share my number" button sends)."""
    contact = {"phone_number": phone_number, "first_name": first_name,
               "user_id": user_id if contact_user_id is None else contact_user_id}
    return _update("message", _message(chat_id, user_id, first_name=first_name, contact=contact), update_id)


def edited_text_update(chat_id: int, user_id: int, text: str, *, message_id: int,
                       update_id: int | None = None) -> dict[str, Any]:
    """The customer edited an earlier message `message_id` (sent a minute before the edit)."""
    message = _message(chat_id, user_id, message_id=message_id, text=text)
    message["edit_date"] = message["date"]
    message["date"] -= 60
    return _update("edited_message", message, update_id)
