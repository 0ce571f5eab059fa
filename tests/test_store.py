"""Both Qdrant backends hold the same points and answer the same queries the same way."""

import math
import random
import uuid

import pytest
from qdrant_client import QdrantClient

from knowledge.embeddings import KeywordEncoder
from knowledge.store import (
    PREFETCH_FACTOR,
    RRF_K,
    EdgeStore,
    Match,
    RetrievalMode,
    SearchQuery,
    ServerStore,
    StoredPoint,
    point_id,
)

DIMENSIONS = 16
WORDS = (
    "attention token embedding vector cosine gradient loss softmax layer transformer query key value "
    "cache index graph neighbour chunk retrieval sparse dense fusion rank score tenant lesson model"
).split()
# With an average length of 90, a one-word weight at 40 words is exactly twice the one at
# 210 words, which makes exact score ties that each backend orders its own way; 97.31
# gives no such ratios between whole lengths.
ENCODER = KeywordEncoder(average_length=97.31)


def unit(vector):
    norm = sum(x * x for x in vector) ** 0.5
    return [x / norm for x in vector]


def make_points(count, seed=7):
    rng = random.Random(seed)
    points = []
    for i in range(count):
        tenant = ("g1", "g2", "builtin")[i % 3]
        doc_id = f"doc{i % 7}"
        payload = {
            "tenant": tenant,
            "doc_id": doc_id,
            "version": "v1",
            "chunk_id": f"{doc_id}/v1/{i}",
            "chunk_index": i // 7,
            "text": f"chunk {i}",
        }
        # Five different topic words and a different length for every text (the filler
        # word is never queried) give no two texts the same BM25 score. Each backend
        # orders tied scores inside a prefetch its own way, which would move RRF ranks.
        payload["text"] = " ".join(rng.sample(WORDS, 5) + ["filler"] * i)
        vector = unit([rng.gauss(0, 1) for _ in range(DIMENSIONS)])
        keywords = ENCODER.encode_document(payload["text"])
        points.append(StoredPoint(point_id(doc_id, "v1", i), vector, payload, keywords))
    return points


@pytest.fixture
def stores(tmp_path):
    edge = EdgeStore(tmp_path / "edge", DIMENSIONS)
    server = ServerStore(QdrantClient(path=str(tmp_path / "local")), "test", DIMENSIONS)
    yield edge, server
    edge.close()
    server.close()


def brute_force(points, query, tenants, limit):
    scored = [
        (sum(a * b for a, b in zip(query, p.vector)), p.payload["chunk_id"])
        for p in points
        if p.payload["tenant"] in tenants
    ]
    return [chunk_id for _, chunk_id in sorted(scored, reverse=True)[:limit]]


def keyword_oracle(points, query_text, tenants, limit):
    """BM25 by hand: the stored term weights times Qdrant's IDF, ln(1 + (N - n + 0.5) / (n + 0.5)),
    with N and n counted over the whole collection."""
    documents = {p.payload["chunk_id"]: dict(zip(p.keywords.indices, p.keywords.values)) for p in points}
    total = len(documents)
    frequency = {}
    for weights in documents.values():
        for term in weights:
            frequency[term] = frequency.get(term, 0) + 1
    terms = ENCODER.terms(query_text)
    scored = []
    for p in points:
        weights = documents[p.payload["chunk_id"]]
        matched = [term for term in terms if term in weights]
        if p.payload["tenant"] in tenants and matched:
            idf = {t: math.log(1 + (total - frequency[t] + 0.5) / (frequency[t] + 0.5)) for t in matched}
            scored.append((sum(idf[t] * weights[t] for t in matched), p.payload["chunk_id"]))
    return [chunk_id for _, chunk_id in sorted(scored, key=lambda item: (-item[0], item[1]))[:limit]]


def rrf_oracle(rankings, limit):
    fused = {}
    for ranking in rankings:
        for rank, chunk_id in enumerate(ranking):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + 1 / (RRF_K + rank)
    ordered = sorted(fused.items(), key=lambda item: (-round(item[1], 9), item[0]))
    return [chunk_id for chunk_id, _ in ordered[:limit]]


def queries(count, seed=1):
    rng = random.Random(seed)
    for _ in range(count):
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 3)))
        yield SearchQuery(unit([rng.gauss(0, 1) for _ in range(DIMENSIONS)]), ENCODER.encode_query(text)), text


@pytest.mark.parametrize("mode", list(RetrievalMode))
def test_backends_rank_alike_in_every_mode(stores, mode):
    points = make_points(300)
    for store in stores:
        store.upsert(points)

    tenants = {"g1", "builtin"}
    match = Match(tenants=tuple(sorted(tenants)))
    for query, text in queries(20):
        query = SearchQuery(query.vector, query.keywords, mode)
        results = [store.query(query, match, 10) for store in stores]
        edge_ids = [found.payload["chunk_id"] for found in results[0]]
        server_ids = [found.payload["chunk_id"] for found in results[1]]
        assert edge_ids == server_ids, text

        depth = 10 * PREFETCH_FACTOR
        dense = brute_force(points, query.vector, tenants, depth)
        keywords = keyword_oracle(points, text, tenants, depth)
        expected = {
            RetrievalMode.DENSE: dense[:10],
            RetrievalMode.SPARSE: keywords[:10],
            RetrievalMode.HYBRID: rrf_oracle([dense, keywords], 10),
        }[mode]
        assert edge_ids == expected, text
        for edge_found, server_found in zip(*results):
            # NOTE: the fused RRF sums differ in the fourth digit between qdrant-edge 0.9.0 and
            # qdrant-client 1.20.0 local mode while their order agrees, so only the order is compared.
            if mode != RetrievalMode.HYBRID:
                assert edge_found.score == pytest.approx(server_found.score, rel=1e-4)
            assert edge_found.cosine == pytest.approx(server_found.cosine, abs=1e-4)


@pytest.mark.parametrize("mode", list(RetrievalMode))
def test_tenant_filter_never_leaks_in_any_mode(stores, mode):
    points = make_points(90)
    for store in stores:
        store.upsert(points)
        for query, text in queries(10, seed=3):
            query = SearchQuery(query.vector, query.keywords, mode)
            found = store.query(query, Match(tenants=("g2",)), 50)
            assert found, text
            assert {result.payload["tenant"] for result in found} == {"g2"}


def test_versions_filter_hides_other_versions(stores):
    points = make_points(30)
    hidden = {p.payload["chunk_id"] for p in points if p.payload["doc_id"] == "doc1"}
    for store in stores:
        store.upsert(points)
        for query, _ in queries(5, seed=4):
            query = SearchQuery(query.vector, query.keywords, RetrievalMode.HYBRID)
            found = store.query(query, Match(versions=("v1",)), 30)
            assert len(found) == 30
            found = store.query(query, Match(versions=("v2",)), 30)
            assert found == []
        store.delete(Match(doc_id="doc1"))
        for query, _ in queries(5, seed=4):
            ids = {f.payload["chunk_id"] for f in store.query(query, Match(versions=("v1",)), 30)}
            assert not ids & hidden


def test_backends_return_same_ranking(stores):
    points = make_points(300)
    for store in stores:
        store.upsert(points)

    rng = random.Random(1)
    for _ in range(20):
        query = unit([rng.gauss(0, 1) for _ in range(DIMENSIONS)])
        match = Match(tenants=("g1", "builtin"))
        results = [store.search(query, match, 10) for store in stores]
        edge_ids = [payload["chunk_id"] for _, payload in results[0]]
        server_ids = [payload["chunk_id"] for _, payload in results[1]]
        assert edge_ids == server_ids
        assert edge_ids == brute_force(points, query, {"g1", "builtin"}, 10)
        for (edge_score, _), (server_score, _) in zip(*results):
            assert edge_score == pytest.approx(server_score, abs=1e-4)


def test_tenant_filter_never_leaks(stores):
    points = make_points(90)
    for store in stores:
        store.upsert(points)
        for score, payload in store.search(points[1].vector, Match(tenants=("g1",)), 50):
            assert payload["tenant"] == "g1"


def test_upsert_same_points_is_idempotent(stores):
    points = make_points(60)
    for store in stores:
        store.upsert(points)
        store.upsert(points)
        assert store.count(Match()) == 60


def test_delete_scroll_count_agree(stores):
    points = make_points(140)
    for store in stores:
        store.upsert(points)
        store.delete(Match(tenants=("g1",), doc_id="doc0"))
    counts = [store.count(Match()) for store in stores]
    assert counts[0] == counts[1]
    expected = len([p for p in points if not (p.payload["tenant"] == "g1" and p.payload["doc_id"] == "doc0")])
    assert counts[0] == expected
    firsts = [sorted(p["chunk_id"] for p in store.scroll(Match(first_chunks_only=True))) for store in stores]
    assert firsts[0] == firsts[1]
    assert all(chunk_id for chunk_id in firsts[0])


def test_other_versions_filter(stores):
    old = make_points(10)
    new = [
        StoredPoint(point_id(p.payload["doc_id"], "v2", i), p.vector, {**p.payload, "version": "v2"})
        for i, p in enumerate(old)
    ]
    for store in stores:
        store.upsert(old + new)
        store.delete(Match(doc_id="doc0", other_versions_than="v2"))
        versions = {p["version"] for p in store.scroll(Match(doc_id="doc0"))}
        assert versions == {"v2"}


def test_large_upsert_in_batches_with_uuid_ids(stores):
    # 3,000 chunks of 1,000 characters in one call: over 3 MB of payload in
    # one go, which the store must split into bounded batches.
    text = "x" * 1000
    points = [
        StoredPoint(
            point_id("lesson3", "v1", i),
            unit([1.0] + [0.001 * (i % 10)] * (DIMENSIONS - 1)),
            {"tenant": "g1", "doc_id": "lesson3", "version": "v1", "chunk_id": f"lesson3-chunk-{i}", "chunk_index": i, "text": text},
        )
        for i in range(3000)
    ]
    edge, _ = stores
    edge.upsert(points)
    assert edge.count(Match(doc_id="lesson3")) == 3000
    uuid.UUID(points[7].id)
    assert points[7].payload["chunk_id"] == "lesson3-chunk-7"


def test_delete_without_filter_rejected(stores):
    for store in stores:
        with pytest.raises(ValueError):
            store.delete(Match())


def test_edge_store_reopens_with_data(tmp_path):
    points = make_points(30)
    store = EdgeStore(tmp_path / "edge", DIMENSIONS)
    store.upsert(points)
    store.close()
    reopened = EdgeStore(tmp_path / "edge", DIMENSIONS)
    assert reopened.count(Match()) == 30
    reopened.close()


def test_second_process_gets_clear_error(tmp_path):
    import subprocess
    import sys

    from conftest import ROOT

    store = EdgeStore(tmp_path / "edge", DIMENSIONS)
    store.upsert(make_points(3))
    script = (
        "from pathlib import Path\n"
        "from knowledge.store import EdgeStore, StoreInUseError\n"
        "try:\n"
        f"    EdgeStore(Path({str(tmp_path / 'edge')!r}), {DIMENSIONS})\n"
        "except StoreInUseError as error:\n"
        "    print(error)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60)
    store.close()
    assert "open in another genai-tutor process" in result.stdout, result.stderr
    assert "QDRANT_URL" in result.stdout
