"""Rasa's calls to the action server reuse their connections instead of opening one per call.

Why: Rasa 3.6's `EndpointConfig.request` opens a new aiohttp `ClientSession` for every request and
closes it after the answer, so every action call (one or two per customer message here) pays a TCP
connect and close on both sides: in the profile (docs/performance.md) about a fifth of the time
Rasa spends calling actions went to building and tearing down the session and its connection.

`install()` replaces `EndpointConfig.session` so that each endpoint (the action server's, and any
other Rasa talks to through the same class) keeps one session per event loop, built with the
settings Rasa uses (the endpoint's headers and basic auth, Rasa's request timeout), and hands it out
in a wrapper whose `async with` leaves it open. aiohttp's connector then keeps idle connections for
`IDLE_SECONDS`, shorter than the action server's own keep-alive (Sanic's default, 120 s), so the
client always gives up an idle connection before the server would close it under a request. A
session whose loop has closed is released quietly (and every kept one when the process exits) and
a new one built. Installed with the package
(rasa_addons/__init__.py) on Rasa 3.6.x only.

The kept sessions write request bodies with `request_json` (ujson, a Rasa dependency already)
instead of aiohttp's default `json.dumps`: every action call carries the conversation's tracker,
and encoding it was about a twentieth of Rasa's time per turn in the profile.
"""
from __future__ import annotations

import asyncio
import atexit
import json
from typing import Any

import ujson

IDLE_SECONDS = 15.0  # aiohttp's own default, stated: below Sanic's 120 s keep-alive on the server
_SESSIONS = "_hamdel_sessions"
_INSTALLED = False
_ALL: list[Any] = []  # every session built, released at exit


def request_json(value: Any) -> str:
    """The document `json.dumps(value)` writes, written by ujson in about half the time.

    Both parse to the same value; only the spacing differs (and a float may take a shorter
    spelling, 1e-7 for 1e-07). `ensure_ascii` keeps the text ASCII as json's is, so a lone surrogate
    in a customer's message becomes the same escape json writes, never a character UTF-8 cannot
    carry; bytes are refused as json refuses them, and anything ujson cannot write goes to json,
    which writes it or raises as Rasa's own call would."""
    try:
        return ujson.dumps(value, ensure_ascii=True, escape_forward_slashes=False, reject_bytes=True)
    except (TypeError, ValueError, OverflowError):
        return json.dumps(value)


class KeptSession:
    """An open `ClientSession` that `async with` hands out and leaves open for the next request."""

    def __init__(self, session: Any) -> None:
        self.session = session

    async def __aenter__(self) -> Any:
        return self.session

    async def __aexit__(self, *exc_info: Any) -> None:
        return None


def install() -> bool:
    """Replace `EndpointConfig.session` once; True when the replacement is in place."""
    global _INSTALLED
    if _INSTALLED:
        return True
    import aiohttp
    from rasa.utils.endpoints import DEFAULT_REQUEST_TIMEOUT, EndpointConfig

    build = EndpointConfig.session  # Rasa's: a new session, closed by `async with`

    def session(self: EndpointConfig) -> Any:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return build(self)  # no loop to keep a session on
        kept: dict[int, tuple[Any, Any]] = self.__dict__.setdefault(_SESSIONS, {})
        for key, (owner, _) in list(kept.items()):
            if owner.is_closed():
                release(kept.pop(key)[1])  # its loop is gone (a test's asyncio.run)
        found = kept.get(id(loop))
        if found is None or found[0] is not loop or found[1].closed:
            auth = aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"]) if self.basic_auth else None
            client = aiohttp.ClientSession(
                headers=self.headers, auth=auth, timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
                connector=aiohttp.TCPConnector(keepalive_timeout=IDLE_SECONDS), json_serialize=request_json)
            found = kept[id(loop)] = (loop, client)
            _ALL.append(client)
        return KeptSession(found[1])

    session.__doc__ = "The endpoint's session for this event loop, kept open between requests (rasa_addons/http_sessions.py)."
    EndpointConfig.session = session  # type: ignore[method-assign]
    atexit.register(lambda: [release(client) for client in _ALL])
    _INSTALLED = True
    return True


def release(client: Any) -> None:
    """Close a kept session without its event loop, which may be gone: the session is detached
    from its connector (aiohttp's public way to mark it closed) and the connector's transports are
    closed with the synchronous step its `close()` performs, so neither warns when collected."""
    if client in _ALL:
        _ALL.remove(client)
    connector = client.connector
    if not client.closed:
        client.detach()
    if connector is not None and hasattr(connector, "_close"):
        connector._close()
