"""The terminal adapter: lines from stdin in, replies rendered with rich out.

The terminal user is the admin of the `local` tenant. Images are written to
files under DATA_DIR/images and their paths printed. Choices (the buttons on
Discord and Slack) are numbered; typing the number runs the choice.

In a real terminal, prompt_toolkit gives line editing and history. Ctrl-C
stops the running command and returns to the prompt; at the prompt it
clears the line, and Ctrl-D or /quit leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from dataclasses import dataclass

from rich.console import Console, Group
from rich.live import Live
from rich.markdown import Markdown
from rich.text import Text

from bot.core import Choice, Command, Reply, image_path
from bot.router import Router

logger = logging.getLogger(__name__)

EXIT_WORDS = {"/quit", "/exit", "quit", "exit"}


@dataclass
class _Message:
    live: Live


class TerminalResponder:
    min_edit_interval = 0.1

    def __init__(self, console: Console, adapter: "TerminalAdapter"):
        self.console = console
        self.adapter = adapter
        self._live: Live | None = None
        self._status = None

    async def acknowledge(self) -> None:
        """Show a spinner until the first reply, so a slow command visibly runs."""
        if self.console.is_terminal:
            self._status = self.console.status("Working… (Ctrl-C stops it)", spinner="dots")
            self._status.start()

    async def send(self, reply: Reply) -> _Message:
        self.close()
        self._live = Live(self.adapter.render(reply), console=self.console, auto_refresh=False, transient=False)
        self._live.start()
        return _Message(self._live)

    async def edit(self, message: _Message, reply: Reply) -> None:
        message.live.update(self.adapter.render(reply), refresh=True)

    def close(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None
        if self._live is not None:
            self._live.stop()
            self._live = None


class TerminalAdapter:
    def __init__(self, router: Router, console: Console | None = None):
        self.router = router
        self.console = console or Console()
        self.data_dir = router.services.settings.data_dir
        self._choices: list[Choice] = []

    def parse(self, line: str) -> Command | None:
        """Turn a typed line into a command; plain text is a question for /ask."""
        line = line.strip()
        if not line:
            return None
        labels = [choice.label.lower() for choice in self._choices]
        if line.lower() in labels and len(line) == 1:  # a quiz letter such as "b"
            line = self._choices[labels.index(line.lower())].command
        elif line.isdigit():
            if not 1 <= int(line) <= len(self._choices):
                return Command(name="choice", args=line, is_admin=True)
            line = self._choices[int(line) - 1].command
        if not line.startswith("/"):
            line = "/ask " + line
        name, _, args = line[1:].partition(" ")
        return Command(name=name.lower(), args=args.strip(), is_admin=True)

    async def handle_line(self, line: str) -> None:
        command = self.parse(line)
        if command is None:
            return
        if command.name == "choice":
            count = len(self._choices)
            hint = f"pick 1 to {count}" if count else "there are no choices to pick from right now"
            self.console.print(f"There is no choice {command.args}; {hint}.\n")
            return

        # Numbers pick from this command's choices only; a reply without any leaves none.
        self._choices = []
        responder = TerminalResponder(self.console, self)
        task = asyncio.ensure_future(self.router.dispatch(command, responder))
        try:
            with _cancel_on_interrupt(task):
                await task
        except asyncio.CancelledError:
            responder.close()
            self.console.print(f"[yellow]Stopped /{command.name}.[/yellow]")
            logger.info("stopped by Ctrl-C: %s", command.log_ids())
        finally:
            responder.close()
        self.console.print()

    async def run(self) -> None:
        """Read commands until end of input or /quit."""
        if sys.stdin.isatty():
            await self._run_interactive()
            return

        while True:
            try:
                line = await asyncio.to_thread(input)
            except EOFError:
                break
            if line.strip().lower() in EXIT_WORDS:
                break
            if line.strip():
                self.console.print(Text(f"› {line.strip()}", style="bold"))
            await self.handle_line(line)

    async def _run_interactive(self) -> None:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import FileHistory

        history = FileHistory(str(self.data_dir / "chat-history.txt"))
        session = PromptSession(history=history)
        while True:
            try:
                line = await session.prompt_async("› ")
            except KeyboardInterrupt:  # Ctrl-C at the prompt clears the line
                continue
            except EOFError:
                break
            if line.strip().lower() in EXIT_WORDS:
                break
            await self.handle_line(line)

    def render(self, reply: Reply) -> Group:
        """Turn a reply into rich renderables; images are written to files."""
        parts = []
        if reply.text:
            parts.append(Markdown(reply.text))
        if reply.citations:
            sources = Text("\nSources\n", style="bold")
            for citation in reply.citations:
                sources.append(f"[{citation.number}] {citation.label()}\n", style="cyan")
            parts.append(sources)
        for image in reply.images:
            path = image_path(self.data_dir, image)
            if not path.exists():
                path.write_bytes(image.data)
            parts.append(Text(f"Image: {path}" + (f" ({image.description})" if image.description else "")))
        self._choices = list(reply.choices) or self._choices
        if reply.choices:
            labels = "  ".join(f"{i}) {choice.label}" for i, choice in enumerate(reply.choices, start=1))
            parts.append(Text(labels, style="green"))
        return Group(*parts)



@contextlib.contextmanager
def _cancel_on_interrupt(task: asyncio.Future):
    """Make Ctrl-C cancel `task` instead of ending the program, while the block runs."""
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGINT, task.cancel)
    except (NotImplementedError, RuntimeError):  # no signal handlers off the main thread or on Windows
        yield
        return
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGINT)
