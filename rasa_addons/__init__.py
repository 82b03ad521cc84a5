"""Custom Rasa graph components. Imported only by the Rasa server (Python 3.10 environment)."""
