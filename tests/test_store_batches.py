"""A large document upserts in bounded batches, with UUID point ids derived from readable chunk ids."""

import json
import uuid

from qdrant_client import QdrantClient

from knowledge.store import _POINT_NAMESPACE, UPSERT_BATCH, Match, ServerStore, StoredPoint, chunk_key, point_id

DIMENSIONS = 8
# Qdrant's default limit on one request body.
QDRANT_MAX_REQUEST_BYTES = 32 * 1024 * 1024


class RecordingClient(QdrantClient):
    """qdrant-client in local mode that keeps the size of every upsert request it is given."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.batches: list[tuple[int, int]] = []

    def upsert(self, collection_name, points, **kwargs):
        body = json.dumps({"points": [point.model_dump(mode="json") for point in points]})
        self.batches.append((len(points), len(body.encode())))
        return super().upsert(collection_name, points=points, **kwargs)


def test_three_thousand_chunks_in_bounded_batches():
    client = RecordingClient(location=":memory:")
    store = ServerStore(client, "big", DIMENSIONS)
    text = "t" * 1000
    points = []
    for index in range(3000):
        readable = chunk_key("lesson3", "v1", index)
        payload = {
            "tenant": "g1", "doc_id": "lesson3", "version": "v1", "chunk_id": readable, "chunk_index": index, "text": text
        }
        vector = [1.0] + [((index * 7 + k) % 11) / 11 for k in range(DIMENSIONS - 1)]
        points.append(StoredPoint(point_id("lesson3", "v1", index), vector, payload))

    store.upsert(points)

    assert len(client.batches) == -(-3000 // UPSERT_BATCH)
    assert max(count for count, _ in client.batches) <= UPSERT_BATCH
    assert max(size for _, size in client.batches) < QDRANT_MAX_REQUEST_BYTES
    assert store.count(Match(doc_id="lesson3")) == 3000

    stored = {payload["chunk_id"] for payload in store.scroll(Match(doc_id="lesson3"))}
    assert "lesson3/v1/7" in stored
    assert uuid.UUID(points[7].id).version == 5
    assert points[7].id == str(uuid.uuid5(_POINT_NAMESPACE, points[7].payload["chunk_id"]))
    store.close()
