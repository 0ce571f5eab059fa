"""Measure ingest throughput against the embedding model alone, and peak memory on a long PDF.

Run with `python bench/ingest.py [pdf] [throughput]` (HF_HUB_OFFLINE=1; both by default). Needs ../shared/corpus/hf-course
next to the checkout (or next to the folder of git worktrees) for the throughput figure.

1. Ingests the Hugging Face course into a temporary embedded store. Then encodes
   the very texts the ingest embedded with a bare SentenceTransformer.encode call,
   twice, in the same process, and divides the ingest's chunks per second by the
   mean encode rate. A load change on the machine shows as a gap between the two.
2. Writes a 300-page text PDF and ingests it in a fresh process, reporting that
   process's peak RSS after loading the model and after the ingest.
"""

from __future__ import annotations

import logging
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CORPUS = next(
    (folder for folder in (ROOT.parent / "shared", ROOT.parent.parent / "shared") if folder.exists()),
    ROOT.parent / "shared",
) / "corpus" / "hf-course"
PDF_PAGES = 300
LINES_PER_PAGE = 40
WORDS = (
    "model token attention layer vector embedding gradient loss batch weight training inference "
    "query key value softmax retrieval index search chunk document answer prompt context window "
    "cache memory latency throughput tenant score rank fusion sparse dense cosine neighbour graph"
).split()


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def encode_rate(embedder, texts: list[str]) -> float:
    started = time.monotonic()
    embedder.model.encode(texts, batch_size=embedder.batch_size, normalize_embeddings=True, show_progress_bar=False)
    return len(texts) / (time.monotonic() - started)


def throughput() -> None:
    from knowledge.base import KnowledgeBase
    from knowledge.embeddings import DIMENSIONS, Embedder
    from knowledge.store import EdgeStore

    if not CORPUS.is_dir():
        print(f"skipped the throughput figure: {CORPUS} is absent")
        return
    embedder = Embedder()
    embedder.embed(["warm up the model and its threads"] * 64)
    texts: list[str] = []
    real_embed = embedder.embed

    def recording_embed(batch: list[str]) -> list[list[float]]:
        texts.extend(batch)
        return real_embed(batch)

    with tempfile.TemporaryDirectory() as folder:
        knowledge = KnowledgeBase(EdgeStore(Path(folder) / "edge", DIMENSIONS), embedder,
                                  max_file_bytes=10 * 1024 * 1024, max_pdf_pages=500)
        embedder.embed = recording_embed
        started = time.monotonic()
        report = knowledge.ingest_paths([CORPUS], tenant="bench", added_by="bench")
        ingest_seconds = time.monotonic() - started
        embedder.embed = real_embed
        knowledge.close()

    before = encode_rate(embedder, texts)
    after = encode_rate(embedder, texts)
    ingest = report.chunks_added / ingest_seconds
    encode = (before + after) / 2
    print(f"HF course: {len(report.added)} files, {report.chunks_added} chunks in {ingest_seconds:.1f} s")
    print(f"ingest {ingest:.1f} chunks/s; bare encode {before:.1f} and {after:.1f} chunks/s (mean {encode:.1f})")
    print(f"ingest / encode = {ingest / encode:.2f}")


def pdf_bytes(pages: int, seed: int = 3) -> bytes:
    """Return a text PDF of `pages` pages of generated sentences in Helvetica."""
    rng = random.Random(seed)
    objects: list[bytes] = [b"", b""]  # 1: catalog, 2: page tree, filled in below
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")  # 3
    kids = []
    for page in range(pages):
        lines = [f"Page {page + 1}."] + [
            " ".join(rng.choice(WORDS) for _ in range(12)).capitalize() + "." for _ in range(LINES_PER_PAGE)
        ]
        stream = "BT /F1 10 Tf 50 780 Td 14 TL " + " ".join(f"({line}) '" for line in lines) + " ET"
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream.encode()))
        content = len(objects)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents %d 0 R "
            b"/Resources << /Font << /F1 3 0 R >> >> >>" % content
        )
        kids.append(len(objects))
    objects[0] = b"<< /Type /Catalog /Pages 2 0 R >>"
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % k for k in kids), pages)

    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def pdf_child(path: str) -> None:
    """Ingest one PDF in this process and print the peak RSS before and after."""
    from knowledge.base import KnowledgeBase
    from knowledge.embeddings import DIMENSIONS, Embedder
    from knowledge.store import EdgeStore

    embedder = Embedder()
    embedder.embed(["load the model"])
    loaded = peak_rss_mib()
    with tempfile.TemporaryDirectory() as folder:
        knowledge = KnowledgeBase(EdgeStore(Path(folder) / "edge", DIMENSIONS), embedder,
                                  max_file_bytes=100 * 1024 * 1024, max_pdf_pages=500)
        started = time.monotonic()
        info = knowledge.ingest_bytes(Path(path).read_bytes(), "generated.pdf", tenant="bench", added_by="bench")
        seconds = time.monotonic() - started
        knowledge.close()
    print(f"{PDF_PAGES}-page PDF ({Path(path).stat().st_size / 1024:.0f} KiB): {info.chunks} chunks in {seconds:.1f} s")
    print(f"peak RSS: {loaded:.0f} MiB with the model loaded, {peak_rss_mib():.0f} MiB after the ingest")


def peak_memory() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "generated.pdf"
        path.write_bytes(pdf_bytes(PDF_PAGES))
        subprocess.run([sys.executable, __file__, "--pdf-child", str(path)], check=True, cwd=ROOT)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    if len(sys.argv) == 3 and sys.argv[1] == "--pdf-child":
        pdf_child(sys.argv[2])
    else:
        parts = set(sys.argv[1:]) or {"pdf", "throughput"}
        if "pdf" in parts:
            peak_memory()
        if "throughput" in parts:
            throughput()
