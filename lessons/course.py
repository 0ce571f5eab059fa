"""The course: lesson files and quiz files parsed into plain objects.

A lesson is `lessons/NN-slug.md`: a `# Lesson N: Title` heading, an intro
paragraph, then `## Step K: Title` sections, each followed by a
`<!-- kind: KIND -->` comment (`kind: visual; demo: NAME` for a picture).
A quiz is `lessons/quizzes/NN.yaml`. `load_course` checks both and raises
`CourseError` naming the file and the problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from lessons import LESSONS_DIR

STEP_KINDS = ("concept", "visual", "code", "insight")
# The demos that visual steps may name; each draws one picture (see the demos module once it lands).
DEMO_NAMES = (
    "xor", "neuron", "generate", "train-gpt", "nexttoken", "attention",
    "tokenize", "embed", "vectordb", "prompt", "rag",
)
MAX_STEP_PROSE = 1800

_LESSON_TITLE = re.compile(r"^# Lesson (\d+):\s*(.+)$", re.MULTILINE)
_STEP = re.compile(r"^## Step (\d+):\s*(.+)\n<!--\s*(.*?)\s*-->\s*\n", re.MULTILINE)
_CODE = re.compile(r"^```(\w*)\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)


class CourseError(Exception):
    """A lesson or quiz file that does not follow the format."""


@dataclass(frozen=True)
class Step:
    number: int
    title: str
    kind: str
    body: str
    demo: str | None = None

    @property
    def code(self) -> str | None:
        """The step's fenced code, without the fence, or None."""
        match = _CODE.search(self.body)
        return match.group(2) if match else None

    @property
    def prose(self) -> str:
        return _CODE.sub("", self.body).strip()


@dataclass(frozen=True)
class Lesson:
    number: int
    title: str
    intro: str
    steps: tuple[Step, ...]
    path: Path

    def step(self, number: int) -> Step:
        return self.steps[number - 1]


@dataclass(frozen=True)
class Choice:
    text: str
    explanation: str
    correct: bool = False


@dataclass(frozen=True)
class Question:
    id: str
    lesson: int
    step: int
    kind: str  # "choice" or "free"
    prompt: str
    choices: tuple[Choice, ...] = ()
    reference_answers: tuple[str, ...] = ()
    explanation: str = ""


@dataclass(frozen=True)
class Course:
    lessons: dict[int, Lesson]
    quizzes: dict[int, tuple[Question, ...]] = field(default_factory=dict)

    def lesson(self, number: int) -> Lesson | None:
        return self.lessons.get(number)

    def question(self, question_id: str) -> Question | None:
        for questions in self.quizzes.values():
            for question in questions:
                if question.id == question_id:
                    return question
        return None


def parse_lesson(path: Path) -> Lesson:
    text = path.read_text(encoding="utf-8")
    title = _LESSON_TITLE.search(text)
    if title is None:
        raise CourseError(f"{path.name}: the first heading must read '# Lesson N: Title'")

    matches = list(_STEP.finditer(text))
    if not matches:
        raise CourseError(f"{path.name}: no '## Step K: Title' sections followed by a kind comment")
    intro = text[title.end() : matches[0].start()].strip()

    steps = []
    for index, match in enumerate(matches):
        number, step_title, tag = int(match.group(1)), match.group(2).strip(), match.group(3)
        if number != index + 1:
            raise CourseError(f"{path.name}: step {number} is out of order; expected step {index + 1}")
        body_end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        kind, demo = _parse_tag(path, number, tag)
        steps.append(Step(number, step_title, kind, text[match.end() : body_end].strip(), demo))
    return Lesson(int(title.group(1)), title.group(2).strip(), intro, tuple(steps), path)


def _parse_tag(path: Path, number: int, tag: str) -> tuple[str, str | None]:
    """Read `kind: visual; demo: xor` into ("visual", "xor")."""
    fields = {}
    for part in tag.split(";"):
        key, _, value = part.partition(":")
        fields[key.strip()] = value.strip()
    kind = fields.get("kind")
    if kind not in STEP_KINDS:
        raise CourseError(f"{path.name} step {number}: kind {kind!r} is not one of {', '.join(STEP_KINDS)}")
    demo = fields.get("demo")
    if kind == "visual" and demo not in DEMO_NAMES:
        raise CourseError(f"{path.name} step {number}: a visual step needs demo: one of {', '.join(DEMO_NAMES)}")
    return kind, demo


def parse_quiz(path: Path, lesson: Lesson) -> tuple[Question, ...]:
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("lesson") != lesson.number:
        raise CourseError(f"{path.name}: expected 'lesson: {lesson.number}' at the top")

    questions = []
    for entry in data.get("questions") or []:
        question_id = entry.get("id", "?")
        where = f"{path.name} question {question_id}"
        step = entry.get("step")
        if not isinstance(step, int) or not 1 <= step <= len(lesson.steps):
            raise CourseError(f"{where}: step {step!r} is not a step of lesson {lesson.number}")
        kind = entry.get("kind")
        if kind == "choice":
            choices = tuple(
                Choice(str(c["text"]), str(c.get("explanation", "")), bool(c.get("correct", False)))
                for c in entry.get("choices") or []
            )
            if len(choices) < 2 or sum(c.correct for c in choices) != 1:
                raise CourseError(f"{where}: needs at least 2 choices and exactly one marked correct")
            if not all(c.explanation for c in choices):
                raise CourseError(f"{where}: every choice needs an explanation")
            questions.append(Question(question_id, lesson.number, step, kind, str(entry["prompt"]), choices=choices))
        elif kind == "free":
            references = tuple(str(answer) for answer in entry.get("reference_answers") or [])
            if not references:
                raise CourseError(f"{where}: a free question needs reference_answers")
            questions.append(
                Question(
                    question_id, lesson.number, step, kind, str(entry["prompt"]),
                    reference_answers=references, explanation=str(entry.get("explanation", "")),
                )
            )
        else:
            raise CourseError(f"{where}: kind {kind!r} is not choice or free")
    if len({q.id for q in questions}) != len(questions):
        raise CourseError(f"{path.name}: question ids repeat")
    return tuple(questions)


@lru_cache(maxsize=4)
def load_course(folder: Path = LESSONS_DIR) -> Course:
    lessons = {}
    for path in sorted(folder.glob("[0-9][0-9]-*.md")):
        lesson = parse_lesson(path)
        if lesson.number in lessons:
            raise CourseError(f"{path.name}: lesson {lesson.number} is defined twice")
        lessons[lesson.number] = lesson

    quizzes = {}
    for number, lesson in lessons.items():
        quiz_path = folder / "quizzes" / f"{number:02d}.yaml"
        if quiz_path.exists():
            quizzes[number] = parse_quiz(quiz_path, lesson)
    return Course(lessons, quizzes)
