"""A store written before keyword vectors and live-version records is migrated when opened."""

import logging

from qdrant_client import QdrantClient, models

from knowledge.base import BUILTIN_TENANT, KnowledgeBase
from knowledge.embeddings import DIMENSIONS, KeywordEncoder
from knowledge.store import EdgeStore, Match, RetrievalMode, ServerStore, StoredPoint, point_id

TEXTS = [
    "Cross-entropy compares a predicted distribution with the true label.",
    "Mean squared error averages the squared differences between predictions and targets.",
    "An HNSW index links vectors in layered neighbour graphs for fast approximate search.",
]


def old_points(embedder):
    """Points as format 1 wrote them: a dense vector only, and no `kind` in the payload."""
    vectors = embedder.embed(TEXTS)
    points = []
    for index, (text, vector) in enumerate(zip(TEXTS, vectors)):
        payload = {
            "tenant": "g1" if index < 2 else BUILTIN_TENANT,
            "doc_id": "losses" if index < 2 else "lesson4",
            "version": "old",
            "chunk_id": f"x/old/{index}",
            "chunk_index": index if index < 2 else 0,
            "chunk_count": 2 if index < 2 else 1,
            "name": "losses.md" if index < 2 else "lessons/04.md",
            "doc_type": "markdown",
            "size": 100,
            "added_by": "ada",
            "added_at": "2026-12-01T10:00:00+00:00",
            "text": text,
            "location": "Losses" if index < 2 else "Step 5",
        }
        points.append((point_id(payload["doc_id"], "old", payload["chunk_index"]), vector, payload))
    return points


def write_old_edge_store(path, embedder):
    import qdrant_edge as edge

    config = edge.EdgeConfig(vectors={"dense": edge.EdgeVectorParams(size=DIMENSIONS, distance=edge.Distance.Cosine)})
    shard = edge.EdgeShard.create(str(path), config)
    batch = [edge.Point(id_, {"dense": vector}, payload) for id_, vector, payload in old_points(embedder)]
    shard.update(edge.UpdateOperation.upsert_points(batch))
    shard.flush()
    shard.close()


def write_old_collection(client, embedder):
    client.create_collection(
        "kb", vectors_config={"dense": models.VectorParams(size=DIMENSIONS, distance=models.Distance.COSINE)}
    )
    batch = [models.PointStruct(id=id_, vector={"dense": vector}, payload=payload) for id_, vector, payload in old_points(embedder)]
    client.upsert("kb", points=batch, wait=True)


def check_migrated(base):
    assert base.store.migrated
    assert base.count() == 3
    assert [d.name for d in base.documents("g1")] == ["lessons/04.md", "losses.md"]
    assert [d.name for d in base.documents("g2")] == ["lessons/04.md"]
    for mode in RetrievalMode:
        hits = base.search("what is an HNSW index?", "g1", 2, mode)
        assert hits[0].source == "lessons/04.md", mode
    hits = base.search("cross-entropy", "g2", 3, RetrievalMode.SPARSE)
    assert all(hit.source == "lessons/04.md" for hit in hits)


def test_old_edge_store_is_migrated(tmp_path, embedder, caplog):
    path = tmp_path / "edge"
    write_old_edge_store(path, embedder)
    with caplog.at_level(logging.WARNING, logger="knowledge"):
        base = KnowledgeBase(EdgeStore(path, DIMENSIONS), embedder, max_file_bytes=10**7, max_pdf_pages=500)
    try:
        assert any("has no keyword vectors" in record.getMessage() for record in caplog.records)
        check_migrated(base)
        assert not (tmp_path / "edge.old").exists()
        assert not (tmp_path / "edge.migrating").exists()
    finally:
        base.close()

    reopened = EdgeStore(path, DIMENSIONS)
    assert not reopened.migrated
    assert reopened.count(Match(kind="live")) == 2
    reopened.close()


def test_unfinished_edge_migration_is_redone(tmp_path, embedder):
    path = tmp_path / "edge"
    write_old_edge_store(path, embedder)
    (tmp_path / "edge.migrating").mkdir()
    (tmp_path / "edge.migrating" / "partial").write_text("left by a killed process")
    base = KnowledgeBase(EdgeStore(path, DIMENSIONS), embedder, max_file_bytes=10**7, max_pdf_pages=500)
    try:
        check_migrated(base)
    finally:
        base.close()


def test_old_server_collection_is_migrated(tmp_path, embedder, caplog):
    client = QdrantClient(path=str(tmp_path / "local"))
    write_old_collection(client, embedder)
    with caplog.at_level(logging.WARNING, logger="knowledge"):
        base = KnowledgeBase(ServerStore(client, "kb", DIMENSIONS), embedder, max_file_bytes=10**7, max_pdf_pages=500)
    try:
        assert any("has no keyword vectors" in record.getMessage() for record in caplog.records)
        check_migrated(base)
        assert not client.collection_exists("kb_migrating")
    finally:
        base.close()


def test_server_migration_killed_while_copying(tmp_path, embedder):
    client = QdrantClient(path=str(tmp_path / "local"))
    write_old_collection(client, embedder)
    client.create_collection(
        "kb_migrating", vectors_config={"dense": models.VectorParams(size=DIMENSIONS, distance=models.Distance.COSINE)}
    )
    base = KnowledgeBase(ServerStore(client, "kb", DIMENSIONS), embedder, max_file_bytes=10**7, max_pdf_pages=500)
    try:
        assert not client.collection_exists("kb_migrating")
        check_migrated(base)
    finally:
        base.close()


def test_server_migration_killed_after_dropping_original(tmp_path, embedder):
    client = QdrantClient(path=str(tmp_path / "local"))
    staging = ServerStore(client, "kb_migrating", DIMENSIONS)
    encoder = KeywordEncoder()
    staging.upsert([
        StoredPoint(id_, vector, {**payload, "kind": "chunk"}, encoder.encode_document(payload["text"]))
        for id_, vector, payload in old_points(embedder)
    ])
    base = KnowledgeBase(ServerStore(client, "kb", DIMENSIONS), embedder, max_file_bytes=10**7, max_pdf_pages=500)
    try:
        assert not client.collection_exists("kb_migrating")
        check_migrated(base)
    finally:
        base.close()
