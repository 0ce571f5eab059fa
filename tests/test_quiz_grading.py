"""Free-text quiz grading: the similarity threshold separates learners' right and wrong answers."""

import pytest
import yaml

from lessons.course import load_course
from lessons.quiz import FREE_TEXT_THRESHOLD, grade_free, next_question, presented_order

from conftest import ROOT

EXAMPLES = sorted((ROOT / "tests" / "data" / "free_text").glob("*.yaml"))


def labelled_answers():
    course = load_course()
    rows = []
    for path in EXAMPLES:
        for question_id, answers in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).items():
            question = course.question(question_id)
            assert question is not None, f"{path.name} names unknown question {question_id}"
            rows += [(question, text, True) for text in answers["right"]]
            rows += [(question, text, False) for text in answers["wrong"]]
    return rows


def test_threshold_separates_right_from_wrong(embedder):
    rows = labelled_answers()
    if not rows:
        pytest.skip("no graded examples in tests/data/free_text yet")
    graded = [(question, text, expected, grade_free(question, text, embedder)) for question, text, expected in rows]
    mistakes = [(q.id, f"{g.similarity:.2f}", expected, text) for q, text, expected, g in graded if g.correct != expected]
    accuracy = 1 - len(mistakes) / len(graded)
    print(f"\nfree-text grading at threshold {FREE_TEXT_THRESHOLD}: {accuracy:.0%} of {len(graded)} examples")
    for mistake in mistakes:
        print("  misgraded", *mistake)
    right = [g.similarity for _, _, expected, g in graded if expected]
    wrong = [g.similarity for _, _, expected, g in graded if not expected]
    assert sum(wrong) / len(wrong) < FREE_TEXT_THRESHOLD < sum(right) / len(right)
    assert accuracy >= 0.85


def test_reference_answer_grades_right(embedder):
    course = load_course()
    free = [q for questions in course.quizzes.values() for q in questions if q.kind == "free"]
    if not free:
        pytest.skip("no free-text questions yet")
    for question in free:
        assert grade_free(question, question.reference_answers[0], embedder).correct


def test_next_question_order():
    from lessons.course import Question
    from lessons.progress import QuestionResult

    wrong, right = QuestionResult(False, False), QuestionResult(True, True)
    questions = tuple(Question(f"l1q{i}", 1, 1, "free", "?", reference_answers=("a",)) for i in range(1, 4))
    assert next_question(questions, {}).id == "l1q1"
    assert next_question(questions, {"l1q1": wrong}).id == "l1q2"
    assert next_question(questions, {"l1q1": wrong, "l1q2": right, "l1q3": right}) is None
    assert next_question(questions, {"l1q1": wrong, "l1q2": right, "l1q3": right}, retry=True).id == "l1q1"
    assert next_question(questions, {"l1q1": right, "l1q2": right, "l1q3": right}, retry=True) is None


def test_choice_order_shuffled_but_stable():
    course = load_course()
    choice_questions = [q for questions in course.quizzes.values() for q in questions if q.kind == "choice"]
    shown_positions = set()
    for question in choice_questions:
        order = presented_order(question)
        assert sorted(order) == list(range(len(question.choices)))
        assert presented_order(question) == order
        right = next(i for i, choice in enumerate(question.choices) if choice.correct)
        shown_positions.add(order.index(right))
    # Authors list the right answer first; learners must not see it first every time.
    assert len(shown_positions) >= 3
