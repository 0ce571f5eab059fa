"""Platform-neutral types that adapters, the router and handlers share.

An adapter turns a platform event into a `Command` and a `Responder` bound to
it; handlers return `Reply` objects; each adapter renders them its own way.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class Attachment:
    """A file that came with a command. `fetch` downloads it (platform URLs expire)."""

    name: str
    size: int | None
    fetch: Callable[[], Awaitable[bytes]]


@dataclass(frozen=True)
class Command:
    """One invocation of a command, with who sent it and where."""

    name: str
    args: str = ""
    platform: str = "terminal"
    tenant: str = "local"
    channel: str = "terminal"
    user: str = "local-user"
    user_name: str = "you"
    is_admin: bool = False
    attachments: tuple[Attachment, ...] = ()
    invocation_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    def log_ids(self) -> str:
        """Return the ids that every log line about this command carries."""
        return (
            f"platform={self.platform} tenant={self.tenant} channel={self.channel} "
            f"user={self.user} command={self.name} invocation={self.invocation_id}"
        )


@dataclass(frozen=True)
class Citation:
    """A numbered source under an answer, e.g. `[1] chapter2/3.mdx > Tokenizers`."""

    number: int
    source: str
    location: str = ""
    score: float | None = None

    def label(self) -> str:
        return f"{self.source} > {self.location}" if self.location else self.source


@dataclass(frozen=True)
class Image:
    """A PNG to show under the text."""

    data: bytes
    filename: str
    description: str = ""


@dataclass(frozen=True)
class Choice:
    """A button, or a numbered choice in the terminal, that runs `command` when picked."""

    label: str
    command: str


@dataclass
class Reply:
    """A handler's output: Markdown text plus optional sources, images and choices."""

    text: str = ""
    citations: list[Citation] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)
    choices: list[Choice] = field(default_factory=list)


class MessageRef(Protocol):
    """Whatever an adapter needs to edit a message it sent."""


class Responder(Protocol):
    """The way back to the person who sent one command."""

    # Seconds between two edits of the same message that the platform tolerates.
    min_edit_interval: float

    async def acknowledge(self) -> None:
        """Tell the platform the command was received, before any slow work."""

    async def send(self, reply: Reply) -> MessageRef:
        """Post a new message and return a reference for later edits."""

    async def edit(self, message: MessageRef, reply: Reply) -> None:
        """Replace the content of a message sent earlier."""


class UserError(Exception):
    """An error whose message is meant for the user as it is: no traceback is logged."""


class CommandOnCooldown(UserError):
    def __init__(self, command: str, retry_after: float):
        self.retry_after = retry_after
        super().__init__(f"/{command} is cooling down for you; try again in {retry_after:.0f} s.")


class LiveMessage:
    """A message that is updated in place, with at most one edit per `min_edit_interval`.

    `update` drops intermediate states that arrive too fast (the latest one is
    kept), and `finish` always shows the final state.
    """

    def __init__(self, responder: Responder, min_interval: float | None = None):
        self._responder = responder
        self.interval = responder.min_edit_interval if min_interval is None else min_interval
        self._message: MessageRef | None = None
        self._last_shown = 0.0
        self._pending: Reply | None = None

    async def update(self, reply: Reply) -> None:
        if self._message is None:
            await self._show(reply)
            return

        if time.monotonic() - self._last_shown >= self.interval:
            await self._show(reply)
        else:
            self._pending = reply

    @property
    def started(self) -> bool:
        """Whether the message has been sent, so that later states are edits."""
        return self._message is not None

    async def finish(self, reply: Reply) -> None:
        await self._show(reply)

    async def _show(self, reply: Reply) -> None:
        if self._message is None:
            self._message = await self._responder.send(reply)
        else:
            await self._responder.edit(self._message, reply)
        self._last_shown = time.monotonic()
        self._pending = None


async def iterate_in_thread(produce: Callable[[], Iterator[Any]]) -> AsyncIterator[Any]:
    """Run a blocking generator in a worker thread and yield its items on the event loop.

    If the consumer stops early, a flag stops the producer at its next item.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    stop = threading.Event()
    done = object()

    def run() -> None:
        try:
            for item in produce():
                if stop.is_set():
                    break
                loop.call_soon_threadsafe(queue.put_nowait, (item, None))
        except BaseException as error:  # handed to the consumer, which re-raises it
            loop.call_soon_threadsafe(queue.put_nowait, (done, error))
            return
        loop.call_soon_threadsafe(queue.put_nowait, (done, None))

    worker = loop.run_in_executor(None, run)
    try:
        while True:
            item, error = await queue.get()
            if error is not None:
                raise error
            if item is done:
                break
            yield item
    finally:
        stop.set()
        await worker


def image_path(data_dir: Path, image: Image) -> Path:
    """Return the path for `image` under the data directory; the same picture gets the same path."""
    folder = data_dir / "images"
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(image.data).hexdigest()[:12]
    return folder / f"{digest}-{image.filename}"
