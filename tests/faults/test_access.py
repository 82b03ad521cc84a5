"""Nobody in (issue 11, access): the example secrets are refused outside development, Rasa's API
token is always on and shared without configuration, the action server answers only with the
shared secret and only on loopback, and database errors never carry customers' words."""
from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from hamdel.settings import PROJECT_ROOT, Settings, local_secret
from hamdel.storage.db import session_scope

CANARY = "کلمه‌ی-قناری-۹۸۷"


def _shipped_values() -> dict[str, str]:
    """Every KEY=value in .env.example, commented examples included."""
    found: dict[str, str] = {}
    for line in (PROJECT_ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        match = re.match(r"^#?\s*([A-Z_]+)=(\S+)", line)
        if match:
            found[match[1]] = match[2]
    return found


@pytest.fixture
def secrets_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HAMDEL_SECRETS_DIR", str(tmp_path / "var"))
    return tmp_path / "var"


@pytest.mark.parametrize("name", ["RASA_TOKEN", "ACTION_SERVER_SECRET", "TELEGRAM_WEBHOOK_SECRET", "DATABASE_URL",
                                  "ADMIN_SESSION_SECRET"])
def test_production_refuses_the_values_that_ship_in_env_example(name: str) -> None:
    shipped = _shipped_values()
    assert name in shipped, f"{name} is documented in .env.example"
    settings = Settings(_env_file=None, environment="production", **{name.lower(): shipped[name]})
    with pytest.raises(ValueError):
        settings.check_secrets()


def test_production_accepts_real_secrets_and_development_accepts_the_examples() -> None:
    real = Settings(_env_file=None, environment="production", rasa_token="x" * 40, action_server_secret="y" * 40,
                    database_url="postgresql+psycopg://hamdel:9f8e7d6c5b4a3928@db/hamdel")
    real.check_secrets()
    Settings(_env_file=None, environment="development", rasa_token="change-me").check_secrets()


def test_secrets_are_generated_once_private_and_shared(secrets_dir: Path) -> None:
    first = local_secret("rasa_token")
    assert len(first) >= 32 and local_secret("rasa_token") == first
    assert (secrets_dir / "rasa_token").stat().st_mode & 0o777 == 0o600
    settings = Settings(_env_file=None)
    assert settings.rasa_api_token() == first  # the bot, the console and the tests read the same
    assert Settings(_env_file=None, rasa_token="given-token-0123456789").rasa_api_token() == "given-token-0123456789"


def test_database_errors_never_carry_the_parameters(database_url: str) -> None:
    with pytest.raises(SQLAlchemyError) as raised, session_scope() as session:
        session.execute(text("INSERT INTO no_such_table (words) VALUES (:words)"), {"words": CANARY})
    assert CANARY not in str(raised.value)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def action_server(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    port, secret = _free_port(), "s3cret-" + "q" * 30
    env = {**os.environ, "ACTION_SERVER_SECRET": secret, "PYTHONPATH": str(PROJECT_ROOT),
           "HAMDEL_SECRETS_DIR": str(tmp_path_factory.mktemp("secrets")),
           "DATABASE_URL": f"sqlite:///{tmp_path_factory.mktemp('db') / 'h.db'}"}
    process = subprocess.Popen([sys.executable, "-m", "hamdel.action_server", "--port", str(port)], cwd=PROJECT_ROOT,
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            pytest.fail("the action server did not start")
        yield url, secret
    finally:
        process.terminate()
        process.wait(timeout=10)


CALL = {"next_action": "action_no_such_action", "sender_id": "telegram:1",
        "tracker": {"sender_id": "telegram:1", "slots": {}, "latest_message": {}, "events": []}, "domain": {}}


@pytest.mark.parametrize("header", [None, "wrong", "s3cret-"])
def test_the_action_server_refuses_calls_without_the_shared_secret(action_server: tuple[str, str],
                                                                   header: str | None) -> None:
    url, _secret = action_server
    headers = {"X-Hamdel-Action-Secret": header} if header else {}
    assert httpx.post(f"{url}/webhook", json=CALL, headers=headers).status_code == 401
    assert httpx.get(f"{url}/actions", headers=headers).status_code == 401


def test_the_action_server_answers_rasa_with_the_secret(action_server: tuple[str, str]) -> None:
    url, secret = action_server
    answer = httpx.post(f"{url}/webhook", json=CALL, headers={"X-Hamdel-Action-Secret": secret})
    assert answer.status_code == 404  # past the check: the action simply does not exist
    assert httpx.get(f"{url}/health").status_code == 200


def test_the_action_server_and_rasa_listen_on_loopback_by_default() -> None:
    assert Settings(_env_file=None).action_server_host == "127.0.0.1"
    command = (PROJECT_ROOT / "hamdel" / "services.py").read_text(encoding="utf-8")
    assert '"--interface", "127.0.0.1"' in command and 'f"--auth-token={self.token}"' in command
    endpoints = (PROJECT_ROOT / "endpoints.yml").read_text(encoding="utf-8")
    assert "X-Hamdel-Action-Secret: ${ACTION_SERVER_SECRET}" in endpoints


async def test_the_bot_sends_rasa_the_generated_token_and_a_wrong_token_is_refused(make_harness: Any) -> None:
    from devtools.bot_api_standin import text_update
    from tests.bot.conftest import CUSTOMER
    from tests.bot.fake_rasa import FakeRasa

    rasa = FakeRasa(token=local_secret("rasa_token"))  # nobody configured RASA_TOKEN
    harness = await make_harness(rasa=rasa)
    harness.push(text_update(CUSTOMER, CUSTOMER, "سلام"))
    await harness.wait_texts(CUSTOMER, 1)
    assert rasa.messages() == ["سلام"] and rasa.unauthorised == 0
