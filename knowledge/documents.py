"""Data types that flow through ingestion and retrieval."""

from __future__ import annotations

from dataclasses import dataclass, field


class IngestError(Exception):
    """A file that cannot be ingested; the message is shown to the user as it is."""

    def __init__(self, name: str, reason: str):
        self.name = name
        self.reason = reason
        super().__init__(f"{name}: {reason}")


def too_much_text(name: str, max_chars: int) -> IngestError:
    """Return the error for a file whose extracted text is over MAX_EXTRACTED_CHARS."""
    return IngestError(
        name,
        f"its text is longer than {max_chars:,} characters, the MAX_EXTRACTED_CHARS limit; "
        "split the file or ask an admin to raise MAX_EXTRACTED_CHARS.",
    )


@dataclass(frozen=True)
class Section:
    """A run of text under one heading path (Markdown) or on one page (PDF).

    `start` is the character offset of `text` in the loaded document.
    """

    text: str
    heading_path: tuple[str, ...] = ()
    page: int | None = None
    start: int = 0


class SectionBuilder:
    """Collect paragraphs under their heading path, for loaders of formats with heading elements.

    A heading of level n ends the sections below it and replaces any open
    heading of level n or deeper. `start` offsets count the text of headings
    and paragraphs, so they are positions in the extracted text. The total is
    checked as it grows, so a huge file stops at the limit instead of at the end.
    """

    def __init__(self, name: str, max_chars: int):
        self.name = name
        self.max_chars = max_chars
        self.sections: list[Section] = []
        self._path: list[tuple[int, str]] = []
        self._paragraphs: list[str] = []
        self._start = 0
        self._offset = 0
        self._chars = 0

    def heading(self, level: int, title: str) -> None:
        self._flush()
        title = " ".join(title.split())
        while self._path and self._path[-1][0] >= level:
            self._path.pop()
        if title:
            self._path.append((level, title))
            self._advance(len(title), separator=1)
        self._start = self._offset

    def paragraph(self, text: str) -> None:
        text = text.strip()
        if not text:
            return
        if not self._paragraphs:
            self._start = self._offset
        self._paragraphs.append(text)
        self._advance(len(text), separator=2)

    def finish(self) -> list[Section]:
        self._flush()
        return self.sections

    def _advance(self, count: int, separator: int) -> None:
        self._offset += count + separator
        self._chars += count
        if self._chars > self.max_chars:
            raise too_much_text(self.name, self.max_chars)

    def _flush(self) -> None:
        if self._paragraphs:
            path = tuple(title for _, title in self._path)
            self.sections.append(Section("\n\n".join(self._paragraphs), heading_path=path, start=self._start))
        self._paragraphs = []


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

    def record(self, name: str, info: DocumentInfo | None) -> None:
        """Add one file's outcome from `KnowledgeBase.ingest_bytes`, where None means unchanged."""
        if info is None:
            self.unchanged.append(name)
        else:
            self.added.append(info)

    @property
    def chunks_added(self) -> int:
        return sum(document.chunks for document in self.added)
