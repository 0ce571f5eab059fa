"""`/demo rag "question"`: the bot's own RAG pipeline laid open, from retrieved chunks to the answer.

It runs what /ask runs, through the same `Answerer`: vector search over the
knowledge base, merging chunks of the same section, the score threshold, the
chat messages built for the model, and the answer (the model's, or the
extractive one without a model). It searches only the built-in lessons, so
the result, which a lesson caches and shows to everyone, never contains a
server's own documents.
"""

from __future__ import annotations

import textwrap
import time

from lessons.demos import Demo, DemoResult, text_argument
from lessons.demos.nexttoken import MAX_TEXT_CHARS
from lessons.demos.plotting import new_figure, to_png

DEFAULT_QUESTION = "What is a vector database?"
SHOWN_PASSAGE_CHARS = 300  # characters of each passage shown in the chat, while the facts keep the whole prompt
LABEL_CHARS = 40
TEXT_COLUMNS, TEXT_LINES = 60, 9  # monospace block of the prompt outline and of the answer in the picture


def retrieve(answerer, question: str):
    """Return (the raw top-k chunks of the search, the answer plan built from them) for the built-in lessons."""
    from knowledge.base import BUILTIN_TENANT

    hits = answerer.knowledge.search(question, BUILTIN_TENANT, answerer.top_k)
    plan = answerer.retrieve(question, BUILTIN_TENANT)
    return hits, plan


def sent_to_model(hit, plan) -> bool:
    """Tell whether a raw chunk is part of a passage in the prompt (passages merge chunks of one section)."""
    return plan.covered and any((hit.doc_id, hit.location) == (p.doc_id, p.location) for p in plan.hits)


def run(question: str = DEFAULT_QUESTION, time_limit: float = 20.0, answerer=None) -> DemoResult:
    from knowledge.answer import build_messages

    if answerer is None:
        raise RuntimeError("the rag demo needs the knowledge base: run it from the bot, which passes its answerer")
    deadline = time.monotonic() + time_limit
    hits, plan = retrieve(answerer, question)
    messages = build_messages(plan.question, plan.hits) if plan.covered else []
    answer, stopped_early = _answer(answerer, plan, deadline)

    mode = answerer.knowledge.mode.value
    lines = [
        f"**1. Retrieved** for {question!r} from the built-in lessons: top {answerer.top_k}, "
        f"in {mode} rank order, each with its cosine similarity to the question:"
    ]
    lines.append("\n".join(
        f"{rank}. {hit.score:.3f} {_where(hit)}" + (" (in the prompt)" if sent_to_model(hit, plan) else "")
        for rank, hit in enumerate(hits, start=1)
    ) or "(nothing stored)")
    lines.append(_prompt_section(answerer, plan, messages))
    backend = answerer.llm.name if answerer.llm else "extractive: the passage sentences closest to the question"
    lines.append(f"**3. Answer** ({backend}):\n> " + answer.strip().replace("\n", "\n> "))
    if stopped_early:
        lines.append(f"The answer stopped early: the demo's {time_limit:.0f} s limit ran out.")
    if answerer.llm is not None:
        lines.append("A model that samples (temperature above 0) may word the answer differently on each run.")
    command = f'/demo rag "{question}"'
    lines.append(f"Reproduce: `{command}`")
    png = _draw(question, hits, plan, answerer.score_threshold, messages, answer)
    facts = {
        "hits": hits, "passages": plan.hits, "covered": plan.covered, "messages": messages, "answer": answer,
        "threshold": answerer.score_threshold,
    }
    return DemoResult("\n\n".join(lines), png, command, facts)


def _answer(answerer, plan, deadline: float) -> tuple[str, bool]:
    """Collect the streamed answer and return (the text so far, whether the deadline cut it)."""
    # NOTE: the deadline is checked between streamed sentences, so a slow model can overrun it by one sentence.
    pieces = []
    for piece in answerer.generate(plan):
        pieces.append(piece)
        if time.monotonic() > deadline:
            return "".join(pieces), True
    return "".join(pieces), False


def _prompt_section(answerer, plan, messages) -> str:
    if not plan.covered:
        return f"**2. Prompt**: none sent. {plan.notice}"
    total = sum(len(message["content"]) for message in messages)
    shortened_messages = []
    for message in messages:
        content = message["content"]
        if message["role"] == "user":
            content = _shorten_passages(content, plan)
        shortened_messages.append(f"[{message['role']}]\n{content}")
    heading = f"**2. Prompt**, {total} characters; passage texts are shortened here to {SHOWN_PASSAGE_CHARS}."
    if answerer.llm is None:
        heading += " No model is configured (LLM_BACKEND=extractive), so it is built but not sent."
    return heading + "\n```\n" + "\n\n".join(shortened_messages) + "\n```"


def _shorten_passages(content: str, plan) -> str:
    for hit in plan.hits:
        text = hit.text.replace("<passages>", "(passages)").replace("</passages>", "(/passages)")
        if len(text) > SHOWN_PASSAGE_CHARS:
            content = content.replace(text, text[:SHOWN_PASSAGE_CHARS].rstrip() + " …", 1)
    return content


def _where(hit) -> str:
    return f"{hit.source} > {hit.location}" if hit.location else hit.source


def _label(rank: int, hit) -> str:
    """Return a two-line label: rank and file name, then the section, each shortened to fit the chart."""
    name = hit.source.rsplit("/", 1)[-1]
    section = textwrap.shorten(hit.location, LABEL_CHARS, placeholder="…") if hit.location else "(no section)"
    return f"{rank}. {textwrap.shorten(name, LABEL_CHARS, placeholder='…')}\n{section}"


def _draw(question, hits, plan, threshold, messages, answer) -> bytes:
    figure = new_figure()
    grid = figure.add_gridspec(2, 1, height_ratios=[1.7, 1])
    _draw_scores(figure.add_subplot(grid[0]), hits, plan, threshold)
    # The bottom row stays empty so the layout leaves room for the two text blocks. They are placed in
    # figure coordinates because an axes there would be aligned with the chart's wide tick labels.
    figure.add_subplot(grid[1]).axis("off")
    _draw_text(figure, 0.01, "2. The prompt (outline)", _prompt_outline(plan, messages))
    _draw_text(figure, 0.51, "3. The answer", textwrap.fill(" ".join(answer.split()), TEXT_COLUMNS))
    verdict = "answered from the passages" if plan.covered else "best score below the threshold: not answered"
    title = textwrap.shorten(question, 60, placeholder="…")
    figure.suptitle(f"RAG for {title!r}: {verdict}", fontsize=11)
    return to_png(figure)


def _draw_scores(panel, hits, plan, threshold) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    positions = list(range(len(hits)))
    colors = ["tab:blue" if sent_to_model(hit, plan) else "tab:gray" for hit in hits]
    labels = [_label(rank, hit) for rank, hit in enumerate(hits, start=1)]
    bars = panel.barh(positions, [hit.score for hit in hits], color=colors)
    panel.bar_label(bars, fmt="%.3f", padding=3, fontsize=8)
    panel.axvline(threshold, color="tab:red", linestyle="--", linewidth=1.5)
    panel.set_yticks(positions, labels, fontsize=7)
    panel.invert_yaxis()
    panel.set_xlim(min([0.0] + [hit.score - 0.05 for hit in hits]), 1)
    panel.set_xlabel("cosine similarity to the question", fontsize=9)
    panel.set_title("1. Retrieved chunks, in rank order", fontsize=10)

    legend = [
        Patch(color="tab:blue", label="in the prompt"),
        Patch(color="tab:gray", label="retrieved, left out"),
        Line2D([0], [0], color="tab:red", linestyle="--", label=f"threshold {threshold:.2f}"),
    ]
    panel.legend(handles=legend, loc="lower right", fontsize=7)


def _prompt_outline(plan, messages) -> str:
    """Summarise the messages in a few lines: the rules' first line, one line per passage, the question."""
    if not messages:
        return "None sent: no chunk scored above the threshold."
    rules = messages[0]["content"].splitlines()
    lines = [f"[system] {textwrap.shorten(rules[0], 36, placeholder='…')} +{len(rules) - 1} lines", "[user] <passages>"]
    for number, hit in enumerate(plan.hits, start=1):
        name = hit.source.rsplit("/", 1)[-1]
        where = textwrap.shorten(f"[{number}] {name} > {hit.location}", TEXT_COLUMNS - 14, placeholder="…")
        lines.append(f"{where} ({len(hit.text)} chars)")
    lines += ["</passages>", textwrap.shorten(f"Question: {plan.question}", TEXT_COLUMNS, placeholder="…")]
    return "\n".join(lines)


def _draw_text(figure, left: float, title: str, text: str) -> None:
    lines = text.splitlines()
    visible_text = "\n".join(lines[:TEXT_LINES]) + ("\n…" if len(lines) > TEXT_LINES else "")
    figure.text(left, 0.285, title, fontsize=10, va="top")
    figure.text(left, 0.24, visible_text, fontsize=7.5, family="monospace", va="top")


def parse(args: str) -> dict:
    """Read the question, with or without quotes; empty means the default question."""
    return text_argument(args, "question", MAX_TEXT_CHARS)


DEMO = Demo(
    name="rag",
    usage='["question"]',
    description="Trace one question through the RAG pipeline: retrieved chunks, the prompt, the answer.",
    run=run,
    parse=parse,
    needs_knowledge=True,
)
