"""Render a `Reply` as Slack messages: Markdown to mrkdwn, then Block Kit within Slack's limits.

Everything here is pure, so tests check the conversion and the splitting
without a server. Slack's Block Kit reference limits a section's text to
3,000 characters and a message to 50 blocks. Messages whose blocks add up to
much more than about 12,000 characters fail with `msg_blocks_too_long` (an
observed limit, not a documented one), so longer replies spill into further
messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.core import Choice, Citation, Reply

SECTION_LIMIT = 3000
MAX_BLOCKS = 50
MESSAGE_CHAR_BUDGET = 12000
BUTTON_LABEL_LIMIT = 75
BUTTON_VALUE_LIMIT = 2000
BUTTONS_PER_ACTIONS_BLOCK = 25
CONTEXT_TEXT_LIMIT = 3000
CONTEXT_ELEMENTS_LIMIT = 10
NOTIFICATION_TEXT_LIMIT = 300

# A button's action_id starts with this; its value is the core command it runs,
# so a click still works after the bot restarts.
CHOICE_ACTION_PREFIX = "genai-tutor-choice-"

FENCE = re.compile(r"^\s*(```|~~~)")
TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
TABLE_SEPARATOR_CELL = re.compile(r"^\s*:?-{1,}:?\s*$")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
BULLET = re.compile(r"^(\s*)[-*+]\s+(.*)$")
QUOTE = re.compile(r"^\s{0,3}>\s?(.*)$")
RULE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
LINK = re.compile(r"\[([^\]\n]+)\]\(([^)\s]+)\)")
BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
ITALIC_STAR = re.compile(r"(?<![\w*])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![\w*])")
STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
BROADCAST_WORD = re.compile(r"@(everyone|here|channel)\b", re.IGNORECASE)
SAFE_URL = re.compile(r"^(https?://|mailto:)", re.IGNORECASE)
USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")

BOLD_MARK = "\x02"  # stands for `*` until italics are converted, so `**x**` is not read as two italics
WORD_JOINER = "\u2060"


def escape(text: str) -> str:
    """Escape Slack's three control characters, so text cannot form links or mentions."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def defuse_broadcasts(text: str) -> str:
    """Break `@everyone`, `@here` and `@channel` with an invisible word joiner.

    Escaping already turns `<!here>` and `<!subteam^...>` into plain text. The
    joiner also covers clients or settings that link the bare words.
    """
    return BROADCAST_WORD.sub(lambda match: "@" + WORD_JOINER + match.group(1), text)


def markdown_to_mrkdwn(markdown: str) -> str:
    """Convert the Markdown subset that handlers write into Slack mrkdwn.

    Bold, italics, strikethrough, links, inline code and code fences map to
    their mrkdwn forms, headings become bold lines, bullets become `•`, and
    tables become code blocks with aligned columns (mrkdwn has no tables).
    """
    lines = markdown.splitlines()
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        fence = FENCE.match(line)
        if fence:
            body = []
            index += 1
            while index < len(lines) and not lines[index].strip().startswith(fence.group(1)):
                body.append(lines[index])
                index += 1
            index += 1  # the closing fence, or the end of an unclosed block
            out.append(_code_block(body))
            continue

        if TABLE_ROW.match(line):
            rows = []
            while index < len(lines) and TABLE_ROW.match(lines[index]):
                rows.append(lines[index])
                index += 1
            out.append(_table_block(rows))
            continue

        out.append(_convert_line(line))
        index += 1
    return defuse_broadcasts("\n".join(out))


def _code_block(body: list[str]) -> str:
    text = escape("\n".join(body)) or " "
    return f"```\n{text}\n```"


def _table_block(rows: list[str]) -> str:
    parsed = []
    for row in rows:
        cells = [_plain_cell(cell) for cell in row.strip().strip("|").replace("\\|", "\x00").split("|")]
        cells = [cell.replace("\x00", "|") for cell in cells]
        if all(TABLE_SEPARATOR_CELL.match(cell) for cell in cells):
            continue
        parsed.append(cells)
    width = max(len(cells) for cells in parsed) if parsed else 0
    columns = [max(len(cells[i]) if i < len(cells) else 0 for cells in parsed) for i in range(width)]
    lines = ["  ".join(cell.ljust(columns[i]) for i, cell in enumerate(cells)).rstrip() for cells in parsed]
    return _code_block(lines)


def _plain_cell(cell: str) -> str:
    """Strip inline Markdown from a table cell, which is shown inside a code block."""
    cell = LINK.sub(lambda match: f"{match.group(1)} ({match.group(2)})", cell.strip())
    return cell.replace("**", "").replace("`", "")


def _convert_line(line: str) -> str:
    heading = HEADING.match(line)
    if heading:
        text = _convert_inline(heading.group(2).replace("**", "").replace("__", ""))
        return f"*{text}*" if text else ""
    if RULE.match(line):
        return ""
    bullet = BULLET.match(line)
    if bullet:
        return f"{bullet.group(1)}• {_convert_inline(bullet.group(2))}"
    quote = QUOTE.match(line)
    if quote:
        return f"> {_convert_inline(quote.group(1))}"
    return _convert_inline(line)


def _convert_inline(text: str) -> str:
    """Convert one line outside code blocks. Code spans are escaped but not formatted."""
    parts = []
    position = 0
    for span in CODE_SPAN.finditer(text):
        parts.append(_convert_prose(text[position : span.start()]))
        parts.append("`" + escape(span.group(2)) + "`")
        position = span.end()
    parts.append(_convert_prose(text[position:]))
    return "".join(parts)


def _convert_prose(text: str) -> str:
    links: list[str] = []

    def hold_link(match: re.Match) -> str:
        links.append(_link(match.group(1), match.group(2)))
        return f"\x01{len(links) - 1}\x01"

    text = LINK.sub(hold_link, text)
    text = escape(text)
    text = BOLD.sub(lambda match: BOLD_MARK + match.group(2) + BOLD_MARK, text)
    text = ITALIC_STAR.sub(r"_\1_", text)
    text = STRIKE.sub(r"~\1~", text)
    text = text.replace(BOLD_MARK, "*")
    return re.sub(r"\x01(\d+)\x01", lambda match: links[int(match.group(1))], text)


def _link(label: str, url: str) -> str:
    """Return `<url|label>` for web and mail links. Any other target stays visible text, never markup."""
    label = escape(label.replace("**", "").replace("`", ""))
    if not SAFE_URL.match(url):
        return f"{label} ({escape(url)})"
    url = url.replace("|", "%7C").replace("<", "%3C").replace(">", "%3E").replace("&", "&amp;")
    return f"<{url}|{label}>"


def split_text(text: str, limit: int) -> list[str]:
    """Split mrkdwn into pieces of at most `limit` characters, losing no word.

    Cuts prefer a paragraph break, then a line break, then a space, and never
    fall inside a `<url|label>` link or an `&amp;` entity. A code block that
    is cut is closed at the end of one piece and reopened in the next.
    """
    if limit < 16:
        raise ValueError(f"limit {limit} is too small to split mrkdwn safely; use at least 16")
    pieces = []
    rest = text.strip()
    reserve = len("\n```") + len("```\n")  # room to close and reopen a cut code block
    while len(rest) > limit:
        cut = _cut_point(rest, limit - reserve)
        piece, rest = rest[:cut].rstrip(), rest[cut:].lstrip("\n")
        if rest.startswith(" ") and not rest.startswith("  "):  # the space cut at, not code indentation
            rest = rest[1:]
        if piece.count("```") % 2 == 1:
            piece += "\n```"
            rest = "```\n" + rest
        pieces.append(piece)
    if rest:
        pieces.append(rest)
    return pieces


def _cut_point(text: str, limit: int) -> int:
    window = text[: limit + 1]
    for separator in ("\n\n", "\n", " "):
        position = window.rfind(separator)
        while position > limit // 4:
            if not _inside_markup(text, position):
                return position
            position = window.rfind(separator, 0, position)
    # One long word: cut it, but not inside a link or an entity.
    position = limit
    while position > limit // 2 and _inside_markup(text, position):
        position -= 1
    return position


def _inside_markup(text: str, position: int) -> bool:
    """Return True when `position` falls inside `<...>` markup or an `&...;` entity."""
    if text.rfind("<", 0, position) > text.rfind(">", 0, position):
        return True
    ampersand = text.rfind("&", max(0, position - 5), position)
    return ampersand != -1 and ";" not in text[ampersand:position]


@dataclass
class SlackMessage:
    """One chat.postMessage payload: the notification text and the blocks."""

    text: str
    blocks: list[dict] = field(default_factory=list)

    def payload(self) -> dict:
        return {"text": self.text, "blocks": self.blocks}


def render_reply(reply: Reply, heading: str | None = None) -> list[SlackMessage]:
    """Render a reply's text, sources and buttons as one or more messages, in reading order.

    `heading` is mrkdwn from `request_heading`, shown first in small print.
    Images are not blocks: the adapter uploads them with files_upload_v2.
    """
    sections = [_section(piece) for piece in split_text(markdown_to_mrkdwn(reply.text), SECTION_LIMIT)]
    if heading:
        sections.insert(0, {"type": "context", "elements": [{"type": "mrkdwn", "text": heading}]})
    trailer = []
    if reply.citations:
        trailer.append(sources_block(reply.citations))
    trailer.extend(choice_blocks(reply.choices))

    messages: list[list[dict]] = []
    current: list[dict] = []
    for block in sections + trailer:
        if current and (len(current) + 1 > MAX_BLOCKS or _size(current) + _block_size(block) > MESSAGE_CHAR_BUDGET):
            messages.append(current)
            current = []
        current.append(block)
    if current:
        messages.append(current)
    return [SlackMessage(_notification_text(blocks), blocks) for blocks in messages]


def request_heading(user: str, request: str) -> str:
    """Return the line that shows the channel who sent a slash command or clicked a button, and what.

    The user is mentioned on purpose, because they sent the request. The request
    text is escaped like any other text.
    """
    mention = f"<@{user}> " if USER_ID.match(user) else ""
    text = defuse_broadcasts(escape(request))
    limit = CONTEXT_TEXT_LIMIT - len(mention)
    if len(text) > limit:
        text = split_text(text, limit - 1)[0] + "…"
    return mention + text


def _section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def sources_block(citations: list[Citation]) -> dict:
    """Return a context block that lists the numbered sources."""
    lines = [defuse_broadcasts(escape(f"[{citation.number}] {citation.label()}")) for citation in citations]
    pieces = split_text("*Sources*\n" + "\n".join(lines), CONTEXT_TEXT_LIMIT)[:CONTEXT_ELEMENTS_LIMIT]
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": piece} for piece in pieces]}


def choice_blocks(choices: list[Choice]) -> list[dict]:
    """Return actions blocks whose buttons carry the core command each choice runs."""
    buttons = []
    for index, choice in enumerate(choices):
        if len(choice.command) > BUTTON_VALUE_LIMIT:
            raise ValueError(f"the command of choice {choice.label!r} is over {BUTTON_VALUE_LIMIT} characters")
        label = choice.label if len(choice.label) <= BUTTON_LABEL_LIMIT else choice.label[: BUTTON_LABEL_LIMIT - 1] + "…"
        buttons.append(
            {
                "type": "button",
                "action_id": f"{CHOICE_ACTION_PREFIX}{index}",
                "text": {"type": "plain_text", "text": label, "emoji": True},
                "value": choice.command,
            }
        )
    return [
        {"type": "actions", "elements": buttons[start : start + BUTTONS_PER_ACTIONS_BLOCK]}
        for start in range(0, len(buttons), BUTTONS_PER_ACTIONS_BLOCK)
    ]


def _block_size(block: dict) -> int:
    if block["type"] == "section":
        return len(block["text"]["text"])
    if block["type"] == "context":
        return sum(len(element["text"]) for element in block["elements"])
    return sum(len(element["text"]["text"]) + len(element["value"]) for element in block["elements"])


def _size(blocks: list[dict]) -> int:
    return sum(_block_size(block) for block in blocks)


def _notification_text(blocks: list[dict]) -> str:
    """Return the short text that notifications and screen readers show for a message."""
    for block in blocks:
        if block["type"] == "section":
            return split_text(block["text"]["text"], NOTIFICATION_TEXT_LIMIT)[0]
    if blocks and blocks[0]["type"] == "context":
        return blocks[0]["elements"][0]["text"][:NOTIFICATION_TEXT_LIMIT]
    return "Choices"


def mrkdwn_of(messages: list[SlackMessage]) -> str:
    """Return the section text of rendered messages joined in order (for logs and tests)."""
    return "\n\n".join(
        block["text"]["text"] for message in messages for block in message.blocks if block["type"] == "section"
    )
