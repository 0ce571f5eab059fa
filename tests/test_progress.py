"""Learners' progress and quiz answers in SQLite through SQLAlchemy's asyncio API."""

import asyncio

import pytest

from lessons.progress import Learner, ProgressStore


@pytest.fixture
def store_url(tmp_path):
    return f"sqlite+aiosqlite:///{tmp_path}/progress.db"


def run(coroutine):
    return asyncio.run(coroutine)


def test_position_counts_steps_viewed(store_url):
    async def scenario():
        store = ProgressStore(store_url)
        await store.create_tables()
        ada = Learner("discord", "g1", "u1", "Ada")
        await store.set_position(ada, 1, 5)
        await store.set_position(ada, 1, 1)
        back = await store.set_position(ada, 1, 2)
        again = await store.set_position(ada, 1, 2)
        other_tenant = await store.position(Learner("discord", "g2", "u1"), 1)
        await store.close()
        return back, again, other_tenant

    back, again, other_tenant = run(scenario())
    assert back.step == 2
    assert back.steps_viewed == 3
    assert again.steps_viewed == 3
    assert back.first_unread(8) == 3
    assert other_tenant is None


def test_fifty_concurrent_answers_all_counted(store_url):
    async def scenario():
        store = ProgressStore(store_url)
        await store.create_tables()
        learners = [Learner("slack", "T1", f"U{i}", f"user{i}") for i in range(50)]
        await asyncio.gather(
            *(store.record_answer(learner, 1, "l1q1", "1", correct=True) for learner in learners)
        )
        board = await store.leaderboard("slack", "T1", limit=100)
        scores = [await store.scores(learner) for learner in learners]
        await store.close()
        return board, scores

    board, scores = run(scenario())
    assert len(board) == 50
    assert all(points == 1 for _, points in board)
    assert all(score[1].correct == 1 for score in scores)


def test_same_user_concurrent_answers_not_lost(store_url):
    async def scenario():
        store = ProgressStore(store_url)
        await store.create_tables()
        ada = Learner("discord", "g1", "u1", "Ada")
        await asyncio.gather(
            *(store.record_answer(ada, 2, f"l2q{i}", "x", correct=i % 2 == 0) for i in range(50))
        )
        results = await store.question_results(ada, 2)
        await store.close()
        return results

    results = run(scenario())
    assert len(results) == 50
    assert sum(result.ever_correct for result in results.values()) == 25


def test_leaderboard_counts_first_tries(store_url):
    async def scenario():
        store = ProgressStore(store_url)
        await store.create_tables()
        ada, bob = Learner("discord", "g1", "a", "Ada"), Learner("discord", "g1", "b", "Bob")
        for _ in range(3):
            await store.record_answer(bob, 1, "l1q1", "2", correct=True)
        await store.record_answer(ada, 1, "l1q1", "1", correct=False)
        await store.record_answer(ada, 1, "l1q1", "2", correct=True)
        await store.record_answer(ada, 1, "l1q2", "3", correct=True)
        await store.record_answer(Learner("discord", "g2", "c", "Cy"), 1, "l1q1", "2", correct=True)
        board = await store.leaderboard("discord", "g1")
        await store.close()
        return board

    # Ada missed l1q1 at the first try, so the retry earns no point; Bob answered first.
    assert run(scenario()) == [("Bob", 1), ("Ada", 1)]


def test_pending_question_set_and_cleared(store_url):
    async def scenario():
        store = ProgressStore(store_url)
        await store.create_tables()
        ada = Learner("discord", "g1", "a", "Ada")
        await store.set_pending(ada, "l1q7")
        await store.set_pending(ada, "l1q8")
        first = await store.pending(ada)
        await store.set_pending(ada, None)
        second = await store.pending(ada)
        await store.close()
        return first, second

    assert run(scenario()) == ("l1q8", None)


def test_feedback_stays_in_its_tenant(store_url):
    async def scenario():
        store = ProgressStore(store_url)
        await store.create_tables()
        ada = Learner("discord", "g1", "u1", "Ada")
        answer_id = await store.record_asked(ada, "what is a loss?", "A loss measures error.", ["[1] lessons/02.md"])
        first = await store.record_feedback(ada, answer_id, True)
        changed = await store.record_feedback(ada, answer_id, False)
        other_guild = await store.record_feedback(Learner("discord", "g2", "u9"), answer_id, True)
        missing = await store.record_feedback(ada, answer_id + 1, True)
        counts = await store.feedback_counts(answer_id)
        stored = await store.asked(answer_id)
        await store.close()
        return first, changed, other_guild, missing, counts, stored

    first, changed, other_guild, missing, counts, stored = run(scenario())
    assert first is True
    assert changed is True
    assert other_guild is False
    assert missing is False
    assert counts == (0, 1)
    assert stored.question == "what is a loss?"
    assert stored.sources == "[1] lessons/02.md"
