"""Chunking bounded by the embedding model's own tokenizer.

all-MiniLM-L6-v2 silently truncates input past 256 word pieces, so a chunk
that is too long would be embedded without its tail. Every chunk here is
counted with the model's tokenizer, including the heading line that is
embedded with it, and split until it fits.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from knowledge.documents import Chunk, Section

# Sentence ends: Latin, CJK and Arabic punctuation. CJK sentences have no space after the stop.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[。！？；])|(?<=[؟۔])\s*")
_FENCE = re.compile(r"^\s*(```|~~~)", re.MULTILINE)


class Tokenizer(Protocol):
    def __call__(self, text, **kwargs): ...


@dataclass(frozen=True)
class _Piece:
    start: int
    end: int
    tokens: int


class Chunker:
    """Split sections into chunks of at most `max_tokens` tokens, aiming at `target_tokens`."""

    def __init__(self, tokenizer: Tokenizer, *, max_tokens: int, target_tokens: int | None = None):
        if max_tokens < 16:
            raise ValueError(f"max_tokens must be at least 16, got {max_tokens}")
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.target_tokens = min(target_tokens or max_tokens, max_tokens)

    def count(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def chunk(self, sections: Iterable[Section]) -> list[Chunk]:
        chunks: list[Chunk] = []
        for section in sections:
            heading = embedding_heading(section.heading_path)
            budget = self.max_tokens - (self.count(heading) + 1 if heading else 0)
            target = min(self.target_tokens, budget)
            if budget < 16:
                # A pathological heading; embed the body without it rather than lose the body.
                heading, budget, target = "", self.max_tokens, self.target_tokens

            for start, end in self._pack(section.text, budget, target):
                text = section.text[start:end].strip()
                if not text:
                    continue
                chunks.append(
                    Chunk(
                        index=len(chunks),
                        text=text,
                        heading_path=section.heading_path,
                        page=section.page,
                        start=section.start + start,
                        end=section.start + end,
                    )
                )
        return chunks

    def _pack(self, text: str, budget: int, target: int) -> list[tuple[int, int]]:
        """Group the pieces of `text` greedily into spans of at most `target` tokens."""
        spans: list[tuple[int, int]] = []
        current: list[_Piece] = []
        current_tokens = 0
        for piece in self._pieces(text, budget):
            if current and current_tokens + piece.tokens > target:
                spans.append((current[0].start, current[-1].end))
                current, current_tokens = [], 0
            current.append(piece)
            current_tokens += piece.tokens
        if current:
            spans.append((current[0].start, current[-1].end))

        # Counts of pieces add up only approximately across a join, so check each span.
        checked: list[tuple[int, int]] = []
        for start, end in spans:
            if self.count(text[start:end]) <= budget:
                checked.append((start, end))
            else:
                checked.extend((start + a, start + b) for a, b in self._split_by_tokens(text[start:end], budget))
        return checked

    def _pieces(self, text: str, budget: int) -> list[_Piece]:
        """Paragraphs (a code fence counts as one), split into sentences, then tokens, if over budget."""
        pieces = []
        for start, end in _blocks(text):
            tokens = self.count(text[start:end])
            if tokens <= budget:
                pieces.append(_Piece(start, end, tokens))
                continue
            for s_start, s_end in _sentences(text, start, end):
                sentence_tokens = self.count(text[s_start:s_end])
                if sentence_tokens <= budget:
                    pieces.append(_Piece(s_start, s_end, sentence_tokens))
                    continue
                for a, b in self._split_by_tokens(text[s_start:s_end], budget):
                    pieces.append(_Piece(s_start + a, s_start + b, self.count(text[s_start + a : s_start + b])))
        return pieces

    def _split_by_tokens(self, text: str, budget: int) -> list[tuple[int, int]]:
        """Cut text into windows of at most `budget` tokens at token boundaries,
        ending a window before a word that starts after a space where one is near."""
        offsets = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
        spans = []
        first = 0
        while first < len(offsets):
            last = min(first + budget, len(offsets)) - 1
            if last + 1 < len(offsets):
                for candidate in range(last + 1, first + budget // 2, -1):
                    char_start = offsets[candidate][0]
                    if char_start > 0 and text[char_start - 1].isspace():
                        last = candidate - 1
                        break
            spans.append((offsets[first][0], offsets[last][1]))
            first = last + 1
        return spans


def embedding_heading(heading_path: tuple[str, ...]) -> str:
    """Return the line embedded above a chunk's text, so a heading's words help retrieval."""
    return " > ".join(heading_path)


def _blocks(text: str) -> list[tuple[int, int]]:
    """Return spans of paragraphs separated by blank lines; a code fence stays whole."""
    spans = []
    start = None
    in_fence = False
    offset = 0
    for line in text.split("\n"):
        line_end = offset + len(line)
        if _FENCE.match(line):
            in_fence = not in_fence
        if line.strip() or in_fence:
            if start is None:
                start = offset
            end = line_end
        elif start is not None:
            spans.append((start, end))
            start = None
        offset = line_end + 1
    if start is not None:
        spans.append((start, end))
    return spans


def _sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans = []
    cursor = start
    for match in _SENTENCE_END.finditer(text, start, end):
        if match.start() > cursor:
            spans.append((cursor, match.start()))
        cursor = match.end()
    if cursor < end:
        spans.append((cursor, end))
    return spans
