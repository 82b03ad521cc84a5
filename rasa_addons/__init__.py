"""Custom Rasa graph components. Imported only by the Rasa server (Python 3.10 environment).

Importing the package also installs speed-ups of Rasa 3.6 that change no result
(docs/performance.md), one module each:
- action_response_schema.py: Rasa's action-response schema compiled once, events already found
  valid remembered;
- intent_payloads.py: «/intent» button payloads unpacked without the NLU graph whose answer Rasa
  would discard;
- parse_cache.py: the parse of a text already read kept per model;
- event_types.py: event classes looked up once per type name;
- tracker_states.py: the policies' past states replayed only for the events added since the last
  step;
- applied_events.py: a tracker's applied events (nothing before a restart, nothing rewound)
  continued from the last call instead of walked from the start;
- rule_lookup.py: RulePolicy asking only the rules that can match;
- tracker_store.py: Rasa's tracker-store wrapper asking the store itself whether a conversation
  exists (the store, named in endpoints.yml, keeps the conversations it has just saved);
- graph_runner.py: the component graph run in a loop planned once;
- garbage_collector.py: the loaded model set aside from Python's cyclic garbage collector after
  its first message;
- http_sessions.py: connections to the action server kept open between calls;
- tracker_copy.py: the tracker Rasa copies before each action built without pickling's generic
  copy of every slot;
- debug_log_copies.py: the deep copies Rasa makes for its debug log made only when it is written;
- domain_is_empty.py: whether the model's domain is empty asked once, not on every message;
- model_load.py: a model that only predicts (DIET) loaded without Rasa's training step on one
  example, which kept about 600 MB of memory.
Rasa imports this package when it loads Hamdel's model, so every Rasa process serving Hamdel gets
them.
"""
import logging

import rasa

from rasa_addons import (
    action_response_schema,
    applied_events,
    debug_log_copies,
    domain_is_empty,
    event_types,
    garbage_collector,
    graph_runner,
    http_sessions,
    intent_payloads,
    model_load,
    parse_cache,
    rule_lookup,
    tracker_copy,
    tracker_states,
    tracker_store,
)

# Each replaces a method of Rasa 3.6 whose code they were written against; on another version Rasa is
# left exactly as it is.
if str(rasa.__version__).startswith("3.6."):
    action_response_schema.install()
    intent_payloads.install()
    parse_cache.install()  # after intent_payloads: wraps its entry
    event_types.install()
    tracker_states.install()
    applied_events.install()
    rule_lookup.install()
    tracker_store.install()
    graph_runner.install()
    garbage_collector.install()
    http_sessions.install()
    tracker_copy.install()
    debug_log_copies.install()
    domain_is_empty.install()
    model_load.install()
else:
    logging.getLogger(__name__).warning("rasa %s: Hamdel's speed-ups of Rasa 3.6 are not installed", rasa.__version__)
