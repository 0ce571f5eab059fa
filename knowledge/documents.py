"""Data types that flow through ingestion and retrieval."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Section:
    """A run of text under one heading path (Markdown) or on one page (PDF).

    `start` is the character offset of `text` in the loaded document.
    """

    text: str
    heading_path: tuple[str, ...] = ()
    page: int | None = None
    start: int = 0


@dataclass(frozen=True)
class LoadedDocument:
    name: str
    doc_type: str
    sections: list[Section]
    size: int
    content_hash: str


@dataclass(frozen=True)
class Chunk:
    """A piece of a document small enough for the embedding model, with where it came from."""

    index: int
    text: str
    heading_path: tuple[str, ...] = ()
    page: int | None = None
    start: int = 0
    end: int = 0

    def location(self, skip_title: bool = False) -> str:
        """Return the human position: `Heading > Subheading`, `p. 4`, or both.

        `skip_title` leaves out the top heading, for documents whose file name already names them.
        """
        parts = []
        headings = self.heading_path[1:] if skip_title and len(self.heading_path) > 1 else self.heading_path
        if headings:
            parts.append(" > ".join(headings))
        if self.page is not None:
            parts.append(f"p. {self.page}")
        return ", ".join(parts)


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk with its score and enough payload to cite it."""

    score: float
    text: str
    source: str
    location: str
    doc_id: str
    chunk_index: int


@dataclass(frozen=True)
class DocumentInfo:
    doc_id: str
    name: str
    doc_type: str
    chunks: int
    size: int
    added_by: str
    added_at: str
    tenant: str
    replaced: bool = False  # an earlier version with the same name was replaced


@dataclass
class IngestReport:
    """The outcome of one ingest call, per file."""

    added: list[DocumentInfo] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # files of types that are not ingested

    @property
    def chunks_added(self) -> int:
        return sum(document.chunks for document in self.added)
