"""The terminal adapter: lines from stdin in, replies rendered with rich out.

The terminal user is the admin of the `local` tenant. Images are written to
files under DATA_DIR/images and their paths printed. Choices (the buttons on
Discord and Slack) are numbered; typing the number runs the choice.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from dataclasses import dataclass

from rich.console import Console, Group
from rich.live import Live
from rich.markdown import Markdown
from rich.text import Text

from bot.core import Command, Reply, image_path
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

    async def acknowledge(self) -> None:
        """Nothing to acknowledge in a terminal: the prompt waits for the reply."""

    async def send(self, reply: Reply) -> _Message:
        self.close()
        self._live = Live(self.adapter.render(reply), console=self.console, auto_refresh=False, transient=False)
        self._live.start()
        return _Message(self._live)

    async def edit(self, message: _Message, reply: Reply) -> None:
        message.live.update(self.adapter.render(reply), refresh=True)

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None


class TerminalAdapter:
    def __init__(self, router: Router, console: Console | None = None):
        self.router = router
        self.console = console or Console()
        self.data_dir = router.services.settings.data_dir
        self._choices: list[str] = []

    def parse(self, line: str) -> Command | None:
        """Turn a typed line into a command; plain text is a question for /ask."""
        line = line.strip()
        if not line:
            return None
        if line.isdigit():
            if not 1 <= int(line) <= len(self._choices):
                return Command(name="choice", args=line, is_admin=True)
            line = self._choices[int(line) - 1]
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

        responder = TerminalResponder(self.console, self)
        try:
            await self.router.dispatch(command, responder)
        finally:
            responder.close()
        self.console.print()

    async def run(self) -> None:
        """Read commands until end of input or /quit."""
        interactive = sys.stdin.isatty()
        while True:
            try:
                line = await asyncio.to_thread(input, "› " if interactive else "")
            except EOFError:
                break
            if line.strip().lower() in EXIT_WORDS:
                break
            if not interactive and line.strip():
                self.console.print(Text(f"› {line.strip()}", style="bold"))
            await self.handle_line(line)

    def render(self, reply: Reply) -> Group:
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
        self._choices = [choice.command for choice in reply.choices] or self._choices
        if reply.choices:
            labels = "  ".join(f"{i}) {choice.label}" for i, choice in enumerate(reply.choices, start=1))
            parts.append(Text(labels, style="green"))
        return Group(*parts)

