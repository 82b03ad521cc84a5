"""A text the served model has already read is not read again: its parse is kept, per model.

Why: free text goes through the whole NLU graph (normaliser, four featurizers, DIET, entity
extractors, fallback), about 7 ms of the Rasa server's time on 2 cores (docs/performance.md), and
customers send the same short texts again and again: «سلام», «بله», «ممنون», «باشه», a wish such as
«لطفا زودتر بفرستید». The parse of a text is a function of the text and the model only: the graph's
NLU nodes read the message's text and nothing else of the conversation (checked when a model is
first used: if the NLU target needed the tracker, nothing would be kept), and none of them draws
at random when predicting.

`install()` wraps `MessageProcessor._parse_message_with_graph`: the key is the text exactly as it
came (no normalising, so «بله» and «بله.» are two entries), the parse is kept only when Rasa asked
for the output properties (what Rasa's channels ask; the full message with its features is never
kept), and each caller gets its own deep copy, as the graph would have given it a new dict.
Each `MessageProcessor` (one per loaded model) has its own store, so a retrained model answers from
its own reading at once. Bounded to `TEXTS_KEPT` texts, least recently used out first. Installed
with the package (rasa_addons/__init__.py) on Rasa 3.6.x only, after intent_payloads.py, whose
button payloads it keeps too.
"""
from __future__ import annotations

import copy
from collections import OrderedDict
from typing import Any, Optional

TEXTS_KEPT = 1000
_STORE = "_hamdel_parse_cache"

_INSTALLED = False


def install() -> bool:
    """Wrap the processor's NLU entry once; True when the wrapper is in place."""
    global _INSTALLED
    if _INSTALLED:
        return True
    from rasa.core.processor import MessageProcessor

    parse = MessageProcessor._parse_message_with_graph

    def _parse_message_with_graph(self: MessageProcessor, message: Any, tracker: Any,
                                  only_output_properties: bool = True) -> dict[str, Any]:
        kept = _store(self) if only_output_properties and isinstance(message.text, str) else None
        if kept is None:
            return parse(self, message, tracker, only_output_properties)
        found = kept.get(message.text)
        if found is not None:
            kept.move_to_end(message.text)
            return copy.deepcopy(found)
        parse_data = parse(self, message, tracker, only_output_properties)
        kept[message.text] = copy.deepcopy(parse_data)
        while len(kept) > TEXTS_KEPT:
            kept.popitem(last=False)
        return parse_data

    _parse_message_with_graph.__doc__ = "Rasa's NLU entry, with the parses of texts already read kept per model."
    MessageProcessor._parse_message_with_graph = _parse_message_with_graph  # type: ignore[method-assign]
    _INSTALLED = True
    return True


def _store(processor: Any) -> Optional[OrderedDict[str, dict[str, Any]]]:
    """The processor's store of parses; None when its model's NLU reads the conversation too."""
    store = processor.__dict__.get(_STORE)
    if store is None:
        store = OrderedDict() if not _nlu_reads_the_tracker(processor) else False
        processor.__dict__[_STORE] = store
    return store if isinstance(store, OrderedDict) else None


def _nlu_reads_the_tracker(processor: Any) -> bool:
    """Whether any node the NLU target depends on takes the conversation's tracker as input."""
    from rasa.engine.constants import PLACEHOLDER_TRACKER

    metadata = processor.model_metadata
    nodes = metadata.predict_schema.nodes
    pending, seen = [metadata.nlu_target], set()
    while pending:
        name = pending.pop()
        if name == PLACEHOLDER_TRACKER:
            return True
        if name in seen or name not in nodes:
            continue
        seen.add(name)
        pending.extend(nodes[name].needs.values())
    return False
