"""A button's payload («/affirm», «/deny», …) skips the NLU pipeline it would only be thrown away by.

Why: Rasa 3.6 runs every message through the whole NLU graph (normaliser, featurizers, DIET) and
only then lets its last node, `RegexMessageHandler`, replace the result with the intent a «/intent»
payload names. Hamdel's reflection and confirmation buttons send such payloads on two of the four
turns of a complaint, and the profile (docs/performance.md) put NLU at about a fifth of a turn.

`install()` wraps `MessageProcessor._parse_message_with_graph`: a message starting with «/» is given
to `RegexMessageHandler` first, exactly as the graph's last node would process it (same class, same
domain check, same output properties); when it names an intent of the domain, that is the parse.
Anything else (free text, «/» followed by an unknown intent or a malformed payload) goes through the
graph as before, so a customer who types «/پیگیری» still gets the model's reading. Installed with the
package (rasa_addons/__init__.py) and only on Rasa 3.6.x, like the action-response check.
"""
from __future__ import annotations

from typing import Any

_INSTALLED = False


def install() -> bool:
    """Patch the processor's NLU entry once; True when the patch is in place."""
    global _INSTALLED
    if _INSTALLED:
        return True
    from rasa.core.processor import MessageProcessor
    from rasa.nlu.classifiers.regex_message_handler import RegexMessageHandler
    from rasa.shared.constants import INTENT_MESSAGE_PREFIX
    from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
    from rasa.shared.nlu.training_data.message import Message

    from rasa_addons.persian_normalizer import PersianNormalizer

    through_graph = MessageProcessor._parse_message_with_graph
    handler = RegexMessageHandler()

    def _parse_message_with_graph(self: MessageProcessor, message: Any, tracker: Any,
                                  only_output_properties: bool = True) -> dict[str, Any]:
        text = message.text or ""
        if text.strip().startswith(INTENT_MESSAGE_PREFIX) and self.model_metadata.nlu_target == "run_RegexMessageHandler":
            incoming = Message(data={TEXT: text, "message_id": message.message_id, "metadata": message.metadata})
            if _normalises(self):
                # The graph's first node: the parse's text is the normalised one (hazm spaces «/deny»
                # into «/ deny», which RegexMessageHandler still reads), so it is here too.
                PersianNormalizer.process_one(incoming)
            unpacked = handler.process([incoming], self.domain)[0]
            if unpacked is not incoming:  # the payload named an intent of the domain
                parse_data: dict[str, Any] = {TEXT: "", INTENT: {INTENT_NAME_KEY: None, PREDICTED_CONFIDENCE_KEY: 0.0},
                                              ENTITIES: []}
                parse_data.update(unpacked.as_dict(only_output_properties=only_output_properties))
                return parse_data
        return through_graph(self, message, tracker, only_output_properties)

    _parse_message_with_graph.__doc__ = "Rasa's NLU entry, with «/intent» payloads unpacked without the graph."
    MessageProcessor._parse_message_with_graph = _parse_message_with_graph  # type: ignore[method-assign]
    _INSTALLED = True
    return True


def _normalises(processor: Any) -> bool:
    """Whether the served model's NLU graph starts with Hamdel's normaliser (cached per model)."""
    nodes = processor.model_metadata.predict_schema.nodes
    return any(node.endswith("PersianNormalizer0") for node in nodes)
