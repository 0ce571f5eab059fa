import logging
import time

from bot import messages
from bot.commands import registry
from bot.core import Citation, LiveMessage, Reply, UserError, iterate_in_thread
from bot.router import Context

logger = logging.getLogger(__name__)

TYPING_MARK = " ▌"


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
    await live.finish(Reply(text.strip(), citations=citations))

    logger.info(
        "answered retrieval=%.3f s generation=%.3f s covered=%s best=%.3f %s",
        retrieved - started,
        time.monotonic() - retrieved,
        plan.covered,
        plan.hits[0].score if plan.hits else float("nan"),
        ctx.command.log_ids(),
    )
