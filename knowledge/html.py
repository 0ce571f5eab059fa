"""HTML to sections with heading paths, parsed with BeautifulSoup and lxml.

h1 to h6 become the heading path. Scripts, styles, navigation, `<noscript>`,
`<template>`, the `<head>` and hidden elements are dropped, because they are
page machinery rather than prose. Each block element (paragraph, list item,
table) becomes its own paragraph. A `<pre>` block becomes a code fence, so
the chunker keeps it whole where it fits.
"""

from __future__ import annotations

import codecs
import re
import warnings
from collections.abc import Iterator

from bs4 import (
    BeautifulSoup,
    Comment,
    Declaration,
    Doctype,
    MarkupResemblesLocatorWarning,
    NavigableString,
    ProcessingInstruction,
    Tag,
    XMLParsedAsHTMLWarning,
)

from knowledge.documents import Section, SectionBuilder

DROPPED = {
    "script", "style", "noscript", "template", "nav", "head", "svg", "canvas",
    "iframe", "object", "embed", "select", "button",
}
BLOCKS = {
    "p", "div", "section", "article", "main", "header", "footer", "aside", "blockquote",
    "ul", "ol", "dl", "dt", "dd", "figure", "figcaption", "address", "details", "summary",
    "hr", "form", "fieldset", "body", "html", "center", "caption",
}
_HEADING = re.compile(r"^h([1-6])$")
_DOCUMENT_START = re.compile(
    r"^\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*<(!doctype\s+html|html[\s>])", re.IGNORECASE | re.DOTALL
)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.IGNORECASE)
_SPACES = re.compile(r"\s+")
_NOT_TEXT = (Comment, Declaration, Doctype, ProcessingInstruction)
# Permalink signs that documentation generators append to headings.
_HEADING_MARKS = " \t¶#🔗"


def looks_like_html(text: str) -> bool:
    """Return whether text starts like an HTML page: a doctype or an <html> tag, after an optional XML
    declaration and comments."""
    return bool(_DOCUMENT_START.match(text[:4096]))


def declared_charset(data: bytes) -> str | None:
    """Return the codec named by a `<meta charset>` near the top of the page, if Python has that codec."""
    match = _META_CHARSET.search(data[:4096])
    if not match:
        return None
    try:
        return codecs.lookup(match.group(1).decode("ascii")).name
    except LookupError:
        return None


def html_sections(text: str, name: str, max_chars: int) -> list[Section]:
    with warnings.catch_warnings():
        # A short page can look like a file name to BeautifulSoup, and XHTML like XML; both parse fine as HTML.
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        soup = BeautifulSoup(text, "lxml")
    builder = SectionBuilder(name, max_chars)
    _Walker(builder).walk(soup)
    return builder.finish()


class _Walker:
    """Turn the element tree into paragraphs and headings, in document order.

    The walk keeps its own stack instead of recursing, so deeply nested pages
    (thousands of `<div>` levels) do not hit Python's recursion limit.
    """

    def __init__(self, builder: SectionBuilder):
        self.builder = builder
        self.inline: list[str] = []

    def walk(self, root: Tag) -> None:
        stack: list[tuple[Iterator, bool]] = [(iter(root.children), False)]
        while stack:
            children, ends_block = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                if ends_block:
                    self.end_paragraph()
                continue
            if isinstance(child, _NOT_TEXT):
                continue
            if isinstance(child, NavigableString):
                self.inline.append(_SPACES.sub(" ", str(child)))  # a newline in HTML source is just a space
            elif isinstance(child, Tag):
                descend = self._open(child)
                if descend is not None:
                    stack.append((iter(child.children), descend))
        self.end_paragraph()

    def end_paragraph(self) -> None:
        text = "".join(self.inline)
        self.inline = []
        lines = (line.strip(" ") for line in text.split("\n"))
        self.builder.paragraph("\n".join(line for line in lines if line))

    def _open(self, element: Tag) -> bool | None:
        """Handle an element's start. Return None to skip its children, else whether it ends a paragraph."""
        tag = element.name.lower()
        if tag in DROPPED or _is_hidden(element):
            return None

        heading = _HEADING.match(tag)
        if heading:
            self.end_paragraph()
            self.builder.heading(int(heading.group(1)), _visible_text(element).strip(_HEADING_MARKS))
            return None
        if tag == "pre":
            self.end_paragraph()
            self.builder.paragraph(f"```\n{_visible_text(element, keep_spaces=True).strip(chr(10))}\n```")
            return None
        if tag == "table":
            self.end_paragraph()
            self.builder.paragraph(_table_text(element))
            return None
        if tag == "br":
            self.inline.append("\n")
            return None
        if tag == "li":
            self.end_paragraph()
            self.inline.append("- ")
            return True
        if tag in BLOCKS:
            self.end_paragraph()
            return True
        return False


def _is_hidden(element: Tag) -> bool:
    return element.has_attr("hidden") or element.get("aria-hidden") == "true"


def _visible_text(element: Tag, keep_spaces: bool = False) -> str:
    """Return an element's text without the text of dropped or hidden descendants."""
    parts = []
    for node in element.descendants:
        if not isinstance(node, NavigableString) or isinstance(node, _NOT_TEXT):
            continue
        parent = node.parent
        while parent is not None and parent is not element:
            if parent.name in DROPPED or _is_hidden(parent):
                break
            parent = parent.parent
        else:
            parts.append(str(node))
    text = "".join(parts)
    return text if keep_spaces else " ".join(text.split())


def _table_text(table: Tag) -> str:
    """Return one line per row, cells separated by ` | `; a nested table's text stays in its cell."""
    rows = []
    for row in table.find_all("tr"):
        if row.find_parent("table") is not table:
            continue
        cells = [_visible_text(cell) for cell in row.find_all(("td", "th")) if cell.find_parent("tr") is row]
        if any(cells):
            rows.append(" | ".join(cells))
    return "\n".join(rows)
