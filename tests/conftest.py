"""Shared fixtures. Models and stores are real; each test gets its own folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

ROOT = Path(__file__).resolve().parent.parent
# ../shared beside the checkout, or beside the folder of git worktrees (worktrees/NAME);
# GENAI_TUTOR_SHARED_DIR names another place.
SHARED = Path(os.environ["GENAI_TUTOR_SHARED_DIR"]) if os.environ.get("GENAI_TUTOR_SHARED_DIR") else next(
    (folder for folder in (ROOT.parent / "shared", ROOT.parent.parent / "shared") if folder.exists()),
    ROOT.parent / "shared",
)

SETTING_VARIABLES = (
    "DATA_DIR", "QDRANT_URL", "QDRANT_API_KEY", "QDRANT_COLLECTION", "LLM_BACKEND", "LLM_BASE_URL",
    "LLM_API_KEY", "LLM_MODEL", "LLM_MODEL_PATH", "LLM_MAX_TOKENS", "LLM_TEMPERATURE", "LLM_THREADS",
    "RETRIEVAL_TOP_K", "RETRIEVAL_SCORE_THRESHOLD", "RETRIEVAL_MODE", "MAX_FILE_BYTES", "MAX_PDF_PAGES",
    "MAX_EXTRACTED_CHARS",
    "COOLDOWN_SECONDS", "MAX_CONCURRENT_MODEL_JOBS", "LOG_LEVEL",
)


def shared_path(*parts: str) -> Path:
    """Return a path under ../shared, skipping the test when that material is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared corpus is only next to the project's own checkout")
    return path


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    """Start every test from default settings with its data under a temporary folder."""
    for name in SETTING_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def embedder():
    from knowledge.embeddings import Embedder

    return Embedder()


@pytest.fixture
def knowledge(tmp_path, embedder):
    from knowledge.base import KnowledgeBase
    from knowledge.embeddings import DIMENSIONS
    from knowledge.store import EdgeStore

    base = KnowledgeBase(
        EdgeStore(tmp_path / "edge", DIMENSIONS), embedder, max_file_bytes=10 * 1024 * 1024, max_pdf_pages=500
    )
    yield base
    base.close()
