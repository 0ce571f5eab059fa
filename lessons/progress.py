"""Each learner's place in the lessons and their quiz answers, in SQL through SQLAlchemy's asyncio API.

SQLite (aiosqlite) by default; DATABASE_URL may point at PostgreSQL
(`postgresql+asyncpg://...`, with the `postgres` extra installed) when several
bot processes share state. NOTE: the tests run on SQLite only; the PostgreSQL
statements (ON CONFLICT, GREATEST) follow its dialect but have not been run. Learners are keyed by (platform, tenant, user).
Quiz answers are only ever inserted, never updated, so concurrent answers
cannot overwrite each other; scores are computed from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import Boolean, DateTime, Integer, String, Text, event, func, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class LessonPosition(Base):
    __tablename__ = "lesson_position"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    user: Mapped[str] = mapped_column(String(64), primary_key=True)
    lesson: Mapped[int] = mapped_column(Integer, primary_key=True)
    step: Mapped[int] = mapped_column(Integer)
    viewed: Mapped[int] = mapped_column(Integer)  # bit k set: step k was opened
    user_name: Mapped[str] = mapped_column(String(100), default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class QuizAnswer(Base):
    __tablename__ = "quiz_answer"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(16), index=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    user: Mapped[str] = mapped_column(String(64), index=True)
    user_name: Mapped[str] = mapped_column(String(100), default="")
    lesson: Mapped[int] = mapped_column(Integer)
    question_id: Mapped[str] = mapped_column(String(32))
    answer: Mapped[str] = mapped_column(Text)
    correct: Mapped[bool] = mapped_column(Boolean)
    answered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PendingQuestion(Base):
    """The free-text question each learner was shown last, which /answer grades."""

    __tablename__ = "pending_question"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), primary_key=True)
    user: Mapped[str] = mapped_column(String(64), primary_key=True)
    question_id: Mapped[str] = mapped_column(String(32))


class AskedAnswer(Base):
    """An answer /ask gave, kept so that 👍 / 👎 feedback can be read next to what was asked and shown."""

    __tablename__ = "asked_answer"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(16), index=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    user: Mapped[str] = mapped_column(String(64))
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    sources: Mapped[str] = mapped_column(Text)  # one citation label per line, in citation order
    asked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AnswerFeedback(Base):
    """One person's vote on one answer; voting again replaces their earlier vote."""

    __tablename__ = "answer_feedback"

    answer_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    user: Mapped[str] = mapped_column(String(64), primary_key=True)
    helpful: Mapped[bool] = mapped_column(Boolean)
    voted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class Learner:
    platform: str
    tenant: str
    user: str
    name: str = ""


@dataclass(frozen=True)
class LessonProgress:
    lesson: int
    step: int  # where the learner is now
    viewed: int  # bit mask of the steps opened at least once

    @property
    def steps_viewed(self) -> int:
        return bin(self.viewed).count("1")

    def first_unread(self, step_count: int) -> int:
        """Return the first step never opened, or the current step when all were."""
        return next((k for k in range(1, step_count + 1) if not self.viewed >> k & 1), self.step)


@dataclass(frozen=True)
class QuestionResult:
    first_correct: bool  # the learner's first answer was right
    ever_correct: bool


@dataclass(frozen=True)
class QuizScore:
    lesson: int
    correct: int  # distinct questions answered right at least once
    answered: int  # distinct questions answered at all


def _now() -> datetime:
    return datetime.now(timezone.utc)


class ProgressStore:
    def __init__(self, url: str):
        self.url = url
        self.engine: AsyncEngine = create_async_engine(url)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    async def create_tables(self) -> None:
        async with self.engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)

    async def close(self) -> None:
        await self.engine.dispose()

    def _insert(self, table):
        """Return an INSERT that supports ON CONFLICT DO UPDATE in this database's dialect."""
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert

            return insert(table)
        return sqlite_insert(table)

    async def set_position(self, learner: Learner, lesson: int, step: int) -> LessonProgress:
        """Record that the learner is on `step` of `lesson`, and that this step was viewed."""
        now = _now()
        bit = 1 << step
        statement = self._insert(LessonPosition).values(
            platform=learner.platform, tenant=learner.tenant, user=learner.user, lesson=lesson,
            step=step, viewed=bit, user_name=learner.name, updated_at=now,
        )
        statement = statement.on_conflict_do_update(
            index_elements=["platform", "tenant", "user", "lesson"],
            set_=dict(
                step=step,
                viewed=LessonPosition.viewed.op("|")(bit),
                user_name=learner.name,
                updated_at=now,
            ),
        )
        async with self.sessions.begin() as session:
            await session.execute(statement)
        return await self.position(learner, lesson)

    async def set_pending(self, learner: Learner, question_id: str | None) -> None:
        """Remember the free-text question shown to the learner, or forget it with None."""
        async with self.sessions.begin() as session:
            if question_id is None:
                row = await session.get(PendingQuestion, (learner.platform, learner.tenant, learner.user))
                if row is not None:
                    await session.delete(row)
                return
            statement = self._insert(PendingQuestion).values(
                platform=learner.platform, tenant=learner.tenant, user=learner.user, question_id=question_id
            )
            statement = statement.on_conflict_do_update(
                index_elements=["platform", "tenant", "user"], set_=dict(question_id=question_id)
            )
            await session.execute(statement)

    async def pending(self, learner: Learner) -> str | None:
        async with self.sessions() as session:
            row = await session.get(PendingQuestion, (learner.platform, learner.tenant, learner.user))
            return row.question_id if row else None

    async def position(self, learner: Learner, lesson: int) -> LessonProgress | None:
        async with self.sessions() as session:
            row = await session.get(LessonPosition, (learner.platform, learner.tenant, learner.user, lesson))
            return LessonProgress(row.lesson, row.step, row.viewed) if row else None

    async def positions(self, learner: Learner) -> dict[int, LessonProgress]:
        async with self.sessions() as session:
            rows = await session.scalars(
                select(LessonPosition).where(
                    LessonPosition.platform == learner.platform,
                    LessonPosition.tenant == learner.tenant,
                    LessonPosition.user == learner.user,
                )
            )
            return {row.lesson: LessonProgress(row.lesson, row.step, row.viewed) for row in rows}

    async def record_answer(self, learner: Learner, lesson: int, question_id: str, answer: str, correct: bool) -> None:
        async with self.sessions.begin() as session:
            session.add(
                QuizAnswer(
                    platform=learner.platform, tenant=learner.tenant, user=learner.user, user_name=learner.name,
                    lesson=lesson, question_id=question_id, answer=answer[:2000], correct=correct,
                    answered_at=_now(),
                )
            )

    async def scores(self, learner: Learner) -> dict[int, QuizScore]:
        """Per lesson: distinct questions answered, and answered right at least once."""
        async with self.sessions() as session:
            rows = await session.execute(
                select(
                    QuizAnswer.lesson,
                    func.count(func.distinct(QuizAnswer.question_id)),
                    func.count(func.distinct(_correct_question())),
                )
                .where(
                    QuizAnswer.platform == learner.platform,
                    QuizAnswer.tenant == learner.tenant,
                    QuizAnswer.user == learner.user,
                )
                .group_by(QuizAnswer.lesson)
            )
            return {lesson: QuizScore(lesson, correct, answered) for lesson, answered, correct in rows}

    async def question_results(self, learner: Learner, lesson: int) -> dict[str, QuestionResult]:
        """Per question of the lesson the learner has answered: first answer right, any answer right."""
        mine = (
            QuizAnswer.platform == learner.platform,
            QuizAnswer.tenant == learner.tenant,
            QuizAnswer.user == learner.user,
            QuizAnswer.lesson == lesson,
        )
        first_ids = select(func.min(QuizAnswer.id)).where(*mine).group_by(QuizAnswer.question_id)
        async with self.sessions() as session:
            ever = dict(
                (await session.execute(
                    select(QuizAnswer.question_id, func.max(QuizAnswer.correct)).where(*mine).group_by(QuizAnswer.question_id)
                )).all()
            )
            first = dict(
                (await session.execute(
                    select(QuizAnswer.question_id, QuizAnswer.correct).where(QuizAnswer.id.in_(first_ids))
                )).all()
            )
        return {qid: QuestionResult(bool(first[qid]), bool(ever[qid])) for qid in ever}

    async def leaderboard(self, platform: str, tenant: str, limit: int = 10) -> list[tuple[str, int]]:
        """Learners of one server or workspace ranked by quiz points: questions answered right at the first try.

        Retrying a missed question helps the learner, not their rank.
        """
        first_ids = (
            select(func.min(QuizAnswer.id))
            .where(QuizAnswer.platform == platform, QuizAnswer.tenant == tenant)
            .group_by(QuizAnswer.user, QuizAnswer.question_id)
        )
        points = func.count(_correct_question())
        async with self.sessions() as session:
            rows = await session.execute(
                select(QuizAnswer.user, func.max(QuizAnswer.user_name), points)
                .where(QuizAnswer.id.in_(first_ids))
                .group_by(QuizAnswer.user)
                .having(points > 0)
                .order_by(points.desc(), func.min(QuizAnswer.answered_at))
                .limit(limit)
            )
            return [(name or user, count) for user, name, count in rows]


    async def record_asked(self, learner: Learner, question: str, answer: str, sources: list[str]) -> int:
        """Store an /ask answer with its question and source labels, and return its id."""
        row = AskedAnswer(
            platform=learner.platform, tenant=learner.tenant, user=learner.user,
            question=question[:4000], answer=answer[:20000], sources="\n".join(sources), asked_at=_now(),
        )
        async with self.sessions.begin() as session:
            session.add(row)
            await session.flush()
            return row.id

    async def asked(self, answer_id: int) -> AskedAnswer | None:
        async with self.sessions() as session:
            return await session.get(AskedAnswer, answer_id)

    async def record_feedback(self, learner: Learner, answer_id: int, helpful: bool) -> bool:
        """Store the learner's vote on an answer of their own server or workspace.

        Returns False, storing nothing, when no such answer exists there.
        """
        now = _now()
        async with self.sessions.begin() as session:
            answer = await session.get(AskedAnswer, answer_id)
            if answer is None or (answer.platform, answer.tenant) != (learner.platform, learner.tenant):
                return False
            statement = self._insert(AnswerFeedback).values(
                answer_id=answer_id, platform=learner.platform, user=learner.user, helpful=helpful, voted_at=now
            )
            statement = statement.on_conflict_do_update(
                index_elements=["answer_id", "platform", "user"], set_=dict(helpful=helpful, voted_at=now)
            )
            await session.execute(statement)
        return True

    async def feedback_counts(self, answer_id: int) -> tuple[int, int]:
        """Return the (helpful, unhelpful) vote counts of an answer."""
        async with self.sessions() as session:
            rows = await session.execute(
                select(AnswerFeedback.helpful, func.count())
                .where(AnswerFeedback.answer_id == answer_id)
                .group_by(AnswerFeedback.helpful)
            )
            counts = {bool(helpful): count for helpful, count in rows}
        return counts.get(True, 0), counts.get(False, 0)


def _correct_question():
    """Return the question id where the answer was right, else NULL, which COUNT skips."""
    from sqlalchemy import case

    return case((QuizAnswer.correct.is_(True), QuizAnswer.question_id), else_=None)


def _sqlite_pragmas(connection, _record) -> None:
    # WAL lets readers run during a write; busy_timeout makes a writer wait for
    # the lock instead of failing with "database is locked" under concurrent answers.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
