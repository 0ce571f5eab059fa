"""Loaders: bytes and a file name in, sections with positions out.

The type comes from the content first (a PDF starts with `%PDF-`), then from
the name. Limits are checked before parsing. Every failure is an `IngestError`
whose message names the file and says what to do.
"""

from __future__ import annotations

import hashlib
import io
import logging
from pathlib import Path

from knowledge.documents import LoadedDocument, Section
from knowledge.markdown import split_sections

logger = logging.getLogger(__name__)

MARKDOWN_SUFFIXES = {".md", ".markdown", ".mdx"}
TEXT_SUFFIXES = {".txt", ".text", ".rst"}
SUPPORTED = "PDF (.pdf), Markdown (.md, .mdx) and plain text (.txt)"


class IngestError(Exception):
    """A file that cannot be ingested; the message is shown to the user as it is."""

    def __init__(self, name: str, reason: str):
        self.name = name
        self.reason = reason
        super().__init__(f"{name}: {reason}")


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_bytes(data: bytes, name: str, *, max_bytes: int, max_pages: int) -> LoadedDocument:
    """Parse one file's bytes into sections, or raise `IngestError` with the reason."""
    check_size(name, len(data), max_bytes)
    if not data.strip():
        raise IngestError(name, "the file is empty; there is nothing to ingest.")

    suffix = Path(name).suffix.lower()
    if data.startswith(b"%PDF-"):
        doc_type, sections = "pdf", _load_pdf(data, name, max_pages)
    elif suffix == ".pdf":
        raise IngestError(name, "the name says PDF but the content is not a PDF; check that the file is not damaged.")
    elif suffix in MARKDOWN_SUFFIXES:
        doc_type = suffix.lstrip(".")
        sections = split_sections(_decode_text(data, name), mdx=suffix == ".mdx")
    elif suffix in TEXT_SUFFIXES:
        doc_type, sections = "text", _text_sections(_decode_text(data, name))
    else:
        raise IngestError(name, f"files of type {suffix or '(no extension)'} are not supported; use {SUPPORTED}.")

    if not any(section.text.strip() for section in sections):
        raise IngestError(name, "no text could be extracted from the file, so nothing was stored.")
    return LoadedDocument(
        name=name, doc_type=doc_type, sections=sections, size=len(data), content_hash=content_hash(data)
    )


def check_size(name: str, size: int, max_bytes: int) -> None:
    """Raise `IngestError` for a file over the size limit; callers check before downloading or reading."""
    if size > max_bytes:
        raise IngestError(
            name,
            f"the file is {format_size(size)}, over the {format_size(max_bytes)} limit; "
            "split it or ask an admin to raise MAX_FILE_BYTES.",
        )


def format_size(size: int) -> str:
    """Return a byte count for people: `512 B`, `17.4 KiB`, `3.2 MiB`."""
    if size < 1024:
        return f"{size} B"
    if size < 1_048_576:
        return f"{size / 1024:.1f} KiB"
    return f"{size / 1_048_576:.1f} MiB"


def _decode_text(data: bytes, name: str) -> str:
    if b"\x00" in data[:8192]:
        raise IngestError(name, "the file looks binary, not text; upload it in a supported format: " + SUPPORTED + ".")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise IngestError(
            name,
            f"the file is not valid UTF-8 (invalid byte at offset {error.start}); save it as UTF-8 and try again.",
        ) from None


def _text_sections(text: str) -> list[Section]:
    body = text.strip()
    if not body:
        return []
    return [Section(text=body, start=len(text) - len(text.lstrip()))]


def _load_pdf(data: bytes, name: str, max_pages: int) -> list[Section]:
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
    except (PdfReadError, ValueError, OSError) as error:
        raise IngestError(name, f"the PDF could not be read ({error}); check that the file is not damaged.") from None

    if reader.is_encrypted:
        # An empty user password still opens some "encrypted" PDFs, which only restrict editing.
        try:
            opened = reader.decrypt("")
        except (NotImplementedError, PdfReadError):
            opened = 0
        if not opened:
            raise IngestError(name, "the PDF is password-protected; remove the password and ingest it again.")

    try:
        page_count = len(reader.pages)
    except (FileNotDecryptedError, PdfReadError) as error:
        raise IngestError(name, f"the PDF's pages could not be read ({error}).") from None
    if page_count > max_pages:
        raise IngestError(
            name, f"the PDF has {page_count} pages, over the {max_pages}-page limit; split it or raise MAX_PDF_PAGES."
        )

    sections = []
    offset = 0
    for number, page in enumerate(reader.pages, start=1):
        try:
            text = page.extract_text() or ""
        except FileNotDecryptedError:
            raise IngestError(name, "the PDF is password-protected; remove the password and ingest it again.") from None
        except Exception as error:  # pypdf raises many types on damaged pages; skip the page, keep the rest
            logger.warning("skipped page %d of %s: %s", number, name, error)
            continue
        text = text.strip()
        if text:
            sections.append(Section(text=text, page=number, start=offset))
            offset += len(text) + 1
    if not sections:
        raise IngestError(
            name, "no text could be extracted; the PDF looks scanned (pages are images). Run OCR on it first."
        )
    return sections
