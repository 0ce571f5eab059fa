"""DOCX: a zip archive of XML parts, read with zipfile and lxml.

Only the main document part and its styles are unpacked. Before anything is
unpacked, the archive's directory is checked: every member's declared size
and compression ratio, and the declared size of the parts that will be read
against a cap derived from MAX_EXTRACTED_CHARS. Python's zipfile stops
inflating a member at its declared size, so a member that lies about its size
fails its CRC check instead of filling memory.

Paragraphs with a "Heading n" or "Title" style (or an outline level) become
the heading path; tables become one line per row with ` | ` between cells.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile

from lxml import etree

from knowledge.documents import IngestError, Section, SectionBuilder

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
RELATIONSHIPS = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"
# Word writes a text box twice: as DrawingML in mc:Choice and as VML in mc:Fallback.
FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
MAIN_DOCUMENT = "word/document.xml"

MAX_MEMBERS = 10_000
# The document part of a DOCX of varied prose deflates about 5 times, and one that
# repeats a paragraph 5,000 times about 60 times (both measured with python-docx
# files). Zip bombs reach about 1,000 times, the most deflate can do.
MAX_RATIO = 200
RATIO_CHECK_FROM = 1024 * 1024
MAX_DECLARED_TOTAL = 1024 * 1024 * 1024
# Word's XML carries much markup around the text, so a document part is
# allowed this many bytes per character of MAX_EXTRACTED_CHARS.
XML_BYTES_PER_CHAR = 20
MIN_XML_CAP = 8 * 1024 * 1024
MAX_SIDE_PART = 16 * 1024 * 1024

_HEADING_NAME = re.compile(r"^heading\s*([1-9])$", re.IGNORECASE)
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def is_word_archive(names: list[str]) -> bool:
    return MAIN_DOCUMENT in names or any(name.startswith("word/") for name in names)


def describe_other_archive(names: list[str]) -> str:
    """Name what a zip archive that is not a Word document seems to be."""
    if any(name.startswith("xl/") for name in names):
        return "an Excel workbook (.xlsx), which is not supported; export the text as .docx, .md or .txt"
    if any(name.startswith("ppt/") for name in names):
        return "a PowerPoint file (.pptx), which is not supported; export it as PDF and ingest that"
    if "content.xml" in names:
        return "an OpenDocument file, which is not supported; save it as .docx in LibreOffice"
    return "a zip archive, not a document; unpack it and ingest the files inside"


def load_docx(data: bytes, name: str, max_chars: int) -> list[Section]:
    """Return the sections of a DOCX file, or raise `IngestError` naming what is wrong."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as error:
        raise IngestError(name, f"the DOCX file is damaged ({error}); open it in Word and save it again.") from None

    with archive:
        check_archive(archive, name)
        xml_cap = max(XML_BYTES_PER_CHAR * max_chars, MIN_XML_CAP)
        main_part = _main_part(archive, name)
        document = _parse(archive, main_part, name, xml_cap)
        styles_part = posixpath.join(posixpath.dirname(main_part), "styles.xml")
        styles = _parse(archive, styles_part, name, MAX_SIDE_PART) if styles_part in archive.namelist() else None

    if not document.tag.startswith(W):
        raise IngestError(
            name,
            "the DOCX file uses an XML namespace this loader does not read (Word's Strict Open XML option); "
            "save it as a regular Word document (.docx).",
        )
    body = document.find(f"{W}body")
    if body is None:
        raise IngestError(name, "the DOCX file has no document body; open it in Word and save it again.")
    for fallback in list(body.iter(FALLBACK)):
        fallback.getparent().remove(fallback)
    builder = SectionBuilder(name, max_chars)
    _read_blocks(body, _heading_levels(styles), builder)
    return builder.finish()


def check_archive(archive: zipfile.ZipFile, name: str) -> None:
    """Raise `IngestError` for an encrypted archive or one whose directory looks like a zip bomb."""
    members = archive.infolist()
    if len(members) > MAX_MEMBERS:
        raise IngestError(
            name, f"the archive has {len(members):,} members, over the {MAX_MEMBERS:,} that a document may have."
        )

    total = 0
    for member in members:
        if member.flag_bits & 0x1:
            raise IngestError(name, "the DOCX file is encrypted; remove the password and ingest it again.")
        total += member.file_size
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > RATIO_CHECK_FROM and ratio > MAX_RATIO:
            raise IngestError(
                name,
                f"the archive member {member.filename} would unpack to {member.file_size:,} bytes from "
                f"{member.compress_size:,} ({ratio:,.0f} times), which only a zip bomb does; nothing was unpacked.",
            )
    if total > MAX_DECLARED_TOTAL:
        raise IngestError(
            name, f"the archive would unpack to {total:,} bytes, over the {MAX_DECLARED_TOTAL:,}-byte limit."
        )


def _main_part(archive: zipfile.ZipFile, name: str) -> str:
    """Return the main document part's name, from the package relationships when they name it."""
    names = set(archive.namelist())
    if "_rels/.rels" in names:
        relationships = _parse(archive, "_rels/.rels", name, MAX_SIDE_PART)
        for relation in relationships.iter(RELATIONSHIPS):
            if relation.get("Type", "").endswith("/officeDocument"):
                target = relation.get("Target", "").lstrip("/")
                if target in names:
                    return target
    if MAIN_DOCUMENT in names:
        return MAIN_DOCUMENT
    raise IngestError(name, "the archive has no Word document part (word/document.xml); it is not a DOCX file.")


def _parse(archive: zipfile.ZipFile, part: str, name: str, cap: int) -> etree._Element:
    member = archive.getinfo(part)
    if member.file_size > cap:
        raise IngestError(
            name,
            f"its part {part} would unpack to {member.file_size:,} bytes, over the {cap:,}-byte cap; "
            "split the document or ask an admin to raise MAX_EXTRACTED_CHARS.",
        )
    try:
        with archive.open(member) as stream:
            xml = stream.read(cap + 1)
        if len(xml) > cap:  # zipfile stops at the declared size checked above; this guards the read itself
            raise IngestError(name, f"its part {part} unpacks to more than {cap:,} bytes.")
        return etree.fromstring(xml, _PARSER)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as error:
        raise IngestError(name, f"the DOCX file is damaged ({error}); open it in Word and save it again.") from None
    except etree.XMLSyntaxError as error:
        raise IngestError(name, f"the DOCX part {part} is not valid XML ({error}).") from None


def _heading_levels(styles: etree._Element | None) -> dict[str, int]:
    """Map paragraph style ids to heading levels: Title is 0, "heading n" is n, an outline level is that plus 1."""
    if styles is None:
        return {}
    names: dict[str, str] = {}
    outline: dict[str, int] = {}
    based_on: dict[str, str] = {}
    for style in styles.iter(f"{W}style"):
        style_id = style.get(f"{W}styleId")
        if not style_id or style.get(f"{W}type") not in (None, "paragraph"):
            continue
        name = style.find(f"{W}name")
        names[style_id] = (name.get(f"{W}val") if name is not None else "") or ""
        level = style.find(f"{W}pPr/{W}outlineLvl")
        if level is not None and (level.get(f"{W}val") or "").isdigit():
            outline[style_id] = int(level.get(f"{W}val"))
        parent = style.find(f"{W}basedOn")
        if parent is not None:
            based_on[style_id] = parent.get(f"{W}val") or ""

    levels: dict[str, int] = {}
    for style_id in names:
        current = style_id
        for _ in range(10):  # a basedOn chain longer than this is damaged or circular
            level = _level_from_name(names.get(current, ""))
            if level is None and outline.get(current, 9) < 9:
                level = outline[current] + 1
            if level is not None:
                levels[style_id] = level
                break
            if current not in based_on:
                break
            current = based_on[current]
    return levels


def _level_from_name(style_name: str) -> int | None:
    if style_name.strip().lower() == "title":
        return 0
    match = _HEADING_NAME.match(style_name.strip())
    return int(match.group(1)) if match else None


def _read_blocks(parent: etree._Element, levels: dict[str, int], builder: SectionBuilder) -> None:
    for element in parent:
        if element.tag == f"{W}p":
            level = _paragraph_level(element, levels)
            text = _paragraph_text(element)
            if level is None:
                builder.paragraph(text)
            elif text.strip():
                builder.heading(level, text)
        elif element.tag == f"{W}tbl":
            rows = [_row_text(row) for row in element.iterfind(f"{W}tr")]
            builder.paragraph("\n".join(row for row in rows if row))
        elif element.tag == f"{W}sdt":  # a content control wraps ordinary blocks
            content = element.find(f"{W}sdtContent")
            if content is not None:
                _read_blocks(content, levels, builder)


def _paragraph_level(paragraph: etree._Element, levels: dict[str, int]) -> int | None:
    properties = paragraph.find(f"{W}pPr")
    if properties is None:
        return None
    outline = properties.find(f"{W}outlineLvl")
    if outline is not None and (outline.get(f"{W}val") or "").isdigit() and int(outline.get(f"{W}val")) < 9:
        return int(outline.get(f"{W}val")) + 1
    style = properties.find(f"{W}pStyle")
    if style is None:
        return None
    style_id = style.get(f"{W}val") or ""
    # Without a styles part, the built-in style ids (Heading1, Title) still identify headings.
    return levels.get(style_id, _level_from_name(re.sub(r"(?<=[a-z])(?=\d)", " ", style_id)))


def _paragraph_text(paragraph: etree._Element) -> str:
    """Join a paragraph's runs; deleted text (w:delText) and field codes (w:instrText) are left out."""
    parts = []
    for node in paragraph.iter(f"{W}t", f"{W}tab", f"{W}br", f"{W}cr", f"{W}noBreakHyphen"):
        if node.tag == f"{W}t":
            parts.append(node.text or "")
        elif node.tag == f"{W}tab":
            parts.append("\t")
        elif node.tag == f"{W}noBreakHyphen":
            parts.append("-")
        else:
            parts.append("\n")
    return "".join(parts)


def _row_text(row: etree._Element) -> str:
    cells = []
    for cell in row.iterfind(f"{W}tc"):
        text = " ".join(" ".join(_paragraph_text(p).split()) for p in cell.iter(f"{W}p"))
        cells.append(text.strip())
    return " | ".join(cells) if any(cells) else ""
