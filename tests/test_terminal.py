"""End to end: `genai-tutor chat` and `genai-tutor ingest` as a user runs them, lines on stdin."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, shared_path
from knowledge.base import document_id


def run_cli(args, stdin="", env_extra=None, timeout=300):
    env = {**os.environ, "COLUMNS": "120", **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=os.getcwd(),
    )


@pytest.fixture
def python_path(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))


def test_chat_answers_with_lesson_sources(python_path):
    result = run_cli(
        ["chat"],
        stdin="/help\n/ask what is a decision boundary?\n/docs\n/nosuch\n",
        env_extra={"LLM_BACKEND": "extractive"},
    )
    out = result.stdout
    assert result.returncode == 0, result.stderr
    for command in ("/ask", "/ingest", "/docs"):
        assert command in out
    assert "Sources" in out
    assert "[1] lessons/01-ai-foundations.md" in out
    assert "decision boundary" in out.lower()
    assert "01-ai-foundations.md" in out
    assert "There is no command /nosuch" in out


def test_chat_with_embedded_model(python_path):
    result = run_cli(["chat"], stdin="/ask what is a decision boundary?\n")
    assert result.returncode == 0, result.stderr
    assert "llama-cpp:SmolLM2-135M-Instruct" in result.stdout
    assert "[1] lessons/01-ai-foundations.md" in result.stdout


def test_chat_ingest_and_remove(python_path, tmp_path):
    notes = tmp_path / "notes.md"
    notes.write_text("# Notes\n\n## Cross-entropy\n\nCross-entropy measures how far predicted probabilities are from the labels.\n")
    stdin = (
        f"/ingest {notes}\n"
        "/ask what is cross-entropy?\n"
        f"/ingest {tmp_path / 'missing.md'}\n"
    )
    result = run_cli(["chat"], stdin=stdin, env_extra={"LLM_BACKEND": "extractive"})
    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert "Added 1 document, 1 chunk:" in out
    assert "notes.md > Notes > Cross-entropy" in out
    assert "No file or folder at" in out

    doc_id = document_id("local", "notes.md")
    listing = run_cli(["chat"], stdin="/docs\n", env_extra={"LLM_BACKEND": "extractive"}).stdout
    assert doc_id in listing
    removed = run_cli(["chat"], stdin=f"/docs remove {doc_id}\n/docs\n", env_extra={"LLM_BACKEND": "extractive"}).stdout
    assert f"Removed {doc_id} notes.md (1 chunk)." in removed
    listing_after = removed.split("› /docs\n")[-1]
    assert doc_id not in listing_after
    assert "notes.md" not in listing_after
    assert "01-ai-foundations.md" in listing_after


def test_cli_ingest_reports_chunks(python_path):
    folder = shared_path("corpus", "hf-course", "chapter1")
    result = run_cli(["ingest", str(folder)])
    assert result.returncode == 0, result.stderr
    assert "chapter1/1.mdx" in result.stdout
    assert "chunks/s" in result.stdout
    again = run_cli(["ingest", str(folder)])
    assert "unchanged" in again.stdout


def test_cli_ingest_missing_path(python_path, tmp_path):
    result = run_cli(["ingest", str(tmp_path / "nope")])
    assert result.returncode == 2
    assert "No file or folder" in result.stdout


def test_invalid_setting_stops_startup(python_path):
    result = run_cli(["chat"], env_extra={"LLM_BACKEND": "gpt-9"})
    assert result.returncode == 2
    assert "LLM_BACKEND" in result.stderr


def test_newcomer_walks_lesson_one_and_quiz(python_path):
    from lessons.course import load_course
    from lessons.quiz import presented_order

    course = load_course()
    lesson = course.lesson(1)
    questions = course.quizzes.get(1)
    if not questions:
        pytest.fail("lesson 1 has no quiz in lessons/quizzes/01.yaml")

    # Step 1 offers [Next, Quiz]; later steps [Back, Next, Quiz].
    lines = ["/lesson 1", "1"] + ["2"] * (len(lesson.steps) - 2) + ["/progress", "/quiz 1"]
    for question in questions:
        if question.kind == "choice":
            right = next(i for i, choice in enumerate(question.choices) if choice.correct)
            lines.append(str(presented_order(question).index(right) + 1))
        else:
            lines.append(f"/answer {question.reference_answers[0]}")
        lines.append("1")  # Next question
    lines.append("/progress")
    lines.append("/leaderboard")

    result = run_cli(["chat"], stdin="\n".join(lines) + "\n", env_extra={"LLM_BACKEND": "extractive"})
    out = result.stdout
    assert result.returncode == 0, result.stderr
    for step in lesson.steps:
        assert f"Step {step.number} of {len(lesson.steps)}" in out
    first_progress, final_progress = out.split("› /progress")[1], out.split("› /progress")[2]
    assert f"{len(lesson.steps)}/{len(lesson.steps)}" in first_progress
    assert f"0/{len(questions)}" in first_progress
    assert f"{len(questions)}/{len(questions)}" in final_progress
    assert out.count("✅") == len(questions)
    assert f"Quiz 1 done: {len(questions)} of {len(questions)} right at the first try." in out
    assert f"you: {len(questions)}" in out


def test_wrong_choice_shows_right_answer(python_path):
    from lessons.course import load_course

    questions = load_course().quizzes.get(1) or ()
    question = next((q for q in questions if q.kind == "choice"), None)
    if question is None:
        pytest.fail("lesson 1's quiz has no choice question")
    wrong = next(i for i, choice in enumerate(question.choices, start=1) if not choice.correct)
    right = next(choice for choice in question.choices if choice.correct)
    result = run_cli(
        ["chat"], stdin=f"/quiz 1 answer {question.id} {wrong}\n/quiz 1 answer {question.id} 9\n",
        env_extra={"LLM_BACKEND": "extractive"},
    )
    assert "❌ Not quite" in result.stdout
    assert right.text[:40] in " ".join(result.stdout.split())
    assert f"Pick one of the choices 1 to {len(question.choices)}" in result.stdout


def test_ingest_report_names_replacement_and_skips(python_path, tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "a.md").write_text("# A\n\nFirst version about embeddings and vectors.\n")
    (folder / "data.json").write_text("{}")
    first = run_cli(["chat"], stdin=f"/ingest {folder}\n", env_extra={"LLM_BACKEND": "extractive"}).stdout
    (folder / "a.md").write_text("# A\n\nSecond version about tokenizers and merges.\n")
    second = run_cli(["chat"], stdin=f"/ingest {folder}\n/docs remove 0\n", env_extra={"LLM_BACKEND": "extractive"}).stdout
    assert "Skipped 1 file of types that are not ingested (.json)" in first
    assert "notes/a.md: 1 chunk (replaced the earlier version)" in second
    assert "too short to pick a document safely" in second


def test_visual_step_and_demo_write_pictures(python_path, tmp_path):
    result = run_cli(["chat"], stdin="/lesson 1 2\n/demo xor 2 50 1\n/demo attenshun\n", env_extra={"LLM_BACKEND": "extractive"})
    out = " ".join(result.stdout.split())
    assert result.returncode == 0, result.stderr
    images = sorted((tmp_path / "data" / "images").glob("*xor.png"))
    assert len(images) == 2
    assert "Picture: /demo xor 4 1000 0" in out
    assert "Reproduce: /demo xor 2 50 1" in out
    assert "There is no demo called 'attenshun'" in out


def test_demos_off_shows_text_only(python_path, tmp_path):
    result = run_cli(["chat"], stdin="/lesson 1 2\n/demo xor\n", env_extra={"LLM_BACKEND": "extractive", "DEMOS_ENABLED": "false"})
    assert not (tmp_path / "data" / "images").exists()
    assert "Demos are switched off" in result.stdout
