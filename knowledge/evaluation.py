"""Retrieval evaluation: Recall@1, Recall@5 and MRR per retrieval mode, against a naive baseline.

A question counts as found at rank k when the k-th retrieved passage comes
from an expected place: a passage's source name, with a `/` put in front,
contains `/` + the expected string. So `chapter1/` matches every file of
`hf-course/chapter1/`, and `04-vector-databases.md` matches that lesson.

Questions come from either
- a JSON Lines file, one object per line: `{"question": "...", "expected": "chapter1/"}`
  (`expected` may also be a list of strings, any of which counts), or
- a folder of quiz pages in the Hugging Face course format (`chapterN-*.mdx`,
  each `### N. question` heading one question, expected in `chapterN/`).

The baseline is the pipeline most tutorials build: the raw file text cut into
1,000-character pieces that overlap by 200, embedded with the same model,
ranked by exact cosine similarity, four passages returned. Its Recall@5 is
therefore its recall with four passages.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from knowledge.base import KnowledgeBase, collect_files
from knowledge.embeddings import Embedder
from knowledge.store import RetrievalMode

RANKS = 10  # MRR looks this deep; a question not found by then adds 0
BASELINE_CHUNK_CHARS = 1000
BASELINE_OVERLAP_CHARS = 200
BASELINE_TOP_K = 4

_QUIZ_QUESTION = re.compile(
    r"^### \d+\.\s*(?P<title>.+?)\n(?P<body>.*?)(?=^<Question|^### |\Z)", re.MULTILINE | re.DOTALL
)


@dataclass(frozen=True)
class EvalQuestion:
    text: str
    expected: tuple[str, ...]

    def is_relevant(self, source: str) -> bool:
        return any(f"/{place}" in f"/{source}" for place in self.expected)


@dataclass(frozen=True)
class EvalResult:
    name: str
    recall_at_1: float
    recall_at_5: float
    mrr: float
    chunks: int
    seconds: float
    misses: tuple[str, ...] = ()


class QuestionFileError(ValueError):
    """Raised when the questions file or folder cannot be read. The message names the place and the reason."""


def load_questions(path: Path) -> list[EvalQuestion]:
    """Read questions from a JSON Lines file or a folder of course quiz pages (see the module docstring)."""
    if path.is_dir():
        questions = quiz_questions(path)
    elif path.is_file():
        questions = _jsonl_questions(path)
    else:
        raise QuestionFileError(f"No questions file or folder at {path}.")
    if not questions:
        raise QuestionFileError(
            f"{path} contains no questions: expected JSON Lines with question and expected, "
            "or chapterN-*.mdx quiz pages with ### N. headings."
        )
    return questions


def quiz_questions(folder: Path) -> list[EvalQuestion]:
    """Read each `### N.` heading (and any code under it) of `chapterN-*.mdx` pages as a question for `chapterN/`."""
    questions = []
    for path in sorted(folder.glob("chapter*.mdx")):
        chapter = path.name.split("-")[0]
        for match in _QUIZ_QUESTION.finditer(path.read_text(encoding="utf-8")):
            text = f"{match['title']}\n{match['body']}".strip()
            questions.append(EvalQuestion(text, (f"{chapter}/",)))
    return questions


def _jsonl_questions(path: Path) -> list[EvalQuestion]:
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            question = item["question"]
            expected = item["expected"]
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise QuestionFileError(
                f"{path}, line {number}: expected an object with question and expected ({error})."
            ) from None
        places = (expected,) if isinstance(expected, str) else tuple(expected)
        if not question.strip() or not places or not all(isinstance(p, str) and p for p in places):
            raise QuestionFileError(f"{path}, line {number}: question and expected must be non-empty strings.")
        questions.append(EvalQuestion(question, places))
    return questions


def score(questions: list[EvalQuestion], ranked_sources: Callable[[str], list[str]]) -> tuple[float, float, float, list[str]]:
    """Return Recall@1, Recall@5, MRR and the questions not found in the first five."""
    at_1 = at_5 = reciprocal = 0.0
    misses = []
    for question in questions:
        sources = ranked_sources(question.text)[:RANKS]
        rank = next((i for i, source in enumerate(sources, start=1) if question.is_relevant(source)), None)
        if rank is not None:
            reciprocal += 1 / rank
            at_1 += rank == 1
            at_5 += rank <= 5
        if rank is None or rank > 5:
            misses.append(question.text.splitlines()[0][:80])
    count = len(questions)
    return at_1 / count, at_5 / count, reciprocal / count, misses


def evaluate_modes(questions: list[EvalQuestion], knowledge: KnowledgeBase, tenant: str) -> list[EvalResult]:
    """Score each retrieval mode on an already ingested knowledge base; the chunks are embedded once for all."""
    results = []
    chunks = knowledge.count()
    for mode in RetrievalMode:
        started = time.monotonic()
        at_1, at_5, mrr, misses = score(
            questions, lambda text: [hit.source for hit in knowledge.search(text, tenant, RANKS, mode)]
        )
        results.append(EvalResult(mode.value, at_1, at_5, mrr, chunks, time.monotonic() - started, tuple(misses)))
    return results


def baseline_chunks(text: str) -> list[str]:
    step = BASELINE_CHUNK_CHARS - BASELINE_OVERLAP_CHARS
    return [text[start : start + BASELINE_CHUNK_CHARS] for start in range(0, max(len(text) - BASELINE_OVERLAP_CHARS, 1), step)]


def evaluate_baseline(questions: list[EvalQuestion], files: Iterable[tuple[Path, str]], embedder: Embedder) -> EvalResult:
    """Score the naive pipeline: fixed character chunks of the raw text, dense only, top 4."""
    import numpy as np

    started = time.monotonic()
    pieces: list[tuple[str, str]] = []
    for path, name in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        pieces.extend((name, chunk) for chunk in baseline_chunks(text))
    vectors = np.asarray(embedder.embed([chunk for _, chunk in pieces]))  # (chunks, 384), unit length

    def ranked_sources(question: str) -> list[str]:
        similarities = vectors @ np.asarray(embedder.embed_one(question))
        best = np.argsort(-similarities)[:BASELINE_TOP_K]
        return [pieces[int(i)][0] for i in best]

    at_1, at_5, mrr, misses = score(questions, ranked_sources)
    return EvalResult(
        "baseline", at_1, at_5, mrr, len(pieces), time.monotonic() - started, tuple(misses)
    )


def evaluate(
    questions: list[EvalQuestion], knowledge: KnowledgeBase, corpus: list[Path], tenant: str
) -> list[EvalResult]:
    """Score the three retrieval modes on `knowledge` and the baseline on the raw files of `corpus`."""
    results = evaluate_modes(questions, knowledge, tenant)
    # Only files the baseline can read as text: PDFs are left to the real loaders.
    files = [(path, name) for path, name in collect_files(corpus) if path.suffix.lower() != ".pdf"]
    results.append(evaluate_baseline(questions, files, knowledge.embedder))
    return results


def format_table(results: list[EvalResult], questions: int) -> str:
    """Return a Markdown table of the results."""
    lines = [
        f"{questions} questions",
        "",
        "| retrieval | Recall@1 | Recall@5 | MRR | chunks |",
        "|---|---|---|---|---|",
    ]
    labels = {
        "dense": "dense (MiniLM, heading-aware chunks)",
        "sparse": "sparse (BM25 keywords)",
        "hybrid": "hybrid (dense + BM25, RRF)",
        "baseline": "baseline (1,000-char chunks, dense, top 4)",
    }
    for result in results:
        lines.append(
            f"| {labels.get(result.name, result.name)} | {result.recall_at_1:.2f} | {result.recall_at_5:.2f} "
            f"| {result.mrr:.2f} | {result.chunks} |"
        )
    return "\n".join(lines)
