"""Commands that change or list the knowledge base: /ingest and /docs."""

import asyncio
import shlex
import threading
from pathlib import Path

from bot import messages
from bot.commands import registry
from bot.core import LiveMessage, Reply, UserError
from bot.router import Context
from knowledge.base import BUILTIN_TENANT, IngestProgress
from knowledge.documents import IngestReport
from knowledge.loaders import IngestError, check_size, format_size

BAR_WIDTH = 20
# Ids are 12 hex digits; a removal needs enough of one that a typo cannot pick another document.
MIN_ID_PREFIX = 6


@registry.command("ingest", usage="PATH... | attached file", expensive=True, admin_only=True)
async def ingest_command(ctx: Context) -> Reply:
    """Add documents (PDF, Markdown, text) to this server's knowledge base.

    Args:
        path: A file or folder on the bot's machine (terminal only); on Discord and Slack, attach the file instead.
        file: The PDF, Markdown or text file to add, attached to the command.
    """
    command = ctx.command
    if command.attachments:
        report = await _ingest_attachments(ctx)
    elif command.args.strip():
        if command.platform != "terminal":
            raise UserError(messages.INGEST_NO_SOURCE)
        report = await _ingest_paths(ctx, _parse_paths(command.args))
    else:
        raise UserError(messages.INGEST_MISSING_PATH)
    return Reply(format_report(report))


def _parse_paths(args: str) -> list[Path]:
    try:
        words = shlex.split(args)
    except ValueError:
        words = args.split()
    paths = [Path(word).expanduser() for word in words]
    for path in paths:
        if not path.exists():
            message = messages.INGEST_PATH_NOT_FOUND.format(path=path, cwd=Path.cwd())
            if len(words) > 1:
                message += " " + messages.INGEST_QUOTE_SPACES
            raise UserError(message)
    return paths


class IngestCancelled(Exception):
    """Raised in the ingest thread, between two files, after the command was cancelled."""


async def _ingest_paths(ctx: Context, paths: list[Path]) -> IngestReport:
    """Ingest in a worker thread while a progress message is updated from the event loop.

    Cancelling the command stops the ingest before its next file; files
    already ingested stay, and no file is left half-written.
    """
    state: list[IngestProgress] = []
    cancelled = threading.Event()

    def progress(update: IngestProgress) -> None:
        if cancelled.is_set():
            raise IngestCancelled()
        state.append(update)

    live = LiveMessage(ctx.responder)
    knowledge = ctx.services.knowledge
    work = asyncio.ensure_future(
        ctx.run_model(
            lambda: knowledge.ingest_paths(
                paths, tenant=ctx.command.tenant, added_by=ctx.command.user_name, progress=progress
            )
        )
    )
    try:
        while not work.done():
            await asyncio.wait({work}, timeout=max(ctx.responder.min_edit_interval, 0.2))
            if state:
                await live.update(Reply(progress_text(state[-1])))
    except asyncio.CancelledError:
        cancelled.set()
        raise
    report = work.result()
    if state:
        await live.finish(Reply(progress_text(state[-1])))
    return report


async def _ingest_attachments(ctx: Context) -> IngestReport:
    report = IngestReport()
    knowledge = ctx.services.knowledge
    for attachment in ctx.command.attachments:
        try:
            if attachment.size is not None:
                check_size(attachment.name, attachment.size, knowledge.max_file_bytes)
            data = await attachment.fetch()
            info = await ctx.run_model(
                lambda: knowledge.ingest_bytes(
                    data, attachment.name, tenant=ctx.command.tenant, added_by=ctx.command.user_name
                )
            )
        except IngestError as error:
            report.failed.append((attachment.name, error.reason))
            continue
        if info is None:
            report.unchanged.append(attachment.name)
        else:
            report.added.append(info)
    return report


def progress_text(progress: IngestProgress) -> str:
    total = max(progress.files_total, 1)
    filled = round(BAR_WIDTH * progress.files_done / total)
    bar = "█" * filled + "░" * (BAR_WIDTH - filled)
    current = f" · {progress.current}" if progress.current else ""
    return (
        f"Ingesting `{bar}` {progress.files_done}/{progress.files_total} files, "
        f"{progress.chunks_done} chunks{current}"
    )


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def format_report(report: IngestReport) -> str:
    """Summarise an ingest; each part is its own paragraph so Markdown keeps them apart."""
    parts = []
    if report.added:
        lines = [f"Added {plural(len(report.added), 'document')}, {plural(report.chunks_added, 'chunk')}:"]
        for info in report.added[:20]:
            note = " (replaced the earlier version)" if info.replaced else ""
            lines.append(f"- `{info.doc_id}` {info.name}: {plural(info.chunks, 'chunk')}{note}")
        if len(report.added) > 20:
            lines.append(f"- … and {len(report.added) - 20} more (see /docs)")
        parts.append("\n".join(lines))
    if report.unchanged:
        parts.append(f"{plural(len(report.unchanged), 'document')} unchanged since the last ingest, skipped.")
    if report.failed:
        lines = [f"{plural(len(report.failed), 'file')} could not be ingested:"]
        lines.extend(f"- {name}: {reason}" for name, reason in report.failed)
        parts.append("\n".join(lines))
    if report.skipped:
        kinds = sorted({Path(name).suffix or "no extension" for name in report.skipped})
        parts.append(
            f"Skipped {plural(len(report.skipped), 'file')} of types that are not ingested ({', '.join(kinds)}); "
            "supported are .pdf, .md, .mdx and .txt."
        )
    if not parts:
        parts.append("No supported files found (.pdf, .md, .mdx, .txt); nothing was ingested.")
    return "\n\n".join(parts)


@registry.command("docs", usage="[remove ID]")
async def docs_command(ctx: Context) -> Reply:
    """List the documents in the knowledge base, or remove one (admins).

    Args:
        remove: The id of a document to delete, from the list /docs shows.
    """
    words = ctx.command.args.split()
    knowledge = ctx.services.knowledge
    if not words:
        documents = await ctx.run_blocking(knowledge.documents, ctx.command.tenant)
        return Reply(format_documents(documents))

    if words[0] != "remove":
        raise UserError(messages.DOCS_UNKNOWN_ACTION.format(action=words[0]))
    if not ctx.command.is_admin:
        raise UserError(messages.ADMIN_ONLY.format(name="docs remove"))
    if len(words) < 2:
        raise UserError(messages.DOCS_REMOVE_MISSING_ID)

    if len(words[1]) < MIN_ID_PREFIX:
        raise UserError(messages.DOCS_ID_TOO_SHORT.format(doc_id=words[1], length=MIN_ID_PREFIX))
    matches = await ctx.run_blocking(knowledge.find, ctx.command.tenant, words[1])
    if not matches:
        raise UserError(messages.DOCS_ID_NOT_FOUND.format(doc_id=words[1]))
    if len(matches) > 1:
        names = ", ".join(f"{info.doc_id} {info.name}" for info in matches[:5])
        raise UserError(messages.DOCS_ID_AMBIGUOUS.format(doc_id=words[1], count=len(matches), names=names))
    document = matches[0]
    if document.tenant == BUILTIN_TENANT:
        raise UserError(messages.DOCS_BUILTIN.format(name=document.name))

    removed = await ctx.run_blocking(knowledge.remove, ctx.command.tenant, document.doc_id)
    return Reply(f"Removed `{document.doc_id}` {document.name} ({plural(removed, 'chunk')}).")


def format_documents(documents) -> str:
    if not documents:
        return "The knowledge base is empty. Admins can add files with /ingest."
    rows = ["| id | name | type | chunks | size | added by | added |", "|---|---|---|---|---|---|---|"]
    for info in documents:
        added_by = "built-in" if info.tenant == BUILTIN_TENANT else info.added_by
        rows.append(
            f"| `{info.doc_id}` | {info.name} | {info.doc_type} | {info.chunks} | "
            f"{format_size(info.size)} | {added_by} | {info.added_at[:16].replace('T', ' ')} |"
        )
    return f"{len(documents)} document(s):\n\n" + "\n".join(rows)
