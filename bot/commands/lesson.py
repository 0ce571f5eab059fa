"""The course commands: /lesson, /quiz, /answer, /progress and /leaderboard."""

from __future__ import annotations

from functools import lru_cache

from bot import messages
from bot.commands import registry
from bot.commands.demo import service_options
from bot.commands.docs import plural
from bot.core import Choice, Image, Reply, UserError
from bot.router import Context
from lessons.course import Course, Lesson, Question, Step
from lessons.demos import DemoResult, available
from lessons.progress import Learner
from lessons.quiz import grade_choice, grade_free, next_question, presented_order

KIND_LABELS = {"concept": "Concept", "visual": "Picture", "code": "Code", "insight": "In industry"}
LETTERS = "ABCDEFGH"


def learner_of(ctx: Context) -> Learner:
    command = ctx.command
    return Learner(command.platform, command.tenant, command.user, command.user_name)


def _numbers(args: str, usage: str, max_count: int = 2) -> list[int]:
    words = args.split()
    for word in words:
        if not word.lstrip("-").isdigit():
            raise UserError(messages.NOT_A_NUMBER.format(args=word, usage=usage))
    if len(words) > max_count:
        raise UserError(messages.TOO_MANY_NUMBERS.format(count=max_count, usage=usage))
    return [int(word) for word in words]


def _lesson(course: Course, number: int) -> Lesson:
    lesson = course.lesson(number)
    if lesson is None:
        raise UserError(messages.NO_SUCH_LESSON.format(number=number, count=len(course.lessons)))
    return lesson


@registry.command("lesson", usage="[NUMBER] [STEP]")
async def lesson_command(ctx: Context) -> Reply:
    """Open a lesson where you left off, or list the lessons with your progress.

    Args:
        number: The lesson to open, 1 to 6; without it, the list of lessons.
        step: The step to open; without it, the step where you left off.
    """
    course = ctx.services.course
    store = await ctx.services.progress()
    learner = learner_of(ctx)
    numbers = _numbers(ctx.command.args, "/lesson 3 or /lesson 3 2")
    if not numbers:
        return await _lesson_list(course, store, learner)

    lesson = _lesson(course, numbers[0])
    if len(numbers) > 1:
        step = numbers[1]
        if not 1 <= step <= len(lesson.steps):
            raise UserError(messages.NO_SUCH_STEP.format(lesson=lesson.number, step=step, count=len(lesson.steps)))
    else:
        saved = await store.position(learner, lesson.number)
        step = saved.step if saved else 1

    await store.set_position(learner, lesson.number, step)
    reply = render_step(lesson, step, has_quiz=lesson.number in course.quizzes)
    await _add_picture(ctx, lesson.step(step), reply)
    return reply


async def _add_picture(ctx: Context, step: Step, reply: Reply) -> None:
    """Attach the picture of a visual step by running its demo with default arguments, if it is shipped."""
    if step.kind != "visual":
        return
    demo = available().get(step.demo)
    if demo is None or not ctx.services.settings.demos_enabled:
        note = f"_No picture here: the `{step.demo}` demo that draws it is not available, so the text describes it._"
        title, step_line, body = reply.text.split("\n\n", 2)  # as render_step builds it
        reply.text = "\n\n".join((title, step_line, note, body))
        return
    limit = ctx.services.settings.demo_time_limit_seconds
    services = service_options(demo, ctx.services)
    result = await ctx.run_model(lambda: default_result(step.demo, limit, **services))
    reply.images.append(Image(result.png, f"{step.demo}.png", result.command))
    reply.text += f"\n\n_Picture: `{result.command}`; run it with other arguments to explore._"


@lru_cache(maxsize=16)
def default_result(name: str, time_limit: float, **services) -> DemoResult:
    """Run a demo with its defaults once per process and reuse the result.

    Demos are deterministic apart from measured times and sampled model answers,
    so one picture serves every learner. `services` are the bot's services the
    demo takes (see `service_options`), and they are part of the cache key.
    NOTE: a run that the time limit cut short is cached as well.
    """
    return available()[name].run(time_limit=time_limit, **services)


def render_step(lesson: Lesson, number: int, *, has_quiz: bool) -> Reply:
    step = lesson.step(number)
    header = (
        f"**Lesson {lesson.number}: {lesson.title}**\n\n"
        f"Step {number} of {len(lesson.steps)} · {KIND_LABELS[step.kind]} · *{step.title}*"
    )
    body = step.body

    choices = []
    if number > 1:
        choices.append(Choice("Back", f"/lesson {lesson.number} {number - 1}"))
    if number < len(lesson.steps):
        choices.append(Choice("Next", f"/lesson {lesson.number} {number + 1}"))
    elif lesson.number < 6:
        choices.append(Choice(f"Lesson {lesson.number + 1}", f"/lesson {lesson.number + 1}"))
    if has_quiz:
        choices.append(Choice("Quiz", f"/quiz {lesson.number}"))
    return Reply(f"{header}\n\n{body}", choices=choices)


async def _lesson_list(course: Course, store, learner: Learner) -> Reply:
    positions = await store.positions(learner)
    scores = await store.scores(learner)
    lines = ["**Lessons**", ""]
    choices = []
    for number, lesson in sorted(course.lessons.items()):
        position = positions.get(number)
        if position is None:
            status = "not started"
        elif position.steps_viewed >= len(lesson.steps):
            status = "done"
        else:
            status = f"at step {position.step}, {position.steps_viewed} of {len(lesson.steps)} steps read"
        quiz = course.quizzes.get(number, ())
        score = scores.get(number)
        quiz_status = f" · quiz {score.correct}/{len(quiz)}" if score and quiz else ""
        lines.append(f"{number}. {lesson.title} ({status}{quiz_status})")
        choices.append(Choice(f"Lesson {number}", f"/lesson {number}"))
    lines += ["", "Open one with /lesson NUMBER."]
    return Reply("\n".join(lines), choices=choices)


@registry.command("quiz", usage="NUMBER")
async def quiz_command(ctx: Context) -> Reply:
    """Take a lesson's quiz, one question at a time.

    Args:
        number: The lesson whose quiz to take, 1 to 6; `/quiz 3 retry` asks again the ones you missed.
    """
    words = ctx.command.args.split()
    if len(words) >= 4 and words[1] == "answer":
        return await _answer_choice(ctx, words)
    retry = len(words) == 2 and words[1] == "retry"
    numbers = _numbers(words[0] if retry else ctx.command.args, "/quiz 3 or /quiz 3 retry", max_count=1)
    if not numbers:
        raise UserError(messages.QUIZ_MISSING_NUMBER)
    lesson = _lesson(ctx.services.course, numbers[0])
    return await _ask_next(ctx, lesson, retry=retry)


async def _ask_next(ctx: Context, lesson: Lesson, *, retry: bool = False) -> Reply:
    course = ctx.services.course
    questions = course.quizzes.get(lesson.number)
    if not questions:
        raise UserError(messages.NO_QUIZ.format(number=lesson.number))

    store = await ctx.services.progress()
    learner = learner_of(ctx)
    results = await store.question_results(learner, lesson.number)
    question = next_question(questions, results, retry=retry)
    if question is None:  # every question answered once (or, on a retry, answered right)
        await store.set_pending(learner, None)
        return _quiz_summary(lesson, questions, results)

    position = questions.index(question) + 1
    again = " · again" if question.id in results else ""
    header = f"**Quiz {lesson.number} · question {position} of {len(questions)}{again}** (tests step {question.step})"
    if question.kind == "choice":
        await store.set_pending(learner, question.id)
        order = presented_order(question)
        lines = [header, "", question.prompt, ""]
        lines += [f"- {LETTERS[shown]}) {question.choices[index].text}" for shown, index in enumerate(order)]
        choices = [
            Choice(LETTERS[shown], f"/quiz {lesson.number} answer {question.id} {index + 1}")
            for shown, index in enumerate(order)
        ]
        return Reply("\n".join(lines), choices=choices)

    await store.set_pending(learner, question.id)
    return Reply(f"{header}\n\n{question.prompt}\n\nReply with `/answer` and your answer in a sentence or two.")


def _quiz_summary(lesson: Lesson, questions, results) -> Reply:
    first = sum(result.first_correct for result in results.values())
    now = sum(result.ever_correct for result in results.values())
    missed = len(questions) - now
    text = f"**Quiz {lesson.number} done:** {first} of {len(questions)} right at the first try"
    text += "." if now == first else f", {now} of {len(questions)} right now."
    choices = []
    if missed:
        text += f" Retry the {plural(missed, 'question')} you missed, or review the steps they test."
        choices.append(Choice("Retry missed", f"/quiz {lesson.number} retry"))
    if lesson.number < 6:
        choices.append(Choice(f"Lesson {lesson.number + 1}", f"/lesson {lesson.number + 1}"))
    choices.append(Choice("Progress", "/progress"))
    return Reply(text, choices=choices)


async def _answer_choice(ctx: Context, words: list[str]) -> Reply:
    """Handle `/quiz N answer QUESTION_ID CHOICE`, which a choice button sends; CHOICE counts from 1 in file order."""
    course = ctx.services.course
    question = course.question(words[2])
    if question is None or question.kind != "choice":
        raise UserError(messages.NO_SUCH_QUESTION.format(question=words[2]))
    try:
        picked = int(words[3])
    except ValueError:
        picked = 0
    if not 1 <= picked <= len(question.choices):
        raise UserError(messages.NO_SUCH_CHOICE.format(count=len(question.choices)))

    store = await ctx.services.progress()
    learner = learner_of(ctx)
    was_answered = question.id in await store.question_results(learner, question.lesson)
    grade = grade_choice(question, picked)
    await store.record_answer(learner, question.lesson, question.id, str(picked), grade.correct)
    await store.set_pending(learner, None)

    chosen = question.choices[picked - 1]
    lines = [f"✅ Right: {chosen.text}" if grade.correct else f"❌ Not quite: {chosen.text}", "", chosen.explanation]
    if not grade.correct:
        order = presented_order(question)
        right_index = next(i for i, choice in enumerate(question.choices) if choice.correct)
        right = question.choices[right_index]
        letter = LETTERS[order.index(right_index)]
        lines += ["", f"The answer is {letter}) {right.text.rstrip('.')}. {right.explanation}"]
    return Reply("\n".join(lines), choices=_after_answer(question, retry=was_answered))


def _after_answer(question: Question, *, retry: bool) -> list[Choice]:
    next_command = f"/quiz {question.lesson} retry" if retry else f"/quiz {question.lesson}"
    return [
        Choice("Next question", next_command),
        Choice(f"Review step {question.step}", f"/lesson {question.lesson} {question.step}"),
    ]


@registry.command("answer", usage="TEXT", expensive=True)
async def answer_command(ctx: Context) -> Reply:
    """Answer the open free-text quiz question in your own words.

    Args:
        text: Your answer, a sentence or two.
    """
    text = ctx.command.args.strip()
    if not text:
        raise UserError(messages.ANSWER_MISSING_TEXT)
    store = await ctx.services.progress()
    learner = learner_of(ctx)
    question_id = await store.pending(learner)
    question = ctx.services.course.question(question_id) if question_id else None
    if question is None:
        raise UserError(messages.NO_OPEN_QUESTION)
    if question.kind == "choice":
        raise UserError(messages.OPEN_QUESTION_IS_CHOICE)
    was_answered = question.id in await store.question_results(learner, question.lesson)

    embedder = ctx.services.knowledge.embedder
    grade = await ctx.run_model(grade_free, question, text, embedder)
    await store.record_answer(learner, question.lesson, question.id, text, grade.correct)
    await store.set_pending(learner, None)

    verdict = "✅ That matches the idea." if grade.correct else "❌ That misses the key idea."
    lines = [f"{verdict} (similarity to the reference answer: {grade.similarity:.2f})", ""]
    lines.append(f"A model answer: {question.reference_answers[0]}")
    if question.explanation:
        lines += ["", question.explanation]
    return Reply("\n".join(lines), choices=_after_answer(question, retry=was_answered))


@registry.command("progress")
async def progress_command(ctx: Context) -> Reply:
    """Show your lessons done, quiz scores and what to do next."""
    course = ctx.services.course
    store = await ctx.services.progress()
    learner = learner_of(ctx)
    positions = await store.positions(learner)
    scores = await store.scores(learner)

    lines = ["**Your progress**", "", "| lesson | steps | quiz |", "|---|---|---|"]
    suggestion = None
    for number, lesson in sorted(course.lessons.items()):
        position = positions.get(number)
        viewed = position.steps_viewed if position else 0
        quiz = course.quizzes.get(number, ())
        score = scores.get(number)
        right = score.correct if score else 0
        lines.append(f"| {number}. {lesson.title} | {viewed}/{len(lesson.steps)} | {right}/{len(quiz)} |")
        if suggestion is None and viewed < len(lesson.steps):
            step = position.first_unread(len(lesson.steps)) if position else 1
            verb = "Continue" if position else "Start"
            suggestion = Choice(f"{verb} lesson {number}", f"/lesson {number} {step}")
        elif suggestion is None and quiz and right < len(quiz):
            suggestion = Choice(f"Quiz {number}", f"/quiz {number}")

    if suggestion is None:
        lines += ["", "You have finished every lesson and quiz. Try /ask with your own questions."]
        return Reply("\n".join(lines))
    lines += ["", f"Next: {suggestion.label} ({suggestion.command})."]
    return Reply("\n".join(lines), choices=[suggestion])


@registry.command("leaderboard")
async def leaderboard_command(ctx: Context) -> Reply:
    """Rank this server's or workspace's learners by quiz points."""
    store = await ctx.services.progress()
    ranking = await store.leaderboard(ctx.command.platform, ctx.command.tenant)
    if not ranking:
        return Reply("No quiz answers here yet. Start with /quiz 1.")
    lines = ["**Leaderboard** (one point per quiz question answered right at the first try)", ""]
    lines += [f"{place}. {name}: {points}" for place, (name, points) in enumerate(ranking, start=1)]
    return Reply("\n".join(lines))
