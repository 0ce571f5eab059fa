"""The vector store: one interface, two Qdrant backends.

- `EdgeStore`: qdrant-edge-py, Qdrant's engine compiled into this process, on
  a folder under the data directory. The default: no server to run.
- `ServerStore`: qdrant-client against a Qdrant server at QDRANT_URL (or, in
  tests, qdrant-client's local mode standing in for one).

Both store one point per chunk with a named dense vector and a payload that
carries the tenant, the document id and version, the chunk's text and its
position. Point ids are UUIDv5 of (document id, version, chunk index), so
writing the same chunks again overwrites them instead of adding copies.
"""

from __future__ import annotations

import logging
import threading
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

DENSE = "dense"
# Qdrant rejects request bodies over 32 MiB by default. A 384-d point with a
# 2 KB text payload is under 10 KB as JSON, so 256 points stay far below it.
UPSERT_BATCH = 256
SCROLL_PAGE = 256
INDEXED_KEYWORDS = ("tenant", "doc_id", "version")

_POINT_NAMESPACE = uuid.UUID("6f1c5f8e-3d0a-5b8e-9a57-1f0f3c2b7d41")


def point_id(doc_id: str, version: str, chunk_index: int) -> str:
    """Return a UUIDv5 of the readable chunk id, which stays in the payload as `chunk_id`."""
    return str(uuid.uuid5(_POINT_NAMESPACE, chunk_key(doc_id, version, chunk_index)))


def chunk_key(doc_id: str, version: str, chunk_index: int) -> str:
    return f"{doc_id}/{version}/{chunk_index}"


@dataclass(frozen=True)
class StoredPoint:
    id: str
    vector: list[float]
    payload: dict[str, Any]


@dataclass(frozen=True)
class Match:
    """Conditions a store turns into its own filter; None means "any"."""

    tenants: tuple[str, ...] | None = None
    doc_id: str | None = None
    version: str | None = None
    other_versions_than: str | None = None
    first_chunks_only: bool = False


class StoreInUseError(Exception):
    """The embedded store's folder is locked by another process."""


class VectorStore(ABC):
    dimensions: int

    @abstractmethod
    def upsert(self, points: list[StoredPoint]) -> None: ...

    @abstractmethod
    def search(self, vector: list[float], match: Match, limit: int) -> list[tuple[float, dict[str, Any]]]: ...

    @abstractmethod
    def delete(self, match: Match) -> None: ...

    @abstractmethod
    def scroll(self, match: Match) -> list[dict[str, Any]]: ...

    @abstractmethod
    def count(self, match: Match) -> int: ...

    def close(self) -> None:
        """Release files or connections."""


class EdgeStore(VectorStore):
    """qdrant-edge-py shard in a local folder."""

    def __init__(self, path: Path, dimensions: int):
        import qdrant_edge as edge

        self._edge = edge
        self.dimensions = dimensions
        self._write_lock = threading.Lock()
        path.mkdir(parents=True, exist_ok=True)
        config = edge.EdgeConfig(
            vectors={DENSE: edge.EdgeVectorParams(size=dimensions, distance=edge.Distance.Cosine)},
        )
        if any(path.iterdir()):
            try:
                self._shard = edge.EdgeShard.load(str(path), config)
            except Exception as error:  # qdrant-edge raises a plain Exception with the cause in its text
                if "WouldBlock" in str(error):
                    raise StoreInUseError(
                        f"The knowledge base at {path} is open in another genai-tutor process. Stop that "
                        "process, or run a Qdrant server and set QDRANT_URL so that several processes can share it."
                    ) from None
                raise
        else:
            self._shard = edge.EdgeShard.create(str(path), config)
            for field in INDEXED_KEYWORDS:
                self._shard.update(edge.UpdateOperation.create_field_index(field, edge.PayloadSchemaType.Keyword))
            self._shard.update(
                edge.UpdateOperation.create_field_index("chunk_index", edge.PayloadSchemaType.Integer)
            )
            logger.info("created embedded Qdrant store at %s", path)

    def _filter(self, match: Match):
        edge = self._edge
        must: list = []
        must_not: list = []
        if match.tenants is not None:
            must.append(edge.FieldCondition(key="tenant", match=edge.MatchAny(any=list(match.tenants))))
        if match.doc_id is not None:
            must.append(edge.FieldCondition(key="doc_id", match=edge.MatchValue(match.doc_id)))
        if match.version is not None:
            must.append(edge.FieldCondition(key="version", match=edge.MatchValue(match.version)))
        if match.other_versions_than is not None:
            must_not.append(edge.FieldCondition(key="version", match=edge.MatchValue(match.other_versions_than)))
        if match.first_chunks_only:
            must.append(edge.FieldCondition(key="chunk_index", match=edge.MatchValue(0)))
        if not must and not must_not:
            return None
        return edge.Filter(must=must or None, must_not=must_not or None)

    def upsert(self, points: list[StoredPoint]) -> None:
        edge = self._edge
        with self._write_lock:
            for first in range(0, len(points), UPSERT_BATCH):
                batch = [
                    edge.Point(point.id, {DENSE: point.vector}, point.payload)
                    for point in points[first : first + UPSERT_BATCH]
                ]
                self._shard.update(edge.UpdateOperation.upsert_points(batch))
            self._shard.flush()

    def search(self, vector, match, limit):
        request = self._edge.QueryRequest(
            limit=limit,
            query=self._edge.Query.Nearest(vector, using=DENSE),
            filter=self._filter(match),
            with_payload=True,
        )
        return [(point.score, point.payload or {}) for point in self._shard.query(request)]

    def delete(self, match):
        selector = self._filter(match)
        if selector is None:
            raise ValueError("refusing to delete without a filter")
        with self._write_lock:
            self._shard.update(self._edge.UpdateOperation.delete_points_by_filter(selector))
            self._shard.flush()

    def scroll(self, match):
        payloads = []
        offset = None
        while True:
            records, offset = self._shard.scroll(
                self._edge.ScrollRequest(
                    offset=offset, limit=SCROLL_PAGE, filter=self._filter(match), with_payload=True
                )
            )
            payloads.extend(record.payload or {} for record in records)
            if offset is None:
                return payloads

    def count(self, match):
        return self._shard.count(self._edge.CountRequest(exact=True, filter=self._filter(match)))

    def close(self):
        self._shard.flush()
        self._shard.close()


class ServerStore(VectorStore):
    """qdrant-client against a server, or its local mode when given a local client."""

    def __init__(self, client, collection: str, dimensions: int):
        from qdrant_client import models

        self._models = models
        self._client = client
        self.collection = collection
        self.dimensions = dimensions
        if not client.collection_exists(collection):
            client.create_collection(
                collection,
                vectors_config={DENSE: models.VectorParams(size=dimensions, distance=models.Distance.COSINE)},
            )
            for field in INDEXED_KEYWORDS:
                client.create_payload_index(collection, field, models.PayloadSchemaType.KEYWORD)
            client.create_payload_index(collection, "chunk_index", models.PayloadSchemaType.INTEGER)
            logger.info("created Qdrant collection %s", collection)

    @classmethod
    def connect(cls, url: str, api_key: str | None, collection: str, dimensions: int) -> "ServerStore":
        from qdrant_client import QdrantClient

        return cls(QdrantClient(url=url, api_key=api_key, timeout=30), collection, dimensions)

    def _filter(self, match: Match):
        models = self._models
        must: list = []
        must_not: list = []
        if match.tenants is not None:
            must.append(models.FieldCondition(key="tenant", match=models.MatchAny(any=list(match.tenants))))
        if match.doc_id is not None:
            must.append(models.FieldCondition(key="doc_id", match=models.MatchValue(value=match.doc_id)))
        if match.version is not None:
            must.append(models.FieldCondition(key="version", match=models.MatchValue(value=match.version)))
        if match.other_versions_than is not None:
            must_not.append(
                models.FieldCondition(key="version", match=models.MatchValue(value=match.other_versions_than))
            )
        if match.first_chunks_only:
            must.append(models.FieldCondition(key="chunk_index", match=models.MatchValue(value=0)))
        if not must and not must_not:
            return None
        return models.Filter(must=must or None, must_not=must_not or None)

    def upsert(self, points):
        models = self._models
        for first in range(0, len(points), UPSERT_BATCH):
            batch = [
                models.PointStruct(id=point.id, vector={DENSE: point.vector}, payload=point.payload)
                for point in points[first : first + UPSERT_BATCH]
            ]
            self._client.upsert(self.collection, points=batch, wait=True)

    def search(self, vector, match, limit):
        response = self._client.query_points(
            self.collection,
            query=vector,
            using=DENSE,
            query_filter=self._filter(match),
            limit=limit,
            with_payload=True,
        )
        return [(point.score, point.payload or {}) for point in response.points]

    def delete(self, match):
        selector = self._filter(match)
        if selector is None:
            raise ValueError("refusing to delete without a filter")
        self._client.delete(
            self.collection, points_selector=self._models.FilterSelector(filter=selector), wait=True
        )

    def scroll(self, match):
        payloads = []
        offset = None
        while True:
            records, offset = self._client.scroll(
                self.collection,
                scroll_filter=self._filter(match),
                limit=SCROLL_PAGE,
                offset=offset,
                with_payload=True,
            )
            payloads.extend(record.payload or {} for record in records)
            if offset is None:
                return payloads

    def count(self, match):
        return self._client.count(self.collection, count_filter=self._filter(match), exact=True).count

    def close(self):
        self._client.close()
