import logging
import time

from bot import messages
from bot.commands import registry
from bot.commands.lesson import learner_of
from bot.core import Choice, Citation, LiveMessage, Reply, UserError, iterate_in_thread
from bot.router import Context

logger = logging.getLogger(__name__)

TYPING_MARK = " ▌"


def feedback_choices(answer_id: int) -> list[Choice]:
    return [Choice("👍", f"/feedback up {answer_id}"), Choice("👎", f"/feedback down {answer_id}")]


@registry.command("ask", usage="QUESTION", expensive=True)
async def ask_command(ctx: Context) -> None:
    """Answer a question from the knowledge base, with numbered sources.

    Args:
        question: What you want to know, in plain words.
    """
    question = ctx.command.args.strip()
    if not question:
        raise UserError(messages.ASK_MISSING_QUESTION)

    answerer = ctx.services.answerer
    started = time.monotonic()
    plan = await ctx.run_model(answerer.retrieve, question, ctx.command.tenant)
    retrieved = time.monotonic()

    citations = []
    if plan.covered:
        citations = [
            Citation(number, hit.source, hit.location, round(hit.score, 3))
            for number, hit in enumerate(plan.hits, start=1)
        ]

    live = LiveMessage(ctx.responder)
    text = ""
    async with ctx.router.model_slots:
        async for piece in iterate_in_thread(lambda: answerer.generate(plan)):
            text += piece
            await live.update(Reply(text + TYPING_MARK))
    text = text.strip()
    store = await ctx.services.progress()
    answer_id = await store.record_asked(
        learner_of(ctx), question, text, [f"[{citation.number}] {citation.label()}" for citation in citations]
    )
    await live.finish(Reply(text, citations=citations, choices=feedback_choices(answer_id)))

    logger.info(
        "answered retrieval=%.3f s generation=%.3f s covered=%s best=%.3f %s",
        retrieved - started,
        time.monotonic() - retrieved,
        plan.covered,
        plan.hits[0].score if plan.hits else float("nan"),
        ctx.command.log_ids(),
    )


@registry.command("feedback", usage="up|down ANSWER_ID", hidden=True)
async def feedback_command(ctx: Context) -> Reply:
    """Rate an /ask answer as helpful or not; the 👍 and 👎 buttons under each answer run this.

    Args:
        vote: up for a helpful answer, down for an unhelpful one.
        answer_id: The number of the answer, which its buttons carry.
    """
    words = ctx.command.args.split()
    if len(words) != 2 or words[0] not in ("up", "down") or not words[1].isdigit():
        raise UserError(messages.FEEDBACK_USAGE)

    answer_id = int(words[1])
    store = await ctx.services.progress()
    if not await store.record_feedback(learner_of(ctx), answer_id, words[0] == "up"):
        raise UserError(messages.FEEDBACK_NO_ANSWER.format(answer_id=answer_id))
    logger.info("feedback %s on answer %d %s", words[0], answer_id, ctx.command.log_ids())
    return Reply(f"Thanks, your {'👍' if words[0] == 'up' else '👎'} on answer {answer_id} is recorded.")
