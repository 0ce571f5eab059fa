"""Markdown and MDX to plain sections with heading paths.

MDX is Markdown with JSX components (`<Tip>`, `<Question choices={[...]} />`)
and `import` lines. Components are UI, not prose, so their tags are dropped;
the text between an opening and a closing tag is kept. Code fences are kept
as they are, so a `#` comment inside one is not a heading.
"""

from __future__ import annotations

import re

from knowledge.documents import Section

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_ANCHOR = re.compile(r"\[\[[^\]]*\]\]")  # `# Title[[anchor-id]]` in the HF course
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_HTML_TAG = re.compile(r"</?[a-zA-Z][^<>]*>")
_MDX_IMPORT = re.compile(r"^(import|export)\s.*$")
_SETEXT_UNDERLINE = re.compile(r"^ {0,3}(=+|-+)\s*$")
# Lines that stay text when `---` follows them: list items, quotes and table rows.
_NOT_SETEXT_TITLE = re.compile(r"^\s*([-*+]\s|\d+[.)]\s|>|\|)")
# YAML front matter (Jekyll, Hugo, Docusaurus): metadata between two `---` lines at the very top.
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n.*?\n(---|\.\.\.)[ \t]*(\n|\Z)", re.DOTALL)


def _skip_component(text: str, start: int) -> int:
    """Return the index just past the JSX tag that opens at `start`.

    Attribute values may hold `>` inside quotes or `{...}` expressions, so
    braces and quotes are tracked instead of searching for the first `>`.
    """
    depth = 0
    quote = ""
    i = start + 1
    while i < len(text):
        char = text[i]
        if quote:
            if char == "\\":
                i += 1
            elif char == quote:
                quote = ""
        elif char in "\"'`":
            quote = char
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif char == ">" and depth <= 0:
            return i + 1
        i += 1
    return len(text)


def strip_mdx(text: str) -> str:
    """Remove JSX component tags, imports and HTML comments outside code fences."""
    text = _HTML_COMMENT.sub("", text)
    out: list[str] = []
    i = 0
    in_fence = False
    line_start = True
    while i < len(text):
        if line_start:
            line_end = text.find("\n", i)
            line = text[i : line_end if line_end != -1 else len(text)]
            if _FENCE.match(line):
                in_fence = not in_fence
            elif not in_fence and _MDX_IMPORT.match(line):
                i = len(text) if line_end == -1 else line_end + 1
                continue
        char = text[i]
        if in_fence:
            out.append(char)
            i += 1
            line_start = char == "\n"
            continue

        # A component tag starts with `<` and a capital letter: <Tip>, </Tip>, <Youtube id="..."/>.
        is_component = (
            char == "<"
            and i + 1 < len(text)
            and (text[i + 1].isupper() or (text[i + 1] == "/" and text[i + 2 : i + 3].isupper()))
        )
        if is_component:
            i = _skip_component(text, i)
            line_start = False
            continue
        out.append(char)
        i += 1
        line_start = char == "\n"
    return "".join(out)


def clean_inline(line: str) -> str:
    """Drop heading anchors and inline HTML tags from one line of prose."""
    return _HTML_TAG.sub("", _ANCHOR.sub("", line))


def blank_front_matter(text: str) -> str:
    """Replace the characters of YAML front matter with spaces, so that offsets into the text stay valid."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return text
    return re.sub(r"[^\n]", " ", match.group(0)) + text[match.end() :]


def split_sections(text: str, *, mdx: bool = False) -> list[Section]:
    """Split Markdown into sections, one per heading, each with its heading path.

    Both heading forms count: `## Title` and a title line underlined with
    `===` (level 1) or `---` (level 2).
    """
    text = blank_front_matter(text)
    if mdx:
        text = strip_mdx(text)
    else:
        # Comments are invisible in rendered Markdown, so they are not content either.
        text = _HTML_COMMENT.sub("", text)

    sections: list[Section] = []
    path: list[tuple[int, str]] = []
    buffer: list[str] = []
    buffer_start = 0
    offset = 0
    in_fence = False
    after_paragraph_line = False

    def flush() -> None:
        body = "\n".join(buffer).strip()
        if body:
            sections.append(
                Section(text=body, heading_path=tuple(title for _, title in path), start=buffer_start)
            )
        buffer.clear()

    def open_heading(level: int, title: str, next_offset: int) -> None:
        nonlocal buffer_start
        flush()
        while path and path[-1][0] >= level:
            path.pop()
        if title:
            path.append((level, title))
        buffer_start = next_offset

    for line in text.split("\n"):
        is_fence = bool(_FENCE.match(line))
        if is_fence:
            in_fence = not in_fence
        heading = None if in_fence else _HEADING.match(line)
        underline = None if in_fence or is_fence else _SETEXT_UNDERLINE.match(line)
        is_setext = bool(underline) and after_paragraph_line
        if heading:
            open_heading(len(heading.group(1)), clean_inline(heading.group(2)).strip(), offset + len(line) + 1)
        elif is_setext:
            title = buffer.pop().strip()
            open_heading(1 if underline.group(1).startswith("=") else 2, title, offset + len(line) + 1)
        else:
            if not buffer:
                buffer_start = offset
            buffer.append(line if in_fence or is_fence else clean_inline(line))
        is_prose = bool(line.strip()) and not (heading or is_setext or in_fence or is_fence)
        after_paragraph_line = is_prose and not _NOT_SETEXT_TITLE.match(line)
        offset += len(line) + 1
    flush()
    return sections
