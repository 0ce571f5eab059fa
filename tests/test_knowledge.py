"""The knowledge base with the real embedding model and the embedded Qdrant store."""

from pathlib import Path

import pytest

from knowledge.base import BUILTIN_TENANT, collect_files, document_id
from knowledge.loaders import IngestError
from knowledge.store import Match, RetrievalMode

from conftest import shared_path

NOTES = b"""# Loss functions

## Cross-entropy

Cross-entropy compares a predicted probability distribution with the true label.
It is the usual loss for classification, and it is large when the model is confident and wrong.

## Mean squared error

Mean squared error averages the squared differences between predictions and targets.
It is the usual loss for regression.
"""


def test_ingest_then_search_cites_file(knowledge):
    info = knowledge.ingest_bytes(NOTES, "losses.md", tenant="g1", added_by="ada")
    assert info.chunks >= 1
    hits = knowledge.search("what is cross-entropy?", "g1", 3)
    assert hits[0].source == "losses.md"
    assert "Cross-entropy" in hits[0].location
    assert hits[0].score > 0.5


def test_reingest_same_file_changes_nothing(knowledge):
    knowledge.ingest_bytes(NOTES, "losses.md", tenant="g1", added_by="ada")
    before = knowledge.count()
    again = knowledge.ingest_bytes(NOTES, "losses.md", tenant="g1", added_by="ada")
    assert again is None
    assert knowledge.count() == before


def test_changed_file_replaces_old_version(knowledge):
    knowledge.ingest_bytes(NOTES, "losses.md", tenant="g1", added_by="ada")
    changed = NOTES.replace(b"Mean squared error averages", b"MSE, the mean squared error, averages")
    info = knowledge.ingest_bytes(changed, "losses.md", tenant="g1", added_by="ada")
    assert info is not None
    texts = [p["text"] for p in knowledge.store.scroll(Match(doc_id=info.doc_id, kind="chunk"))]
    assert len(texts) == info.chunks
    assert any("MSE, the mean squared error" in text for text in texts)
    assert not any("Mean squared error averages" in text for text in texts)
    assert len(knowledge.documents("g1")) == 1


def test_remove_deletes_every_chunk(knowledge):
    info = knowledge.ingest_bytes(NOTES * 20, "long.md", tenant="g1", added_by="ada")
    assert info.chunks > 1
    removed = knowledge.remove("g1", info.doc_id)
    assert removed == info.chunks
    assert knowledge.store.count(Match(doc_id=info.doc_id)) == 0
    assert knowledge.documents("g1") == []


def test_tenants_do_not_see_each_other(knowledge):
    knowledge.ingest_bytes(NOTES, "losses.md", tenant="g1", added_by="ada")
    knowledge.ingest_bytes(b"# Lesson\n\nAttention weighs tokens by relevance.", "lesson.md", tenant=BUILTIN_TENANT, added_by="bot")
    for hit in knowledge.search("cross-entropy loss", "g2", 5):
        assert hit.source == "lesson.md"
    assert [d.name for d in knowledge.documents("g2")] == ["lesson.md"]
    assert {d.name for d in knowledge.documents("g1")} == {"lesson.md", "losses.md"}


def test_same_name_in_two_tenants_are_two_documents(knowledge):
    first = knowledge.ingest_bytes(NOTES, "losses.md", tenant="g1", added_by="ada")
    second = knowledge.ingest_bytes(NOTES, "losses.md", tenant="g2", added_by="bob")
    assert first.doc_id != second.doc_id
    assert first.doc_id == document_id("g1", "losses.md")


def test_failed_ingest_leaves_store_unchanged(knowledge):
    knowledge.ingest_bytes(NOTES, "losses.md", tenant="g1", added_by="ada")
    before = sorted(p["chunk_id"] for p in knowledge.store.scroll(Match(kind="chunk")))
    locked = shared_path("corpus", "pdf", "libreoffice-writer-password.pdf").read_bytes()
    with pytest.raises(IngestError, match="password-protected"):
        knowledge.ingest_bytes(locked, "losses.md", tenant="g1", added_by="ada")
    assert sorted(p["chunk_id"] for p in knowledge.store.scroll(Match(kind="chunk"))) == before


def test_upsert_failure_rolls_back_new_version(knowledge, monkeypatch):
    knowledge.ingest_bytes(NOTES, "losses.md", tenant="g1", added_by="ada")
    before = sorted(p["chunk_id"] for p in knowledge.store.scroll(Match(kind="chunk")))
    real_upsert = knowledge.store.upsert

    def upsert_then_fail(points):
        real_upsert(points[:1])
        raise OSError("disk full")

    monkeypatch.setattr(knowledge.store, "upsert", upsert_then_fail)
    with pytest.raises(OSError):
        knowledge.ingest_bytes(NOTES + b"\nA new paragraph.", "losses.md", tenant="g1", added_by="ada")
    assert sorted(p["chunk_id"] for p in knowledge.store.scroll(Match(kind="chunk"))) == before


def test_one_page_notes_case(knowledge):
    path = shared_path("cases", "files", "one-page-notes.md")
    report = knowledge.ingest_paths([path], tenant="g1", added_by="admin")
    assert report.chunks_added > 0
    hits = knowledge.search("what is cross-entropy?", "g1", 3)
    assert hits[0].source == "one-page-notes.md"


def test_scanned_pdf_not_listed(knowledge):
    path = shared_path("cases", "files", "scanned-two-pages.pdf")
    report = knowledge.ingest_paths([path], tenant="g1", added_by="admin")
    assert report.added == []
    assert "no text could be extracted" in report.failed[0][1]
    assert knowledge.documents("g1") == []


def test_corpus_pdfs_ingest_or_fail_cleanly(knowledge):
    folder = shared_path("corpus", "pdf")
    report = knowledge.ingest_paths([folder], tenant="g1", added_by="admin")
    failed = dict(report.failed)
    print(f"\nadded {len(report.added)} PDFs, {report.chunks_added} chunks; failed: {failed}")
    assert "password-protected" in failed["pdf/libreoffice-writer-password.pdf"]
    assert len(report.added) == len(list(folder.glob("*.pdf"))) - len(failed)
    stored = {d.name for d in knowledge.documents("g1")}
    assert "pdf/libreoffice-writer-password.pdf" not in stored
    assert {info.name for info in report.added} == stored
    pages = {p["page"] for p in knowledge.store.scroll(Match(doc_id=document_id("g1", "pdf/pdflatex-4-pages.pdf"), kind="chunk"))}
    assert pages == {1, 2, 3, 4}


def test_collect_files_names_relative_to_folder_parent(tmp_path):
    folder = tmp_path / "course" / "chapter1"
    folder.mkdir(parents=True)
    (folder / "1.mdx").write_text("# One\n\ntext")
    (folder / "image.png").write_bytes(b"\x89PNG")
    (folder / ".hidden.md").write_text("x")
    assert [name for _, name in collect_files([folder])] == ["chapter1/1.mdx"]
    assert [name for _, name in collect_files([folder / "1.mdx"])] == ["1.mdx"]
    with pytest.raises(FileNotFoundError):
        collect_files([Path(tmp_path / "missing")])


@pytest.mark.parametrize(
    "question, lesson_file",
    [
        ("What is a decision boundary?", "01-ai-foundations.md"),
        ("What does scaled dot-product attention compute?", "02-deep-learning-to-transformers.md"),
        ("How does byte pair encoding build its vocabulary?", "03-tokenization-and-embeddings.md"),
        ("How does an HNSW index find neighbours?", "04-vector-databases.md"),
        ("What is few-shot prompting?", "05-prompt-engineering.md"),
        ("How does a RAG pipeline answer with citations?", "06-mini-rag-project.md"),
    ],
)
def test_lesson_questions_cite_lesson_steps(lesson_knowledge, question, lesson_file):
    hits = lesson_knowledge.search(question, "any-tenant", 3)
    cited = [f"{hit.source} > {hit.location}" for hit in hits]
    assert any(c.startswith(f"lessons/{lesson_file} > Step ") for c in cited), cited


@pytest.fixture(scope="module")
def lesson_knowledge(tmp_path_factory, embedder):
    from knowledge.base import KnowledgeBase
    from knowledge.embeddings import DIMENSIONS
    from knowledge.store import EdgeStore
    from lessons import LESSONS_DIR

    base = KnowledgeBase(
        EdgeStore(tmp_path_factory.mktemp("lessons") / "edge", DIMENSIONS), embedder,
        max_file_bytes=10 * 1024 * 1024, max_pdf_pages=500,
    )
    report = base.ingest_paths([LESSONS_DIR], tenant=BUILTIN_TENANT, added_by="test", skip_titles=True)
    assert len(report.added) == 6
    yield base
    base.close()


@pytest.mark.parametrize(
    "question, expected_place",
    [
        ("what is HNSW?", "lessons/04-vector-databases.md > Step 5"),
        ("what is the KV cache?", "lessons/02-deep-learning-to-transformers.md > Step 4"),
    ],
)
def test_short_keyword_questions_are_covered(lesson_knowledge, question, expected_place):
    from knowledge.answer import Answerer

    answerer = Answerer(lesson_knowledge, None, top_k=5, score_threshold=0.38)
    plan = answerer.retrieve(question, "g1")
    assert plan.covered, plan.notice
    cited = [f"{hit.source} > {hit.location}" for hit in plan.hits]
    assert cited[0].startswith(expected_place), cited
    answer = "".join(answerer.generate(plan))
    assert "[1]" in answer


@pytest.mark.parametrize(
    "question",
    ["What is the capital of France?", "How do I bake sourdough bread?", "Who won the 1998 world cup?", "what is python?"],
)
def test_off_topic_questions_are_not_covered(lesson_knowledge, question):
    from knowledge.answer import Answerer

    answerer = Answerer(lesson_knowledge, None, top_k=5, score_threshold=0.38)
    for mode in RetrievalMode:
        lesson_knowledge.mode = mode
        plan = answerer.retrieve(question, "g1")
        assert not plan.covered, (mode, plan.hits[0])
        assert "does not cover this question" in "".join(answerer.generate(plan))
    lesson_knowledge.mode = RetrievalMode.HYBRID


def test_not_covered_names_closest_lesson_only_when_near(lesson_knowledge):
    from knowledge.answer import Answerer

    strict = Answerer(lesson_knowledge, None, top_k=5, score_threshold=0.9)
    plan = strict.retrieve("How does an HNSW index find neighbours?", "g1")
    assert not plan.covered
    assert "The closest passage is in lessons/04-vector-databases.md > Step 5" in plan.notice
    plan = strict.retrieve("How do I bake sourdough bread?", "g1")
    assert "closest passage" not in plan.notice


def test_hybrid_search_reads_only_live_version(knowledge):
    knowledge.ingest_bytes(NOTES, "losses.md", tenant="g1", added_by="ada")
    changed = NOTES.replace(b"Cross-entropy compares", b"Log loss, also called cross-entropy, compares")
    knowledge.ingest_bytes(changed, "losses.md", tenant="g1", added_by="ada")
    for mode in RetrievalMode:
        texts = [hit.text for hit in knowledge.search("cross-entropy", "g1", 10, mode)]
        assert any("Log loss" in text for text in texts), mode
        assert not any(text.startswith("Cross-entropy compares") for text in texts), mode


def test_extractive_sentences_join_wrapped_lines():
    from knowledge.answer import passage_sentences
    from knowledge.documents import Hit

    text = (
        "Cross-entropy is the negative log of the probability the model gave\n"
        "to the correct class.\n\n"
        "- Mean squared error: the average of squared\n"
        "  differences between prediction and target.\n"
        "- Cross-entropy: used for classification and for next-token\n"
        "  prediction in language models.\n"
    )
    sentences = [sentence for _, sentence in passage_sentences([Hit(0.9, text, "notes.md", "Loss", "d1", 0)])]
    assert sentences[0] == "Cross-entropy is the negative log of the probability the model gave to the correct class."
    assert "- Mean squared error: the average of squared differences between prediction and target." in sentences
    assert "- Cross-entropy: used for classification and for next-token prediction in language models." in sentences
    assert len(sentences) == 3


def test_markdown_comments_are_not_indexed():
    from knowledge.markdown import split_sections

    sections = split_sections("# Title\n\n<!-- kind: visual; demo: xor -->\nVisible text.\n")
    text = " ".join(section.text for section in sections)
    assert "Visible text." in text
    assert "kind:" not in text
