"""Measure the walking skeleton: cold start, ingest throughput, and /ask latency per LLM backend.

Run with `make bench` (or `python bench/skeleton.py`). Needs ../shared/corpus
next to the checkout for the ingest figure. Prints a Markdown table to paste
into docs/measurements.md. Every server it starts listens on 127.0.0.1.
"""

from __future__ import annotations

import logging
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CORPUS = ROOT.parent / "shared" / "corpus" / "hf-course"
QUESTIONS = [
    "What is transfer learning?",
    "What does a tokenizer do?",
    "How do I push a model to the Hub?",
    "What is a decision boundary?",
    "Why does a network need activation functions?",
]


def cold_start(data_dir: Path) -> tuple[float, float]:
    """Seconds from launching `genai-tutor chat` to its prompt (lessons already ingested),
    and from typing a first /ask at once to the end of its answer (models load on first use)."""
    env = {**os.environ, "DATA_DIR": str(data_dir)}
    command = [sys.executable, "-m", "bot.cli", "chat"]
    subprocess.run(command, input="", capture_output=True, text=True, env=env, cwd=ROOT, check=True)  # first start ingests lessons
    started = time.monotonic()
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    for line in process.stdout:
        if line.startswith("Ready in"):
            ready = time.monotonic()
            break
    process.stdin.write("/ask what is a decision boundary?\n")
    process.stdin.close()
    process.stdout.read()
    process.wait(timeout=120)
    return ready - started, time.monotonic() - ready


def ingest_corpus(knowledge) -> tuple[int, float]:
    started = time.monotonic()
    report = knowledge.ingest_paths([CORPUS], tenant="local", added_by="bench")
    return report.chunks_added, time.monotonic() - started


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_llama_server(model_path: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path), "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "4096", "--n_threads", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/models", timeout=1).status_code == 200:
                return process, base_url
        except httpx.HTTPError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError("llama_cpp.server did not start within 60 s")


class FallbackCounter(logging.Handler):
    """Count the answers where the model's text was replaced by the extractive answer."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.count = 0

    def emit(self, record):
        if "using the extractive answer" in record.getMessage():
            self.count += 1


def ask_latency(answerer) -> tuple[float, float, float, int]:
    """Median retrieval, generation and first-piece seconds, and median answer length in characters."""
    retrieval, generation, first_piece, lengths = [], [], [], []
    for question in QUESTIONS:
        started = time.monotonic()
        plan = answerer.retrieve(question, "local")
        retrieved = time.monotonic()
        text = ""
        first = None
        for piece in answerer.generate(plan):
            if first is None:
                first = time.monotonic() - retrieved
            text += piece
        generation.append(time.monotonic() - retrieved)
        retrieval.append(retrieved - started)
        first_piece.append(first or 0.0)
        lengths.append(len(text))
    return (
        statistics.median(retrieval),
        statistics.median(generation),
        statistics.median(first_piece),
        int(statistics.median(lengths)),
    )


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.basicConfig(level=logging.ERROR)
    from knowledge.answer import Answerer
    from knowledge.base import KnowledgeBase
    from knowledge.embeddings import DIMENSIONS, Embedder
    from knowledge.generation import LlamaCppLLM, OpenAICompatibleLLM, bundled_gguf_path
    from knowledge.store import EdgeStore

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        to_prompt, first_answer = cold_start(folder / "chat")
        rows.append(("cold start to prompt (lessons already ingested)", f"{to_prompt:.1f} s"))
        rows.append(("first /ask typed at the prompt, to the end of its answer (llama-cpp)", f"{first_answer:.1f} s"))

        knowledge = KnowledgeBase(EdgeStore(folder / "edge", DIMENSIONS), Embedder(), max_file_bytes=10 << 20, max_pdf_pages=500)
        if CORPUS.exists():
            chunks, seconds = ingest_corpus(knowledge)
            rows.append((f"ingest HF course ({chunks} chunks)", f"{seconds:.0f} s, {chunks / seconds:.1f} chunks/s"))
        else:
            print(f"skipped the ingest figure: {CORPUS} is absent")

        gguf = bundled_gguf_path()
        backends = [("extractive", None), ("llama-cpp (SmolLM2-135M, in process)", LlamaCppLLM(gguf, threads=2, max_tokens=256, temperature=0.2))]
        server, base_url = start_llama_server(gguf)
        try:
            backends.append(("openai-compatible (llama_cpp.server on 127.0.0.1)", OpenAICompatibleLLM(base_url, "smollm2", api_key=None, max_tokens=256, temperature=0.2, timeout=60)))
            for name, llm in backends:
                answerer = Answerer(knowledge, llm, top_k=5, score_threshold=0.38)
                answerer.retrieve("warm up", "local")
                fallbacks = FallbackCounter()
                answer_logger = logging.getLogger("knowledge.answer")
                answer_logger.addHandler(fallbacks)
                answer_logger.setLevel(logging.INFO)
                answer_logger.propagate = False
                retrieval, generation, first, length = ask_latency(answerer)
                answer_logger.removeHandler(fallbacks)
                kept = "" if llm is None else f", model text kept in {len(QUESTIONS) - fallbacks.count} of {len(QUESTIONS)}"
                rows.append((
                    f"/ask with {name}",
                    f"retrieval {retrieval * 1000:.0f} ms, generation {generation:.2f} s "
                    f"(first piece {first:.2f} s, {length} characters), median of {len(QUESTIONS)}{kept}",
                ))
        finally:
            server.terminate()
            server.wait(timeout=10)
        knowledge.close()

    print("\n| what | measured |\n|---|---|")
    for what, value in rows:
        print(f"| {what} | {value} |")


if __name__ == "__main__":
    main()
