"""The router: finds the handler, checks permission and cooldown, acknowledges,
runs the handler and turns any exception into a short message."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from bot import messages
from bot.core import Command, CommandOnCooldown, Reply, Responder, UserError
from bot.registry import Registry

if TYPE_CHECKING:
    from bot.services import Services

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class Context:
    """A handler's input: the command, the way back to the user, and the services."""

    command: Command
    responder: Responder
    services: "Services"
    router: "Router"

    async def run_model(self, work: Callable[..., T], *args: Any) -> T:
        """Run CPU-heavy model work in a worker thread, within the global concurrency limit."""
        async with self.router.model_slots:
            return await asyncio.to_thread(work, *args)

    async def run_blocking(self, work: Callable[..., T], *args: Any) -> T:
        """Run blocking I/O in a worker thread, outside the model limit."""
        return await asyncio.to_thread(work, *args)


class Router:
    def __init__(
        self,
        registry: Registry,
        services: "Services",
        *,
        cooldown_seconds: float,
        max_concurrent_model_jobs: int,
    ):
        self.registry = registry
        self.services = services
        self.cooldown_seconds = cooldown_seconds
        self.model_slots = asyncio.Semaphore(max_concurrent_model_jobs)
        self._last_run: dict[tuple[str, str, str], float] = {}

    async def dispatch(self, command: Command, responder: Responder) -> None:
        """Run one command end to end.

        Any exception from the handler becomes a message to the user; only
        cancellation (Ctrl-C in the terminal) propagates to the caller.
        """
        spec = self.registry.get(command.name)
        if spec is None:
            await responder.send(Reply(messages.UNKNOWN_COMMAND.format(name=command.name)))
            return

        if spec.admin_only and not command.is_admin:
            logger.info("rejected non-admin %s", command.log_ids())
            await responder.send(Reply(messages.ADMIN_ONLY.format(name=command.name)))
            return

        try:
            if spec.expensive:
                self._check_cooldown(command)
        except CommandOnCooldown as error:
            await responder.send(Reply(str(error)))
            return

        await responder.acknowledge()
        context = Context(command=command, responder=responder, services=self.services, router=self)
        started = time.monotonic()
        try:
            reply = await spec.handler(context)
            if reply is not None:
                await responder.send(reply)
        except UserError as error:
            logger.info("user error in %s: %s", command.log_ids(), error)
            await responder.send(Reply(str(error)))
        except Exception:
            logger.exception("command failed: %s", command.log_ids())
            await responder.send(
                Reply(messages.COMMAND_FAILED.format(name=command.name, invocation=command.invocation_id))
            )
        else:
            logger.info("command done in %.2f s: %s", time.monotonic() - started, command.log_ids())

    def _check_cooldown(self, command: Command) -> None:
        if self.cooldown_seconds <= 0:
            return

        key = (command.platform, command.tenant, command.user)
        now = time.monotonic()
        last = self._last_run.get(key)
        if last is not None and now - last < self.cooldown_seconds:
            raise CommandOnCooldown(command.name, self.cooldown_seconds - (now - last))
        self._last_run[key] = now
