"""Architecture rules that code review alone would let slip."""

import ast
import asyncio

from rich.console import Console

from conftest import ROOT

PLATFORM_SDKS = ("discord", "slack_bolt", "slack_sdk")


def imported_modules(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_platform_sdks_only_in_adapters():
    adapters = ROOT / "bot" / "adapters"
    for package in ("bot", "knowledge", "lessons"):
        for path in (ROOT / package).rglob("*.py"):
            if adapters in path.parents:
                continue
            for module in imported_modules(path):
                assert module.split(".")[0] not in PLATFORM_SDKS, f"{path.relative_to(ROOT)} imports {module}"


def test_terminal_writes_images_to_data_dir(tmp_path):
    from bot.adapters.terminal import TerminalAdapter, TerminalResponder
    from bot.core import Choice, Image, Reply
    from bot.router import Router
    from bot.commands import registry
    from bot.services import Services
    from bot.settings import load_settings

    settings = load_settings(data_dir=tmp_path / "data")
    router = Router(registry, Services(settings), cooldown_seconds=0, max_concurrent_model_jobs=1)
    console = Console(record=True, width=120)
    adapter = TerminalAdapter(router, console)
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    reply = Reply("**Loss** falls.", images=[Image(png, "loss.png", "loss curve")], choices=[Choice("Next", "/lesson 1 2")])

    async def show():
        responder = TerminalResponder(console, adapter)
        message = await responder.send(reply)
        await responder.edit(message, reply)
        responder.close()

    asyncio.run(show())
    files = list((tmp_path / "data" / "images").glob("*loss.png"))
    assert len(files) == 1
    assert files[0].read_bytes() == png
    output = console.export_text()
    assert str(files[0]) in output
    assert "1) Next" in output
    assert adapter.parse("1").args == "1 2"
    assert adapter.parse("next").name == "ask"  # only one-letter labels are typed as themselves
    assert adapter.parse("1").name == "lesson"


def test_terminal_choices_belong_to_the_last_command(tmp_path):
    from bot.adapters.terminal import TerminalAdapter
    from bot.core import Choice, Reply
    from bot.registry import Registry
    from bot.router import Router
    from bot.services import Services
    from bot.settings import load_settings

    registry = Registry()

    @registry.command("pick")
    async def pick(ctx):
        """Reply with two choices."""
        return Reply("Pick one.", choices=[Choice("A", "/plain"), Choice("B", "/plain")])

    @registry.command("plain")
    async def plain(ctx):
        """Reply with text only, like a free-text quiz question."""
        return Reply("Type your answer.")

    router = Router(registry, Services(load_settings(data_dir=tmp_path)), cooldown_seconds=0, max_concurrent_model_jobs=1)
    console = Console(record=True, width=120)
    adapter = TerminalAdapter(router, console)

    asyncio.run(adapter.handle_line("/pick"))
    assert adapter.parse("2").name == "plain"
    asyncio.run(adapter.handle_line("/plain"))
    assert adapter.parse("2").name == "choice"
    asyncio.run(adapter.handle_line("2"))
    assert "There is no choice 2; there are no choices to pick from right now." in console.export_text()
