"""Both Qdrant backends hold the same points and answer the same queries the same way."""

import random
import uuid

import pytest
from qdrant_client import QdrantClient

from knowledge.store import EdgeStore, Match, ServerStore, StoredPoint, point_id

DIMENSIONS = 16


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
        vector = unit([rng.gauss(0, 1) for _ in range(DIMENSIONS)])
        points.append(StoredPoint(point_id(doc_id, "v1", i), vector, payload))
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
