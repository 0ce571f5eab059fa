"""The knowledge base: ingest files, list and remove documents, search chunks.

Documents belong to a tenant (a Discord guild id, a Slack team id, or
`local` for the terminal). The built-in lessons belong to `BUILTIN_TENANT`
and are visible to every tenant. Everything about a document lives in its
chunks' payloads, so the vector store is the only state to keep.
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
from knowledge.embeddings import Embedder
from knowledge.loaders import (
    DEFAULT_MAX_EXTRACTED_CHARS,
    INGESTIBLE_SUFFIXES,
    IngestError,
    check_size,
    load_bytes,
)
from knowledge.store import Match, StoredPoint, VectorStore, chunk_key, point_id

logger = logging.getLogger(__name__)

BUILTIN_TENANT = "builtin"
EMBED_BATCH = 64
# Part of every document version: bump it when chunking or the payload changes,
# so the next ingest rewrites documents whose bytes did not change.
INDEX_FORMAT = "2"

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
    ):
        self.store = store
        self.embedder = embedder
        self.max_file_bytes = max_file_bytes
        self.max_pdf_pages = max_pdf_pages
        self.max_extracted_chars = max_extracted_chars
        self._chunker: Chunker | None = None

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

        A changed file with the same name replaces the old version: the new
        chunks are written first, then the old version's chunks are deleted.
        If writing fails, the new version's chunks are deleted again, so the
        store is left as it was.
        """
        document = load_bytes(
            data,
            name,
            max_bytes=self.max_file_bytes,
            max_pages=self.max_pdf_pages,
            max_chars=self.max_extracted_chars,
        )
        doc_id = document_id(tenant, name)
        version = hashlib.sha256(f"{document.content_hash}/{INDEX_FORMAT}/{skip_title}".encode()).hexdigest()[:16]

        stored = self.store.scroll(Match(tenants=(tenant,), doc_id=doc_id, first_chunks_only=True))
        if any(payload.get("version") == version for payload in stored):
            complete = self.store.count(Match(tenants=(tenant,), doc_id=doc_id, version=version))
            expected = next(p["chunk_count"] for p in stored if p.get("version") == version)
            if complete == expected:
                logger.info("unchanged, skipped: tenant=%s doc_id=%s name=%s", tenant, doc_id, name)
                return None

        started = time.monotonic()
        replaced = any(payload.get("version") != version for payload in stored)
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
        info = DocumentInfo(**{**info.__dict__, "chunks": len(points), "replaced": replaced})
        try:
            self.store.upsert(points)
        except BaseException:
            logger.exception("upsert failed, removing the partial version: tenant=%s doc_id=%s", tenant, doc_id)
            self.store.delete(Match(tenants=(tenant,), doc_id=doc_id, version=version))
            raise
        self.store.delete(Match(tenants=(tenant,), doc_id=doc_id, other_versions_than=version))
        logger.info(
            "ingested tenant=%s doc_id=%s name=%s chunks=%d in %.1f s",
            tenant, doc_id, name, len(points), time.monotonic() - started,
        )
        return info

    def _points(self, document: LoadedDocument, info: DocumentInfo, version: str, skip_title: bool) -> list[StoredPoint]:
        chunks = self.chunker.chunk(document.sections)
        texts = [
            f"{embedding_heading(chunk.heading_path)}\n{chunk.text}" if chunk.heading_path else chunk.text
            for chunk in chunks
        ]
        vectors: list[list[float]] = []
        for first in range(0, len(texts), EMBED_BATCH):
            vectors.extend(self.embedder.embed(texts[first : first + EMBED_BATCH]))

        points = []
        for chunk, vector in zip(chunks, vectors):
            payload = {
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
            points.append(StoredPoint(point_id(info.doc_id, version, chunk.index), vector, payload))
        return points

    def documents(self, tenant: str) -> list[DocumentInfo]:
        """List the documents visible to `tenant`: its own and the built-in lessons."""
        payloads = self.store.scroll(Match(tenants=(tenant, BUILTIN_TENANT), first_chunks_only=True))
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
        """Delete every chunk of one of the tenant's documents; returns how many there were."""
        match = Match(tenants=(tenant,), doc_id=doc_id)
        count = self.store.count(match)
        self.store.delete(match)
        logger.info("removed tenant=%s doc_id=%s chunks=%d", tenant, doc_id, count)
        return count

    def search(self, question: str, tenant: str, limit: int) -> list[Hit]:
        vector = self.embedder.embed_one(question)
        results = self.store.search(vector, Match(tenants=(tenant, BUILTIN_TENANT)), limit)
        return [
            Hit(
                score=score,
                text=payload["text"],
                source=payload["name"],
                location=payload.get("location", ""),
                doc_id=payload["doc_id"],
                chunk_index=payload["chunk_index"],
            )
            for score, payload in results
        ]

    def count(self, tenant: str | None = None) -> int:
        return self.store.count(Match(tenants=(tenant,) if tenant else None))

    def close(self) -> None:
        self.store.close()
