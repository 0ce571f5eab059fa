"""Demos: small models trained or run on the CPU that return a picture and a few lines of text.

Each demo is deterministic given its arguments (the seed among them) and
states the command that reproduces it. Pictures are PNGs of about 800x500
pixels drawn with matplotlib's Agg backend.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class DemoResult:
    text: str
    png: bytes
    command: str  # the chat command that reproduces this result exactly
    facts: dict = field(default_factory=dict)  # numbers the text reports, for tests and callers


@dataclass(frozen=True)
class Demo:
    name: str
    usage: str
    description: str
    run: Callable[..., DemoResult]
    parse: Callable[[str], dict]  # chat arguments to keyword arguments of `run`; raises ValueError
    needs_knowledge: bool = False  # if True, `run` also takes `answerer=`, the bot's knowledge.answer.Answerer


def text_argument(args: str, key: str, max_chars: int) -> dict:
    """Read one text argument, with or without quotes, as `{key: text}`; empty gives `{}` (the demo's default).

    Raises ValueError naming the argument when the text is longer than `max_chars`.
    """
    text = args.strip().strip("\"'“”").strip()
    if not text:
        return {}
    if len(text) > max_chars:
        raise ValueError(f"the {key} is {len(text)} characters; give at most {max_chars}")
    return {key: text}


# (name in the chat, keyword argument of `run`, lowest, highest) for one positional number.
NumberField = tuple[str, str, int, int]
MAX_SEED = 2**31 - 1
COUNT_WORDS = {1: "one", 2: "two", 3: "three", 4: "four"}


def whole_numbers(args: str, fields: tuple[NumberField, ...], described: str, example: str) -> dict:
    """Read up to len(fields) whole numbers in order, each within its bounds, as keyword arguments.

    `described` names the numbers for the error message and `example` is a valid command.
    Raises ValueError naming the number that is missing its form or out of bounds.
    """
    words = args.split()
    if len(words) > len(fields):
        raise ValueError(f"takes at most {COUNT_WORDS[len(fields)]} numbers: {described}, e.g. {example}")

    values = {}
    for (label, name, low, high), word in zip(fields, words):
        if not word.isdigit():
            raise ValueError(f"{label} must be a whole number, got {word!r}; e.g. {example}")
        if not low <= int(word) <= high:
            raise ValueError(f"{label} must be between {low} and {high}, got {word}")
        values[name] = int(word)
    return values


def available() -> dict[str, Demo]:
    """Return the demos this build can run, by name."""
    from lessons.demos import attention, embed, generate, neuron, nexttoken, prompt, rag, tokenize, traingpt, vectordb, xor

    shipped = [xor.DEMO, neuron.DEMO, nexttoken.DEMO, embed.DEMO, generate.DEMO, traingpt.DEMO, attention.DEMO]
    shipped += [tokenize.DEMO, vectordb.DEMO, prompt.DEMO, rag.DEMO]
    return {demo.name: demo for demo in shipped}
