"""Print how long loading and chunking take for files near the default size limits.

Each file is generated here: a DOCX written with python-docx, an HTML page
and a Markdown file, each with about 1.9 million characters of text (just
under the MAX_EXTRACTED_CHARS default), plus a zip bomb posing as a DOCX.
Loading is parsing into sections; chunking counts tokens with the MiniLM
tokenizer but embeds nothing. Run: python bench/loaders.py
"""

from __future__ import annotations

import io
import os
import platform
import resource
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

SENTENCE = "Attention lets every token weigh every other token by how relevant it is. "
PARAGRAPHS = 5_000
SENTENCES_PER_PARAGRAPH = 5
SECTION_EVERY = 50


def make_docx() -> bytes:
    from docx import Document

    document = Document()
    for index in range(PARAGRAPHS):
        if index % SECTION_EVERY == 0:
            document.add_heading(f"Part {index // SECTION_EVERY}", 1)
        document.add_paragraph(SENTENCE * SENTENCES_PER_PARAGRAPH)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def make_html() -> bytes:
    parts = ["<!doctype html><html><head><script>app()</script></head><body><nav>Home</nav>"]
    for index in range(PARAGRAPHS):
        if index % SECTION_EVERY == 0:
            parts.append(f"<h2>Part {index // SECTION_EVERY}</h2>")
        parts.append(f"<p>{SENTENCE * SENTENCES_PER_PARAGRAPH}</p>")
    parts.append("</body></html>")
    return "".join(parts).encode()


def make_markdown() -> bytes:
    parts = []
    for index in range(PARAGRAPHS):
        if index % SECTION_EVERY == 0:
            parts.append(f"## Part {index // SECTION_EVERY}\n")
        parts.append(SENTENCE * SENTENCES_PER_PARAGRAPH + "\n")
    return "\n".join(parts).encode()


def make_zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("word/document.xml", "w") as member:
            for _ in range(256):
                member.write(b"\x00" * (1024 * 1024))
    return buffer.getvalue()


def main() -> None:
    from knowledge.chunking import Chunker
    from knowledge.embeddings import Embedder
    from knowledge.loaders import IngestError, format_size, load_bytes

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    embedder = Embedder()
    chunker = Chunker(embedder.tokenizer, max_tokens=embedder.max_tokens, target_tokens=200)
    files = {
        "large.docx": make_docx(),
        "large.html": make_html(),
        "large.md": make_markdown(),
        "bomb.docx": make_zip_bomb(),
    }
    print(f"{'file':<12} {'size':>10} {'chars':>10} {'load s':>7} {'chunks':>7} {'chunk s':>8}  outcome")
    for name, data in files.items():
        started = time.monotonic()
        try:
            document = load_bytes(data, name, max_bytes=64 * 1024 * 1024, max_pages=500)
        except IngestError as error:
            elapsed = time.monotonic() - started
            print(f"{name:<12} {format_size(len(data)):>10} {'-':>10} {elapsed:7.2f} {'-':>7} {'-':>8}  {error.reason[:60]}")
            continue
        loaded = time.monotonic() - started
        chars = sum(len(section.text) for section in document.sections)
        started = time.monotonic()
        chunks = chunker.chunk(document.sections)
        chunked = time.monotonic() - started
        print(f"{name:<12} {format_size(len(data)):>10} {chars:>10,} {loaded:7.2f} {len(chunks):>7} {chunked:8.2f}  loaded")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
