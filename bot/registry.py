"""The command registry. A handler's docstring is its help text.

The first docstring line is the one-line description shown by /help (and used
as the slash command's description on Discord and Slack). An `Args:` block
describes each argument in one line each.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.core import Reply
    from bot.router import Context

Handler = Callable[["Context"], Awaitable["Reply | None"]]


@dataclass(frozen=True)
class CommandSpec:
    name: str
    handler: Handler
    description: str
    usage: str
    arguments: dict[str, str] = field(default_factory=dict)
    expensive: bool = False
    admin_only: bool = False
    hidden: bool = False  # run by buttons only; /help leaves it out


def parse_docstring(handler: Handler) -> tuple[str, dict[str, str]]:
    """Split a handler's docstring into its one-line description and its `Args:` entries."""
    doc = inspect.getdoc(handler)
    if not doc:
        raise ValueError(f"command handler {handler.__name__} has no docstring; its first line is the help text")

    lines = doc.splitlines()
    description = lines[0].strip()
    arguments: dict[str, str] = {}
    in_args = False
    for line in lines[1:]:
        stripped = line.strip()
        if stripped == "Args:":
            in_args = True
            continue
        if in_args and ":" in stripped and line.startswith("    "):
            name, text = stripped.split(":", 1)
            arguments[name.strip()] = text.strip()
        elif in_args and stripped and not line.startswith("    "):
            in_args = False
    return description, arguments


class Registry:
    def __init__(self) -> None:
        self._commands: dict[str, CommandSpec] = {}

    def command(
        self,
        name: str,
        *,
        usage: str = "",
        expensive: bool = False,
        admin_only: bool = False,
        hidden: bool = False,
    ) -> Callable[[Handler], Handler]:
        """Register a handler under `name`. `expensive` commands get the per-user cooldown;
        `hidden` ones are run by buttons and not listed by /help."""

        def register(handler: Handler) -> Handler:
            if name in self._commands:
                raise ValueError(f"command /{name} is registered twice")
            description, arguments = parse_docstring(handler)
            self._commands[name] = CommandSpec(
                name=name,
                handler=handler,
                description=description,
                usage=usage,
                arguments=arguments,
                expensive=expensive,
                admin_only=admin_only,
                hidden=hidden,
            )
            return handler

        return register

    def get(self, name: str) -> CommandSpec | None:
        return self._commands.get(name)

    def __iter__(self):
        return iter(sorted(self._commands.values(), key=lambda spec: spec.name))

    def __len__(self) -> int:
        return len(self._commands)
