"""The Discord adapter: slash commands and button presses in, messages, embeds and files out.

Each slash command and each button press becomes a core `Command` that goes
through `Router.dispatch` with a `DiscordResponder`. The responder defers the
interaction before any work, then sends follow-up messages, which Discord
accepts for 15 minutes. Later messages go to the channel instead. Buttons carry
their command in the custom id, so buttons posted before a restart still work.

The guild id is the tenant. In direct messages each user is their own tenant
(`dm-<user id>`), which sees only the built-in lessons.

This module does not use `from __future__ import annotations`, because
discord.py reads the slash command parameters' annotations at run time.
"""

import asyncio
import datetime
import io
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Optional

import discord
from discord import app_commands

from bot.adapters.discord_render import BUTTON_PREFIX, MessagePart, command_of, render_reply
from bot.core import Attachment, Command, Reply
from bot.registry import Registry
from bot.router import Router
from bot.settings import Settings, secret_value

logger = logging.getLogger(__name__)

# The bot writes no mentions of its own, so nothing it sends may ping anyone.
# Model and document text must never ping @everyone, @here or a role.
NO_MENTIONS = discord.AllowedMentions.none()
# Discord keeps an interaction token for 15 minutes. The adapter stops using it 30 s earlier.
FOLLOW_UP_WINDOW = datetime.timedelta(minutes=14, seconds=30)
# The Discord API's "Invalid Webhook Token" error code, returned once the token has expired.
INVALID_WEBHOOK_TOKEN = 50027
DESCRIPTION_LIMIT = 100
# Commands whose replies are visible only to the person who ran them (Discord's ephemeral messages).
PRIVATE_COMMANDS = {"feedback"}


class CommandButton(discord.ui.DynamicItem[discord.ui.Button], template=BUTTON_PREFIX + r"(?P<command>/.+)"):
    """A button that runs the core command written in its custom id, also on messages sent before a restart."""

    def __init__(self, label: str, custom_id: str):
        super().__init__(discord.ui.Button(label=label, custom_id=custom_id, style=discord.ButtonStyle.secondary))

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Button, match) -> "CommandButton":
        return cls(item.label or "", item.custom_id or "")

    async def callback(self, interaction: discord.Interaction) -> None:
        command = command_of(self.item.custom_id or "")
        if command is None:
            return
        name, _, args = command[1:].partition(" ")
        await interaction.client.adapter.handle(interaction, name, args.strip())


class TutorClient(discord.Client):
    def __init__(self, adapter: "DiscordAdapter"):
        # GUILDS (not privileged) keeps guilds' roles and channels cached, so admin
        # roles can be matched by name. No message content or member intents are needed.
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(intents=intents, allowed_mentions=NO_MENTIONS)
        self.adapter = adapter
        self.tree = app_commands.CommandTree(self)
        self.tree.on_error = adapter.on_tree_error

    async def setup_hook(self) -> None:
        self.add_dynamic_items(CommandButton)
        await self.adapter.sync_commands()

    async def on_ready(self) -> None:
        logger.info("connected to Discord as %s (id %s) in %d guilds", self.user, self.user.id, len(self.guilds))


@dataclass
class SentReply:
    """The Discord messages that show one reply, and the parts they show now."""

    messages: list[Any] = field(default_factory=list)
    parts: list[MessagePart] = field(default_factory=list)


class DiscordResponder:
    min_edit_interval = 1.0

    def __init__(self, interaction: discord.Interaction, command: Command):
        self.interaction = interaction
        self.command = command
        self.private = command.name in PRIVATE_COMMANDS

    async def acknowledge(self) -> None:
        """Defer the interaction, which shows "thinking…" until the first follow-up replaces it."""
        if not self.interaction.response.is_done():
            await self.interaction.response.defer(thinking=True, ephemeral=self.private)

    async def send(self, reply: Reply) -> SentReply:
        sent = SentReply()
        for part in render_reply(reply):
            sent.messages.append(await self._post(part))
            sent.parts.append(part)
        return sent

    async def edit(self, message: SentReply, reply: Reply) -> None:
        """Bring the messages of a reply up to date, editing only those whose part changed."""
        parts = render_reply(reply)
        for index, part in enumerate(parts):
            if index >= len(message.messages):
                message.messages.append(await self._post(part))
                message.parts.append(part)
            elif part != message.parts[index]:
                await self._edit(message.messages[index], part, message.parts[index])
                message.parts[index] = part
        for surplus in message.messages[len(parts):]:
            await surplus.delete()
        del message.messages[len(parts):], message.parts[len(parts):]

    def _expired(self) -> bool:
        return discord.utils.utcnow() - self.interaction.created_at > FOLLOW_UP_WINDOW

    async def _post(self, part: MessagePart):
        arguments = message_arguments(part, files=True)
        if not self.interaction.response.is_done():
            # The router rejected the command without acknowledging it, so reply in the interaction response.
            callback = await self.interaction.response.send_message(ephemeral=self.private, **arguments)
            if isinstance(callback.resource, discord.InteractionMessage):
                return callback.resource
            return await self.interaction.original_response()
        if not self._expired():
            try:
                return await self.interaction.followup.send(wait=True, ephemeral=self.private, **arguments)
            except discord.HTTPException as error:
                if error.code != INVALID_WEBHOOK_TOKEN:
                    raise
        logger.warning("interaction token expired, posting in the channel instead %s", self.command.log_ids())
        return await self._channel().send(**arguments)

    async def _edit(self, message, part: MessagePart, shown: MessagePart) -> None:
        arguments = message_arguments(part, files=False)
        if part.images != shown.images:
            arguments["attachments"] = files_of(part)
        if isinstance(message, discord.WebhookMessage | discord.InteractionMessage) and self._expired():
            # NOTE: this assumes the bot token may edit its own follow-ups through the channel
            # endpoint after the interaction token expired. Only the fake API has tried it.
            logger.warning("interaction token expired, editing through the channel %s", self.command.log_ids())
            message = self._channel().get_partial_message(message.id)
        await message.edit(**arguments)

    def _channel(self):
        return self.interaction.channel or self.interaction.client.get_partial_messageable(self.interaction.channel_id)


def files_of(part: MessagePart) -> list[discord.File]:
    return [discord.File(io.BytesIO(image.data), image.filename, description=image.description[:1024] or None)
            for image in part.images]


def message_arguments(part: MessagePart, *, files: bool) -> dict[str, Any]:
    """Return the keyword arguments of a discord.py send or edit call for one message part."""
    arguments: dict[str, Any] = {
        "content": part.content,
        "embeds": [discord.Embed.from_dict(embed) for embed in part.embeds],
        "allowed_mentions": NO_MENTIONS,
        "view": button_view(part),
    }
    if files and part.images:
        arguments["files"] = files_of(part)
    if arguments["view"] is None and files:
        del arguments["view"]  # a send takes no view, but an edit with None removes old buttons
    return arguments


def button_view(part: MessagePart) -> Optional[discord.ui.View]:
    if not part.buttons:
        return None
    view = discord.ui.View(timeout=None)
    for button in part.buttons:
        view.add_item(CommandButton(button.label, button.custom_id))
    # A stopped view is sent as usual but not kept in the client's view store: the
    # registered CommandButton template handles its presses, so storing each
    # message's view would only grow memory.
    view.stop()
    return view


def short_description(text: str) -> str:
    """Fit a description into the 100 characters Discord allows for commands and options."""
    if len(text) <= DESCRIPTION_LIMIT:
        return text
    cut = text[:DESCRIPTION_LIMIT - 1].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + "…"


def is_admin(interaction: discord.Interaction, admin_roles: list[str]) -> bool:
    """Return whether the member has Manage Server (or Administrator), or a role named in DISCORD_ADMIN_ROLES."""
    if interaction.guild_id is None:
        return False
    permissions = interaction.permissions
    if permissions.manage_guild or permissions.administrator:
        return True
    wanted = {name.casefold() for name in admin_roles}
    roles = getattr(interaction.user, "roles", [])
    return any(role.name.casefold() in wanted for role in roles)


def tenant_of(interaction: discord.Interaction) -> str:
    if interaction.guild_id is None:
        return f"dm-{interaction.user.id}"
    return str(interaction.guild_id)


class DiscordAdapter:
    def __init__(self, router: Router, settings: Settings):
        self.router = router
        self.settings = settings
        self.client = TutorClient(self)
        for command in slash_commands(self, router.registry):
            self.client.tree.add_command(command)

    def command(self, interaction: discord.Interaction, name: str, args: str = "",
                attachments: tuple[Attachment, ...] = ()) -> Command:
        user = interaction.user
        return Command(
            name=name,
            args=args,
            platform="discord",
            tenant=tenant_of(interaction),
            channel=str(interaction.channel_id),
            user=str(user.id),
            user_name=user.display_name,
            is_admin=is_admin(interaction, self.settings.discord_admin_roles),
            attachments=attachments,
            invocation_id=str(interaction.id),
        )

    async def handle(self, interaction: discord.Interaction, name: str, args: str = "",
                     attachments: tuple[Attachment, ...] = ()) -> None:
        """Run one command for an interaction; the router defers it before any work."""
        command = self.command(interaction, name, args, attachments)
        logger.info("interaction received %s", command.log_ids())
        await self.router.dispatch(command, DiscordResponder(interaction, command))

    async def sync_commands(self) -> None:
        """Register the slash commands: per guild in DISCORD_GUILD_IDS (instant), else globally."""
        tree = self.client.tree
        if self.settings.discord_guild_ids:
            for guild_id in self.settings.discord_guild_ids:
                guild = discord.Object(id=guild_id)
                tree.copy_global_to(guild=guild)
                synced = await tree.sync(guild=guild)
                logger.info("synced %d slash commands to guild %s", len(synced), guild_id)
            return
        synced = await tree.sync()
        logger.info("synced %d slash commands globally (Discord may take up to an hour to show changes)", len(synced))

    async def on_tree_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        """Tell the user about an error discord.py raised before the command reached the router.

        A command Discord still shows but this version no longer has (global
        commands take a while to update) gets the router's unknown-command answer.
        """
        if isinstance(error, app_commands.CommandNotFound):
            await self.handle(interaction, error.name)
            return
        logger.error("slash command failed before dispatch: interaction=%s guild=%s user=%s",
                     interaction.id, interaction.guild_id, interaction.user.id, exc_info=error)
        text = f"Sorry, that command could not be run (error id {interaction.id}). Try again, or type /help."
        if interaction.response.is_done():
            await interaction.followup.send(text, allowed_mentions=NO_MENTIONS)
        else:
            await interaction.response.send_message(text, allowed_mentions=NO_MENTIONS)


def slash_commands(adapter: DiscordAdapter, registry: Registry) -> list[app_commands.Command]:
    """Build the slash commands with typed, described options; each one runs a registry command.

    /feedback is left out: the 👍 and 👎 buttons under answers run it.
    """
    handle = adapter.handle

    async def ask(interaction: discord.Interaction, question: str) -> None:
        await handle(interaction, "ask", question)

    async def lesson(interaction: discord.Interaction, number: Optional[app_commands.Range[int, 1, 99]] = None,
                     step: Optional[app_commands.Range[int, 1, 99]] = None) -> None:
        await handle(interaction, "lesson", " ".join(str(value) for value in (number, step) if value is not None))

    async def quiz(interaction: discord.Interaction, number: app_commands.Range[int, 1, 99]) -> None:
        await handle(interaction, "quiz", str(number))

    async def answer(interaction: discord.Interaction, text: str) -> None:
        await handle(interaction, "answer", text)

    async def demo(interaction: discord.Interaction, name: Optional[str] = None, text: Optional[str] = None) -> None:
        await handle(interaction, "demo", " ".join(value for value in (name, text) if value))

    async def ingest(interaction: discord.Interaction, file: discord.Attachment) -> None:
        # The attachment URL expires, so the handler downloads it as soon as the size check passes.
        attachment = Attachment(name=file.filename, size=file.size, fetch=file.read)
        await handle(interaction, "ingest", "", (attachment,))

    async def docs(interaction: discord.Interaction, remove: Optional[str] = None) -> None:
        await handle(interaction, "docs", f"remove {remove}" if remove else "")

    async def progress(interaction: discord.Interaction) -> None:
        await handle(interaction, "progress")

    async def leaderboard(interaction: discord.Interaction) -> None:
        await handle(interaction, "leaderboard")

    async def help(interaction: discord.Interaction) -> None:
        await handle(interaction, "help")

    # Slash option -> the registry argument whose description it shows.
    callbacks: dict[str, tuple[Callable[..., Awaitable[None]], dict[str, str]]] = {
        "ask": (ask, {"question": "question"}),
        "lesson": (lesson, {"number": "number", "step": "step"}),
        "quiz": (quiz, {"number": "number"}),
        "answer": (answer, {"text": "text"}),
        "demo": (demo, {"name": "name", "text": "args"}),
        "ingest": (ingest, {"file": "file"}),
        "docs": (docs, {"remove": "remove"}),
        "progress": (progress, {}),
        "leaderboard": (leaderboard, {}),
        "help": (help, {}),
    }
    commands = []
    for name, (callback, options) in callbacks.items():
        spec = registry.get(name)
        if spec is None:
            continue
        descriptions = {option: short_description(spec.arguments[argument]) for option, argument in options.items()}
        app_commands.describe(**descriptions)(callback)
        commands.append(app_commands.Command(name=name, description=short_description(spec.description), callback=callback))
    return commands


def run(settings: Settings) -> int:
    """Start the Discord bot and serve until stopped; return the process exit code."""
    import sys

    from bot.commands import registry
    from bot.services import start_platform_services

    token = secret_value(settings.discord_token)
    if not token:
        print("DISCORD_TOKEN is not set. Put the bot token from the Discord Developer Portal "
              "(your application > Bot > Reset Token) in .env or the environment.", file=sys.stderr)
        return 2

    try:
        services = start_platform_services(settings)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2

    router = Router(
        registry,
        services,
        cooldown_seconds=settings.cooldown_seconds,
        max_concurrent_model_jobs=settings.max_concurrent_model_jobs,
    )
    adapter = DiscordAdapter(router, settings)

    async def serve() -> None:
        try:
            async with adapter.client:
                await adapter.client.start(token)
        finally:
            await services.aclose()

    print("genai-tutor: connecting to Discord; the log is in", settings.data_dir / "genai-tutor.log", file=sys.stderr)
    try:
        asyncio.run(serve())
    except discord.LoginFailure:
        print("Discord rejected DISCORD_TOKEN. Copy the bot token again from the Developer Portal.", file=sys.stderr)
        return 2
    except discord.PrivilegedIntentsRequired as error:
        print(f"Discord rejected the connection: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    finally:
        services.close()
    return 0
