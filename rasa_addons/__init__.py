"""Custom Rasa graph components. Imported only by the Rasa server (Python 3.10 environment).

Importing the package also installs two speed-ups of Rasa 3.6 that change no result
(docs/performance.md): Rasa's action-response schema compiled once instead of on every action call
(action_response_schema.py), and «/intent» button payloads unpacked without running the NLU graph
whose answer Rasa would discard (intent_payloads.py). Rasa imports this package when it loads
Hamdel's model, so every Rasa process serving Hamdel gets them.
"""
import logging

import rasa

from rasa_addons import action_response_schema, intent_payloads

# Both replace a method of Rasa 3.6 whose code they were written against; on another version Rasa is
# left exactly as it is.
if str(rasa.__version__).startswith("3.6."):
    action_response_schema.install()
    intent_payloads.install()
else:
    logging.getLogger(__name__).warning("rasa %s: Hamdel's speed-ups of Rasa 3.6 are not installed", rasa.__version__)
