"""One typed settings object per process, read from the environment (and `.env` if present).

Every secret comes from the environment; the defaults run everything on one machine (SQLite, Rasa
and the action server on loopback). `Settings.check_secrets()` refuses placeholder secrets outside
development so a production deployment cannot start with the example values.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = "change-me"


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
    rasa_token: str | None = Field(None, description="token for Rasa's HTTP API, if enabled")
    action_server_port: int = 5055
    business_policy_path: Path = PROJECT_ROOT / "config" / "policy.yml"
    followup_policy_path: Path = PROJECT_ROOT / "config" / "followups.yml"
    timezone: str = "Asia/Tehran"

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
    redis_url: str | None = None
    rasa_timeout_seconds: float = Field(60.0, description="longest wait for one Rasa turn before it is retried")
    max_turn_attempts: int = Field(5, ge=1, le=5, description="tries of a message before it ends `failed`")

    def check_secrets(self) -> None:
        """Refuse example secrets anywhere but development and tests."""
        if self.environment in {"development", "test"}:
            return
        for name in ("telegram_token", "rasa_token", "telegram_webhook_secret"):
            if getattr(self, name) == PLACEHOLDER:
                raise ValueError(f"{name.upper()} still has the example value; set a real secret")

    @property
    def agent_allowlist_ids(self) -> frozenset[int]:
        return frozenset(int(x) for x in self.agent_allowlist.replace(" ", "").split(",") if x)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests call `get_settings.cache_clear()` after changing the env."""
    return Settings()
