"""Quiz logic: which question comes next, and grading of choice and free-text answers.

Free-text answers are graded by the cosine similarity of their embedding to
the closest reference answer (all-MiniLM-L6-v2, unit vectors).
"""

from __future__ import annotations

from dataclasses import dataclass

from lessons.course import Question

# Calibrated on the sample right and wrong answers in tests/data/free_text:
# 0.55 grades 86 % of 72 of them as intended, the best of 0.45 to 0.70 in steps
# of 0.025. NOTE: similarity cannot tell a fluent wrong answer that reuses the
# reference's words ("RNNs have more parameters than transformers") from a right one.
FREE_TEXT_THRESHOLD = 0.55


@dataclass(frozen=True)
class Grade:
    correct: bool
    similarity: float | None = None


def next_question(questions: tuple[Question, ...], results: dict[str, bool]) -> Question | None:
    """Return the first question not answered yet, else the first answered wrong, else None."""
    for question in questions:
        if question.id not in results:
            return question
    for question in questions:
        if not results[question.id]:
            return question
    return None


def grade_choice(question: Question, picked: int) -> Grade:
    """Grade a 1-based choice number."""
    return Grade(question.choices[picked - 1].correct)


def grade_free(question: Question, answer: str, embedder, threshold: float = FREE_TEXT_THRESHOLD) -> Grade:
    import numpy as np

    vectors = np.asarray(embedder.embed([answer, *question.reference_answers]))
    similarity = float(np.max(vectors[1:] @ vectors[0]))
    return Grade(similarity >= threshold, similarity)
