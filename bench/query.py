"""Measure retrieval latency of the two store backends at 1k, 10k and 50k chunks.

Run with `python bench/query.py`. The points are synthetic: random 384-d unit
vectors (no embedding model runs, so the figures are the store alone) and
keyword vectors of 20 words drawn from a 2,000-word vocabulary, spread over 20
tenants. Both backends get the same points and the same queries in one run:
qdrant-edge (embedded) and qdrant-client's local mode (the in-process stand-in
for a server, a NumPy brute force). Prints p50 and p99 in milliseconds, for
dense and hybrid queries, with and without the tenant filter, and for
qdrant-edge again after `optimize()` has built its HNSW index. Pass sizes as
arguments to run only those (`python bench/query.py 50000`).

Local mode loads about 1,000 points in 8 s and scans every point in Python on a
filtered query. So it runs up to LOCAL_MODE_MAX_POINTS only, with 20 queries at
10k, where its p99 is the slowest of the 20.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZES = (1_000, 10_000, 50_000)
QUERIES = 100
LOCAL_MODE_MAX_POINTS = 10_000
LOCAL_MODE_QUERIES = 20
TENANTS = 20
DIMENSIONS = 384
VOCABULARY = [f"term{number}" for number in range(2000)]


def unit(rng: random.Random) -> list[float]:
    vector = [rng.gauss(0, 1) for _ in range(DIMENSIONS)]
    norm = sum(x * x for x in vector) ** 0.5
    return [x / norm for x in vector]


def make_points(count: int, encoder, rng: random.Random):
    from knowledge.store import StoredPoint, point_id

    points = []
    for i in range(count):
        text = " ".join(rng.choice(VOCABULARY) for _ in range(20))
        payload = {
            "kind": "chunk", "tenant": f"t{i % TENANTS}", "doc_id": f"d{i // 50}", "version": "v1",
            "chunk_id": f"d{i // 50}/v1/{i}", "chunk_index": i % 50, "text": text,
        }
        points.append(StoredPoint(point_id(payload["doc_id"], "v1", i), unit(rng), payload, encoder.encode_document(text)))
    return points


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


def time_queries(store, queries, match) -> tuple[float, float]:
    samples = []
    for query in queries:
        started = time.perf_counter()
        store.query(query, match, 5)
        samples.append(time.perf_counter() - started)
    return percentiles(samples)


def report(store, name, size, texts, encoder, rng, load) -> None:
    from knowledge.store import Match, RetrievalMode, SearchQuery

    for mode in (RetrievalMode.DENSE, RetrievalMode.HYBRID):
        queries = [SearchQuery(unit(rng), encoder.encode_query(text), mode) for text in texts]
        time_queries(store, queries[:5], Match())  # warm-up
        p50, p99 = time_queries(store, queries, Match())
        f50, f99 = time_queries(store, queries, Match(tenants=("t3", "builtin")))
        print(f"| {size:,} | {name} | {mode.value} | {p50:.2f} | {p99:.2f} | {f50:.2f} | {f99:.2f} | {load} |", flush=True)


def main(sizes: tuple[int, ...] = SIZES) -> None:
    from qdrant_client import QdrantClient

    from knowledge.embeddings import KeywordEncoder
    from knowledge.store import EdgeStore, ServerStore

    encoder = KeywordEncoder()
    rng = random.Random(11)
    print("| chunks | backend | query | p50 ms | p99 ms | p50 ms, tenant filter | p99 ms, tenant filter | load s |")
    print("|---|---|---|---|---|---|---|---|")
    for size in sizes:
        points = make_points(size, encoder, rng)
        texts = [" ".join(rng.choice(VOCABULARY) for _ in range(3)) for _ in range(QUERIES)]
        with tempfile.TemporaryDirectory() as folder:
            backends = {
                "qdrant-edge": lambda: EdgeStore(Path(folder) / "edge", DIMENSIONS),
                "qdrant-client local": lambda: ServerStore(QdrantClient(path=f"{folder}/local"), "bench", DIMENSIONS),
            }
            for name, open_store in backends.items():
                count = QUERIES
                if name == "qdrant-client local":
                    if size > LOCAL_MODE_MAX_POINTS:
                        print(f"| {size:,} | {name} | not run: loading would take about {size * 8 // 1000} s | | | | | |")
                        continue
                    count = LOCAL_MODE_QUERIES if size > 1_000 else QUERIES
                store = open_store()
                started = time.monotonic()
                store.upsert(points)
                load = time.monotonic() - started
                report(store, name, size, texts[:count], encoder, rng, f"{load:.1f}")
                if name == "qdrant-edge":
                    # The shard builds its HNSW index only when its optimizers run.
                    started = time.monotonic()
                    store._shard.optimize()
                    report(store, f"{name}, after optimize()", size, texts, encoder, rng,
                           f"optimize {time.monotonic() - started:.1f}")
                store.close()


if __name__ == "__main__":
    import warnings

    warnings.filterwarnings("ignore", message="Payload indexes have no effect")
    main(tuple(int(size) for size in sys.argv[1:]) or SIZES)
