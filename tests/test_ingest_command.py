"""/ingest and /docs through the router: attachments, progress edits, cancellation, and bad files."""

import asyncio
import gc
import io
import threading
import time

import pytest

from bot.commands import registry as bot_registry
from bot.commands.docs import _run_with_progress, format_report
from bot.core import Attachment, Command, LiveMessage, Reply
from bot.router import Context, Router
from bot.services import Services
from bot.settings import load_settings
from knowledge.base import IngestProgress
from knowledge.documents import IngestReport

from conftest import shared_path


class TimedResponder:
    """Records every message sent or edited, with the time it happened."""

    def __init__(self, min_edit_interval=0.0):
        self.min_edit_interval = min_edit_interval
        self.events = []

    async def acknowledge(self):
        self.events.append(("ack", time.monotonic(), ""))

    async def send(self, reply):
        self.events.append(("send", time.monotonic(), reply.text))
        return len(self.events)

    async def edit(self, message, reply):
        self.events.append(("edit", time.monotonic(), reply.text))

    def texts(self):
        return [text for kind, _, text in self.events if kind in ("send", "edit")]


@pytest.fixture
def router(knowledge):
    services = Services(load_settings())
    services.knowledge = knowledge  # the test's store and the session's embedding model
    return Router(bot_registry, services, cooldown_seconds=0, max_concurrent_model_jobs=2)


def attachment(name, data, size=None, fetch=None):
    async def fetch_bytes():
        return data

    return Attachment(name=name, size=len(data) if size is None else size, fetch=fetch or fetch_bytes)


def dispatch(router, command, responder=None):
    responder = responder or TimedResponder()
    asyncio.run(router.dispatch(command, responder))
    return responder.texts()


def ingest_command(*attachments, is_admin=True):
    return Command(
        "ingest", platform="discord", tenant="g1", user="u1", user_name="ada", is_admin=is_admin,
        attachments=tuple(attachments),
    )


def test_attached_markdown_ingested_with_chunk_count(router):
    notes = shared_path("cases", "files", "one-page-notes.md")
    texts = dispatch(router, ingest_command(attachment("one-page-notes.md", notes.read_bytes())))
    assert "Added 1 document," in texts[-1]
    assert "one-page-notes.md:" in texts[-1]
    chunks = router.services.knowledge.documents("g1")[0].chunks
    assert chunks > 0
    assert f"{chunks} chunk" in texts[-1]

    listing = dispatch(router, Command("docs", platform="discord", tenant="g1"))[-1]
    assert "| one-page-notes.md | md |" in listing
    assert "| ada |" in listing


def test_scanned_pdf_attachment_explained_and_not_listed(router):
    scan = shared_path("cases", "files", "scanned-two-pages.pdf")
    texts = dispatch(router, ingest_command(attachment("scan.pdf", scan.read_bytes())))
    assert "1 file could not be ingested:" in texts[-1]
    assert "scan.pdf: no text could be extracted" in texts[-1]
    assert "Added" not in texts[-1]
    listing = dispatch(router, Command("docs", platform="discord", tenant="g1"))[-1]
    assert "scan.pdf" not in listing


def test_mixed_attachments_each_reported(router):
    async def broken_fetch():
        raise ConnectionResetError("connection reset by peer")

    html = b"<!doctype html><html><body><h1>Attention</h1><p>Attention weighs tokens by relevance.</p></body></html>"
    command = ingest_command(
        attachment("page.html", html),
        attachment("latin.txt", "caf\xe9".encode("latin-1")),
        attachment("huge.pdf", b"", size=50 * 1024 * 1024),
        attachment("gone.md", b"", fetch=broken_fetch),
        attachment("empty.md", b""),
    )
    report = dispatch(router, command)[-1]
    assert "Added 1 document, 1 chunk:" in report
    assert "page.html: 1 chunk" in report
    assert "4 files could not be ingested:" in report
    assert "latin.txt: the file is not valid UTF-8" in report
    assert "huge.pdf: the file is 50.0 MiB, over the 10.0 MiB limit" in report
    assert "gone.md: the download of the attachment failed (connection reset by peer)" in report
    assert "empty.md: the file is empty" in report


def test_ingest_rejected_for_members(router):
    texts = dispatch(router, ingest_command(attachment("notes.md", b"# Notes\n\ntext"), is_admin=False))
    assert texts == ["Only admins can run /ingest. Ask an admin of this server or workspace to do it."]
    assert router.services.knowledge.documents("g1") == []


def test_docs_remove_by_id(router):
    dispatch(router, ingest_command(attachment("notes.md", b"# Notes\n\nGradient descent follows the slope.")))
    doc_id = router.services.knowledge.documents("g1")[0].doc_id
    member = Command("docs", args=f"remove {doc_id}", platform="discord", tenant="g1")
    assert "Only admins can run /docs remove" in dispatch(router, member)[-1]
    admin = Command("docs", args=f"remove {doc_id}", platform="discord", tenant="g1", is_admin=True)
    assert dispatch(router, admin)[-1] == f"Removed `{doc_id}` notes.md (1 chunk)."
    assert router.services.knowledge.documents("g1") == []


def slow_ingest(steps, pause, stopped, finished=None):
    """Return an ingest run that reports progress `steps` times, `pause` seconds apart.

    `finished` collects the index of every "file" whose pause completed.
    """
    finished = [] if finished is None else finished

    def run(progress):
        report = IngestReport()
        try:
            for done in range(steps):
                progress(IngestProgress(done, steps, done * 3, f"file{done}.md"))
                time.sleep(pause)
                finished.append(done)
            progress(IngestProgress(steps, steps, steps * 3, ""))
        finally:
            stopped.set()
        return report

    return run


def context_for(responder):
    router = Router(bot_registry, services=None, cooldown_seconds=0, max_concurrent_model_jobs=1)
    return Context(command=Command("ingest"), responder=responder, services=None, router=router)


@pytest.mark.parametrize("platform_interval", [0.0, 1.0])
def test_progress_edits_at_most_once_a_second_then_become_the_report(platform_interval):
    responder = TimedResponder(min_edit_interval=platform_interval)
    stopped = threading.Event()

    async def ingest_command_flow():
        live = LiveMessage(responder, 1.0)
        report = await _run_with_progress(context_for(responder), live, slow_ingest(25, 0.1, stopped))
        await live.finish(Reply(format_report(report)))
        return report

    report = asyncio.run(ingest_command_flow())

    shown = [(moment, kind, text) for kind, moment, text in responder.events if kind in ("send", "edit")]
    assert len(shown) >= 3
    assert [kind for _, kind, _ in shown].count("send") == 1, "progress and report share one message"
    progress = shown[:-1]
    gaps = [later - earlier for (earlier, _, _), (later, _, _) in zip(progress, progress[1:])]
    assert min(gaps) >= 0.99, gaps
    assert shown[-1][0] - shown[-2][0] >= platform_interval - 0.01
    assert any("/25 files" in text for _, _, text in shown[:-1])
    assert shown[-1][2] == format_report(report)


def test_cancel_stops_worker_without_unread_errors():
    responder = TimedResponder()
    stopped = threading.Event()
    unhandled = []
    finished = []

    async def main():
        asyncio.get_running_loop().set_exception_handler(lambda loop, context: unhandled.append(context))
        run = slow_ingest(200, 0.02, stopped, finished)
        task = asyncio.ensure_future(_run_with_progress(context_for(responder), LiveMessage(responder, 1.0), run))
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert stopped.is_set(), "the worker thread still runs after the command returned"
        gc.collect()
        await asyncio.sleep(0)

    asyncio.run(main())
    gc.collect()
    assert unhandled == []
    assert responder.texts()[-1].startswith("Stopped /ingest after ")
    done = int(responder.texts()[-1].split("after ")[1].split(" of")[0])
    assert 0 < done < 200
    assert done == len(finished)


def test_docx_attachment_cites_heading_path(router):
    from docx import Document

    document = Document()
    document.add_heading("Setup", 1)
    document.add_heading("Install", 2)
    document.add_paragraph("Install the tutor with pip inside a virtual environment, then run genai-tutor chat.")
    buffer = io.BytesIO()
    document.save(buffer)
    report = dispatch(router, ingest_command(attachment("guide.docx", buffer.getvalue())))[-1]
    assert "guide.docx: 1 chunk" in report
    hits = router.services.knowledge.search("how do I install the tutor?", "g1", 1)
    assert hits[0].source == "guide.docx"
    assert hits[0].location == "Setup > Install"


def test_terminal_ingest_paths_reports_each_file(router):
    from rich.console import Console

    from bot.adapters.terminal import TerminalAdapter

    notes = shared_path("cases", "files", "one-page-notes.md")
    scan = shared_path("cases", "files", "scanned-two-pages.pdf")
    console = Console(file=io.StringIO(), width=200)
    adapter = TerminalAdapter(router, console)
    asyncio.run(adapter.handle_line(f"/ingest {notes} {scan}"))
    output = console.file.getvalue()
    assert "Added 1 document," in output
    assert "one-page-notes.md:" in output
    assert "scanned-two-pages.pdf: no text could be extracted" in output
    assert [info.name for info in router.services.knowledge.documents("local")] == ["one-page-notes.md"]


def test_docs_pages_and_totals(router):
    from bot.commands.docs import DOCS_PAGE_SIZE

    count = DOCS_PAGE_SIZE + 3
    files = [attachment(f"note{i:02}.txt", f"Note {i} about embeddings.".encode()) for i in range(count)]
    dispatch(router, ingest_command(*files))

    def docs(args=""):
        return dispatch(router, Command("docs", args=args, platform="discord", tenant="g1"))[-1]

    first = docs()
    assert first.startswith(f"{count} documents, {count} chunks,")
    assert "note00.txt" in first
    assert f"note{DOCS_PAGE_SIZE:02}.txt" not in first
    assert "Page 1 of 2. /docs 2 shows the next." in first
    second = docs("2")
    assert f"note{DOCS_PAGE_SIZE:02}.txt" in second
    assert "note00.txt" not in second
    assert second.endswith("Page 2 of 2.")
    assert docs("3") == "There is no page 3 of the document list; it has pages 1 to 2."
    assert len(first) < 2000
