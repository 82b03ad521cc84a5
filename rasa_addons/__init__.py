"""Custom Rasa graph components. Imported only by the Rasa server (Python 3.10 environment).

Importing the package also compiles Rasa's action-response schema once instead of on every action
call (rasa_addons/action_response_schema.py, docs/performance.md): Rasa imports this package when it
loads Hamdel's model, so every Rasa process serving Hamdel gets it.
"""
from rasa_addons import action_response_schema

action_response_schema.install()
