"""The action server: rasa-sdk's app, bound to 127.0.0.1 by default, answering only Rasa.

Why not `python -m rasa_sdk`: rasa-sdk 3.21 listens on every interface (SANIC_HOST defaults to
0.0.0.0), allows any CORS origin and checks nothing, so anyone who reaches the port could run
actions with a forged tracker naming another customer. Here every request except `/health` must
carry the shared secret in `X-Hamdel-Action-Secret` (Rasa sends it: `headers` of `action_endpoint`
in endpoints.yml); it is compared in constant time, and a refusal is logged without the value.

    python -m hamdel.action_server [--port 5055] [--host 127.0.0.1]
"""
from __future__ import annotations

import argparse
import hmac
import json as json_module
import logging
import os
from typing import Any

from rasa_sdk.endpoint import create_app as create_sdk_app
from rasa_sdk.executor import ActionExecutor
from sanic import Request, Sanic
from sanic.response import HTTPResponse, json

from hamdel.settings import get_settings

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Hamdel-Action-Secret"
OPEN_PATHS = frozenset({"/health"})


class Executor(ActionExecutor):
    """rasa-sdk's executor, taking Rasa 3.6's selective domain as Rasa sends it and answering with
    the slot changes only.

    Selective domain: Rasa sends its whole domain (about 95 KB of JSON here) with every action call
    unless the action endpoint sets `enable_selective_domain`; then only the actions that declare
    `send_domain: true` in domain.yml get it (`tests/actions/test_selective_domain.py` keeps that
    list equal to the actions that read the domain). rasa-sdk 3.21 expects Rasa Pro's domain digest
    instead and refuses a call that has neither; Rasa 3.6 never sends a digest, so a call without a
    domain gets an empty one here, never a domain remembered from an earlier call.

    Slot changes only: an action that starts a new complaint sets some thirty slots back to empty,
    and in a new conversation they are empty already. Rasa checks every returned event, turns it
    back into an object, stores it, replays it on every later turn and sends it to every later
    action call, so the answer leaves out a `SlotSet` that gives a slot the value it already has
    (`changed_slots_only`). What Rasa decides, says and stores as slot values stays the same: its
    policies and responses read slot values, never the events that set them.
    """

    def update_and_return_domain(self, payload: dict[str, Any], action_name: str) -> dict[str, Any]:
        domain = payload.get("domain")
        return domain if isinstance(domain, dict) else {}

    async def run(self, action_call: dict[str, Any], sink: Any = None, dispatcher: Any = None) -> Any:
        tracker = action_call.get("tracker")
        slots = tracker.get("slots") if isinstance(tracker, dict) else None
        # The values the action was called with, before it runs: rasa-sdk's tracker holds this very
        # dict, and an action that adds its own slots to the tracker (`Tracker.add_slots`) would make
        # its answer look like no change at all.
        slots = dict(slots) if isinstance(slots, dict) else None
        result = await super().run(action_call, sink=sink, dispatcher=dispatcher)
        if result is not None and slots is not None:
            result.events = changed_slots_only(result.events, slots)
        return result


def changed_slots_only(events: list[dict[str, Any]], slots: dict[str, Any]) -> list[dict[str, Any]]:
    """`events` without the `SlotSet`s that leave their slot as it is, given the slot values the
    action was called with; the values are compared as JSON, so 1, 1.0 and True stay different.

    Only a leading run of slot and bot events is looked at: after any other event (a revert, a
    restart, a follow-up action) the slot values Rasa will hold are not known here, so everything
    from there on is kept as it came."""
    known = dict(slots)
    kept: list[dict[str, Any]] = []
    for index, event in enumerate(events):
        kind = event.get("event") if isinstance(event, dict) else None
        if kind == "bot":
            kept.append(event)
            continue
        if kind != "slot" or not isinstance(event.get("name"), str):
            return kept + events[index:]
        name, value = event["name"], event.get("value")
        if name in known and _same_json(known[name], value):
            continue
        known[name] = value
        kept.append(event)
    return kept


def _same_json(left: Any, right: Any) -> bool:
    try:
        return json_module.dumps(left, sort_keys=True) == json_module.dumps(right, sort_keys=True)
    except (TypeError, ValueError):
        return False


def create_app(secret: str, actions_package: str = "actions") -> Sanic:
    """rasa-sdk's Sanic app with the actions registered and the shared-secret check in front."""
    if not secret:
        raise ValueError("the action server needs a shared secret")
    executor = Executor()
    executor.register_package(actions_package)
    app: Sanic = create_sdk_app(executor, cors_origins=[])  # rasa-sdk has no type information
    expected = secret.encode("utf-8")

    @app.on_request
    async def require_secret(request: Request) -> HTTPResponse | None:
        if request.path in OPEN_PATHS:
            return None
        given = (request.headers.get(SECRET_HEADER) or "").encode("utf-8")
        if hmac.compare_digest(given, expected):
            return None
        log.warning("action call refused: missing or wrong shared secret")
        return json({"error": "unauthorised"}, status=401)

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="Hamdel's action server (needs the shared secret)")
    settings = get_settings()
    parser.add_argument("--host", default=settings.action_server_host)
    parser.add_argument("--port", type=int, default=settings.action_server_port)
    parser.add_argument("--actions", default="actions")
    args = parser.parse_args()
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"), format="%(levelname)s %(name)s: %(message)s")
    app = create_app(settings.action_secret(), args.actions)
    app.config.KEEP_ALIVE_TIMEOUT = 120
    if args.actions == "actions":
        from actions.person_shift import warm_up  # hazm's word and verb lists: about 1.7 s, paid here

        app.before_server_start(lambda *_: warm_up())
    log.info("action server on %s:%d", args.host, args.port)
    app.run(host=args.host, port=args.port, single_process=True, access_log=False, motd=False)


if __name__ == "__main__":
    main()
