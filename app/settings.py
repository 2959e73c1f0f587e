"""One settings object for the whole service, read from HUREN_* environment variables."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Development secrets are public by construction: they only exist so `make run` works with no setup.
# Production refuses to start with any of them (see check_secrets).
DEV_LOOKUP_KEY = "dev-lookup-key-not-for-production"
DEV_DATA_KEY = "ZGV2LWRhdGEta2V5LW5vdC1mb3ItcHJvZHVjdGlvbiE"  # base64url of 32 bytes
PLACEHOLDER_SECRETS = frozenset({DEV_LOOKUP_KEY, DEV_DATA_KEY, "", "changeme", "secret"})


def default_database_url() -> str:
    return f"sqlite+aiosqlite:///{Path('var') / 'huren.db'}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUREN_", extra="ignore")

    env: Literal["development", "production"] = "development"
    database_url: str = Field(default_factory=default_database_url)
    regions: list[str] = ["SC", "CQ"]
    public_url: str = "http://127.0.0.1:8000"
    # HMAC key for the look-up hash of personal ID numbers; changing it orphans every stored hash.
    lookup_key: SecretStr = SecretStr(DEV_LOOKUP_KEY)
    # AES-256-GCM key (base64url, 32 bytes) for the ID numbers kept encrypted at rest.
    data_key: SecretStr = SecretStr(DEV_DATA_KEY)
    max_body_bytes: int = 1_048_576
    access_token_ttl_seconds: int = Field(default=600, ge=30, le=3600)
    # How often a process re-reads the key table, so a rotation by `huren keys rotate` reaches every worker.
    key_refresh_seconds: int = Field(default=60, ge=1)
    # Shared counters for rate limits: Redis when set (redis://127.0.0.1:6379/0), else the database.
    redis_url: str | None = None
    # A Redis that does not answer within this time is taken for gone (connect and each command): rate limits
    # then fall back to per-process budgets (see app.ratelimit), re-trying Redis every `redis_probe_seconds`.
    redis_timeout_seconds: float = Field(default=0.5, gt=0, le=10)
    redis_probe_seconds: float = Field(default=2.0, gt=0, le=60)
    # How many processes share the rate-limit counters (every worker of every node on the same Redis): while
    # Redis is gone each process allows limit / this on its own. `huren serve --workers N` sets N unless set.
    rate_limit_processes: int = Field(default=1, ge=1)
    rate_limit_per_minute: int = Field(default=1200, ge=1)
    rate_limit_per_address_per_minute: int = Field(default=2400, ge=1)
    token_rate_limit_per_minute: int = Field(default=60, ge=1)
    audit_retention_days: int = Field(default=183, ge=183)
    # Uploaded import files are kept here until their job ends: with several hosts, shared storage.
    import_dir: Path = Path("var") / "imports"
    import_max_bytes: int = Field(default=2 * 1024**3, ge=1024)
    import_max_rows: int = Field(default=10_000_000, ge=1)
    # Files up to this size are imported within the request (201); larger ones run as a job (202).
    import_inline_bytes: int = Field(default=1_048_576, ge=0)
    import_batch_rows: int = Field(default=2000, ge=1)
    # All-or-nothing imports up to this size stream their commit beside validation (SQLite: one at a time);
    # larger files take two passes, on PostgreSQL faster once the indexes outgrow its buffer cache (README).
    import_stream_max_bytes: int = Field(default=256 * 1024**2, ge=0)
    # A running job whose worker has not written a heartbeat for this long is taken for dead.
    import_stale_seconds: int = Field(default=60, ge=5)
    # On SIGTERM a worker stops accepting, lets the requests in flight finish for up to this long, then
    # writes the audit events still queued and exits (uvicorn's timeout_graceful_shutdown).
    shutdown_grace_seconds: int = Field(default=20, ge=1)
    # A receipt is kept as proof of an answer: its signature stays checkable (old keys stay in the JWKS) for
    # this long.
    receipt_ttl_days: int = Field(default=3650, ge=1)
    # A no_match answer is never sent sooner than this after the request began, whatever its cause (unknown
    # number or other holder), so response times do not tell the two apart (see app.verification.service).
    verify_no_match_floor_ms: float = Field(default=10.0, ge=0, le=1000)
    # How long a process uses its copy of the recognition rules before re-reading them (admin edits made
    # through another process reach this one within this time; edits through this one apply at once).
    rules_refresh_seconds: float = Field(default=30.0, ge=0)
    # Connections per worker process and pool (fixed pools; on PostgreSQL one for writes and one for
    # verification's reads: see app.db).
    db_pool_size: int = Field(default=10, ge=1)
    # Bounded waits when the database is slow or gone (PostgreSQL): every statement is cancelled by the server
    # after db_statement_timeout_ms (its `statement_timeout`), a request waits at most db_pool_timeout_seconds
    # for a pooled connection and db_connect_timeout_seconds for a new one. Past them the request is answered
    # 503 with Retry-After: db_retry_after_seconds.
    db_statement_timeout_ms: int = Field(default=5000, ge=0)
    db_pool_timeout_seconds: float = Field(default=5.0, gt=0)
    db_connect_timeout_seconds: float = Field(default=5.0, gt=0)
    db_retry_after_seconds: int = Field(default=2, ge=1)
    # Card tokens live as long as the card's validity, and at most this long for cards without an end date.
    card_token_max_days: int = Field(default=3 * 365, ge=1)
    # Status lists: how long a copy may be used before it is fetched again (the list's `ttl`), and how long
    # a signed list stays valid for offline checking when no fresher one can be had.
    status_list_ttl_seconds: int = Field(default=300, ge=1)
    status_list_valid_days: int = Field(default=7, ge=1)
    # Federation: the peer node of each region this node does not hold (region -> base URL), the issuer URL
    # each peer signs with (defaults to its base URL, which differs when a gateway sits in front of it), and
    # its trust anchor: a JWKS URL (default <base URL>/.well-known/jwks.json) or a pinned JWKS object.
    peers: dict[str, str] = {}
    peer_issuers: dict[str, str] = {}
    peer_jwks: dict[str, str | dict[str, Any]] = {}
    peer_connect_timeout_seconds: float = Field(default=2.0, gt=0, le=60)
    peer_read_timeout_seconds: float = Field(default=5.0, gt=0, le=120)
    peer_max_response_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    # Consecutive failures that open a peer's circuit, and how long it stays open before one trial request.
    peer_breaker_failures: int = Field(default=5, ge=1)
    peer_breaker_cooldown_seconds: float = Field(default=30.0, gt=0)
    # How often copies of peers' keys and status lists are refreshed (at most: a list's ttl may be shorter).
    peer_refresh_seconds: float = Field(default=300.0, gt=0)
    # Staff browser sessions: ended after this long without a request, and this long after sign-in whatever.
    session_idle_minutes: int = Field(default=15, ge=1, le=24 * 60)
    session_absolute_hours: int = Field(default=8, ge=1, le=7 * 24)
    # Failed sign-ins in a row (per user name, known or not) that lock it, and for how long.
    sign_in_lock_after: int = Field(default=5, ge=1)
    sign_in_lock_minutes: int = Field(default=15, ge=1)
    # Roles whose people must add a TOTP code to their password (admin always must: check_people).
    totp_roles: list[str] = ["admin", "clerk", "auditor"]
    # Single sign-on with the province's OpenID provider (all three set, or none), and how its claim (e.g.
    # "groups") maps to huren roles: {"<claim value>": ["admin@SC", "clerk@CQ", ...]}.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_claim: str = "groups"
    oidc_group_map: dict[str, list[str]] = {}
    oidc_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    log_level: str = "info"

    @model_validator(mode="after")
    def check_federation(self) -> Settings:
        """A configuration that cannot work is refused at start, saying what is wrong."""
        problems = []
        if not self.regions:
            problems.append("HUREN_REGIONS is empty: a node holds at least one region")
        for region in [*self.regions, *self.peers]:
            if not re.fullmatch(r"[A-Z]{2}", region):
                problems.append(f"{region!r} is not a region code (two capital letters, e.g. SC)")
        for region in sorted(set(self.regions) & set(self.peers)):
            problems.append(f"region {region} is both held here (HUREN_REGIONS) and a peer's (HUREN_PEERS)")
        for region, url in {**self.peers, **self.peer_issuers}.items():
            if not re.fullmatch(r"https?://[^/\s?#]+(/[^\s?#]*)?", url):
                problems.append(f"the URL for {region} ({url!r}) is not an http(s) base URL")
        for name, mapping in (("HUREN_PEER_ISSUERS", self.peer_issuers), ("HUREN_PEER_JWKS", self.peer_jwks)):
            for region in sorted(set(mapping) - set(self.peers)):
                problems.append(f"{name} names {region}, which is not in HUREN_PEERS")
        for region, anchor in self.peer_jwks.items():
            if isinstance(anchor, dict) and not isinstance(anchor.get("keys"), list):
                problems.append(f'the pinned JWKS of {region} has no "keys" list')
        if problems:
            raise ValueError("federation settings: " + "; ".join(problems))
        return self

    @model_validator(mode="after")
    def check_people(self) -> Settings:
        if "admin" not in self.totp_roles:
            # Two factors for administrators are not optional (MLPS 2.0 level 3).
            self.totp_roles = ["admin", *self.totp_roles]
        oidc = (self.oidc_issuer, self.oidc_client_id, self.oidc_client_secret)
        if any(value is not None for value in oidc) and not all(value is not None for value in oidc):
            raise ValueError(
                "single sign-on needs HUREN_OIDC_ISSUER, HUREN_OIDC_CLIENT_ID and HUREN_OIDC_CLIENT_SECRET"
                " together"
            )
        if self.oidc_issuer is not None and not re.fullmatch(r"https?://[^\s?#]+", self.oidc_issuer):
            raise ValueError(f"HUREN_OIDC_ISSUER ({self.oidc_issuer!r}) is not an http(s) URL")
        for value, grants in self.oidc_group_map.items():
            for grant in grants:
                role, _, region = grant.partition("@")
                if not role or region not in self.regions + list(self.peers):
                    raise ValueError(
                        f"HUREN_OIDC_GROUP_MAP: {value!r} grants {grant!r}; write role@REGION, e.g. clerk@CQ"
                    )
        return self

    @property
    def oidc_enabled(self) -> bool:
        return self.oidc_issuer is not None

    def peer_issuer(self, region: str) -> str:
        return self.peer_issuers.get(region, self.peers[region]).rstrip("/")

    @model_validator(mode="after")
    def check_secrets(self) -> Settings:
        if self.env == "production":
            weak = [
                name
                for name in ("lookup_key", "data_key")
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
