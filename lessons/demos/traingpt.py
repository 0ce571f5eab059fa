"""`/demo train-gpt [steps] [seed]`: train the tiny character GPT on the lessons and watch the loss and samples.

The model is the one in lessons/demos/tinygpt.py. The picture shows the
training loss at every step, estimates of the training and held-out loss
(the last 10% of the lessons, never trained on) and text sampled from the
same prompt and seed at four points of the run.
"""

from __future__ import annotations

import math
import textwrap

from lessons.demos import MAX_SEED, Demo, DemoResult, whole_numbers
from lessons.demos.plotting import new_figure, to_png

DEFAULT_STEPS = 500
MAX_STEPS = 5000
SAMPLE_PROMPT = "The "
SAMPLE_LENGTH = 72


def sample_steps(steps: int) -> tuple[int, ...]:
    """Return the steps after which a sample is drawn: the first, about 10% and 35% of the run, and the last."""
    return tuple(sorted({1, max(1, steps // 10), max(1, steps * 35 // 100), steps}))


def run(steps: int = DEFAULT_STEPS, seed: int = 0, time_limit: float = 30.0) -> DemoResult:
    from lessons.demos import tinygpt

    training = tinygpt.train(
        steps, seed, time_limit=time_limit, sample_steps=sample_steps(steps), sample_prompt=SAMPLE_PROMPT,
        sample_length=SAMPLE_LENGTH,
    )
    uniform = math.log(len(tinygpt.ALPHABET))
    _, first_train, first_held_out = training.evaluations[0]
    last_step, last_train, last_held_out = training.evaluations[-1]
    parameters = sum(p.numel() for p in training.model.parameters())

    lines = [
        f"A {tinygpt.LAYERS}-block character transformer ({tinygpt.HEADS} heads, embedding {tinygpt.EMBEDDING}, "
        f"{parameters:,} parameters, context {tinygpt.BLOCK_SIZE} characters) trained on the lessons for "
        f"{training.steps_run} steps in {training.seconds:.1f} s.",
        f"Held-out loss: {first_held_out:.2f} before training (uniform guessing over {len(tinygpt.ALPHABET)} "
        f"characters is ln {len(tinygpt.ALPHABET)} = {uniform:.2f}), {last_held_out:.2f} after step {last_step} "
        f"(training loss {last_train:.2f}), in nats per character; per-character perplexity "
        f"{math.exp(last_held_out):.1f}.",
        "Samples after the prompt " + repr(SAMPLE_PROMPT) + f" (temperature {tinygpt.SAMPLE_TEMPERATURE}):\n"
        + "\n".join(f"- after step {step}: {text!r}" for step, text in sorted(training.samples.items())),
    ]
    if training.stopped_early:
        lines.append(f"Stopped at step {training.steps_run} of {steps}: the demo's {time_limit:.0f} s limit ran out.")
    command = f"/demo train-gpt {steps} {seed}"
    lines.append(f"Reproduce: `{command}`")

    png = _draw(training, uniform)
    facts = {
        "losses": training.losses,
        "evaluations": training.evaluations,
        "samples": training.samples,
        "steps_run": training.steps_run,
        "held_out_loss": last_held_out,
        "first_held_out_loss": first_held_out,
        "parameters": parameters,
        "seconds": training.seconds,
    }
    return DemoResult("\n\n".join(lines), png, command, facts)


def _draw(training, uniform: float) -> bytes:
    figure = new_figure()
    curve, samples = figure.subplots(1, 2, width_ratios=[1.1, 1])

    steps = range(1, training.steps_run + 1)
    curve.plot(steps, training.losses, color="tab:blue", alpha=0.35, linewidth=0.8, label="training batch")
    evaluated = [step for step, _, _ in training.evaluations]
    curve.plot(evaluated, [train for _, train, _ in training.evaluations], "o-", color="tab:blue", markersize=3,
               label="training estimate")
    curve.plot(evaluated, [held for _, _, held in training.evaluations], "s-", color="tab:orange", markersize=3,
               label="held-out estimate")
    curve.axhline(uniform, color="gray", linestyle="--", linewidth=1, label=f"uniform guess, ln {round(math.exp(uniform))}")
    curve.set_xlabel("training step")
    curve.set_ylabel("cross-entropy (nats per character)")
    curve.set_title("loss", fontsize=10)
    curve.legend(fontsize=8, loc="center right")

    samples.axis("off")
    samples.set_title(f"samples after {SAMPLE_PROMPT!r}", fontsize=10)
    y = 1.0
    for step, text in sorted(training.samples.items()):
        samples.text(0, y, f"after step {step}", fontsize=9, fontweight="bold", va="top", transform=samples.transAxes)
        wrapped = textwrap.fill(text.replace("\n", "↵"), 46)
        samples.text(0, y - 0.06, wrapped, fontsize=8, fontfamily="monospace", va="top", transform=samples.transAxes)
        y -= 0.06 + 0.045 * (wrapped.count("\n") + 1) + 0.05

    title = f"Tiny character GPT on the lessons: {training.steps_run} steps, seed {training.seed}"
    if training.stopped_early:
        title += " (stopped by the time limit)"
    figure.suptitle(title, fontsize=11)
    return to_png(figure)


def parse(args: str) -> dict:
    """Read `[steps] [seed]` from the chat."""
    fields = (("steps", "steps", 1, MAX_STEPS), ("seed", "seed", 0, MAX_SEED))
    return whole_numbers(args, fields, "steps and seed", "/demo train-gpt 500 0")


DEMO = Demo(
    name="train-gpt",
    usage="[steps] [seed]",
    description="Train a tiny character-level GPT on the lessons and watch its loss fall and its samples improve.",
    run=run,
    parse=parse,
)
