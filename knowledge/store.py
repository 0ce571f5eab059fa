"""The vector store: one interface, two Qdrant backends.

- `EdgeStore`: qdrant-edge-py, Qdrant's engine compiled into this process, on
  a folder under the data directory. The default: no server to run.
- `ServerStore`: qdrant-client against a Qdrant server at QDRANT_URL (or, in
  tests, qdrant-client's local mode standing in for one).

Both store one point per chunk with a named dense vector, a named sparse
keyword vector (BM25 term weights, IDF applied by Qdrant) and a payload that
carries the tenant, the document id and version, the chunk's text and its
position. A search ranks by the dense vector, the keyword vector, or both
fused by reciprocal rank fusion (RRF) inside Qdrant's query API. Point ids are
UUIDv5 of (document id, version, chunk index), so writing the same chunks
again overwrites them instead of adding copies.

Points without vectors can be stored too: the knowledge base keeps one such
record per document that names its live version.
"""

from __future__ import annotations

import logging
import shutil
import threading
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from knowledge.embeddings import Keywords, KeywordEncoder

logger = logging.getLogger(__name__)

DENSE = "dense"
KEYWORDS = "keywords"
# Qdrant rejects request bodies over 32 MiB by default. A 384-d point with a
# 2 KB text payload is under 10 KB as JSON, so 256 points stay far below it.
UPSERT_BATCH = 256
SCROLL_PAGE = 256
INDEXED_KEYWORDS = ("tenant", "doc_id", "version", "kind")
# The usual RRF constant: a passage's fused score is the sum of 1 / (60 + rank)
# over the rankings it appears in, so a few places of rank barely matter.
RRF_K = 60
# Each ranking fed to the fusion contains this many times the requested number of results.
PREFETCH_FACTOR = 4

_POINT_NAMESPACE = uuid.UUID("6f1c5f8e-3d0a-5b8e-9a57-1f0f3c2b7d41")


class RetrievalMode(str, Enum):
    HYBRID = "hybrid"
    DENSE = "dense"
    SPARSE = "sparse"


def point_id(doc_id: str, version: str, chunk_index: int) -> str:
    """Return a UUIDv5 of the readable chunk id, which stays in the payload as `chunk_id`."""
    return str(uuid.uuid5(_POINT_NAMESPACE, chunk_key(doc_id, version, chunk_index)))


def chunk_key(doc_id: str, version: str, chunk_index: int) -> str:
    return f"{doc_id}/{version}/{chunk_index}"


@dataclass(frozen=True)
class StoredPoint:
    """A point to write. A point without vectors is a plain record, never returned by a search."""

    id: str
    vector: list[float] | None
    payload: dict[str, Any]
    keywords: Keywords | None = None


@dataclass(frozen=True)
class Match:
    """Conditions a store turns into its own filter; None means "any"."""

    tenants: tuple[str, ...] | None = None
    doc_id: str | None = None
    version: str | None = None
    versions: tuple[str, ...] | None = None
    other_versions_than: str | None = None
    first_chunks_only: bool = False
    kind: str | None = None


@dataclass(frozen=True)
class SearchQuery:
    """A question in the form a store searches with: its embedding, its keywords and the ranking mode."""

    vector: list[float]
    keywords: Keywords | None = None
    mode: RetrievalMode = RetrievalMode.DENSE


@dataclass(frozen=True)
class Found:
    """A search result.

    `score` is the ranking score of the mode: a cosine, a BM25 sum or an RRF sum.
    `cosine` is the dense cosine similarity to the question in every mode.
    """

    score: float
    cosine: float
    payload: dict[str, Any]


class StoreInUseError(Exception):
    """The embedded store's folder is locked by another process."""


def _dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b))


def _rank(found: list[Found], limit: int) -> list[Found]:
    """Order by score, then by chunk id, so equal scores (common after RRF) order alike in both backends."""
    ordered = sorted(found, key=lambda item: (-item.score, str(item.payload.get("chunk_id", ""))))
    return ordered[:limit]


def _has_keywords(query: SearchQuery) -> bool:
    return query.keywords is not None and bool(query.keywords.indices)


class VectorStore(ABC):
    dimensions: int
    # True when opening the store converted an older layout; the knowledge base then
    # writes the records that layout did not have.
    migrated: bool = False
    # True when no other process can write to the store while it is open.
    exclusive: bool = False

    @abstractmethod
    def upsert(self, points: list[StoredPoint]) -> None: ...

    @abstractmethod
    def query(self, query: SearchQuery, match: Match, limit: int) -> list[Found]: ...

    @abstractmethod
    def delete(self, match: Match) -> None: ...

    @abstractmethod
    def scroll(self, match: Match) -> list[dict[str, Any]]: ...

    @abstractmethod
    def count(self, match: Match) -> int: ...

    def search(self, vector: list[float], match: Match, limit: int) -> list[tuple[float, dict[str, Any]]]:
        """Rank by the dense vector alone; returns (cosine, payload) pairs."""
        return [(found.score, found.payload) for found in self.query(SearchQuery(vector), match, limit)]

    def close(self) -> None:
        """Release files or connections."""


class EdgeStore(VectorStore):
    """qdrant-edge-py shard in a local folder, locked by the process that opens it."""

    exclusive = True

    def __init__(self, path: Path, dimensions: int):
        import qdrant_edge as edge

        self._edge = edge
        self.dimensions = dimensions
        self._write_lock = threading.Lock()
        self._config = edge.EdgeConfig(
            vectors={DENSE: edge.EdgeVectorParams(size=dimensions, distance=edge.Distance.Cosine)},
            sparse_vectors={KEYWORDS: edge.EdgeSparseVectorParams(modifier=edge.Modifier.Idf)},
        )
        self._recover_interrupted_migration(path)
        path.mkdir(parents=True, exist_ok=True)
        if any(path.iterdir()):
            self._shard = self._load(path)
        else:
            self._shard = self._create(path)
            logger.info("created embedded Qdrant store at %s", path)

    def _load(self, path: Path):
        try:
            return self._edge.EdgeShard.load(str(path), self._config)
        except Exception as error:  # qdrant-edge raises a plain Exception with the cause in its text
            if "WouldBlock" in str(error):
                raise StoreInUseError(
                    f"The knowledge base at {path} is open in another genai-tutor process. Stop that "
                    "process, or run a Qdrant server and set QDRANT_URL so that several processes can share it."
                ) from None
            if "ncompatible" not in str(error):
                raise
        self._migrate(path)
        return self._edge.EdgeShard.load(str(path), self._config)

    def _create(self, path: Path):
        edge = self._edge
        shard = edge.EdgeShard.create(str(path), self._config)
        for field in INDEXED_KEYWORDS:
            shard.update(edge.UpdateOperation.create_field_index(field, edge.PayloadSchemaType.Keyword))
        shard.update(edge.UpdateOperation.create_field_index("chunk_index", edge.PayloadSchemaType.Integer))
        return shard

    @staticmethod
    def _recover_interrupted_migration(path: Path) -> None:
        """Finish or undo a migration that a killed process left behind.

        The old folder is renamed to `.old` only after the new copy is complete,
        so a `.migrating` folder is always an unfinished copy, and a `.old`
        folder without the store folder is the original.
        """
        staging, backup = _migration_folders(path)
        if staging.exists():
            logger.warning("removing the unfinished store migration at %s", staging)
            shutil.rmtree(staging)
        if backup.exists():
            if path.exists():
                shutil.rmtree(backup)
            else:
                backup.rename(path)

    def _migrate(self, path: Path) -> None:
        """Copy an older store without keyword vectors into the current layout, keeping every chunk."""
        edge = self._edge
        old = edge.EdgeShard.load(str(path))
        total = old.count(edge.CountRequest(exact=True))
        logger.warning(
            "the embedded store at %s has no keyword vectors (written by an older genai-tutor); "
            "copying its %d points into the current layout",
            path, total,
        )
        staging, backup = _migration_folders(path)
        new = self._create(staging)
        encoder = KeywordEncoder()
        offset = None
        while True:
            records, offset = old.scroll(
                edge.ScrollRequest(offset=offset, limit=SCROLL_PAGE, with_payload=True, with_vector=True)
            )
            points = [_upgraded(record.id, record.vector, record.payload or {}, encoder) for record in records]
            if points:
                new.update(edge.UpdateOperation.upsert_points([self._point(point) for point in points]))
            if offset is None:
                break
        new.flush()
        new.close()
        old.close()
        path.rename(backup)
        staging.rename(path)
        shutil.rmtree(backup)
        self.migrated = True
        logger.warning("migrated the embedded store at %s: %d points", path, total)

    def _point(self, point: StoredPoint):
        vectors: dict[str, Any] = {}
        if point.vector is not None:
            vectors[DENSE] = point.vector
        if point.keywords is not None and point.keywords.indices:
            vectors[KEYWORDS] = self._edge.SparseVector(point.keywords.indices, point.keywords.values)
        return self._edge.Point(point.id, vectors, point.payload)

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
        if match.versions is not None:
            must.append(edge.FieldCondition(key="version", match=edge.MatchAny(any=list(match.versions))))
        if match.other_versions_than is not None:
            must_not.append(edge.FieldCondition(key="version", match=edge.MatchValue(match.other_versions_than)))
        if match.first_chunks_only:
            must.append(edge.FieldCondition(key="chunk_index", match=edge.MatchValue(0)))
        if match.kind is not None:
            must.append(edge.FieldCondition(key="kind", match=edge.MatchValue(match.kind)))
        if not must and not must_not:
            return None
        return edge.Filter(must=must or None, must_not=must_not or None)

    def upsert(self, points: list[StoredPoint]) -> None:
        edge = self._edge
        with self._write_lock:
            for first in range(0, len(points), UPSERT_BATCH):
                batch = [self._point(point) for point in points[first : first + UPSERT_BATCH]]
                self._shard.update(edge.UpdateOperation.upsert_points(batch))
            self._shard.flush()

    def query(self, query, match, limit):
        edge = self._edge
        selector = self._filter(match)
        dense = edge.Query.Nearest(query.vector, using=DENSE)
        keywords = None
        if _has_keywords(query):
            keywords = edge.Query.Nearest(
                edge.SparseVector(query.keywords.indices, query.keywords.values), using=KEYWORDS
            )

        prefetches = None
        if query.mode == RetrievalMode.DENSE:
            scoring, fetched = dense, limit
        elif query.mode == RetrievalMode.SPARSE:
            if keywords is None:
                return []
            scoring, fetched = keywords, limit
        elif keywords is None:  # hybrid, but the question has only stop words
            scoring, fetched = dense, limit
        else:
            depth = limit * PREFETCH_FACTOR
            prefetches = [
                edge.Prefetch(limit=depth, query=dense, filter=selector),
                edge.Prefetch(limit=depth, query=keywords, filter=selector),
            ]
            # Every fused candidate comes back, so `_rank` cuts ties the same way in both backends.
            scoring, fetched = edge.Fusion.Rrf(k=RRF_K), 2 * depth

        request = edge.QueryRequest(
            limit=fetched,
            query=scoring,
            prefetches=prefetches,
            filter=selector,
            with_payload=True,
            with_vector=[DENSE],
        )
        found = [
            Found(point.score, _dot(query.vector, (point.vector or {}).get(DENSE, [])), point.payload or {})
            for point in self._shard.query(request)
        ]
        return _rank(found, limit)

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


def _migration_folders(path: Path) -> tuple[Path, Path]:
    return path.with_name(path.name + ".migrating"), path.with_name(path.name + ".old")


def _upgraded(point_id_: Any, vectors: Any, payload: dict[str, Any], encoder: KeywordEncoder) -> StoredPoint:
    """Return an older layout's point with a keyword vector and a `kind`, ready for the current layout."""
    dense = vectors.get(DENSE) if isinstance(vectors, dict) else vectors
    text = payload.get("text")
    keywords = None
    if dense is not None and text:
        # Ingest encodes the heading path with the text; the citation location is the closest stored stand-in.
        keywords = encoder.encode_document(f"{payload.get('location', '')}\n{text}")
    kind = payload.get("kind") or ("chunk" if dense is not None else "record")
    return StoredPoint(str(point_id_), dense, {**payload, "kind": kind}, keywords)


class ServerStore(VectorStore):
    """qdrant-client against a server, or its local mode when given a local client."""

    def __init__(self, client, collection: str, dimensions: int):
        from qdrant_client import models

        self._models = models
        self._client = client
        self.collection = collection
        self.dimensions = dimensions
        staging = f"{collection}_migrating"
        if client.collection_exists(staging):
            self._recover_interrupted_migration(staging)
        if not client.collection_exists(collection):
            self._create(collection)
            logger.info("created Qdrant collection %s", collection)
        elif KEYWORDS not in (client.get_collection(collection).config.params.sparse_vectors or {}):
            self._migrate(staging)

    def _create(self, collection: str) -> None:
        models = self._models
        client = self._client
        client.create_collection(
            collection,
            vectors_config={DENSE: models.VectorParams(size=self.dimensions, distance=models.Distance.COSINE)},
            sparse_vectors_config={KEYWORDS: models.SparseVectorParams(modifier=models.Modifier.IDF)},
        )
        # is_tenant lets a Qdrant server keep each tenant's points together on disk.
        client.create_payload_index(
            collection, "tenant", models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, is_tenant=True)
        )
        for field in INDEXED_KEYWORDS[1:]:
            client.create_payload_index(collection, field, models.PayloadSchemaType.KEYWORD)
        client.create_payload_index(collection, "chunk_index", models.PayloadSchemaType.INTEGER)

    def _recover_interrupted_migration(self, staging: str) -> None:
        """Finish or undo a migration that a killed process left behind.

        The original is deleted only after the staging copy is complete, so when the original
        is missing, the staging copy is the data.
        """
        if self._client.collection_exists(self.collection):
            logger.warning("removing the unfinished migration collection %s", staging)
            self._client.delete_collection(staging)
            return
        logger.warning("restoring collection %s from the migration copy %s", self.collection, staging)
        self._create(self.collection)
        self._copy(staging, self.collection, upgrade=False)
        self._client.delete_collection(staging)
        self.migrated = True

    def _migrate(self, staging: str) -> None:
        """Rebuild an older collection without keyword vectors in the current layout, keeping every point."""
        total = self._client.count(self.collection, exact=True).count
        logger.warning(
            "Qdrant collection %s has no keyword vectors (written by an older genai-tutor); "
            "rebuilding it with its %d points",
            self.collection, total,
        )
        self._create(staging)
        self._copy(self.collection, staging, upgrade=True)
        self._client.delete_collection(self.collection)
        self._create(self.collection)
        self._copy(staging, self.collection, upgrade=False)
        self._client.delete_collection(staging)
        self.migrated = True
        logger.warning("migrated Qdrant collection %s: %d points", self.collection, total)

    def _copy(self, source: str, target: str, *, upgrade: bool) -> None:
        encoder = KeywordEncoder() if upgrade else None
        offset = None
        while True:
            records, offset = self._client.scroll(
                source, limit=SCROLL_PAGE, offset=offset, with_payload=True, with_vectors=True
            )
            if upgrade:
                points = [_upgraded(r.id, r.vector, r.payload or {}, encoder) for r in records]
                batch = [self._point(point) for point in points]
            else:
                batch = [self._models.PointStruct(id=r.id, vector=r.vector or {}, payload=r.payload) for r in records]
            if batch:
                self._client.upsert(target, points=batch, wait=True)
            if offset is None:
                return

    @classmethod
    def connect(cls, url: str, api_key: str | None, collection: str, dimensions: int) -> "ServerStore":
        from qdrant_client import QdrantClient

        return cls(QdrantClient(url=url, api_key=api_key, timeout=30), collection, dimensions)

    def _point(self, point: StoredPoint):
        models = self._models
        vectors: dict[str, Any] = {}
        if point.vector is not None:
            vectors[DENSE] = point.vector
        if point.keywords is not None and point.keywords.indices:
            vectors[KEYWORDS] = models.SparseVector(indices=point.keywords.indices, values=point.keywords.values)
        return models.PointStruct(id=point.id, vector=vectors, payload=point.payload)

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
        if match.versions is not None:
            must.append(models.FieldCondition(key="version", match=models.MatchAny(any=list(match.versions))))
        if match.other_versions_than is not None:
            must_not.append(
                models.FieldCondition(key="version", match=models.MatchValue(value=match.other_versions_than))
            )
        if match.first_chunks_only:
            must.append(models.FieldCondition(key="chunk_index", match=models.MatchValue(value=0)))
        if match.kind is not None:
            must.append(models.FieldCondition(key="kind", match=models.MatchValue(value=match.kind)))
        if not must and not must_not:
            return None
        return models.Filter(must=must or None, must_not=must_not or None)

    def upsert(self, points):
        for first in range(0, len(points), UPSERT_BATCH):
            batch = [self._point(point) for point in points[first : first + UPSERT_BATCH]]
            self._client.upsert(self.collection, points=batch, wait=True)

    def query(self, query, match, limit):
        models = self._models
        selector = self._filter(match)
        keywords = None
        if _has_keywords(query):
            keywords = models.SparseVector(indices=query.keywords.indices, values=query.keywords.values)

        arguments: dict[str, Any]
        if query.mode == RetrievalMode.DENSE or (query.mode == RetrievalMode.HYBRID and keywords is None):
            arguments = {"query": query.vector, "using": DENSE, "limit": limit}
        elif query.mode == RetrievalMode.SPARSE:
            if keywords is None:
                return []
            arguments = {"query": keywords, "using": KEYWORDS, "limit": limit}
        else:
            depth = limit * PREFETCH_FACTOR
            arguments = {
                "prefetch": [
                    models.Prefetch(query=query.vector, using=DENSE, filter=selector, limit=depth),
                    models.Prefetch(query=keywords, using=KEYWORDS, filter=selector, limit=depth),
                ],
                "query": models.RrfQuery(rrf=models.Rrf(k=RRF_K)),
                "limit": 2 * depth,
            }

        response = self._client.query_points(
            self.collection, query_filter=selector, with_payload=True, with_vectors=[DENSE], **arguments
        )
        found = [
            Found(point.score, _dot(query.vector, (point.vector or {}).get(DENSE, [])), point.payload or {})
            for point in response.points
        ]
        return _rank(found, limit)

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
