"""Tickets, customers, transcripts, Telegram inbox and follow-ups, on SQLAlchemy 2.

Tables are created by Alembic migrations (`hamdel/storage/migrations`), never by `create_all` in
production code; `hamdel.storage.db.migrate()` upgrades a database to the newest revision.
"""
