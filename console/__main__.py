"""`python -m console` (= `make admin`): the console on ADMIN_HOST:ADMIN_PORT, one worker.

One worker because sessions and the training job live in this process. The database is migrated
first (idempotent), so a fresh clone only needs `make setup`. Uvicorn's access log is off: its lines
carry query strings (ticket numbers, search words); errors are still logged.
"""
from __future__ import annotations

import logging

import uvicorn

from console.web import STATIC_DIR
from hamdel.settings import get_settings
from hamdel.storage.db import migrate


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    settings = get_settings()
    if not (STATIC_DIR / "vendor" / "manifest.json").is_file():
        logging.getLogger("console").warning(
            "browser assets missing (htmx, Vazirmatn): run `.venv/bin/python scripts/vendor_assets.py`; "
            "pages still work, with the system font and without live updates")
    migrate()
    logging.getLogger("console").info("console on http://%s:%s", settings.admin_host, settings.admin_port)
    uvicorn.run("console.app:create_app", factory=True, host=settings.admin_host, port=settings.admin_port,
                workers=1, access_log=False, proxy_headers=False, log_level="info")


if __name__ == "__main__":
    main()
