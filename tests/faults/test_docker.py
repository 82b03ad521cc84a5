"""Docker layout (no engine on the build machines): the compose file is checked as data — every
service has a health check, passwords come from the environment, migrations run once before the
services that need them, the images run as a non-root user that owns its data directory, and test
tools stay out of the production image. `docker compose config` / `docker-compose config`, when
available, must accept the file."""
from __future__ import annotations

import shutil
import subprocess
import time

import pytest
import yaml

from bot import health
from hamdel.settings import PROJECT_ROOT

COMPOSE = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
DOCKERFILE = (PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8")
ENV = {"POSTGRES_PASSWORD": "p" * 24, "REDIS_PASSWORD": "r" * 24, "RASA_TOKEN": "t" * 32,
       "ACTION_SERVER_SECRET": "s" * 32, "TELEGRAM_TOKEN": "1:x", "PATH": "/usr/bin:/bin:/usr/local/bin"}


def test_every_service_has_a_health_check() -> None:
    missing = [name for name, service in COMPOSE["services"].items() if "healthcheck" not in service]
    assert missing == []


def test_passwords_and_secrets_come_from_the_environment() -> None:
    text = (PROJECT_ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    assert "--requirepass" in text and "${REDIS_PASSWORD:?" in text and "${POSTGRES_PASSWORD:?" in text
    assert "${RASA_TOKEN:?" in text and "${ACTION_SERVER_SECRET:?" in text
    for service in COMPOSE["services"].values():
        for key, value in (service.get("environment") or {}).items():
            if any(word in key for word in ("PASSWORD", "SECRET", "TOKEN")) and key != "REDISCLI_AUTH":
                assert str(value).startswith("${"), key


def test_migrations_run_once_before_the_services_that_use_the_database() -> None:
    services = COMPOSE["services"]
    assert services["migrate"]["command"] == ["python", "-m", "hamdel.storage.db"]
    for name in ("actions", "bot"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert "hamdel.storage.db" not in DOCKERFILE.split("FROM python:3.11-slim AS app", 1)[1].split("CMD", 1)[1]


def test_images_run_as_a_user_that_owns_its_data_directory_and_carry_no_test_tools() -> None:
    for stage in DOCKERFILE.split("FROM ")[1:]:
        assert "useradd --uid 1000" in stage and "chown hamdel:hamdel /app/var" in stage
        assert "\nUSER hamdel" in stage and "HEALTHCHECK" in stage
    app = DOCKERFILE.split("AS app", 1)[1]
    assert "grep -viE '^(pytest|pytest-asyncio|ruff)" in app and "COPY . ." not in app
    ignored = (PROJECT_ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {"tests", "benchmarks", "devtools", ".env", ".git"} <= set(ignored)


def test_the_bot_health_check_follows_its_heartbeat(database_url: str) -> None:
    assert not health.healthy()
    health.beat()
    assert health.healthy()
    assert not health.healthy(now=time.time() + health.STALE_AFTER + 1)


@pytest.mark.skipif(not (shutil.which("docker-compose") or shutil.which("docker")), reason="no compose client")
def test_compose_accepts_the_file() -> None:
    commands = [["docker", "compose", "config", "--quiet"], ["docker-compose", "config", "--quiet"]]
    results = []
    for command in commands:
        if shutil.which(command[0]) is None:
            continue
        probe = subprocess.run([*command[:-2], "version"], capture_output=True, text=True, timeout=60, check=False)
        if probe.returncode != 0:
            continue  # e.g. the docker client without its compose plugin
        done = subprocess.run(command, cwd=PROJECT_ROOT, env=ENV, capture_output=True, text=True, timeout=60,
                              check=False)
        results.append((command[0], done.returncode, done.stderr[-500:]))
    if not results:
        pytest.skip("no compose implementation on this machine")
    print(f"\ncompose config: {[(c, rc) for c, rc, _ in results]}")
    assert all(rc == 0 for _, rc, _ in results), results
