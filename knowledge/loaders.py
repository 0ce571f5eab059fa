"""Loaders: bytes and a file name in, sections with positions out.

The type comes from the content first: a PDF contains `%PDF-` near its start,
a DOCX is a zip archive with a `word/` part, an HTML page starts with a
doctype or an `<html>` tag. Other text is Markdown or plain text by its name.
Limits are checked before parsing. Every failure is an `IngestError` whose
message names the file and says what to do.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import logging
import zipfile
from pathlib import Path

from knowledge.documents import IngestError, LoadedDocument, Section, too_much_text
from knowledge.html import declared_charset, html_sections, looks_like_html
from knowledge.markdown import split_sections

logger = logging.getLogger(__name__)

MARKDOWN_SUFFIXES = {".md", ".markdown", ".mdx"}
TEXT_SUFFIXES = {".txt", ".text", ".rst"}
HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
DOCX_SUFFIXES = {".docx"}
INGESTIBLE_SUFFIXES = MARKDOWN_SUFFIXES | TEXT_SUFFIXES | HTML_SUFFIXES | DOCX_SUFFIXES | {".pdf"}
SUPPORTED = "PDF (.pdf), Word (.docx), HTML (.html), Markdown (.md, .mdx) and plain text (.txt)"
DEFAULT_MAX_EXTRACTED_CHARS = 2_000_000

# The PDF format allows bytes before the header; readers look in the first kilobyte.
PDF_HEADER_WINDOW = 1024
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),  # starts like the UTF-16 LE mark, so it is tried first
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_BINARY_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"\x7fELF", "a program"),
    (b"{\\rtf", "an RTF document, which is not supported; save it as .docx"),
)


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_bytes(
    data: bytes, name: str, *, max_bytes: int, max_pages: int, max_chars: int = DEFAULT_MAX_EXTRACTED_CHARS
) -> LoadedDocument:
    """Parse one file's bytes into sections, or raise `IngestError` with the reason."""
    check_size(name, len(data), max_bytes)
    if not data.strip():
        raise IngestError(name, "the file is empty; there is nothing to ingest.")

    doc_type, sections = _load_by_content(data, name, max_pages, max_chars)
    if not any(section.text.strip() for section in sections):
        raise IngestError(name, "no text could be extracted from the file, so nothing was stored.")
    if sum(len(section.text) for section in sections) > max_chars:
        raise too_much_text(name, max_chars)
    return LoadedDocument(
        name=name, doc_type=doc_type, sections=sections, size=len(data), content_hash=content_hash(data)
    )


def _load_by_content(data: bytes, name: str, max_pages: int, max_chars: int) -> tuple[str, list[Section]]:
    suffix = Path(name).suffix.lower()
    header_at = data.find(b"%PDF-", 0, PDF_HEADER_WINDOW)
    # Text that mentions "%PDF-" early is not a PDF, so a late header counts only in a file named .pdf.
    if header_at == 0 or (header_at > 0 and suffix == ".pdf"):
        return "pdf", _load_pdf(data, name, max_pages, max_chars)
    if suffix == ".pdf":
        raise IngestError(name, "the name says PDF but the content is not a PDF; check that the file is not damaged.")

    if data.startswith(b"PK\x03\x04"):
        return "docx", _load_zip(data, name, max_chars)
    _reject_known_binary(data, name)
    if suffix in DOCX_SUFFIXES:
        raise IngestError(
            name, "the name says DOCX but the content is not a Word document; open it in Word and save it as .docx."
        )

    text = _decode_any(data, name, html_hint=suffix in HTML_SUFFIXES)
    if len(text) > max_chars:
        raise too_much_text(name, max_chars)
    if suffix in HTML_SUFFIXES or looks_like_html(text):
        return "html", html_sections(text, name, max_chars)
    if suffix in MARKDOWN_SUFFIXES:
        return suffix.lstrip("."), split_sections(text, mdx=suffix == ".mdx")
    if suffix in TEXT_SUFFIXES:
        return "text", _text_sections(text)
    raise IngestError(name, f"files of type {suffix or '(no extension)'} are not supported; use {SUPPORTED}.")


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


def _load_zip(data: bytes, name: str, max_chars: int) -> list[Section]:
    from knowledge.docx import describe_other_archive, is_word_archive, load_docx

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, ValueError) as error:
        raise IngestError(name, f"the file looks like a zip archive but is damaged ({error}).") from None
    if not is_word_archive(names):
        raise IngestError(name, f"the file is {describe_other_archive(names)}.")
    return load_docx(data, name, max_chars)


def _reject_known_binary(data: bytes, name: str) -> None:
    if data.startswith(_OLE2):
        # Word keeps a password-protected .docx in an OLE2 container with this stream.
        if "EncryptedPackage".encode("utf-16-le") in data:
            raise IngestError(
                name, "the Office document is password-protected; remove the password and ingest it again."
            )
        raise IngestError(
            name, "the file is in the old Office format (.doc, .xls, .ppt); open it and save it as .docx or PDF."
        )
    for signature, kind in _BINARY_SIGNATURES:
        if data.startswith(signature):
            raise IngestError(name, f"the file is {kind}, not a document; use {SUPPORTED}.")


def _decode_any(data: bytes, name: str, html_hint: bool) -> str:
    """Decode text; a page that is not UTF-8 may still name its encoding in a `<meta charset>`."""
    try:
        return decode_text(data, name)
    except IngestError as error:
        if not (html_hint or b"<html" in data[:4096].lower()):
            raise
        charset = declared_charset(data)
        if charset is None:
            raise
        try:
            return data.decode(charset)
        except UnicodeDecodeError:
            raise error from None


def decode_text(data: bytes, name: str) -> str:
    """Decode UTF-8 (with or without a byte order mark) or UTF-16/32 with a byte order mark."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError as error:
                raise IngestError(
                    name, f"the file starts with a {codec.upper()} byte order mark but is not valid {codec.upper()} "
                    f"(invalid bytes at offset {error.start}); save it as UTF-8 and try again.",
                ) from None
    if b"\x00" in data[:8192]:
        raise IngestError(name, "the file looks binary, not text; upload it in a supported format: " + SUPPORTED + ".")
    try:
        return data.decode("utf-8")
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


def _load_pdf(data: bytes, name: str, max_pages: int, max_chars: int) -> list[Section]:
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
            if offset > max_chars:
                raise too_much_text(name, max_chars)
    if not sections:
        raise IngestError(
            name, "no text could be extracted; the PDF looks scanned (pages are images). Run OCR on it first."
        )
    return sections
