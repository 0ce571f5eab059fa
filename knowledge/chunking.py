"""Chunking bounded by the embedding model's own tokenizer.

all-MiniLM-L6-v2 silently truncates input past 256 word pieces, so a chunk
that is too long would be embedded without its tail. Every chunk here is
counted with the model's tokenizer, including the heading line that is
embedded with it, and split until it fits.

Chunks are also capped in characters, because the tokenizer turns a word of
over 100 characters (a hash, a base64 blob) into one unknown token: such a
word fits any token budget at any length.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from knowledge.documents import Chunk, Section

_CLOSERS = re.escape("\"'”’»)]」』）》〉】〕")
# A sentence ends at its stop and any closing quotes or brackets after it.
# Latin-script (and Hebrew) stops count only before whitespace, so `3.14` and
# `v1.2` stay whole; CJK full-width stops have no space after them; Arabic,
# Urdu and Devanagari have stops of their own.
_SENTENCE_END = re.compile(
    rf"[.!?…]+[{_CLOSERS}]*(?=\s|$)"
    rf"|[。！？．｡；‼⁉]+[{_CLOSERS}]*"
    rf"|[؟۔।॥]+[{_CLOSERS}]*"
)
# Clause marks after which a window may end when a sentence must be cut.
_CLAUSE_MARKS = ",;:，、；：،"
CHARS_PER_TOKEN_CAP = 8
_FENCE = re.compile(r"^\s*(```|~~~)", re.MULTILINE)


class Tokenizer(Protocol):
    def __call__(self, text, **kwargs): ...


@dataclass(frozen=True)
class _Piece:
    start: int
    end: int
    tokens: int


class Chunker:
    """Split sections into chunks of at most `max_tokens` tokens and `max_chars` characters,
    aiming at `target_tokens`. `max_chars` defaults to 8 characters per token of `max_tokens`."""

    def __init__(
        self,
        tokenizer: Tokenizer,
        *,
        max_tokens: int,
        target_tokens: int | None = None,
        max_chars: int | None = None,
    ):
        if max_tokens < 16:
            raise ValueError(f"max_tokens must be at least 16, got {max_tokens}")
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.target_tokens = min(target_tokens or max_tokens, max_tokens)
        self.max_chars = max_chars or CHARS_PER_TOKEN_CAP * max_tokens
        if self.max_chars < 100:
            raise ValueError(f"max_chars must be at least 100, got {self.max_chars}")

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
            too_long = current and piece.end - current[0].start > self.max_chars
            if current and (current_tokens + piece.tokens > target or too_long):
                spans.append((current[0].start, current[-1].end))
                current, current_tokens = [], 0
            current.append(piece)
            current_tokens += piece.tokens
        if current:
            spans.append((current[0].start, current[-1].end))

        # Counts of pieces add up only approximately across a join, so check each span.
        checked: list[tuple[int, int]] = []
        for start, end in spans:
            if self._fits(text[start:end], budget):
                checked.append((start, end))
            else:
                checked.extend((start + a, start + b) for a, b in self._split_by_tokens(text[start:end], budget))
        return checked

    def _pieces(self, text: str, budget: int) -> list[_Piece]:
        """Paragraphs (a code fence counts as one), split into sentences, then tokens, if over budget."""
        pieces = []
        for start, end in _blocks(text):
            tokens = self.count(text[start:end])
            if tokens <= budget and end - start <= self.max_chars:
                pieces.append(_Piece(start, end, tokens))
                continue
            for s_start, s_end in _sentences(text, start, end):
                sentence_tokens = self.count(text[s_start:s_end])
                if sentence_tokens <= budget and s_end - s_start <= self.max_chars:
                    pieces.append(_Piece(s_start, s_end, sentence_tokens))
                    continue
                for a, b in self._split_by_tokens(text[s_start:s_end], budget):
                    pieces.append(_Piece(s_start + a, s_start + b, self.count(text[s_start + a : s_start + b])))
        return pieces

    def _fits(self, text: str, budget: int) -> bool:
        return len(text) <= self.max_chars and self.count(text) <= budget

    def _split_by_tokens(self, text: str, budget: int) -> list[tuple[int, int]]:
        """Cut text into adjacent windows of at most `budget` tokens and `max_chars` characters.

        A window ends at a token boundary, before a token that follows a space
        or a clause mark where one is in its second half. The windows cover
        the text without gaps, so characters the tokenizer ignores (zero-width
        joiners, control characters) are not lost between two windows.
        """
        offsets = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
        spans: list[tuple[int, int]] = []
        first = 0
        window_start = 0
        while first < len(offsets):
            last = min(first + budget, len(offsets)) - 1
            while last > first and offsets[last][1] - window_start > self.max_chars:
                last -= 1
            if last + 1 < len(offsets):
                last = self._prefer_clause_end(text, offsets, first, last)
            while True:
                end = offsets[last + 1][0] if last + 1 < len(offsets) else len(text)
                # A window that starts inside a word can take more tokens alone than in context.
                overflow = self.count(text[window_start:end]) - budget
                if overflow <= 0 or last == first:
                    break
                last = max(first, last - overflow)
            if end - window_start > self.max_chars:  # one token longer than the cap: cut by characters
                spans.extend(_split_by_chars(text, window_start, end, self.max_chars))
            else:
                spans.append((window_start, end))
            window_start = end
            first = last + 1
        if window_start < len(text) and text[window_start:].strip():
            spans.append((window_start, len(text)))
        return spans

    @staticmethod
    def _prefer_clause_end(text: str, offsets, first: int, last: int) -> int:
        for candidate in range(last + 1, first + (last - first) // 2 + 1, -1):
            char_start = offsets[candidate][0]
            if char_start > 0 and (text[char_start - 1].isspace() or text[char_start - 1] in _CLAUSE_MARKS):
                return candidate - 1
        return last


def _split_by_chars(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """Cut `text[start:end]` into adjacent spans of at most `max_chars` characters, at a space where one is near."""
    spans = []
    while end - start > max_chars:
        cut = text.rfind(" ", start + max_chars // 2, start + max_chars)
        cut = cut + 1 if cut != -1 else start + max_chars
        spans.append((start, cut))
        start = cut
    spans.append((start, end))
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
    """Return adjacent spans, each ending after a sentence stop (and its closing quotes)."""
    spans = []
    cursor = start
    for match in _SENTENCE_END.finditer(text, start, end):
        if match.end() > cursor:
            spans.append((cursor, match.end()))
            cursor = match.end()
    if cursor < end:
        spans.append((cursor, end))
    return spans
