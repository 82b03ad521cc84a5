"""Rasa validates every action server answer with a schema it compiles again on each call; this
compiles it once.

Why: in Rasa 3.6.21, `RemoteAction._validate_action_result` calls `jsonschema.validate(result,
schema)`. With no `$schema` in Rasa's schema, jsonschema picks its newest draft (2020-12) and, on
every call, first checks the *schema itself* against that draft's meta-schema (dynamic references,
URL normalisation), then builds a new validator. A profile of a Hamdel turn (docs/performance.md)
put this at about 40 % of the Rasa server's busy time: more than NLU and the policies together.

`install()` replaces that one method with a check against a validator built once from the same
schema, raising the same `ValidationError` (best match, same appended message), so a malformed
answer from the action server is still refused exactly as before. It is called when this package
is imported, which Rasa does when it loads a model with Hamdel's pipeline (config.yml names
`rasa_addons.persian_normalizer.PersianNormalizer`), so every way of running Rasa gets it: `make
services`, `rasa test`, the Docker image. Guarded by version: on any Rasa but 3.6.x it does nothing.
"""
from __future__ import annotations

import json
from typing import Any, Optional

_INSTALLED = False
# Events already found valid, as canonical JSON. An action server sends the same events again and
# again (a slot set to the same value, a follow-up action), and checking one takes about 50 µs;
# validity depends on the event's JSON value only, so an exact match needs no second check.
# Bounded: emptied when full.
ACCEPTED_EVENTS_KEPT = 4096
_accepted: dict[str, None] = {}


def install() -> bool:
    """Patch `RemoteAction._validate_action_result` once; True when the patch is in place."""
    global _INSTALLED
    if _INSTALLED:
        return True
    from jsonschema.exceptions import best_match
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.constants import DOCS_BASE_URL

    schema = RemoteAction.action_response_format_spec()
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    by_event = _event_validators(schema, validator_class)

    def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
        if _accepted_by_event_type(result, by_event):
            return True
        error = best_match(validator.iter_errors(result))
        if error is None:
            return True
        error.message += (
            ". Failed to validate Action server response from API, make sure your response from the "
            f"Action endpoint is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions"
        )
        raise error

    _validate_action_result.__doc__ = "Rasa's check of an action server answer, against a schema compiled once."
    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
    _INSTALLED = True
    return True


def _event_validators(schema: dict[str, Any], validator_class: Any) -> dict[str, Any]:
    """One validator per event type: the event schema's common part plus that type's alternative.

    Rasa's event schema is `oneOf` 23 alternatives, each pinning `event` to a different constant,
    so an event can match at most the alternative named by its own `event`; checking only that
    one accepts exactly what the `oneOf` accepts, without trying the other 22."""
    event_schema = schema["properties"]["events"]["items"]
    common = {key: value for key, value in event_schema.items() if key != "oneOf"}
    validators = {}
    for alternative in event_schema["oneOf"]:
        name = alternative["properties"]["event"]["const"]
        validators[name] = validator_class({"allOf": [common, alternative]})
    return validators


def _accepted_by_event_type(result: Any, by_event: dict[str, Any]) -> bool:
    """True when `result` is certainly valid; False means "ask the full validator", which then
    gives Rasa's own error, so a refusal reads exactly as before."""
    if not isinstance(result, dict):
        return False
    events, responses = result.get("events", []), result.get("responses", [])
    if not isinstance(events, list) or not isinstance(responses, list):
        return False
    if not all(isinstance(response, dict) for response in responses):
        return False
    for event in events:
        key = _canonical(event)
        if key is not None and key in _accepted:
            continue
        validator = by_event.get(event.get("event")) if isinstance(event, dict) and isinstance(event.get("event"), str) else None
        if validator is None or not validator.is_valid(event):
            return False
        if key is not None:
            if len(_accepted) >= ACCEPTED_EVENTS_KEPT:
                _accepted.clear()
            _accepted[key] = None
    return True


def _canonical(event: Any) -> Optional[str]:
    """The event as canonical JSON (sorted keys; 1, 1.0 and true stay different), None for what
    JSON cannot hold exactly: such an event is always checked."""
    if not isinstance(event, dict):
        return None
    try:
        return json.dumps(event, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):
        return None
