"""/demo rag: the chunks shown are what retrieval returns, and the prompt contains them; /demo and /lesson run it."""

import asyncio

import pytest

from knowledge.answer import Answerer, build_messages
from knowledge.base import BUILTIN_TENANT, KnowledgeBase
from knowledge.embeddings import DIMENSIONS
from knowledge.store import EdgeStore
from lessons import LESSONS_DIR
from lessons.demos.rag import DEFAULT_QUESTION, parse, run, sent_to_model

from test_demos import png_size

LESSON = LESSONS_DIR / "04-vector-databases.md"
TENANT_NOTES = b"# Our vector database\n\nOur team's vector database is a secret Postgres table called vectors_prod.\n"


@pytest.fixture(scope="module")
def answerer(tmp_path_factory, embedder):
    knowledge = KnowledgeBase(
        EdgeStore(tmp_path_factory.mktemp("edge"), DIMENSIONS), embedder, max_file_bytes=10 * 1024 * 1024, max_pdf_pages=500
    )
    knowledge.ingest_paths([LESSON], tenant=BUILTIN_TENANT, added_by="genai-tutor", skip_titles=True)
    knowledge.ingest_bytes(TENANT_NOTES, "ours.md", tenant="g1", added_by="ada")
    yield Answerer(knowledge, None, top_k=5, score_threshold=0.38)
    knowledge.close()


def test_shown_chunks_are_retrieval_results(answerer):
    result = run(DEFAULT_QUESTION, answerer=answerer)
    expected = answerer.knowledge.search(DEFAULT_QUESTION, BUILTIN_TENANT, 5)
    plan = answerer.retrieve(DEFAULT_QUESTION, BUILTIN_TENANT)
    assert result.facts["hits"] == expected
    assert result.facts["passages"] == plan.hits
    assert result.facts["covered"]
    for rank, hit in enumerate(expected, start=1):
        assert f"{rank}. {hit.score:.3f} {hit.source} > {hit.location}" in result.text
    # Hybrid ranking fuses dense and keyword ranks, so the cosines shown need not fall in order.
    assert f"in {answerer.knowledge.mode.value} rank order" in result.text


def test_prompt_contains_the_passages(answerer):
    result = run(DEFAULT_QUESTION, answerer=answerer)
    messages = result.facts["messages"]
    assert messages == build_messages(DEFAULT_QUESTION, result.facts["passages"])
    user = messages[1]["content"]
    for hit in result.facts["hits"]:
        assert hit.text in user
        assert sent_to_model(hit, answerer.retrieve(DEFAULT_QUESTION, BUILTIN_TENANT))
    assert user.endswith(f"Question: {DEFAULT_QUESTION}")
    assert "[system]" in result.text
    assert "built but not sent" in result.text


def test_extractive_answer_shown(answerer):
    result = run(DEFAULT_QUESTION, answerer=answerer)
    plan = answerer.retrieve(DEFAULT_QUESTION, BUILTIN_TENANT)
    assert result.facts["answer"] == answerer.extract(plan)
    assert "**3. Answer** (extractive" in result.text


def test_tenant_documents_never_shown(answerer):
    result = run("What is our team's vector database table?", answerer=answerer)
    assert all(hit.source != "ours.md" for hit in result.facts["hits"])
    assert "vectors_prod" not in result.text


def test_off_topic_question_sends_no_prompt(answerer):
    result = run("What is the capital of France?", answerer=answerer)
    assert not result.facts["covered"]
    assert result.facts["messages"] == []
    assert result.facts["hits"][0].score < 0.38
    assert "none sent" in result.text
    assert png_size(result.png) == (800, 500)


def test_deterministic_picture(answerer):
    first, second = run(DEFAULT_QUESTION, answerer=answerer), run(DEFAULT_QUESTION, answerer=answerer)
    assert first.png == second.png
    assert first.text == second.text
    assert png_size(first.png) == (800, 500)
    assert first.command == f'/demo rag "{DEFAULT_QUESTION}"'


def test_needs_answerer():
    with pytest.raises(RuntimeError, match="needs the knowledge base"):
        run(DEFAULT_QUESTION)


def test_arguments():
    assert parse("") == {}
    assert parse('"what is HNSW?"') == {"question": "what is HNSW?"}
    with pytest.raises(ValueError, match="at most 300"):
        parse("x" * 301)


class ReplyRecorder:
    min_edit_interval = 0.0

    def __init__(self):
        self.replies = []

    async def acknowledge(self):
        pass

    async def send(self, reply):
        self.replies.append(reply)
        return len(self.replies)

    async def edit(self, message, reply):
        self.replies.append(reply)


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    from bot.services import Services
    from bot.settings import LLMBackend, Settings

    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), llm_backend=LLMBackend.EXTRACTIVE)
    services = Services(settings)
    services.knowledge.ingest_paths([LESSON], tenant=BUILTIN_TENANT, added_by="genai-tutor", skip_titles=True)
    yield services
    services.close()


def dispatch(services, name, args):
    from bot.commands import registry
    from bot.core import Command
    from bot.router import Router

    router = Router(registry, services, cooldown_seconds=0, max_concurrent_model_jobs=1)
    recorder = ReplyRecorder()
    asyncio.run(router.dispatch(Command(name, args), recorder))
    return recorder.replies[-1]


def test_demo_command_passes_answerer(services):
    reply = dispatch(services, "demo", "rag what is HNSW?")
    assert "**1. Retrieved** for 'what is HNSW?'" in reply.text
    assert "04-vector-databases.md" in reply.text
    assert reply.images[0].filename == "rag.png"
    assert reply.images[0].description == '/demo rag "what is HNSW?"'


def test_lesson_step_draws_rag_picture(services):
    from bot.commands.lesson import default_result

    default_result.cache_clear()
    lesson = services.course.lesson(6)
    step = next(number for number, step in enumerate(lesson.steps, start=1) if step.demo == "rag")
    reply = dispatch(services, "lesson", f"6 {step}")
    assert [image.filename for image in reply.images] == ["rag.png"]
    assert f'`/demo rag "{DEFAULT_QUESTION}"`' in reply.text
    assert png_size(reply.images[0].data) == (800, 500)
