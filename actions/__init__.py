"""Rasa custom actions for Hamdel, one flat module per feature (rasa-sdk imports every module).

Actions are thin: they read slots, call a pure function or a repository, and return events. Every
sentence a customer reads is a response in domain.yml; actions only fill the slots it uses.
"""
