"""One settings object for the whole service, read from HUREN_* environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Development secrets are public by construction: they only exist so `make run` works with no setup.
# Production refuses to start with any of them (see check_secrets).
DEV_ADMIN_TOKEN = "dev-admin-token"  # noqa: S105
DEV_LOOKUP_KEY = "dev-lookup-key-not-for-production"
DEV_DATA_KEY = "ZGV2LWRhdGEta2V5LW5vdC1mb3ItcHJvZHVjdGlvbiE"  # base64url of 32 bytes
PLACEHOLDER_SECRETS = frozenset({DEV_ADMIN_TOKEN, DEV_LOOKUP_KEY, DEV_DATA_KEY, "", "changeme", "secret"})


def default_database_url() -> str:
    return f"sqlite+aiosqlite:///{Path('var') / 'huren.db'}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUREN_", extra="ignore")

    env: Literal["development", "production"] = "development"
    database_url: str = Field(default_factory=default_database_url)
    regions: list[str] = ["SC", "CQ"]
    public_url: str = "http://127.0.0.1:8000"
    # Until OAuth clients exist, one static bearer token carries every scope.
    admin_token: SecretStr = SecretStr(DEV_ADMIN_TOKEN)
    # HMAC key for the look-up hash of personal ID numbers; changing it orphans every stored hash.
    lookup_key: SecretStr = SecretStr(DEV_LOOKUP_KEY)
    # AES-256-GCM key (base64url, 32 bytes) for the ID numbers kept encrypted at rest.
    data_key: SecretStr = SecretStr(DEV_DATA_KEY)
    max_body_bytes: int = 1_048_576
    db_pool_size: int = 10
    log_level: str = "info"

    @model_validator(mode="after")
    def check_secrets(self) -> Settings:
        if self.env == "production":
            weak = [
                name
                for name in ("admin_token", "lookup_key", "data_key")
                if getattr(self, name).get_secret_value() in PLACEHOLDER_SECRETS
            ]
            if weak:
                raise ValueError(f"production refuses development or empty secrets: {', '.join(weak)}")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
