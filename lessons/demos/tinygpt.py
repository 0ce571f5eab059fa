"""A tiny character-level GPT trained on the lesson texts, shared by the generate, train-gpt and attention demos.

The model is a decoder-only transformer: token and position embeddings, a
few pre-norm blocks (causal multi-head self-attention, then a two-layer MLP),
a final layer norm and a linear layer with one logit per character. Attention
is written out as softmax(Q K^T / sqrt(d)) V with an explicit causal mask, so
its weights can be returned and plotted.

The alphabet is a newline plus the 95 printable ASCII characters. Any other
character in a text becomes "?" (the lessons contain a few, such as "·" and
some Cyrillic and Japanese examples).
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

LESSONS_DIR = Path(__file__).resolve().parent.parent
ALPHABET = "\n" + "".join(chr(code) for code in range(32, 127))
UNKNOWN = "?"
HELD_OUT_SHARE = 0.1  # the last 10% of the corpus is never trained on

BLOCK_SIZE = 64  # characters of context
EMBEDDING = 48
HEADS = 4
LAYERS = 3
BATCH = 32
# Constant: after 500 steps, held-out loss was 1.88 at 1e-2, 1.93 at 6e-3, 2.20 at 3e-3 and 2.10 with a
# cosine decay from 1e-2 to 1e-3 (seed 0). NOTE: runs of several thousand steps at this rate are untested.
LEARNING_RATE = 1e-2
SAMPLE_TEMPERATURE = 0.8
EVAL_BATCHES = 4  # batches of BATCH windows for each held-out loss estimate

BRIEF_STEPS = 200  # the short, cached run that the generate and attention demos use


def lesson_text() -> str:
    """Return the six lessons' Markdown, concatenated in lesson order."""
    return "\n".join(path.read_text(encoding="utf-8") for path in sorted(LESSONS_DIR.glob("*.md")))


def encode(text: str) -> list[int]:
    index = {character: i for i, character in enumerate(ALPHABET)}
    unknown = index[UNKNOWN]
    return [index.get(character, unknown) for character in text]


def decode(ids) -> str:
    return "".join(ALPHABET[int(i)] for i in ids)


def in_alphabet(text: str) -> str:
    """Return `text` as the model sees it: characters outside the alphabet replaced by "?"."""
    return decode(encode(text))


def split_text() -> tuple[str, str]:
    """Return (training text, held-out text): the held-out part is the last HELD_OUT_SHARE of the lessons."""
    text = lesson_text()
    cut = int(len(text) * (1 - HELD_OUT_SHARE))
    return text[:cut], text[cut:]


def split_corpus():
    """Return (training ids, held-out ids) as int64 tensors."""
    import torch

    train_text, held_out_text = split_text()
    return torch.tensor(encode(train_text), dtype=torch.long), torch.tensor(encode(held_out_text), dtype=torch.long)


def _build_model_class():
    import torch
    from torch import nn
    from torch.nn import functional

    class CausalSelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv = nn.Linear(EMBEDDING, 3 * EMBEDDING)
            self.proj = nn.Linear(EMBEDDING, EMBEDDING)
            mask = torch.tril(torch.ones(BLOCK_SIZE, BLOCK_SIZE, dtype=torch.bool))
            self.register_buffer("mask", mask, persistent=False)

        def forward(self, x):
            batch, length, channels = x.shape  # (B, T, C)
            head_size = channels // HEADS
            q, k, v = self.qkv(x).split(channels, dim=2)
            # (B, T, C) -> (B, heads, T, head_size)
            q, k, v = (t.view(batch, length, HEADS, head_size).transpose(1, 2) for t in (q, k, v))

            scores = q @ k.transpose(-2, -1) / math.sqrt(head_size)  # (B, heads, T, T)
            scores = scores.masked_fill(~self.mask[:length, :length], float("-inf"))
            weights = functional.softmax(scores, dim=-1)  # each row sums to 1; the upper triangle is exactly 0

            out = (weights @ v).transpose(1, 2).reshape(batch, length, channels)  # (B, T, C)
            return self.proj(out), weights

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = nn.LayerNorm(EMBEDDING)
            self.attn = CausalSelfAttention()
            self.ln_2 = nn.LayerNorm(EMBEDDING)
            self.mlp = nn.Sequential(nn.Linear(EMBEDDING, 4 * EMBEDDING), nn.GELU(), nn.Linear(4 * EMBEDDING, EMBEDDING))

        def forward(self, x):
            attended, weights = self.attn(self.ln_1(x))
            x = x + attended
            x = x + self.mlp(self.ln_2(x))
            return x, weights

    class TinyGPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(len(ALPHABET), EMBEDDING)
            self.wpe = nn.Embedding(BLOCK_SIZE, EMBEDDING)
            self.blocks = nn.ModuleList(Block() for _ in range(LAYERS))
            self.ln_f = nn.LayerNorm(EMBEDDING)
            self.lm_head = nn.Linear(EMBEDDING, len(ALPHABET))

        def forward(self, ids, targets=None):
            """Return (logits (B, T, vocabulary), mean cross-entropy or None, attention weights per layer)."""
            length = ids.shape[1]
            positions = torch.arange(length)
            x = self.wte(ids) + self.wpe(positions)  # (B, T, C)
            attention = []
            for block in self.blocks:
                x, weights = block(x)
                attention.append(weights)
            logits = self.lm_head(self.ln_f(x))  # (B, T, vocabulary)
            loss = None
            if targets is not None:
                loss = functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
            return logits, loss, attention

    return TinyGPT


@contextmanager
def one_thread():
    """Run torch on one thread inside the block.

    On a busy 2-core machine, two threads were 10 to 25 times slower per training
    step than one, because each waits for the other, and on an idle one only about
    twice as fast. The setting is process-wide, so a concurrent embedding also runs
    on one thread until the block ends.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@lru_cache(maxsize=1)
def model_class():
    return _build_model_class()


@dataclass
class TrainingRun:
    model: object
    seed: int
    steps_requested: int
    losses: list[float] = field(default_factory=list)  # training batch loss at every step, nats per character
    evaluations: list[tuple[int, float, float]] = field(default_factory=list)  # (step, train, held-out) estimates
    samples: dict[int, str] = field(default_factory=dict)  # step -> text sampled after it
    seconds: float = 0.0
    stopped_early: bool = False

    @property
    def steps_run(self) -> int:
        return len(self.losses)


def _random_windows(ids, generator, count):
    import torch

    starts = torch.randint(0, len(ids) - BLOCK_SIZE - 1, (count,), generator=generator)
    inputs = torch.stack([ids[s : s + BLOCK_SIZE] for s in starts.tolist()])
    targets = torch.stack([ids[s + 1 : s + 1 + BLOCK_SIZE] for s in starts.tolist()])
    return inputs, targets


def estimate_loss(model, ids, seed: int = 1234) -> float:
    """Return the mean cross-entropy (nats per character) over fixed random windows of `ids`."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    total = 0.0
    model.eval()
    with torch.no_grad():
        for _ in range(EVAL_BATCHES):
            inputs, targets = _random_windows(ids, generator, BATCH)
            total += model(inputs, targets)[1].item()
    model.train()
    return total / EVAL_BATCHES


def sample(model, prompt: str, length: int, seed: int, temperature: float = SAMPLE_TEMPERATURE) -> str:
    """Continue `prompt` by `length` characters drawn from softmax(logits / temperature), seeded."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    ids = torch.tensor([encode(prompt or "\n")], dtype=torch.long)
    model.eval()
    with torch.no_grad(), one_thread():
        for _ in range(length):
            logits = model(ids[:, -BLOCK_SIZE:])[0][:, -1, :] / temperature  # (1, vocabulary)
            probabilities = torch.softmax(logits, dim=-1)
            next_id = torch.multinomial(probabilities, 1, generator=generator)
            ids = torch.cat([ids, next_id], dim=1)
    model.train()
    return decode(ids[0, -length:].tolist())


def train(
    steps: int, seed: int = 0, *, time_limit: float = 60.0, sample_steps=(), sample_prompt: str = "The ",
    sample_length: int = 80, evaluations: int = 10,
) -> TrainingRun:
    """Train a fresh model on random windows of the lessons, stopping early when `time_limit` runs out.

    The optimizer is AdamW at a constant LEARNING_RATE. The held-out loss is estimated `evaluations` times over the run, and a
    sample is drawn after each step in `sample_steps` and after the last step,
    seeded with seed + step.
    """
    import torch

    with one_thread():
        return _train(torch, steps, seed, time_limit, sample_steps, sample_prompt, sample_length, evaluations)


def _train(torch, steps, seed, time_limit, sample_steps, sample_prompt, sample_length, evaluations):
    torch.manual_seed(seed)
    model = model_class()()
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE)
    train_ids, held_out_ids = split_corpus()
    generator = torch.Generator().manual_seed(seed)
    run = TrainingRun(model, seed, steps)
    evaluate_every = max(1, steps // evaluations)

    def record(step):
        run.evaluations.append((step, estimate_loss(model, train_ids), estimate_loss(model, held_out_ids)))

    record(0)
    started = time.monotonic()
    for step in range(1, steps + 1):
        inputs, targets = _random_windows(train_ids, generator, BATCH)
        _, loss, _ = model(inputs, targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        run.losses.append(loss.item())

        if step % evaluate_every == 0 or step == steps:
            record(step)
        if step in sample_steps:
            run.samples[step] = sample(model, sample_prompt, sample_length, seed + step)
        if time.monotonic() - started > time_limit and step < steps:
            run.stopped_early = True
            break

    if run.evaluations[-1][0] != run.steps_run:
        record(run.steps_run)
    if run.steps_run not in run.samples:
        run.samples[run.steps_run] = sample(model, sample_prompt, sample_length, seed + run.steps_run)
    run.seconds = time.monotonic() - started
    model.eval()
    return run


@lru_cache(maxsize=2)
def briefly_trained(seed: int = 0) -> TrainingRun:
    """Return a model trained for BRIEF_STEPS steps, cached so that generate and attention share it."""
    return train(BRIEF_STEPS, seed, time_limit=float("inf"), evaluations=1)


def attention_weights(model, text: str):
    """Return the attention weights of every layer for `text`, as a (layers, heads, T, T) numpy array."""
    import torch

    ids = torch.tensor([encode(text[-BLOCK_SIZE:])], dtype=torch.long)
    with torch.no_grad(), one_thread():
        _, _, attention = model(ids)
    return torch.stack([weights[0] for weights in attention]).numpy()


def per_character_loss(model, text: str) -> float:
    """Return the mean cross-entropy (nats per character) over `text`, read in consecutive windows of BLOCK_SIZE."""
    import torch

    ids = torch.tensor(encode(text), dtype=torch.long)
    usable = (len(ids) - 1) // BLOCK_SIZE * BLOCK_SIZE
    inputs = ids[:usable].view(-1, BLOCK_SIZE)
    targets = ids[1 : usable + 1].view(-1, BLOCK_SIZE)
    with torch.no_grad(), one_thread():
        return model(inputs, targets)[1].item()
