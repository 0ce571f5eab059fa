"""Retrieval quality on the Hugging Face course: the quiz questions at the end of a
chapter should find that chapter among the top five sources."""

import json
import time

import pytest

from knowledge.base import KnowledgeBase
from knowledge.embeddings import DIMENSIONS
from knowledge.evaluation import (
    EvalQuestion,
    QuestionFileError,
    baseline_chunks,
    evaluate,
    format_table,
    load_questions,
    quiz_questions,
    score,
)
from knowledge.store import EdgeStore

from conftest import shared_path

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
    questions = quiz_questions(shared_path("eval", "hf-course-quizzes"))
    assert len(questions) >= 25
    assert {question.expected for question in questions} == {("chapter1/",), ("chapter2/",), ("chapter4/",)}
    assert all("<Question" not in question.text for question in questions)


def test_jsonl_questions_read_and_checked(tmp_path):
    path = tmp_path / "questions.jsonl"
    rows = [{"question": "What is HNSW?", "expected": "04-vector-databases.md"},
            {"question": "What is a KV cache?", "expected": ["01-ai-foundations.md", "02-deep"]}]
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n\n")
    questions = load_questions(path)
    assert [q.expected for q in questions] == [("04-vector-databases.md",), ("01-ai-foundations.md", "02-deep")]
    assert questions[0].is_relevant("lessons/04-vector-databases.md")
    assert not questions[0].is_relevant("lessons/104-vector-databases.md")

    path.write_text('{"question": "no expected place"}\n')
    with pytest.raises(QuestionFileError, match="line 1"):
        load_questions(path)
    with pytest.raises(QuestionFileError, match="No questions file"):
        load_questions(tmp_path / "missing.jsonl")


def test_scores_match_hand_computed_ranks():
    questions = [EvalQuestion(f"q{rank}", ("right/",)) for rank in (1, 2, 5, 6, None)]

    def ranked(text):
        wrong = ["wrong/a"] * 10
        if text != "qNone":
            wrong[int(text[1:]) - 1] = "corpus/right/page"
        return wrong

    at_1, at_5, mrr, misses = score(questions, ranked)
    assert at_1 == pytest.approx(1 / 5)
    assert at_5 == pytest.approx(3 / 5)
    assert mrr == pytest.approx((1 + 1 / 2 + 1 / 5 + 1 / 6 + 0) / 5)
    assert misses == ["q6", "qNone"]


def test_baseline_chunks_overlap_by_200():
    text = "".join(chr(ord("a") + i % 26) for i in range(2500))
    chunks = baseline_chunks(text)
    assert [len(chunk) for chunk in chunks] == [1000, 1000, 900]
    assert chunks[0][800:] == chunks[1][:200]
    assert "".join([chunks[0]] + [chunk[200:] for chunk in chunks[1:]]) == text
    assert baseline_chunks("short") == ["short"]


@pytest.mark.slow
def test_quiz_questions_find_their_chapter(course):
    questions = quiz_questions(shared_path("eval", "hf-course-quizzes"))
    found = 0
    misses = []
    for question in questions:
        sources = [hit.source for hit in course.search(question.text, "local", 5)]
        if any(question.is_relevant(source) for source in sources):
            found += 1
        else:
            misses.append(f"{question.expected[0]}: {question.text.splitlines()[0][:70]} -> {sources[:3]}")
    rate = found / len(questions)
    print(f"\nright chapter in top 5: {found}/{len(questions)} = {rate:.0%}")
    print("\n".join(misses))
    assert rate >= 0.8


@pytest.mark.slow
def test_hybrid_beats_naive_baseline(course):
    questions = quiz_questions(shared_path("eval", "hf-course-quizzes"))
    results = {result.name: result for result in evaluate(questions, course, [shared_path("corpus", "hf-course")], "local")}
    print("\n" + format_table(list(results.values()), len(questions)))
    assert results["hybrid"].recall_at_5 > results["baseline"].recall_at_5
    assert results["hybrid"].mrr >= results["dense"].mrr - 0.05


@pytest.mark.slow
def test_citations_carry_heading_paths(course):
    hits = course.search("What is transfer learning?", "local", 5)
    assert hits[0].source.startswith("hf-course/chapter1/")
    assert " > " in hits[0].location or hits[0].location
    assert "[[" not in hits[0].location
