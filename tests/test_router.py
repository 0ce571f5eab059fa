"""The router and registry, driven with a recording responder instead of a platform."""

import asyncio
import logging

import pytest

from bot.commands import registry as bot_registry
from bot.core import Command, LiveMessage, Reply, UserError
from bot.registry import Registry
from bot.router import Router


class RecordingResponder:
    min_edit_interval = 1.0

    def __init__(self, events=None):
        self.events = events if events is not None else []

    async def acknowledge(self):
        self.events.append(("ack",))

    async def send(self, reply):
        self.events.append(("send", reply.text))
        return len(self.events)

    async def edit(self, message, reply):
        self.events.append(("edit", message, reply.text))

    def texts(self):
        return [event[-1] for event in self.events if event[0] in ("send", "edit")]


def make_router(registry, cooldown=0.0, slots=2):
    return Router(registry, services=None, cooldown_seconds=cooldown, max_concurrent_model_jobs=slots)


def run(router, command, responder):
    asyncio.run(router.dispatch(command, responder))


def test_every_command_has_help_and_argument_docs():
    assert len(bot_registry) >= 4
    for spec in bot_registry:
        assert spec.description, f"/{spec.name} has no description"
        assert len(spec.description) <= 100, f"/{spec.name} description is over 100 characters"
        if spec.usage:
            assert spec.arguments, f"/{spec.name} takes arguments but its docstring has no Args: block"
            for name, text in spec.arguments.items():
                assert text, f"/{spec.name} argument {name} has no description"


def test_help_lists_every_command_but_button_only_ones():
    responder = RecordingResponder()
    run(make_router(bot_registry), Command("help"), responder)
    text = responder.texts()[-1]
    for spec in bot_registry:
        if spec.hidden:
            assert f"`/{spec.name}" not in text
        else:
            assert f"`/{spec.name}" in text
            assert spec.description in text
    assert bot_registry.get("feedback").hidden


def test_handler_error_is_short_and_logged(caplog):
    registry = Registry()

    @registry.command("boom")
    async def boom(ctx):
        """Fail on purpose."""
        raise RuntimeError("database exploded at row 42")

    responder = RecordingResponder()
    command = Command("boom", user="u1", tenant="g1", channel="c1")
    with caplog.at_level(logging.ERROR, logger="bot.router"):
        run(make_router(registry), command, responder)

    message = responder.texts()[-1]
    assert "database exploded" not in message
    assert command.invocation_id in message
    assert len(message) < 200
    record = next(r for r in caplog.records if r.name == "bot.router")
    assert record.exc_info is not None
    assert "tenant=g1" in record.getMessage()
    assert f"invocation={command.invocation_id}" in record.getMessage()


def test_user_error_shown_as_is():
    registry = Registry()

    @registry.command("picky")
    async def picky(ctx):
        """Reject the input."""
        raise UserError("That number is out of range; pick 1 to 6.")

    responder = RecordingResponder()
    run(make_router(registry), Command("picky"), responder)
    assert responder.texts() == ["That number is out of range; pick 1 to 6."]


def test_acknowledge_before_handler_work():
    registry = Registry()
    events = []

    @registry.command("work")
    async def work(ctx):
        """Do work."""
        events.append(("handler",))
        return Reply("done")

    run(make_router(registry), Command("work"), RecordingResponder(events))
    assert [event[0] for event in events] == ["ack", "handler", "send"]


def test_unknown_command_points_to_help():
    responder = RecordingResponder()
    run(make_router(Registry()), Command("nope"), responder)
    assert "/help" in responder.texts()[0]
    assert ("ack",) not in responder.events


def test_admin_only_rejects_members():
    registry = Registry()
    ran = []

    @registry.command("secret", admin_only=True)
    async def secret(ctx):
        """Admins only."""
        ran.append(True)

    responder = RecordingResponder()
    run(make_router(registry), Command("secret", is_admin=False), responder)
    assert not ran
    assert "admin" in responder.texts()[0].lower()


def test_cooldown_per_user_reports_retry_after():
    registry = Registry()

    @registry.command("costly", expensive=True)
    async def costly(ctx):
        """Cost something."""
        return Reply("ok")

    router = make_router(registry, cooldown=30)
    first, second, other = RecordingResponder(), RecordingResponder(), RecordingResponder()
    run(router, Command("costly", user="a"), first)
    run(router, Command("costly", user="a"), second)
    run(router, Command("costly", user="b"), other)
    assert first.texts() == ["ok"]
    assert "try again in" in second.texts()[0]
    assert "30 s" in second.texts()[0] or "29 s" in second.texts()[0]
    assert other.texts() == ["ok"]


def test_model_work_limited_globally():
    registry = Registry()
    running = []
    peak = []

    def blocking_work():
        import time

        running.append(1)
        peak.append(len(running))
        time.sleep(0.2)
        running.pop()

    @registry.command("model")
    async def model(ctx):
        """Run a model."""
        await ctx.run_model(blocking_work)

    router = make_router(registry, slots=2)

    async def main():
        await asyncio.gather(*(router.dispatch(Command("model", user=str(i)), RecordingResponder()) for i in range(6)))

    asyncio.run(main())
    assert max(peak) == 2


def test_live_message_throttles_edits():
    async def main():
        responder = RecordingResponder()
        live = LiveMessage(responder, min_interval=10)
        for i in range(50):
            await live.update(Reply(f"partial {i}"))
        await live.finish(Reply("final"))
        return responder

    responder = asyncio.run(main())
    assert responder.texts() == ["partial 0", "final"]


def test_docstring_required():
    registry = Registry()
    with pytest.raises(ValueError, match="docstring"):

        @registry.command("bare")
        async def bare(ctx):
            return None

