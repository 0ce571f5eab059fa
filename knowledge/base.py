"""The knowledge base: ingest files, list and remove documents, search chunks.

Documents belong to a tenant (a Discord guild id, a Slack team id, or
`local` for the terminal). The built-in lessons belong to `BUILTIN_TENANT`
and are visible to every tenant. Everything about a document lives in the
vector store, so it is the only state to keep: the chunks of each version,
and one record per document naming its live version.

Replacing a document is atomic for readers. The new version's chunks are
written under a new version id, which searches do not read yet. One upsert of the
document's record then switches searches to it; the old chunks are deleted
last. A process killed at any step leaves either the old or the new version
visible, never a mix. The next ingest of that document removes the leftovers,
and so does opening the embedded store, which no other process can be writing to.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from knowledge.chunking import Chunker, embedding_heading
from knowledge.documents import DocumentInfo, Hit, IngestReport, LoadedDocument
from knowledge.embeddings import Embedder, KeywordEncoder
from knowledge.loaders import (
    DEFAULT_MAX_EXTRACTED_CHARS,
    INGESTIBLE_SUFFIXES,
    IngestError,
    check_size,
    load_bytes,
)
from knowledge.store import (
    Found,
    Match,
    RetrievalMode,
    SearchQuery,
    StoredPoint,
    VectorStore,
    chunk_key,
    point_id,
)

logger = logging.getLogger(__name__)

BUILTIN_TENANT = "builtin"
# Part of every document version: bump it when chunking or the payload changes,
# so the next ingest rewrites documents whose bytes did not change.
# Format 2 changed chunking (CJK and right-to-left stops, a character cap);
# format 3 added the keyword vectors and the live-version records;
# format 4 leaves HTML comments out of Markdown.
INDEX_FORMAT = "4"
CHUNK = "chunk"
LIVE = "live"

_DOC_NAMESPACE = uuid.UUID("0d5b8f51-7c36-5e0b-8d8e-2b4a6f0e9c13")


@dataclass(frozen=True)
class IngestProgress:
    files_done: int
    files_total: int
    chunks_done: int
    current: str


ProgressCallback = Callable[[IngestProgress], None]


def document_id(tenant: str, name: str) -> str:
    """Return a short stable id, so the same name in the same tenant is the same document."""
    return uuid.uuid5(_DOC_NAMESPACE, f"{tenant}\n{name}").hex[:12]


def collect_files(paths: Iterable[Path], skipped: list[str] | None = None) -> list[tuple[Path, str]]:
    """Expand folders into the supported files under them, each with its display name.

    A file's name is its path relative to the parent of the folder given, so
    ingesting `corpus/hf-course/chapter1` names a file `chapter1/3.mdx`.
    Files in folders of other types are appended to `skipped`; hidden files are ignored.
    """
    files: list[tuple[Path, str]] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            root = path.resolve().parent
            for file in sorted(path.rglob("*")):
                if not file.is_file() or file.name.startswith("."):
                    continue
                name = file.resolve().relative_to(root).as_posix()
                if file.suffix.lower() in INGESTIBLE_SUFFIXES:
                    files.append((file, name))
                elif skipped is not None:
                    skipped.append(name)
        elif path.is_file():
            files.append((path, path.name))
        else:
            raise FileNotFoundError(path)
    return files


class KnowledgeBase:
    def __init__(
        self,
        store: VectorStore,
        embedder: Embedder,
        *,
        max_file_bytes: int,
        max_pdf_pages: int,
        max_extracted_chars: int = DEFAULT_MAX_EXTRACTED_CHARS,
        mode: RetrievalMode = RetrievalMode.HYBRID,
    ):
        self.store = store
        self.embedder = embedder
        self.keywords = KeywordEncoder()
        self.max_file_bytes = max_file_bytes
        self.max_pdf_pages = max_pdf_pages
        self.max_extracted_chars = max_extracted_chars
        self.mode = RetrievalMode(mode)
        self._chunker: Chunker | None = None
        if store.migrated:
            self._record_migrated_documents()
        if store.exclusive:
            # Only a store no other process writes to can tell an unfinished ingest from a running one.
            self.remove_unfinished()

    @property
    def chunker(self) -> Chunker:
        if self._chunker is None:
            self._chunker = Chunker(self.embedder.tokenizer, max_tokens=self.embedder.max_tokens, target_tokens=200)
        return self._chunker

    def ingest_paths(
        self,
        paths: Iterable[Path],
        *,
        tenant: str,
        added_by: str,
        progress: ProgressCallback | None = None,
        skip_titles: bool = False,
    ) -> IngestReport:
        """Ingest files and folders; a file that fails is reported and the rest go on.

        `skip_titles` leaves each document's top heading out of its citations
        (`lessons/01-ai-foundations.md > Step 2: ...`); it is still embedded.
        """
        report = IngestReport()
        files = collect_files(paths, report.skipped)
        for done, (path, name) in enumerate(files):
            if progress:
                progress(IngestProgress(done, len(files), report.chunks_added, name))
            try:
                # Checked before reading, so a huge file is never loaded into memory.
                check_size(name, path.stat().st_size, self.max_file_bytes)
                info = self.ingest_bytes(
                    path.read_bytes(), name, tenant=tenant, added_by=added_by, skip_title=skip_titles
                )
            except IngestError as error:
                report.failed.append((name, error.reason))
                continue
            if info is None:
                report.unchanged.append(name)
            else:
                report.added.append(info)
        if progress:
            progress(IngestProgress(len(files), len(files), report.chunks_added, ""))
        return report

    def ingest_bytes(
        self, data: bytes, name: str, *, tenant: str, added_by: str, skip_title: bool = False
    ) -> DocumentInfo | None:
        """Ingest one file. Returns None when the same content is already stored.

        A changed file with the same name replaces the old version atomically
        (see the module docstring). If writing the new chunks fails, they are
        deleted again and the old version stays live.
        """
        document = load_bytes(
            data,
            name,
            max_bytes=self.max_file_bytes,
            max_pages=self.max_pdf_pages,
            max_chars=self.max_extracted_chars,
        )
        doc_id = document_id(tenant, name)
        version = hashlib.sha256(
            f"{doc_id}/{document.content_hash}/{INDEX_FORMAT}/{skip_title}".encode()
        ).hexdigest()[:16]

        live = self._live_record(tenant, doc_id)
        if live is not None and live["version"] == version:
            logger.info("unchanged, skipped: tenant=%s doc_id=%s name=%s", tenant, doc_id, name)
            return None

        started = time.monotonic()
        info = DocumentInfo(
            doc_id=doc_id,
            name=name,
            doc_type=document.doc_type,
            chunks=0,
            size=document.size,
            added_by=added_by,
            added_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            tenant=tenant,
        )
        points = self._points(document, info, version, skip_title)
        info = DocumentInfo(**{**info.__dict__, "chunks": len(points), "replaced": live is not None})
        try:
            self.store.upsert(points)
        except BaseException:
            logger.exception("upsert failed, removing the partial version: tenant=%s doc_id=%s", tenant, doc_id)
            self.store.delete(Match(tenants=(tenant,), doc_id=doc_id, version=version, kind=CHUNK))
            raise
        self.store.upsert([self._record_point(info, version)])
        self.store.delete(Match(tenants=(tenant,), doc_id=doc_id, other_versions_than=version, kind=CHUNK))
        logger.info(
            "ingested tenant=%s doc_id=%s name=%s version=%s chunks=%d in %.1f s",
            tenant, doc_id, name, version, len(points), time.monotonic() - started,
        )
        return info

    def _points(self, document: LoadedDocument, info: DocumentInfo, version: str, skip_title: bool) -> list[StoredPoint]:
        chunks = self.chunker.chunk(document.sections)
        texts = [
            f"{embedding_heading(chunk.heading_path)}\n{chunk.text}" if chunk.heading_path else chunk.text
            for chunk in chunks
        ]
        # One call per document: SentenceTransformer.encode sorts its input by length
        # before batching, so chunks of similar length share a batch and pad less.
        vectors = self.embedder.embed(texts)

        points = []
        for chunk, text, vector in zip(chunks, texts, vectors):
            payload = {
                "kind": CHUNK,
                "tenant": info.tenant,
                "doc_id": info.doc_id,
                "version": version,
                "chunk_id": chunk_key(info.doc_id, version, chunk.index),
                "chunk_index": chunk.index,
                "chunk_count": len(chunks),
                "name": info.name,
                "doc_type": info.doc_type,
                "size": info.size,
                "added_by": info.added_by,
                "added_at": info.added_at,
                "text": chunk.text,
                "location": chunk.location(skip_title),
                "page": chunk.page,
                "start": chunk.start,
                "end": chunk.end,
            }
            point = StoredPoint(
                point_id(info.doc_id, version, chunk.index), vector, payload, self.keywords.encode_document(text)
            )
            points.append(point)
        return points

    @staticmethod
    def _record_point(info: DocumentInfo, version: str) -> StoredPoint:
        """Build the document's record: the point whose upsert makes `version` the live one."""
        payload = {
            "kind": LIVE,
            "tenant": info.tenant,
            "doc_id": info.doc_id,
            "version": version,
            "chunk_count": info.chunks,
            "name": info.name,
            "doc_type": info.doc_type,
            "size": info.size,
            "added_by": info.added_by,
            "added_at": info.added_at,
        }
        return StoredPoint(point_id(info.doc_id, LIVE, -1), None, payload)

    def _live_record(self, tenant: str, doc_id: str) -> dict | None:
        records = self.store.scroll(Match(tenants=(tenant,), doc_id=doc_id, kind=LIVE))
        return records[0] if records else None

    def _live_versions(self, tenants: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(sorted({record["version"] for record in self.store.scroll(Match(tenants=tenants, kind=LIVE))}))

    def remove_unfinished(self) -> int:
        """Delete chunks of versions that never went live (an ingest killed before its switch)
        or that were replaced (killed before the old chunks were deleted). Returns how many."""
        live = set(self._live_versions(tenants=None))
        stale = {p["version"] for p in self.store.scroll(Match(kind=CHUNK, first_chunks_only=True))} - live
        removed = 0
        for version in sorted(stale):
            match = Match(version=version, kind=CHUNK)
            removed += self.store.count(match)
            self.store.delete(match)
        if removed:
            logger.warning("removed %d chunks of %d unfinished or replaced document versions", removed, len(stale))
        return removed

    def _record_migrated_documents(self) -> None:
        """Write a record for each complete document that an older store held without one."""
        firsts = self.store.scroll(Match(kind=CHUNK, first_chunks_only=True))
        recorded = 0
        for first in sorted(firsts, key=lambda payload: payload.get("added_at", "")):
            match = Match(tenants=(first["tenant"],), doc_id=first["doc_id"], version=first["version"], kind=CHUNK)
            if self.store.count(match) != first["chunk_count"]:
                continue
            info = DocumentInfo(
                doc_id=first["doc_id"], name=first["name"], doc_type=first["doc_type"], chunks=first["chunk_count"],
                size=first["size"], added_by=first["added_by"], added_at=first["added_at"], tenant=first["tenant"],
            )
            # Sorted oldest first, so the newest complete version of a document is recorded last and stays live.
            self.store.upsert([self._record_point(info, first["version"])])
            recorded += 1
        logger.warning("recorded %d documents found in the migrated store", recorded)

    def documents(self, tenant: str) -> list[DocumentInfo]:
        """List the documents visible to `tenant`: its own and the built-in lessons."""
        payloads = self.store.scroll(Match(tenants=(tenant, BUILTIN_TENANT), kind=LIVE))
        infos = [
            DocumentInfo(
                doc_id=p["doc_id"],
                name=p["name"],
                doc_type=p["doc_type"],
                chunks=p["chunk_count"],
                size=p["size"],
                added_by=p["added_by"],
                added_at=p["added_at"],
                tenant=p["tenant"],
            )
            for p in payloads
        ]
        return sorted(infos, key=lambda info: (info.tenant != BUILTIN_TENANT, info.name))

    def find(self, tenant: str, doc_id_prefix: str) -> list[DocumentInfo]:
        prefix = doc_id_prefix.strip().lower()
        return [info for info in self.documents(tenant) if info.doc_id.startswith(prefix)]

    def remove(self, tenant: str, doc_id: str) -> int:
        """Delete one of the tenant's documents; returns how many chunks it had.

        The record goes first, so searches stop seeing the document in one step.
        """
        chunks = Match(tenants=(tenant,), doc_id=doc_id, kind=CHUNK)
        count = self.store.count(chunks)
        self.store.delete(Match(tenants=(tenant,), doc_id=doc_id, kind=LIVE))
        self.store.delete(chunks)
        logger.info("removed tenant=%s doc_id=%s chunks=%d", tenant, doc_id, count)
        return count

    def search(self, question: str, tenant: str, limit: int, mode: RetrievalMode | None = None) -> list[Hit]:
        """Return the live chunks visible to `tenant` ranked by `mode` (default: the base's mode).

        Each hit's `score` is its dense cosine similarity to the question, whatever ranked
        it, because that is the number the score threshold is calibrated on.
        """
        tenants = (tenant, BUILTIN_TENANT)
        versions = self._live_versions(tenants)
        if not versions:
            return []
        query = SearchQuery(
            self.embedder.embed_one(question), self.keywords.encode_query(question), RetrievalMode(mode or self.mode)
        )
        found = self.store.query(query, Match(tenants=tenants, versions=versions, kind=CHUNK), limit)
        return [_hit(result) for result in found]

    def matches_all_keywords(self, question: str, text: str) -> bool:
        """Return whether `text` contains every keyword of the question (stop words aside, stemmed)."""
        wanted = self.keywords.terms(question)
        return bool(wanted) and wanted <= self.keywords.terms(text)

    def count(self, tenant: str | None = None) -> int:
        """Count the stored chunks, of one tenant or of all."""
        return self.store.count(Match(tenants=(tenant,) if tenant else None, kind=CHUNK))

    def close(self) -> None:
        self.store.close()


def _hit(result: Found) -> Hit:
    payload = result.payload
    return Hit(
        score=result.cosine,
        text=payload["text"],
        source=payload["name"],
        location=payload.get("location", ""),
        doc_id=payload["doc_id"],
        chunk_index=payload["chunk_index"],
    )
