"""The `genai-tutor` command: `chat` (the default), `ingest PATH...`, `eval QUESTIONS`, `discord` and `slack`.

Heavy libraries (torch, sentence-transformers, llama.cpp) are imported only
when a command needs them, so `genai-tutor --help` stays instant.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import threading
import time
from pathlib import Path

from bot.settings import Settings, SettingsError, load_settings

logger = logging.getLogger(__name__)


def configure_logging(settings: Settings, console_level: int = logging.WARNING) -> Path:
    """Log everything to DATA_DIR/genai-tutor.log, and `console_level` and above to stderr."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    log_file = settings.data_dir / "genai-tutor.log"
    file_handler = logging.FileHandler(log_file, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    file_handler.setLevel(settings.log_level)
    console_handler = logging.StreamHandler(sys.stderr)
    console_handler.setLevel(console_level)
    console_handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=settings.log_level, handlers=[file_handler, console_handler], force=True)

    # Libraries that print progress bars or chatter on their own.
    for noisy in ("httpx", "httpcore", "sentence_transformers", "transformers", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return log_file


def ingest_with_progress(console, run, description: str):
    """Run an ingest function with a rich progress bar; `run` takes the progress callback."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("files · {task.fields[chunks]} new chunks · {task.fields[current]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task(description, total=None, chunks=0, current="")

        def update(progress) -> None:
            bar.update(
                task,
                total=progress.files_total,
                completed=progress.files_done,
                chunks=progress.chunks_done,
                current=progress.current[-40:],
            )

        return run(update)


def print_report(console, report) -> None:
    from bot.commands.docs import format_report
    from rich.markdown import Markdown

    console.print(Markdown(format_report(report)))


def cmd_chat(settings: Settings) -> int:
    from rich.console import Console

    started = time.monotonic()
    console = Console()

    from bot.adapters.terminal import TerminalAdapter
    from bot.commands import registry
    from bot.router import Router
    from bot.services import Services

    services = Services(settings)
    try:
        llm = services.llm
    except ValueError as error:
        console.print(f"[red]{error}[/red]")
        return 2
    services.knowledge  # opens the store now, so a locked store stops start-up before any progress bar
    console.print("[bold]genai-tutor[/bold]: checking the built-in lessons in the knowledge base…")
    report = ingest_with_progress(console, services.ingest_lessons, "Lessons")
    if report.failed:
        print_report(console, report)

    # A terminal has one user who waits for each reply, so there is nothing to throttle.
    router = Router(
        registry,
        services,
        cooldown_seconds=0,
        max_concurrent_model_jobs=settings.max_concurrent_model_jobs,
    )
    console.print(
        f"Ready in {time.monotonic() - started:.1f} s. Answers come from "
        f"{llm.name if llm else 'the passages themselves (extractive, no LLM)'}.\n"
        "Type /help for the commands, a question to ask it, or /quit to leave."
    )
    logger.info("chat ready in %.2f s", time.monotonic() - started)
    # Load the embedding model while the user types; a first /ask waits on its lock.
    threading.Thread(target=lambda: services.knowledge.embedder.model, name="warm-up", daemon=True).start()
    async def chat() -> None:
        try:
            await TerminalAdapter(router, console).run()
        finally:
            await services.aclose()

    try:
        asyncio.run(chat())
    except KeyboardInterrupt:
        pass
    finally:
        services.close()
    return 0


def cmd_ingest(settings: Settings, paths: list[Path], tenant: str, added_by: str) -> int:
    from rich.console import Console

    console = Console()
    missing = [path for path in paths if not path.exists()]
    if missing:
        console.print(f"[red]No file or folder at {', '.join(map(str, missing))}.[/red] Check the path and try again.")
        return 2

    from bot.services import Services

    services = Services(settings)
    services.knowledge  # opens the store now, so a locked store stops before any progress bar
    started = time.monotonic()
    try:
        report = ingest_with_progress(
            console,
            lambda progress: services.knowledge.ingest_paths(paths, tenant=tenant, added_by=added_by, progress=progress),
            "Ingesting",
        )
    finally:
        services.close()
    elapsed = time.monotonic() - started
    print_report(console, report)
    if report.chunks_added:
        console.print(f"{report.chunks_added} chunks in {elapsed:.1f} s ({report.chunks_added / elapsed:.1f} chunks/s).")
    return 1 if report.failed and not report.added and not report.unchanged else 0


def cmd_eval(questions_path: Path, corpus: Path | None) -> int:
    """Index the corpus in a temporary store and print each retrieval mode's scores next to the baseline."""
    import tempfile

    from rich.console import Console
    from rich.markdown import Markdown

    from knowledge.evaluation import QuestionFileError, evaluate, format_table, load_questions
    from lessons import LESSONS_DIR

    console = Console()
    try:
        questions = load_questions(questions_path)
    except QuestionFileError as error:
        console.print(f"[red]{error}[/red]")
        return 2
    corpus = corpus or LESSONS_DIR
    if not corpus.is_dir():
        console.print(f"[red]No corpus folder at {corpus}.[/red] Pass --corpus with the folder the questions are about.")
        return 2

    from knowledge.base import KnowledgeBase
    from knowledge.embeddings import DIMENSIONS, Embedder
    from knowledge.store import EdgeStore

    with tempfile.TemporaryDirectory(prefix="genai-tutor-eval-") as folder:
        knowledge = KnowledgeBase(
            EdgeStore(Path(folder) / "edge", DIMENSIONS), Embedder(), max_file_bytes=100 * 1024 * 1024, max_pdf_pages=5000
        )
        try:
            report = ingest_with_progress(
                console,
                lambda progress: knowledge.ingest_paths([corpus], tenant="eval", added_by="eval", progress=progress),
                "Indexing",
            )
            if report.failed:
                print_report(console, report)
            results = evaluate(questions, knowledge, [corpus], tenant="eval")
        finally:
            knowledge.close()
    console.print(Markdown(format_table(results, len(questions))))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="genai-tutor",
        description="A GenAI and AI engineering tutor for Discord, Slack and the terminal.",
    )
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("chat", help="chat in this terminal (the default)")
    commands.add_parser("discord", help="run the Discord bot (needs DISCORD_TOKEN)")
    ingest = commands.add_parser("ingest", help="add files or folders to the knowledge base")
    ingest.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="a PDF, DOCX, HTML, Markdown or text file, or a folder")
    ingest.add_argument("--tenant", default="local", help="tenant to ingest for: a Discord guild id, a Slack team id, or local (default)")
    ingest.add_argument("--added-by", default="cli", help="name shown in /docs as who added the documents (default: cli)")
    slack = commands.add_parser("slack", help="run the Slack bot (Socket Mode, or HTTP mode with --http)")
    slack.add_argument("--http", action="store_true", help="receive Slack's requests over HTTP instead of Socket Mode")
    slack.add_argument("--port", type=int, default=3000, help="port for HTTP mode (default: 3000)")
    slack.add_argument("--host", default="0.0.0.0", help="address for HTTP mode to listen on (default: 0.0.0.0, all)")
    evaluation = commands.add_parser(
        "eval", help="print Recall@1, Recall@5 and MRR of each retrieval mode and of a naive baseline"
    )
    evaluation.add_argument(
        "questions", type=Path, metavar="QUESTIONS",
        help="a JSON Lines file of {question, expected} objects, or a folder of course quiz pages (see README)",
    )
    evaluation.add_argument(
        "--corpus", type=Path, default=None, metavar="DIR",
        help="folder of documents to index for the evaluation (default: the built-in lessons)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    # In the chat, warnings (a model server that is down, say) would break into the
    # conversation; they go to the log file, and the answer itself says what happened.
    configure_logging(settings, logging.ERROR if args.command in (None, "chat") else logging.WARNING)

    from knowledge.store import StoreInUseError

    try:
        if args.command == "ingest":
            return cmd_ingest(settings, args.paths, args.tenant, args.added_by)
        if args.command == "discord":
            from bot.adapters.discord import run

            return run(settings)
        if args.command == "slack":
            from bot.adapters.slack import run

            return run(settings, http=args.http, port=args.port, host=args.host)
        if args.command == "eval":
            return cmd_eval(args.questions, args.corpus)
        return cmd_chat(settings)
    except StoreInUseError as error:
        print(error, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
