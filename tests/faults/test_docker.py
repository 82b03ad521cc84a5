"""Docker layout (no engine on the build machines): the compose file is checked as data — every
service has a health check, passwords come from the environment, migrations run once before the
services that need them, the admins' console is published on the host's loopback only, the images
run as a non-root user that owns its data directory, and test tools stay out of the production
image. `docker compose config` (the plugin) and/or `docker-compose config` (v1), whichever exists,
must accept the file and resolve it to services that all have a health check."""
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
       "ACTION_SERVER_SECRET": "s" * 32, "TELEGRAM_TOKEN": "1:x", "ADMIN_SESSION_SECRET": "a" * 32,
       "PATH": "/usr/bin:/bin:/usr/local/bin"}


def _without_health_check(services: dict[str, dict[str, object]]) -> list[str]:
    """Services whose health check is missing, disabled or has no command to run."""
    missing = []
    for name, service in services.items():
        check = service.get("healthcheck")
        if not isinstance(check, dict) or check.get("disable") or check.get("test") in (None, [], ["NONE"], "NONE"):
            missing.append(name)
    return missing


def test_every_service_has_a_health_check() -> None:
    assert _without_health_check(COMPOSE["services"]) == []


def test_the_console_is_served_on_the_hosts_loopback_after_migrations_and_rasa() -> None:
    console = COMPOSE["services"]["console"]
    assert console["command"] == ["python", "-m", "console"]
    assert console["ports"] and all(str(port).startswith("127.0.0.1:") for port in console["ports"])
    assert "/health" in " ".join(console["healthcheck"]["test"])
    assert console["depends_on"] == {"migrate": {"condition": "service_completed_successfully"},
                                     "rasa": {"condition": "service_healthy"}}
    environment = console["environment"]
    for key in ("ADMIN_BOOTSTRAP_USER", "ADMIN_BOOTSTRAP_PASSWORD", "ADMIN_SESSION_SECRET", "RASA_TOKEN"):
        assert str(environment[key]).startswith("${"), key
    assert environment["RASA_URL"] == "http://rasa:5005"
    # Rasa loads what the console promotes (PUT /model names a file): both see the same models.
    assert "models:/app/models" in console["volumes"] and "models:/app/models" in COMPOSE["services"]["rasa"]["volumes"]


def test_only_the_console_publishes_a_port_and_only_on_loopback() -> None:
    published = {name: service["ports"] for name, service in COMPOSE["services"].items() if service.get("ports")}
    assert list(published) == ["console"]


def test_the_terminal_chat_is_an_opt_in_service() -> None:
    chat = COMPOSE["services"]["chat"]
    assert chat["profiles"] == ["chat"] and chat["stdin_open"] and chat["tty"]
    assert "terminal_chat" in " ".join(chat["command"])


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
    stages = {stage.split(" AS ", 1)[1].split()[0]: stage for stage in DOCKERFILE.split("\nFROM ")[1:]}
    assert set(stages) == {"rasa", "app", "console"}
    for name in ("rasa", "app"):
        assert "useradd --uid 1000" in stages[name] and "/app/var" in stages[name]
        assert "chown hamdel:hamdel /app/var" in stages[name] or "chown -R hamdel:hamdel /app/var" in stages[name]
    for stage in stages.values():
        assert "\nUSER hamdel" in stage and "HEALTHCHECK" in stage
    assert DOCKERFILE.count("FROM rasa AS console") == 1  # the console is the Rasa stage plus the app
    app = DOCKERFILE.split("AS app", 1)[1]
    assert "--require-hashes --no-deps -r requirements/app-runtime.lock" in app and "COPY . ." not in app
    runtime = (PROJECT_ROOT / "requirements" / "app-runtime.lock").read_text(encoding="utf-8")
    pinned = {line.split("==")[0].lower() for line in runtime.splitlines() if "==" in line and line[0].isalpha()}
    assert "python-telegram-bot" in pinned
    assert not pinned & {"pytest", "pytest-asyncio", "ruff", "mypy", "pip-audit", "uv", "selenium"}
    ignored = (PROJECT_ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {"tests", "benchmarks", "devtools", ".env", ".git"} <= set(ignored)
    assert set(ignored) & {"!tests", "!tests/console", "!tests/bot"} == set()  # only the held-out files come back


def test_rasa_and_the_actions_run_several_workers_on_the_redis_lock_store() -> None:
    """Rasa's own scale-out (SANIC_WORKERS) is only allowed with a shared lock store; the local
    endpoints.workers.yml is endpoints.yml plus the same Redis lock store as production."""
    services = COMPOSE["services"]
    rasa = services["rasa"]
    assert rasa["environment"]["SANIC_WORKERS"] == "${WORKERS:-2}"
    assert rasa["environment"]["REDIS_HOST"] == "redis" and rasa["depends_on"]["redis"] == {"condition": "service_healthy"}
    assert "--endpoints endpoints.production.yml" in DOCKERFILE.split("AS app", 1)[0]
    assert services["actions"]["command"][-2:] == ["--workers", "${ACTION_WORKERS:-2}"]
    production, local, workers = (yaml.safe_load((PROJECT_ROOT / name).read_text(encoding="utf-8"))
                                  for name in ("endpoints.production.yml", "endpoints.yml", "endpoints.workers.yml"))
    assert production["lock_store"]["type"] == workers["lock_store"]["type"] == "rasa_addons.lock_store.AtomicRedisLockStore"
    assert workers["lock_store"] == production["lock_store"]
    assert {key: value for key, value in workers.items() if key != "lock_store"} == local


def test_the_bot_health_check_follows_its_heartbeat(database_url: str) -> None:
    assert not health.healthy()
    health.beat()
    assert health.healthy()
    assert not health.healthy(now=time.time() + health.STALE_AFTER + 1)


def _compose_clients() -> list[list[str]]:
    """The compose implementations on this machine: the docker plugin and/or docker-compose v1."""
    clients = []
    for command in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(command[0]) is None:
            continue
        probe = subprocess.run([*command, "version"], capture_output=True, text=True, timeout=60, check=False)
        if probe.returncode == 0:  # not e.g. the docker client without its compose plugin
            clients.append(command)
    return clients


def test_compose_accepts_the_file_and_every_resolved_service_has_a_health_check() -> None:
    clients = _compose_clients()
    if not clients:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed")
    for client in clients:
        done = subprocess.run([*client, "--profile", "chat", "config"], cwd=PROJECT_ROOT, env=ENV,
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, (client, done.stderr[-800:])
        resolved = yaml.safe_load(done.stdout)["services"]
        assert {"postgres", "redis", "migrate", "actions", "rasa", "bot", "console", "chat"} <= set(resolved), client
        assert _without_health_check(resolved) == [], client
        print(f"\n{' '.join(client)} config: {len(resolved)} services, each with a health check")
