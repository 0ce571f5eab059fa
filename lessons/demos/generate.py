"""`/demo generate [prompt]`: four generators continue the same prompt, from random words to a real model.

1. Random words: each next word is drawn uniformly from the lessons' word list.
   It has no probability for text that uses words outside its list, so it has no perplexity.
2. A character bigram model: counts of which character follows which in the
   training part of the lessons, with add-0.1 smoothing.
3. The tiny character GPT (tinygpt.py) after its brief, cached training.
4. SmolLM2-135M-Instruct, the embedded small language model, as a plain continuation.

All four are scored on the same held-out excerpt of the lessons (never
trained on by 2 and 3). Perplexity is per character: exp(total negative
log-likelihood / characters), which compares models with different
vocabularies on the same text. SmolLM2's per-token perplexity is reported
too but is not comparable with the others.
"""

from __future__ import annotations

import math
import random
import re
import time
from functools import lru_cache

from lessons.demos import Demo, DemoResult, text_argument
from lessons.demos.plotting import new_figure, to_png

DEFAULT_PROMPT = "The model reads the prompt and"
MAX_PROMPT_CHARS = 100
SEED = 0
RANDOM_WORDS = 12
SAMPLE_CHARS = 80
SMOLLM2_TOKENS = 24
BIGRAM_SMOOTHING = 0.1
EVAL_CHARS = 1200  # the held-out excerpt every model is scored on; SmolLM2 reads it in one 512-token context


@lru_cache(maxsize=1)
def word_list() -> tuple[str, ...]:
    """Return the distinct lower-case words of the training part of the lessons, sorted."""
    from lessons.demos.tinygpt import split_text

    return tuple(sorted(set(re.findall(r"[a-z]+", split_text()[0].lower()))))


def random_words(seed: int = SEED) -> str:
    """Draw RANDOM_WORDS words uniformly from the word list; the prompt plays no part."""
    rng = random.Random(seed)
    return " ".join(rng.choice(word_list()) for _ in range(RANDOM_WORDS))


@lru_cache(maxsize=1)
def bigram_table():
    """Return the (V, V) matrix of P(next character | character) from the training text, with add-k smoothing."""
    import numpy as np

    from lessons.demos.tinygpt import ALPHABET, encode, split_text

    ids = np.array(encode(split_text()[0]))
    counts = np.zeros((len(ALPHABET), len(ALPHABET)))
    np.add.at(counts, (ids[:-1], ids[1:]), 1)
    counts += BIGRAM_SMOOTHING
    return counts / counts.sum(axis=1, keepdims=True)


def bigram_sample(prompt: str, seed: int = SEED) -> str:
    import numpy as np

    from lessons.demos.tinygpt import decode, encode

    table = bigram_table()
    rng = np.random.default_rng(seed)
    current = encode(prompt[-1:] or "\n")[0]
    out = []
    for _ in range(SAMPLE_CHARS):
        current = int(rng.choice(len(table), p=table[current]))
        out.append(current)
    return decode(out)


def bigram_loss(text: str) -> float:
    """Return the bigram model's mean negative log-likelihood (nats per character) of `text`."""
    import numpy as np

    from lessons.demos.tinygpt import encode

    ids = np.array(encode(text))
    return float(-np.log(bigram_table()[ids[:-1], ids[1:]]).mean())


def smollm2_sample(prompt: str, seed: int = SEED) -> str:
    from lessons.demos.nexttoken import _model, _model_lock

    with _model_lock:
        model = _model()
        model.reset()
        output = model.create_completion(
            prompt, max_tokens=SMOLLM2_TOKENS, temperature=0.8, top_k=0, top_p=1.0, min_p=0.0, seed=seed
        )
    return output["choices"][0]["text"]


def smollm2_losses(text: str) -> tuple[float, float, int]:
    """Return SmolLM2's (nats per character, nats per token, token count) on `text`, read after the BOS token."""
    import numpy as np

    from lessons.demos.nexttoken import _model, _model_lock

    with _model_lock:
        model = _model()
        tokens = [model.token_bos()] + model.tokenize(text.encode("utf-8"), add_bos=False)
        if len(tokens) > model.n_ctx():
            raise ValueError(f"the excerpt is {len(tokens)} tokens, more than SmolLM2's context of {model.n_ctx()}")
        model.reset()
        model.eval(tokens)
        logits = np.array(model.scores[: len(tokens) - 1], dtype=np.float32)  # (tokens - 1, vocabulary)

    # log softmax of the target only, row by row: log p = logit - max - log(sum(exp(logit - max))).
    targets = np.array(tokens[1:])
    rows = np.arange(len(targets))
    target_logits = logits[rows, targets].astype(np.float64)
    maxima = logits.max(axis=1)
    logits -= maxima[:, None]
    np.exp(logits, out=logits)
    normalizers = np.log(logits.sum(axis=1, dtype=np.float64))
    total = float(-(target_logits - maxima - normalizers).sum())
    return total / len(text), total / len(targets), len(targets)


def held_out_excerpt() -> str:
    from lessons.demos.tinygpt import split_text

    return split_text()[1][:EVAL_CHARS]


def run(prompt: str = DEFAULT_PROMPT, time_limit: float = 30.0) -> DemoResult:
    from lessons.demos import tinygpt

    started = time.monotonic()
    excerpt = held_out_excerpt()
    # NOTE: the brief training runs to the end even past `time_limit`, so the result stays deterministic.
    training = tinygpt.briefly_trained(SEED)
    tiny_name = f"tiny GPT ({tinygpt.BRIEF_STEPS} steps)"
    samples = {
        "random words": random_words(),
        "character bigram": bigram_sample(prompt),
        tiny_name: tinygpt.sample(training.model, prompt, SAMPLE_CHARS, SEED),
    }
    per_character = {
        f"uniform over {len(tinygpt.ALPHABET)} characters": math.log(len(tinygpt.ALPHABET)),
        "character bigram": bigram_loss(excerpt),
        tiny_name: tinygpt.per_character_loss(training.model, excerpt),
    }
    out_of_time = time.monotonic() - started > time_limit
    if not out_of_time:
        per_character["SmolLM2-135M"], smollm2_per_token, token_count = smollm2_losses(excerpt)
        samples["SmolLM2-135M"] = smollm2_sample(prompt)
    perplexity = {name: math.exp(loss) for name, loss in per_character.items()}

    listing = [f"{len(samples)} generators continue {prompt!r} (sampling, seed {SEED}):"]
    listing += [f"- {name}: {text!r}" for name, text in samples.items()]
    lines = [
        "\n".join(listing),
        f"Per-character perplexity on {len(excerpt)} held-out characters of the lessons (lower is better): "
        + ", ".join(f"{name} {value:.1f}" for name, value in perplexity.items())
        + ". Random words have none: they give zero probability to any word outside their list.",
    ]
    if out_of_time:
        lines.append(f"SmolLM2 was skipped: the demo's {time_limit:.0f} s limit ran out before its turn.")
    else:
        lines[-1] += (
            f" SmolLM2 reads the excerpt as {token_count} tokens, {len(excerpt) / token_count:.1f} characters each, "
            f"so its per-token perplexity is {math.exp(smollm2_per_token):.1f}, a number not comparable with "
            "the per-character ones."
        )
    command = "/demo generate" if prompt == DEFAULT_PROMPT else f'/demo generate "{prompt}"'
    lines.append(f"Reproduce: `{command}`")
    png = _draw(perplexity, training)
    facts = {
        "samples": samples,
        "nats_per_character": per_character,
        "perplexity": perplexity,
        "smollm2_nats_per_token": None if out_of_time else smollm2_per_token,
        "smollm2_tokens": None if out_of_time else token_count,
        "excerpt_chars": len(excerpt),
    }
    return DemoResult("\n\n".join(lines), png, command, facts)


def _draw(perplexity, training) -> bytes:
    figure = new_figure()
    bars, curve = figure.subplots(1, 2, width_ratios=[1.2, 1])

    names = list(perplexity)
    values = [perplexity[name] for name in names]
    colors = ["lightgray", "tab:green", "tab:blue", "tab:purple"]
    bars.bar(range(len(names)), values, color=colors)
    bars.set_yscale("log")
    bars.set_xticks(range(len(names)), [name.replace(" (", "\n(").replace(" over", "\nover") for name in names],
                    fontsize=8)
    for position, value in enumerate(values):
        bars.text(position, value * 1.08, f"{value:.1f}", ha="center", fontsize=9)
    bars.set_ylabel("perplexity per character (log scale)")
    bars.set_title("held-out lesson text: lower is better", fontsize=10)

    steps = range(1, training.steps_run + 1)
    curve.plot(steps, training.losses, color="tab:blue", linewidth=0.8, label="training batch loss")
    curve.axhline(math.log(perplexity[names[0]]), color="gray", linestyle="--", linewidth=1, label="uniform guess")
    curve.set_xlabel("training step")
    curve.set_ylabel("cross-entropy (nats per character)")
    curve.set_title("the tiny GPT's training", fontsize=10)
    curve.legend(fontsize=8)
    figure.suptitle("The generation ladder: random words, bigrams, a tiny GPT, SmolLM2", fontsize=11)
    return to_png(figure)


def parse(args: str) -> dict:
    """Read the prompt, with or without quotes; empty means the default prompt."""
    return text_argument(args, "prompt", MAX_PROMPT_CHARS)


DEMO = Demo(
    name="generate",
    usage='["prompt"]',
    description="Continue one prompt with random words, a bigram model, a tiny GPT and SmolLM2, and compare them.",
    run=run,
    parse=parse,
)
