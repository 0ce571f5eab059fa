"""The course content: every lesson and quiz parses, follows the rules, and its code runs."""

import os
import subprocess
import sys

import pytest

from lessons import LESSONS_DIR
from lessons.course import DEMO_NAMES, MAX_STEP_PROSE, STEP_KINDS, CourseError, load_course, parse_lesson

COURSE = load_course()
LESSON_FILES = sorted(LESSONS_DIR.glob("[0-9][0-9]-*.md"))
CODE_STEPS = [
    pytest.param(lesson.number, step.number, id=f"lesson{lesson.number}-step{step.number}")
    for lesson in COURSE.lessons.values()
    for step in lesson.steps
    if step.code
]
CODE_TIME_LIMIT = 240  # seconds per block: they run in well under 20 on a quiet machine, but CI may share its cores


def test_every_lesson_file_parses():
    assert len(COURSE.lessons) == len(LESSON_FILES) >= 1
    assert sorted(COURSE.lessons) == list(range(1, len(COURSE.lessons) + 1))


@pytest.mark.parametrize("number", sorted(COURSE.lessons))
def test_lesson_follows_schema(number):
    lesson = COURSE.lessons[number]
    assert 6 <= len(lesson.steps) <= 10
    assert lesson.intro
    for step in lesson.steps:
        assert step.kind in STEP_KINDS
        assert len(step.prose) <= MAX_STEP_PROSE, f"step {step.number} has {len(step.prose)} characters of prose"
        assert step.body.count("```") in (0, 2), f"step {step.number} has more than one code block"
        if step.kind == "visual":
            assert step.demo in DEMO_NAMES
        if step.kind == "code":
            assert step.code, f"step {step.number} is a code step without code"
    kinds = [step.kind for step in lesson.steps]
    assert kinds[:4] == ["concept", "visual", "code", "insight"]


@pytest.mark.parametrize("number", sorted(COURSE.quizzes))
def test_quiz_follows_schema(number):
    questions = COURSE.quizzes[number]
    lesson = COURSE.lessons[number]
    assert len(questions) >= 8
    assert any(q.kind == "free" for q in questions)
    for question in questions:
        assert question.id.startswith(f"l{number}q")
        assert 1 <= question.step <= len(lesson.steps)
        if question.kind == "choice":
            assert sum(choice.correct for choice in question.choices) == 1
            assert all(choice.explanation for choice in question.choices)


def test_bad_lesson_rejected_with_reason(tmp_path):
    path = tmp_path / "09-broken.md"
    path.write_text("# Lesson 9: Broken\n\nIntro.\n\n## Step 1: Only\n<!-- kind: visual; demo: nosuch -->\n\nText.\n")
    with pytest.raises(CourseError, match="09-broken.md step 1: a visual step needs demo"):
        parse_lesson(path)


@pytest.mark.parametrize("lesson_number, step_number", CODE_STEPS)
def test_lesson_code_runs(lesson_number, step_number, tmp_path):
    code = COURSE.lessons[lesson_number].step(step_number).code
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONHASHSEED": "0"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=CODE_TIME_LIMIT, cwd=tmp_path, env=env
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip(), "the code printed nothing"


def test_lessons_share_no_phrases_with_sources():
    """Lessons and quizzes are written in our own words: no run of 8 words from the outline or the corpus."""
    import re

    from conftest import shared_path

    def shingles(text, size=8):
        words = re.findall(r"[a-z0-9']+", text.lower())
        return {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}

    sources = shingles(shared_path("seeds", "roadmap-part-a-module-1.txt").read_text(encoding="utf-8"))
    for path in shared_path("corpus", "hf-course").rglob("*.mdx"):
        sources |= shingles(path.read_text(encoding="utf-8"))
    for path in [*LESSON_FILES, *sorted((LESSONS_DIR / "quizzes").glob("*.yaml"))]:
        shared = shingles(path.read_text(encoding="utf-8")) & sources
        assert not shared, f"{path.name} repeats: {sorted(shared)[:3]}"
