"""Alembic environment: URL from the caller's config or from Hamdel's settings."""
from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from hamdel.settings import get_settings
from hamdel.storage.models import Base
import console.tables  # noqa: F401,E402 - the console's tables share the schema and the migration chain

config = context.config
target_metadata = Base.metadata
url = config.get_main_option("sqlalchemy.url") or get_settings().database_url


def run_migrations_offline() -> None:
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = engine_from_config({"sqlalchemy.url": url, "sqlalchemy.hide_parameters": "true"},
                                     prefix="sqlalchemy.", poolclass=pool.NullPool)
    with connectable.connect() as connection:
        # batch mode lets later migrations ALTER tables on SQLite too
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
