"""Hamdel's shared core: Persian text handling, settings, storage and business policy.

Kept free of heavy imports so that the Rasa server's own environment (Python 3.10) can import
`hamdel.persian` for its normalisation component without pulling in the application stack.
"""
