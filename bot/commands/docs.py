"""Commands that change or list the knowledge base: /ingest and /docs."""

import asyncio
import logging
import shlex
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bot import messages
from bot.commands import registry
from bot.core import LiveMessage, Reply, UserError
from bot.router import Context
from knowledge.base import BUILTIN_TENANT, IngestProgress, ProgressCallback
from knowledge.documents import IngestReport
from knowledge.loaders import INGESTIBLE_SUFFIXES, IngestError, check_size, format_size

logger = logging.getLogger(__name__)

BAR_WIDTH = 20
# Edits of one progress message are at least this many seconds apart, because chat platforms rate-limit edits.
PROGRESS_EDIT_INTERVAL = 1.0
PROGRESS_POLL_SECONDS = 0.2
SUPPORTED_LIST = ", ".join(sorted(INGESTIBLE_SUFFIXES))
# Ids are 12 hex digits; a removal needs enough of one that a typo cannot pick another document.
MIN_ID_PREFIX = 6
# Rows per /docs page: 15 rows with names of up to about 40 characters fit Discord's 2,000-character message limit.
DOCS_PAGE_SIZE = 15


@registry.command("ingest", usage="PATH... | attached file", expensive=True, admin_only=True)
async def ingest_command(ctx: Context) -> Reply:
    """Add documents (PDF, DOCX, HTML, Markdown, text) to this server's knowledge base.

    Args:
        path: A file or folder on the bot's machine (terminal only); on Discord and Slack, attach the file instead.
        file: The PDF, DOCX, HTML, Markdown or text file to add, attached to the command.
    """
    command = ctx.command
    live = LiveMessage(ctx.responder, max(ctx.responder.min_edit_interval, PROGRESS_EDIT_INTERVAL))
    if command.attachments:
        report = await _ingest_attachments(ctx, live)
    elif command.args.strip():
        if command.platform != "terminal":
            raise UserError(messages.INGEST_NO_SOURCE)
        report = await _ingest_paths(ctx, live, _parse_paths(command.args))
    else:
        raise UserError(messages.INGEST_MISSING_PATH)
    reply = Reply(format_report(report))
    if not live.started:
        return reply
    # The progress message becomes the report, so the channel keeps one message per /ingest.
    await live.finish(reply)
    return None


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


IngestRun = Callable[[ProgressCallback], IngestReport]


async def _ingest_paths(ctx: Context, live: LiveMessage, paths: list[Path]) -> IngestReport:
    knowledge = ctx.services.knowledge
    command = ctx.command
    return await _run_with_progress(
        ctx,
        live,
        lambda progress: knowledge.ingest_paths(
            paths, tenant=command.tenant, added_by=command.user_name, progress=progress
        ),
    )


async def _ingest_attachments(ctx: Context, live: LiveMessage) -> IngestReport:
    """Download every attachment, then ingest the downloaded files with a progress message.

    A file that is too large, fails to download or cannot be read is listed
    in the report with the reason; the other files go on.
    """
    report = IngestReport()
    knowledge = ctx.services.knowledge
    command = ctx.command
    downloaded: list[tuple[str, bytes]] = []
    for attachment in command.attachments:
        try:
            if attachment.size is not None:
                check_size(attachment.name, attachment.size, knowledge.max_file_bytes)
            downloaded.append((attachment.name, await attachment.fetch()))
        except IngestError as error:
            report.failed.append((attachment.name, error.reason))
        except Exception as error:  # each platform's HTTP client raises its own types
            logger.warning("attachment download failed: %s file=%s error=%r", command.log_ids(), attachment.name, error)
            report.failed.append((attachment.name, messages.INGEST_DOWNLOAD_FAILED.format(error=error)))
    if not downloaded:
        return report

    def ingest(progress: ProgressCallback) -> IngestReport:
        for done, (name, data) in enumerate(downloaded):
            progress(IngestProgress(done, len(downloaded), report.chunks_added, name))
            try:
                report.record(name, knowledge.ingest_bytes(data, name, tenant=command.tenant, added_by=command.user_name))
            except IngestError as error:
                report.failed.append((name, error.reason))
        progress(IngestProgress(len(downloaded), len(downloaded), report.chunks_added, ""))
        return report

    return await _run_with_progress(ctx, live, ingest)


async def _run_with_progress(ctx: Context, live: LiveMessage, run: IngestRun) -> IngestReport:
    """Run an ingest in a worker thread while `live` shows its progress, edited at most once per interval.

    Cancelling the command (Ctrl-C in the terminal) stops the ingest before
    its next file and waits for the current file to finish, so each file is
    stored whole or not at all, and the worker's outcome is always read.
    """
    updates: list[IngestProgress] = []
    stopped_at: list[IngestProgress] = []  # the update at which a cancelled ingest stopped
    cancelled = threading.Event()

    def progress(update: IngestProgress) -> None:
        if cancelled.is_set():
            stopped_at.append(update)
            raise IngestCancelled()
        updates.append(update)

    interval = live.interval
    shown_update: IngestProgress | None = None
    shown_at = 0.0
    work = asyncio.ensure_future(ctx.run_model(run, progress))
    try:
        while not work.done():
            await asyncio.wait({work}, timeout=PROGRESS_POLL_SECONDS)
            due = shown_update is None or time.monotonic() - shown_at >= interval
            if updates and updates[-1] is not shown_update and due:
                shown_update, shown_at = updates[-1], time.monotonic()
                await live.update(Reply(progress_text(shown_update)))
    except asyncio.CancelledError:
        cancelled.set()
        await _wait_for_worker(ctx, work)
        if shown_update is not None:
            last = stopped_at[0] if stopped_at else updates[-1]
            await live.finish(Reply(messages.INGEST_STOPPED.format(done=last.files_done, total=last.files_total)))
        raise

    report = work.result()
    if shown_update is not None:
        # The caller edits the message once more, with the report. Discord and Slack get their
        # 1 s between edits, and the terminal's 0.1 s is barely a wait.
        await asyncio.sleep(max(0.0, ctx.responder.min_edit_interval - (time.monotonic() - shown_at)))
    return report


async def _wait_for_worker(ctx: Context, work: asyncio.Future) -> None:
    """Wait until a cancelled ingest's thread has stopped, and read its outcome so that none is lost."""
    try:
        await asyncio.shield(work)
    except IngestCancelled:
        logger.info("ingest stopped between files: %s", ctx.command.log_ids())
    except asyncio.CancelledError:
        # Cancelled again while waiting: read the outcome whenever the thread ends.
        work.add_done_callback(lambda done: _log_outcome(ctx, done))
    except Exception:
        logger.exception("ingest failed while stopping: %s", ctx.command.log_ids())
    else:
        logger.info("ingest finished before the stop took effect: %s", ctx.command.log_ids())


def _log_outcome(ctx: Context, work: asyncio.Future) -> None:
    error = None if work.cancelled() else work.exception()
    if error is not None and not isinstance(error, IngestCancelled):
        logger.error("ingest failed after it was stopped: %s error=%r", ctx.command.log_ids(), error)


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
            f"supported are {SUPPORTED_LIST}."
        )
    if not parts:
        parts.append(f"No supported files found ({SUPPORTED_LIST}); nothing was ingested.")
    return "\n\n".join(parts)


@registry.command("docs", usage="[PAGE | remove ID]")
async def docs_command(ctx: Context) -> Reply:
    """List the documents in the knowledge base, or remove one (admins).

    Args:
        page: Which page of the list to show, from 1; the first page by default.
        remove: The id of a document to delete, from the list /docs shows.
    """
    words = ctx.command.args.split()
    knowledge = ctx.services.knowledge
    if not words or words[0].isdigit():
        documents = await ctx.run_blocking(knowledge.documents, ctx.command.tenant)
        return Reply(format_documents(documents, int(words[0]) if words else 1))

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


def format_documents(documents, page: int = 1) -> str:
    """Return one page of the document table, with totals above it and a pointer to the next page."""
    if not documents:
        return "The knowledge base is empty. Admins can add files with /ingest."
    pages = -(-len(documents) // DOCS_PAGE_SIZE)
    if not 1 <= page <= pages:
        raise UserError(messages.DOCS_NO_SUCH_PAGE.format(page=page, count=pages))

    rows = ["| id | name | type | chunks | size | added by | added |", "|---|---|---|---|---|---|---|"]
    for info in documents[(page - 1) * DOCS_PAGE_SIZE : page * DOCS_PAGE_SIZE]:
        added_by = "built-in" if info.tenant == BUILTIN_TENANT else info.added_by
        rows.append(
            f"| `{info.doc_id}` | {info.name} | {info.doc_type} | {info.chunks} | "
            f"{format_size(info.size)} | {added_by} | {info.added_at[:16].replace('T', ' ')} |"
        )
    chunks = sum(info.chunks for info in documents)
    size = format_size(sum(info.size for info in documents))
    text = f"{plural(len(documents), 'document')}, {plural(chunks, 'chunk')}, {size} in all:\n\n" + "\n".join(rows)
    if pages > 1:
        following = f" /docs {page + 1} shows the next." if page < pages else ""
        text += f"\n\nPage {page} of {pages}.{following}"
    return text
