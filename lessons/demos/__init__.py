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


def available() -> dict[str, Demo]:
    """Return the demos this build can run, by name."""
    from lessons.demos import attention, embed, generate, neuron, nexttoken, prompt, rag, tokenize, traingpt, vectordb, xor

    shipped = [xor.DEMO, neuron.DEMO, nexttoken.DEMO, embed.DEMO, generate.DEMO, traingpt.DEMO, attention.DEMO]
    shipped += [tokenize.DEMO, vectordb.DEMO, prompt.DEMO, rag.DEMO]
    return {demo.name: demo for demo in shipped}
