"""One real stack for all full-stack tests (starting Rasa takes about a minute): Rasa on the 3.10
environment, the action server on 3.11, and a SQLite file they share with the test process."""
from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from hamdel.services import Stack, ensure_model
from hamdel.storage.db import migrate

RASA_PORT, ACTION_PORT = 15005, 15055


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, str]]:
    workdir = tmp_path_factory.mktemp("full-stack")
    url = f"sqlite:///{workdir / 'hamdel.db'}"
    migrate(url)
    stack = Stack(rasa_port=RASA_PORT, action_port=ACTION_PORT, log_dir=workdir / "log",
                  env={"DATABASE_URL": url, "HAMDEL_SPOOL": str(workdir / "spool.jsonl"),
                       "TRACKER_DB": str(workdir / "tracker.db"), "RASA_TOKEN": secrets.token_urlsafe(32),
                       "ACTION_SERVER_SECRET": secrets.token_urlsafe(32)})
    stack.start(ensure_model())  # HAMDEL_MODEL=<path> uses a model trained elsewhere
    try:
        stack.wait_ready(timeout=300)
        yield stack, url
    finally:
        stack.stop()
        for log in (workdir / "log").glob("*.log"):
            print(f"--- {log.name} (tail) ---\n" + "\n".join(log.read_text(errors="replace").splitlines()[-15:]))
