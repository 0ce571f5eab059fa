"""A document is replaced atomically: a process killed with SIGKILL in the middle of an
ingest leaves the old version or the new one visible, never a mix."""

import os
import signal
import subprocess
import sys

import pytest

from knowledge.base import KnowledgeBase, document_id
from knowledge.embeddings import DIMENSIONS
from knowledge.store import EdgeStore, Match

from conftest import ROOT

# Runs one ingest in a child process. The chunks are written 4 at a time, and at the
# chosen write (the 3rd batch of chunks, or the record that makes the new version live)
# the child says "stopped" and waits there to be killed.
CHILD = """
import sys
import time
from pathlib import Path

from knowledge.base import KnowledgeBase
from knowledge.embeddings import DIMENSIONS, Embedder
from knowledge.store import EdgeStore

stop_kind, stop_count = sys.argv[3], int(sys.argv[4])
store = EdgeStore(Path(sys.argv[1]), DIMENSIONS)
write_batch = store.upsert
written = {"chunks": 0, "record": 0}

def upsert(points):
    for first in range(0, len(points), 4):
        write_batch(points[first : first + 4])
        kind = "record" if points[0].vector is None else "chunks"
        written[kind] += 1
        if kind == stop_kind and written[kind] == stop_count:
            print("stopped", flush=True)
            time.sleep(120)

store.upsert = upsert
base = KnowledgeBase(store, Embedder(), max_file_bytes=10**8, max_pdf_pages=500)
base.ingest_bytes(Path(sys.argv[2]).read_bytes(), "notes.txt", tenant="g1", added_by="test")
print("done", flush=True)
"""


def notes(version: str, paragraphs: int) -> bytes:
    lines = [
        f"Version {version}, paragraph {n}: gradient descent lowers the loss a small step at a time, "
        f"and paragraph {n} of version {version} says so in its own words for the test to find."
        for n in range(paragraphs)
    ]
    return "\n\n".join(lines).encode()


def kill_child_at(path, file, stop_kind, stop_count):
    """Run the child ingest up to the chosen write, then SIGKILL it; returns its last line."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), str(file), stop_kind, str(stop_count)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT, env=env,
    )
    line = ""
    try:
        line = child.stdout.readline().strip()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
    return line


def visible_versions(base):
    texts = [hit.text for hit in base.search("gradient descent paragraph version", "g1", 50)]
    return {text.split(",")[0] for text in texts}


@pytest.mark.parametrize(
    "stop_kind, stop_count, expected",
    [("chunks", 3, "Version one"), ("record", 1, "Version two")],
    ids=["killed-writing-chunks", "killed-after-switch"],
)
def test_killed_ingest_leaves_one_whole_version(tmp_path, embedder, stop_kind, stop_count, expected):
    path = tmp_path / "edge"
    base = KnowledgeBase(EdgeStore(path, DIMENSIONS), embedder, max_file_bytes=10**8, max_pdf_pages=500)
    old = base.ingest_bytes(notes("one", 8), "notes.txt", tenant="g1", added_by="test")
    base.close()

    new_file = tmp_path / "notes.txt"
    new_file.write_bytes(notes("two", 60))
    assert kill_child_at(path, new_file, stop_kind, stop_count) == "stopped"

    base = KnowledgeBase(EdgeStore(path, DIMENSIONS), embedder, max_file_bytes=10**8, max_pdf_pages=500)
    try:
        # Reopening removed the chunks of the version that is not live.
        [document] = base.documents("g1")
        live = base.store.scroll(Match(doc_id=document.doc_id, kind="live"))[0]["version"]
        stored = base.store.scroll(Match(doc_id=document.doc_id, kind="chunk"))
        assert {payload["version"] for payload in stored} == {live}
        assert len(stored) == document.chunks
        assert visible_versions(base) == {expected}
        if expected == "Version one":
            assert document.chunks == old.chunks

        again = base.ingest_bytes(new_file.read_bytes(), "notes.txt", tenant="g1", added_by="test")
        assert (again is None) == (expected == "Version two")
        assert visible_versions(base) == {"Version two"}
        [document] = base.documents("g1")
        assert document.chunks > old.chunks
        assert base.store.count(Match(doc_id=document_id("g1", "notes.txt"), kind="chunk")) == document.chunks
    finally:
        base.close()
