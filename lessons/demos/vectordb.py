"""`/demo vectordb [n] [seed]`: the same embeddings in FAISS, Chroma and Qdrant; recall@k and query time.

The vectors are all-MiniLM-L6-v2 embeddings of sentences from the built-in
lessons. A seeded shuffle picks some sentences as queries and indexes the next
n. When n exceeds the lessons' sentences, seeded random unit vectors fill the
rest of the index. Every engine gets the same vectors and the same queries, one
query at a time. FAISS's flat index is exact, so its top k defines recall.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from lessons.demos import MAX_SEED, Demo, DemoResult, whole_numbers
from lessons.demos.plotting import new_figure, to_png

DEFAULT_COUNT = 500
MAX_COUNT = 20000
QUERIES = 50
TOP_K = 10
HNSW_NEIGHBOURS = 16  # M: links per node in FAISS's and Chroma's HNSW graphs
# Candidates kept while searching the HNSW graph: each library's default (faiss-cpu 1.15, chromadb 1.5).
FAISS_EF_SEARCH = 16
CHROMA_EF_SEARCH = 100
MIN_SENTENCE_CHARS = 30
ENGINES = ("FAISS flat (exact)", "FAISS HNSW", "Chroma (HNSW)", "Qdrant local (full scan)")


@dataclass(frozen=True)
class EngineRun:
    name: str
    ids: list[list[int]]  # per query, the ids of the top k, best first
    build_seconds: float
    query_seconds: float  # mean over the queries


def lesson_sentences() -> list[str]:
    """Split the built-in lessons' prose into sentences, leaving out code blocks, tables and headings."""
    from lessons import LESSONS_DIR

    sentences = []
    for path in sorted(LESSONS_DIR.glob("*.md")):
        text = re.sub(r"```.*?```", " ", path.read_text(encoding="utf-8"), flags=re.DOTALL)
        text = re.sub(r"^\s*(\||#|<!--).*$", " ", text, flags=re.MULTILINE)
        for sentence in re.split(r"(?<=[.!?])\s+|\n+", text):
            sentence = " ".join(sentence.split())
            if len(sentence) >= MIN_SENTENCE_CHARS:
                sentences.append(sentence)
    return sentences


@lru_cache(maxsize=4)
def dataset(count: int, seed: int):
    """Return (query vectors, indexed vectors, query sentences, how many indexed vectors are random padding)."""
    import numpy as np

    from lessons.demos.embed import _embedder

    sentences = lesson_sentences()
    order = np.random.default_rng(seed).permutation(len(sentences))
    chosen = [sentences[i] for i in order[: QUERIES + count]]
    vectors = np.asarray(_embedder().embed(chosen), dtype=np.float32)  # (QUERIES + real, 384), unit length
    queries, indexed = vectors[:QUERIES], vectors[QUERIES:]

    padding = max(count - len(indexed), 0)
    return queries, pad_with_unit_vectors(indexed, count, seed), chosen[:QUERIES], padding


def pad_with_unit_vectors(vectors, count: int, seed: int):
    """Append seeded random unit vectors until there are `count` rows."""
    import numpy as np

    missing = count - len(vectors)
    if missing <= 0:
        return vectors
    noise = np.random.default_rng(seed).standard_normal((missing, vectors.shape[1])).astype(np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    return np.vstack([vectors, noise])


def recall_at_k(found: list[list[int]], exact: list[list[int]], k: int) -> float:
    """Return the mean over queries of |found top k ∩ exact top k| / k."""
    if not exact:
        raise ValueError("recall needs at least one query")
    shares = [len(set(got[:k]) & set(truth[:k])) / k for got, truth in zip(found, exact, strict=True)]
    return sum(shares) / len(shares)


def _timed(build: Callable[[], Callable], queries) -> tuple[list[list[int]], float, float]:
    """Build an index, run the queries one at a time, and return (ids, build seconds, mean query seconds)."""
    started = time.perf_counter()
    search = build()
    built = time.perf_counter()
    ids = [search(query) for query in queries]
    searched = time.perf_counter()
    getattr(search, "close", lambda: None)()  # frees what outlives the function (Chroma's shared client)
    return ids, built - started, (searched - built) / len(queries)


def _faiss(vectors, exact: bool):
    import faiss

    def build():
        if exact:
            index = faiss.IndexFlatIP(vectors.shape[1])
        else:
            index = faiss.IndexHNSWFlat(vectors.shape[1], HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efSearch = FAISS_EF_SEARCH
        index.add(vectors)

        def search(query):
            _, ids = index.search(query[None, :], TOP_K)  # (1, TOP_K)
            return [int(i) for i in ids[0] if i >= 0]

        return search

    return build


def _chroma(vectors):
    def build():
        import chromadb
        from chromadb.config import Settings

        # Telemetry off, and no embedding function: the vectors are given, so Chroma loads no model.
        client = chromadb.EphemeralClient(settings=Settings(anonymized_telemetry=False))
        name = "vectordb-demo"
        if name in [collection.name for collection in client.list_collections()]:
            client.delete_collection(name)
        # One insert thread keeps the HNSW graph, and so the results, the same on every run.
        configuration = {
            "hnsw": {"space": "ip", "max_neighbors": HNSW_NEIGHBOURS, "ef_search": CHROMA_EF_SEARCH, "num_threads": 1}
        }
        collection = client.create_collection(name, embedding_function=None, configuration=configuration)
        for first in range(0, len(vectors), 5000):  # Chroma caps the rows of one add
            batch = vectors[first : first + 5000]
            collection.add(ids=[str(first + i) for i in range(len(batch))], embeddings=batch)

        def search(query):
            result = collection.query(query_embeddings=query[None, :], n_results=TOP_K, include=[])
            return [int(i) for i in result["ids"][0]]

        # The ephemeral client lives as long as the process, so the collection is dropped after the queries.
        search.close = lambda: client.delete_collection(name)
        return search

    return build


def _qdrant(vectors):
    def build():
        from qdrant_client import QdrantClient, models

        client = QdrantClient(":memory:")
        client.create_collection(
            "demo", vectors_config=models.VectorParams(size=vectors.shape[1], distance=models.Distance.DOT)
        )
        client.upload_collection("demo", vectors=vectors, ids=list(range(len(vectors))))

        def search(query):
            points = client.query_points("demo", query=query.tolist(), limit=TOP_K).points
            return [int(point.id) for point in points]

        return search

    return build


def compare_engines(queries, vectors, time_limit: float = 60.0) -> tuple[list[EngineRun], bool]:
    """Index the vectors in each engine and search them, and return the runs and whether the time limit cut them short."""
    import faiss

    builders = dict(zip(ENGINES, (_faiss(vectors, True), _faiss(vectors, False), _chroma(vectors), _qdrant(vectors))))
    threads = faiss.omp_get_max_threads()
    # HNSW inserts in parallel threads link nodes in a varying order, so one thread makes the graph reproducible.
    faiss.omp_set_num_threads(1)
    runs = []
    started = time.monotonic()
    try:
        for name, build in builders.items():
            if runs and time.monotonic() - started > time_limit:
                return runs, True
            ids, build_seconds, query_seconds = _timed(build, queries)
            runs.append(EngineRun(name, ids, build_seconds, query_seconds))
    finally:
        faiss.omp_set_num_threads(threads)
    return runs, False


def run(count: int = DEFAULT_COUNT, seed: int = 0, time_limit: float = 60.0) -> DemoResult:
    queries, vectors, query_sentences, padding = dataset(count, seed)
    runs, stopped_early = compare_engines(queries, vectors, time_limit)
    exact = runs[0].ids
    recalls = {engine.name: recall_at_k(engine.ids, exact, TOP_K) for engine in runs}

    real = count - padding
    source = f"{real} sentences of the built-in lessons, embedded with all-MiniLM-L6-v2 (384-d, unit length)"
    if padding:
        source += f", padded with {padding} seeded random unit vectors"
    lines = [
        f"Indexed {source}. {QUERIES} other lesson sentences are the queries, e.g. {query_sentences[0]!r}.",
        "\n".join(
            f"- {engine.name}: recall@{TOP_K} {recalls[engine.name]:.3f}, "
            f"{engine.query_seconds * 1000:.2f} ms per query, built in {engine.build_seconds:.2f} s"
            for engine in runs
        ),
        "Recall@k is the share of the exact top k that an engine returns; the flat index defines it, so its own "
        "recall is 1 by definition. Times vary from run to run and machine to machine, but the ids found do not.",
        f"Both HNSW graphs link each vector to up to {HNSW_NEIGHBOURS} others. FAISS searches with efSearch = "
        f"{FAISS_EF_SEARCH} and Chroma with ef_search = {CHROMA_EF_SEARCH} (each library's default), so Chroma "
        "looks at more candidates per query. Qdrant's local mode compares every vector, like the flat index.",
    ]
    if padding:
        lines.insert(2, "The random vectors are nearly orthogonal to every sentence, so they seldom enter a top 10: "
                     "they make the index bigger, not the search harder.")
    if stopped_early:
        lines.append(f"Stopped after {len(runs)} of {len(ENGINES)} engines: the demo's {time_limit:.0f} s limit ran out.")
    command = f"/demo vectordb {count} {seed}"
    lines.append(f"Reproduce: `{command}`")
    png = _draw(runs, recalls, count, padding)
    facts = {"recalls": recalls, "ids": {engine.name: engine.ids for engine in runs}, "padding": padding,
             "query_ms": {engine.name: engine.query_seconds * 1000 for engine in runs}}
    return DemoResult("\n\n".join(lines), png, command, facts)


def _draw(runs, recalls, count, padding) -> bytes:
    figure = new_figure()
    recall_panel, time_panel = figure.subplots(1, 2)
    names = [engine.name for engine in runs]
    positions = list(range(len(names)))
    colors = ["tab:gray", "tab:blue", "tab:orange", "tab:red"][: len(names)]

    bars = recall_panel.barh(positions, [recalls[name] for name in names], color=colors)
    recall_panel.bar_label(bars, fmt="%.3f", padding=3, fontsize=9)
    recall_panel.set_yticks(positions, names, fontsize=9)
    recall_panel.invert_yaxis()
    recall_panel.set_xlim(0, 1.15)
    recall_panel.set_xlabel(f"recall@{TOP_K} against exact search")
    recall_panel.set_title("How many of the true top 10 each engine finds", fontsize=10)

    milliseconds = [engine.query_seconds * 1000 for engine in runs]
    bars = time_panel.barh(positions, milliseconds, color=colors)
    time_panel.bar_label(bars, fmt="%.2f ms", padding=3, fontsize=9)
    time_panel.set_yticks(positions, [""] * len(names))
    time_panel.invert_yaxis()
    time_panel.set_xscale("log")
    time_panel.set_xlim(min(milliseconds) / 2, max(milliseconds) * 8)
    time_panel.set_xlabel("mean time per query, ms (log scale)")
    time_panel.set_title("Time for one query, this run", fontsize=10)

    vectors = f"{count} vectors" + (f" ({padding} of them random)" if padding else "")
    figure.suptitle(f"One set of sentence embeddings, four engines: {vectors}, {QUERIES} queries, k = {TOP_K}", fontsize=11)
    return to_png(figure)


def parse(args: str) -> dict:
    """Read `[n] [seed]` from the chat."""
    fields = (("n", "count", TOP_K, MAX_COUNT), ("seed", "seed", 0, MAX_SEED))
    return whole_numbers(args, fields, "vectors to index and seed", "/demo vectordb 500 0")


DEMO = Demo(
    name="vectordb",
    usage="[n] [seed]",
    description="Index the same embeddings in FAISS, Chroma and Qdrant and compare recall@10 and query time.",
    run=run,
    parse=parse,
)
