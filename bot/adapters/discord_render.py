"""Discord's message limits, applied to replies by pure functions that need no client.

A reply's Markdown becomes message content of at most 2,000 characters per
message. Sources become embed fields. Choices become buttons whose custom id
carries the core command to run. Limits (Discord API v10, message and embed
resources): content 2,000; 10 embeds per message; embed title 256, description
4,096, field name 256, field value 1,024, 25 fields, footer 2,048, all embeds of
a message together 6,000; 10 files per message; 5 buttons in each of 5 rows;
button label 80 and custom id 100 characters.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import regex

from bot.core import Choice, Citation, Image, Reply

CONTENT_LIMIT = 2000
EMBEDS_PER_MESSAGE = 10
EMBED_TITLE_LIMIT = 256
EMBED_DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FIELDS_PER_EMBED = 25
FOOTER_LIMIT = 2048
EMBEDS_TOTAL_LIMIT = 6000
FILES_PER_MESSAGE = 10
BUTTONS_PER_ROW = 5
BUTTON_ROWS = 5
BUTTON_LABEL_LIMIT = 80
CUSTOM_ID_LIMIT = 100

# Buttons carry this prefix and then the command, e.g. `gt:/lesson 1 3`.
BUTTON_PREFIX = "gt:"
SOURCES_COLOUR = 0x5865F2
ELLIPSIS = "…"
# Characters kept free for the footer that counts the items of an oversized list left out.
OVERFLOW_NOTE_RESERVE = 80

_GRAPHEME = regex.compile(r"\X")
_FENCE = regex.compile(r"^ {0,3}(`{3,}|~{3,})")


def graphemes(text: str) -> list[str]:
    """Split text into user-perceived characters (extended grapheme clusters)."""
    return _GRAPHEME.findall(text)


def truncate(text: str, limit: int) -> str:
    """Shorten text to at most `limit` characters, ending with … and never inside a grapheme cluster."""
    if len(text) <= limit:
        return text
    kept, length = [], 0
    for cluster in graphemes(text):
        if length + len(cluster) > limit - len(ELLIPSIS):
            break
        kept.append(cluster)
        length += len(cluster)
    return "".join(kept).rstrip() + ELLIPSIS


@dataclass
class _Fence:
    """A code fence open at the end of a piece: its opening line, and the marker that closes it."""

    opening: str
    marker: str


def _open_fence(text: str, fence: _Fence | None) -> _Fence | None:
    """Return the fence still open after `text`, given the one open before it."""
    for line in text.split("\n"):
        match = _FENCE.match(line)
        if match is None:
            continue
        marker = match.group(1)
        if fence is None:
            fence = _Fence(line.strip(), marker)
        elif marker[0] == fence.marker[0] and len(marker) >= len(fence.marker) and not line.strip()[len(marker):]:
            fence = None
    return fence


def _cut(clusters: list[str], budget: int) -> tuple[int, int]:
    """Pick where a piece of at most `budget` characters ends: (clusters kept, clusters skipped after them).

    A paragraph break is preferred, then a line break, then a space, each only
    when it keeps at least half the budget. Without one, the cut falls between
    two grapheme clusters.
    """
    fit, length = 0, 0
    while fit < len(clusters) and length + len(clusters[fit]) <= budget:
        length += len(clusters[fit])
        fit += 1
    if fit == len(clusters):
        return fit, 0

    enough = budget // 2
    offsets = []
    position = 0
    for cluster in clusters[:fit + 1]:
        offsets.append(position)
        position += len(cluster)

    for separator in ("\n\n", "\n", " "):
        for index in range(fit, 0, -1):
            if offsets[index] < enough:
                break
            if separator == "\n\n":
                if clusters[index] == "\n" and clusters[index - 1] == "\n":
                    return index - 1, 2
            elif clusters[index] == separator:
                return index, 1
    return max(fit, 1), 0


def split_text(text: str, limit: int = CONTENT_LIMIT) -> list[str]:
    """Split Markdown into pieces of at most `limit` characters for separate messages.

    Cuts at a paragraph, line or word boundary where one is near the limit, and
    never inside a grapheme cluster (an emoji joined with ZWJ, a letter with
    combining marks). A code fence open at a cut is closed at the end of its
    piece and opened again, with the same info string, at the start of the next.
    """
    pieces: list[str] = []
    clusters = graphemes(text.strip())
    fence: _Fence | None = None
    while clusters:
        reopen = fence.opening + "\n" if fence else ""
        budget = limit - len(reopen)
        while True:
            kept, skipped = _cut(clusters, budget)
            body = "".join(clusters[:kept])
            still_open = _open_fence(body, fence)
            closing = "\n" + still_open.marker if still_open and kept < len(clusters) else ""
            if len(reopen) + len(body.rstrip()) + len(closing) <= limit or budget <= 1:
                break
            budget -= len(closing)
        piece = reopen + body.rstrip() + closing
        if piece.strip():
            pieces.append(piece)
        clusters = clusters[kept + skipped:]
        while clusters and clusters[0] in ("\n", "\r\n"):
            clusters = clusters[1:]
        fence = still_open if clusters else None
    return pieces


def source_lines(citations: list[Citation]) -> list[str]:
    return [f"**[{citation.number}]** {citation.label()}" for citation in citations]


def source_embeds(citations: list[Citation]) -> list[dict]:
    """Lay the sources out as embed fields of whole lines, at most 1,024 characters each."""
    if not citations:
        return []
    values: list[str] = []
    for line in source_lines(citations):
        line = truncate(line, FIELD_VALUE_LIMIT)
        if values and len(values[-1]) + 1 + len(line) <= FIELD_VALUE_LIMIT:
            values[-1] += "\n" + line
        else:
            values.append(line)

    embeds: list[dict] = []
    for start in range(0, len(values), FIELDS_PER_EMBED):
        fields = [{"name": "\u200b", "value": value, "inline": False} for value in values[start:start + FIELDS_PER_EMBED]]
        embeds.append({"type": "rich", "color": SOURCES_COLOUR, "fields": fields})
    embeds[0]["title"] = "Sources"
    return fit_embeds(embeds)


def embed_length(embed: dict) -> int:
    """Count the characters Discord counts towards the 6,000 of a message's embeds."""
    total = len(embed.get("title", "")) + len(embed.get("description", ""))
    total += len(embed.get("footer", {}).get("text", "")) + len(embed.get("author", {}).get("name", ""))
    for item in embed.get("fields", []):
        total += len(item["name"]) + len(item["value"])
    return total


def fit_embeds(embeds: list[dict]) -> list[dict]:
    """Return copies of the embeds cut to every per-embed limit and to 10 embeds and 6,000 characters in all.

    Fields that do not fit are dropped from the end. The footer of the last
    embed kept then counts them, so a reader knows the list is incomplete.
    """
    embeds = [_fit_one(embed) for embed in embeds]
    if len(embeds) <= EMBEDS_PER_MESSAGE and sum(map(embed_length, embeds)) <= EMBEDS_TOTAL_LIMIT:
        return embeds

    room = EMBEDS_TOTAL_LIMIT - OVERFLOW_NOTE_RESERVE
    fitted: list[dict] = []
    dropped = 0
    for embed in embeds:
        fields = embed.get("fields", [])
        bare = {key: value for key, value in embed.items() if key != "fields"}
        length = embed_length(bare)
        if len(fitted) == EMBEDS_PER_MESSAGE or length > room:
            dropped += max(len(fields), 1)
            continue
        kept = []
        for item in fields:
            size = len(item["name"]) + len(item["value"])
            if length + size > room:
                dropped += 1
                continue
            kept.append(item)
            length += size
        if fields and not kept:
            continue
        fitted.append({**bare, "fields": kept} if fields else bare)
        room -= length

    if fitted and dropped:
        fitted[-1]["footer"] = {"text": f"{dropped} more not shown, over Discord's embed size limit."}
    return fitted


def _fit_one(embed: dict) -> dict:
    embed = dict(embed)
    if "title" in embed:
        embed["title"] = truncate(embed["title"], EMBED_TITLE_LIMIT)
    if "description" in embed:
        embed["description"] = truncate(embed["description"], EMBED_DESCRIPTION_LIMIT)
    if "footer" in embed:
        embed["footer"] = {**embed["footer"], "text": truncate(embed["footer"]["text"], FOOTER_LIMIT)}
    if "fields" in embed:
        embed["fields"] = [
            {**item, "name": truncate(item["name"], FIELD_NAME_LIMIT), "value": truncate(item["value"], FIELD_VALUE_LIMIT)}
            for item in embed["fields"][:FIELDS_PER_EMBED]
        ]
    return embed


@dataclass(frozen=True)
class Button:
    label: str
    custom_id: str


def choice_buttons(choices: list[Choice]) -> list[Button]:
    """Turn choices into at most 25 buttons with unique custom ids of at most 100 characters.

    A choice whose command does not fit in a custom id, or repeats an earlier
    one, gets no button.
    """
    buttons: list[Button] = []
    seen: set[str] = set()
    for choice in choices:
        custom_id = BUTTON_PREFIX + choice.command
        if len(custom_id) > CUSTOM_ID_LIMIT or custom_id in seen:
            continue
        seen.add(custom_id)
        buttons.append(Button(truncate(choice.label, BUTTON_LABEL_LIMIT) or choice.command, custom_id))
    return buttons[:BUTTONS_PER_ROW * BUTTON_ROWS]


def command_of(custom_id: str) -> str | None:
    """Return the command a button's custom id carries, or None for another app's button."""
    return custom_id[len(BUTTON_PREFIX):] if custom_id.startswith(BUTTON_PREFIX) else None


@dataclass
class MessagePart:
    """One Discord message of a reply: content, embeds (as API dicts), files and buttons."""

    content: str = ""
    embeds: list[dict] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)
    buttons: list[Button] = field(default_factory=list)


def render_reply(reply: Reply) -> list[MessagePart]:
    """Lay a reply out as one or more messages; sources, images and buttons go under the last text."""
    parts = [MessagePart(content=piece) for piece in split_text(reply.text)]
    if not parts:
        parts.append(MessagePart())

    last = parts[-1]
    last.embeds = source_embeds(reply.citations)
    last.buttons = choice_buttons(reply.choices)
    images = list(reply.images)
    last.images = images[:FILES_PER_MESSAGE]
    for start in range(FILES_PER_MESSAGE, len(images), FILES_PER_MESSAGE):
        parts.append(MessagePart(images=images[start:start + FILES_PER_MESSAGE]))

    for part in parts:
        if not (part.content or part.embeds or part.images):
            part.content = ELLIPSIS
    return parts
