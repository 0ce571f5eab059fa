"""Quiz logic: which question comes next, and grading of choice and free-text answers.

Free-text answers are graded by the cosine similarity of their embedding to
the closest reference answer (all-MiniLM-L6-v2, unit vectors).
"""

from __future__ import annotations

import random
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


def next_question(questions: tuple[Question, ...], results: dict, *, retry: bool = False) -> Question | None:
    """Return the first question not answered yet; with `retry`, the first never answered right.

    `results` maps question ids to `QuestionResult`s. None means that round is over.
    """
    for question in questions:
        if retry and question.id in results and not results[question.id].ever_correct:
            return question
        if not retry and question.id not in results:
            return question
    return None


def presented_order(question: Question) -> list[int]:
    """Return the order in which to show a question's choices (indices into `choices`).

    Authors may list the right answer first; the order is shuffled with the
    question id as the seed, so it is the same every time the question is shown.
    """
    order = list(range(len(question.choices)))
    random.Random(question.id).shuffle(order)
    return order


def grade_choice(question: Question, picked: int) -> Grade:
    """Grade a 1-based choice number."""
    return Grade(question.choices[picked - 1].correct)


def grade_free(question: Question, answer: str, embedder, threshold: float = FREE_TEXT_THRESHOLD) -> Grade:
    import numpy as np

    vectors = np.asarray(embedder.embed([answer, *question.reference_answers]))
    similarity = float(np.max(vectors[1:] @ vectors[0]))
    return Grade(similarity >= threshold, similarity)
