"""Retrieval quality on the Hugging Face course: the quiz questions at the end of a
chapter should find that chapter among the top five sources."""

import re
import time
from pathlib import Path

import pytest

from knowledge.base import KnowledgeBase
from knowledge.embeddings import DIMENSIONS
from knowledge.store import EdgeStore

from conftest import shared_path

QUESTION = re.compile(r"^### \d+\.\s*(?P<title>.+?)\n(?P<body>.*?)(?=^<Question|^### |\Z)", re.MULTILINE | re.DOTALL)


def quiz_questions(folder: Path) -> list[tuple[str, str]]:
    """Return (chapter, question) pairs; the question is the heading plus any code under it."""
    pairs = []
    for path in sorted(folder.glob("chapter*.mdx")):
        chapter = path.name.split("-")[0]
        for match in QUESTION.finditer(path.read_text(encoding="utf-8")):
            pairs.append((chapter, f"{match['title']}\n{match['body']}".strip()))
    return pairs


@pytest.fixture(scope="module")
def course(tmp_path_factory, embedder):
    corpus = shared_path("corpus", "hf-course")
    base = KnowledgeBase(
        EdgeStore(tmp_path_factory.mktemp("hf") / "edge", DIMENSIONS), embedder,
        max_file_bytes=10 * 1024 * 1024, max_pdf_pages=500,
    )
    started = time.monotonic()
    report = base.ingest_paths([corpus], tenant="local", added_by="test")
    elapsed = time.monotonic() - started
    print(f"\ningested {len(report.added)} files, {report.chunks_added} chunks in {elapsed:.0f} s "
          f"({report.chunks_added / elapsed:.1f} chunks/s)")
    assert not report.failed, report.failed
    yield base
    base.close()


def test_quiz_parser_finds_questions():
    pairs = quiz_questions(shared_path("eval", "hf-course-quizzes"))
    assert len(pairs) >= 25
    assert {chapter for chapter, _ in pairs} == {"chapter1", "chapter2", "chapter4"}
    assert all("<Question" not in question for _, question in pairs)


@pytest.mark.slow
def test_quiz_questions_find_their_chapter(course):
    pairs = quiz_questions(shared_path("eval", "hf-course-quizzes"))
    found = 0
    misses = []
    for chapter, question in pairs:
        sources = [hit.source for hit in course.search(question, "local", 5)]
        if any(source.split("/")[1] == chapter for source in sources):
            found += 1
        else:
            misses.append(f"{chapter}: {question.splitlines()[0][:70]} -> {sources[:3]}")
    rate = found / len(pairs)
    print(f"\nright chapter in top 5: {found}/{len(pairs)} = {rate:.0%}")
    print("\n".join(misses))
    assert rate >= 0.8


@pytest.mark.slow
def test_citations_carry_heading_paths(course):
    hits = course.search("What is transfer learning?", "local", 5)
    assert hits[0].source.startswith("hf-course/chapter1/")
    assert " > " in hits[0].location or hits[0].location
    assert "[[" not in hits[0].location
