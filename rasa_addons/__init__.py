"""Custom Rasa graph components. Imported only by the Rasa server (Python 3.10 environment).

Importing the package also installs speed-ups of Rasa 3.6 that change no result
(docs/performance.md): Rasa's action-response schema compiled once instead of on every action call
(action_response_schema.py), «/intent» button payloads unpacked without running the NLU graph
whose answer Rasa would discard (intent_payloads.py), event classes looked up once per type name
(event_types.py), and the policies' past states replayed only for the events added since the last
step (tracker_states.py). Rasa imports this package when it loads
Hamdel's model, so every Rasa process serving Hamdel gets them.
"""
import logging

import rasa

from rasa_addons import action_response_schema, event_types, intent_payloads, rule_lookup, tracker_states

# Each replaces a method of Rasa 3.6 whose code they were written against; on another version Rasa is
# left exactly as it is.
if str(rasa.__version__).startswith("3.6."):
    action_response_schema.install()
    intent_payloads.install()
    event_types.install()
    tracker_states.install()
    rule_lookup.install()
else:
    logging.getLogger(__name__).warning("rasa %s: Hamdel's speed-ups of Rasa 3.6 are not installed", rasa.__version__)
