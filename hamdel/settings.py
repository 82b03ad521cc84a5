"""One typed settings object per process, read from the environment (and `.env` if present).

Every secret comes from the environment; the defaults run everything on one machine (SQLite, Rasa
and the action server on loopback). `Settings.check_secrets()` refuses placeholder secrets outside
development so a production deployment cannot start with the example values.
"""
from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = "change-me"
# Values that ship in `.env.example`, docker-compose.yml or the docs; never a real secret.
EXAMPLE_SECRETS = frozenset({"", PLACEHOLDER, "secret", "hamdel", "password", "postgres", "redis", "123:TEST",
                             "changeme", "change_me", "example"})


class Settings(BaseSettings):
    """Runtime configuration shared by the action server, the bot and the command-line tools."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True
    )

    environment: str = Field("development", description="development, test or production")
    database_url: str = Field(
        f"sqlite:///{PROJECT_ROOT / 'var' / 'hamdel.db'}",
        description="SQLAlchemy URL; postgresql+psycopg://… in production",
    )
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_token: str | None = Field(
        None, description="token for Rasa's HTTP API; generated into var/ on first run when unset")
    action_server_secret: str | None = Field(
        None, description="shared secret Rasa sends the action server; generated into var/ when unset")
    action_server_host: str = Field("127.0.0.1", description="interface the action server binds")
    action_server_port: int = 5055
    business_policy_path: Path = PROJECT_ROOT / "config" / "policy.yml"
    followup_policy_path: Path = PROJECT_ROOT / "config" / "followups.yml"

    telegram_token: str | None = None
    telegram_base_url: str | None = Field(None, description="e.g. http://127.0.0.1:8081/bot")
    telegram_base_file_url: str | None = None
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: str | None = None
    agent_chat_id: int | None = Field(None, description="the agents' forum supergroup")
    agent_allowlist: str = Field("", description="comma-separated Telegram user ids; empty = all members")
    telegram_webhook_listen: str = Field("0.0.0.0", description="address the webhook server binds")
    telegram_webhook_port: int = 8443
    quiet_window_seconds: float = Field(3.0, description="silence after which quick messages end one turn")
    agent_take_timeout_minutes: float = Field(
        15.0, description="tell the customer honestly if no agent has taken an escalated chat by then")
    handoff_sweep_seconds: float = Field(15.0, description="how often escalations made elsewhere get topics")
    rasa_timeout_seconds: float = Field(60.0, description="longest wait for one Rasa turn before it is retried")
    max_turn_attempts: int = Field(5, ge=1, le=5, description="tries of a message before it ends `failed`")

    # The admins' web console (console/).
    admin_host: str = Field("127.0.0.1", description="interface the admin console binds")
    admin_port: int = 8000
    admin_bootstrap_user: str | None = Field(None, description="first admin account, created at start if missing")
    admin_bootstrap_password: str | None = Field(None, description="its password; refused in production when weak")
    admin_session_secret: str | None = Field(
        None, description="key that signs console session cookies; generated into var/ when unset")
    admin_gate_max_drop: float = Field(
        0.02, ge=0, le=1, description="largest drop of a headline NLU figure a candidate model may show")
    nlu_data_dir: Path = Field(PROJECT_ROOT / "nlu_data", description="training data the console writes labels into")
    golden_set_path: Path = Field(
        PROJECT_ROOT / "evaluation" / "golden.yml", description="the frozen golden test set; never trained on")
    models_dir: Path = Field(PROJECT_ROOT / "models", description="where trained models are kept")
    admin_golden_share: float = Field(
        0.2, ge=0, le=1, description="share of approved labels kept for the frozen golden test set, never trained on")
    # Scaling out with Rasa's own mechanism (`make services WORKERS=n`; docs/architecture.md).
    workers: int = Field(
        1, ge=1, le=32, description="Rasa worker processes (SANIC_WORKERS); more than 1 needs the Redis lock store")
    action_workers: int = Field(1, ge=1, le=32, description="action-server worker processes")
    redis_host: str | None = Field(
        None, description="Redis for Rasa's lock store when workers > 1; unset: a private redis-server on loopback")
    redis_port: int = Field(6379, description="port of REDIS_HOST")
    redis_password: str | None = Field(None, description="password of REDIS_HOST, if it has one")
    tracker_db_url: str = Field(
        f"sqlite:///{PROJECT_ROOT / 'var' / 'tracker.db'}",
        description="SQLAlchemy URL of Rasa's tracker store, read by the console's inbox")

    def check_secrets(self) -> None:
        """Refuse example secrets anywhere but development and tests.

        Refused: the values that actually ship (`EXAMPLE_SECRETS`, the passwords in the example
        database URL of `.env.example`) and secrets shorter than 16 characters; a secret left unset
        is fine where it is generated (`local_secret`).
        """
        if self.environment in {"development", "test"}:
            return
        for name in ("rasa_token", "action_server_secret", "telegram_webhook_secret", "admin_session_secret"):
            value = getattr(self, name)
            if value is not None and (value.strip().lower() in EXAMPLE_SECRETS or len(value) < 16):
                raise ValueError(f"{name.upper()} has an example or too short value; set a real secret")
        if self.telegram_token is not None and self.telegram_token.strip().lower() in EXAMPLE_SECRETS:
            raise ValueError("TELEGRAM_TOKEN still has an example value")
        password = _password_of(self.database_url)
        if password is not None and password.lower() in EXAMPLE_SECRETS:
            raise ValueError("the database URL still has an example password")

    def rasa_api_token(self) -> str:
        """Rasa's HTTP API token: RASA_TOKEN, else the one generated on first run."""
        return self.rasa_token or local_secret("rasa_token")

    def console_session_secret(self) -> str:
        """The key that signs console session cookies: ADMIN_SESSION_SECRET, else the generated one."""
        return self.admin_session_secret or local_secret("admin_session_secret")

    def action_secret(self) -> str:
        """The action server's shared secret: ACTION_SERVER_SECRET, else the generated one."""
        return self.action_server_secret or local_secret("action_server_secret")

    @property
    def agent_allowlist_ids(self) -> frozenset[int]:
        return frozenset(int(x) for x in self.agent_allowlist.replace(" ", "").split(",") if x)


def _password_of(url: str) -> str | None:
    """The password in `scheme://user:password@host/…`, if any."""
    rest = url.split("://", 1)[-1]
    if "@" not in rest:
        return None
    credentials = rest.rsplit("@", 1)[0]
    return credentials.split(":", 1)[1] if ":" in credentials else None


def secrets_dir() -> Path:
    return Path(os.environ.get("HAMDEL_SECRETS_DIR", str(PROJECT_ROOT / "var")))


def local_secret(name: str) -> str:
    """A secret generated on first use and kept in `var/<name>` (mode 0600), so that Rasa, the
    action server, the bot, the console and the tests on one machine share it without anyone
    configuring it; production sets the variables instead."""
    path = secrets_dir() / name
    try:
        value = path.read_text(encoding="utf-8").strip()
        if value:
            return value
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process generated it first: use theirs
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value)
    return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests call `get_settings.cache_clear()` after changing the env."""
    return Settings()
