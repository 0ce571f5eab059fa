"""The Slack adapter: slash commands, mentions, DMs with files and button clicks, on slack-bolt's async app.

Every request is acknowledged first, by `ack()` or by Bolt's automatic ack
for events. The command runs after the HTTP response or the Socket Mode
acknowledgement has gone back to Slack. Answers are posted with chat.postMessage in the
channel, or in the thread a mention or a clicked button came from, and /ask
streams into its message with chat.update at most once a second.

The team id is the tenant. Admins are workspace admins and owners (from
users.info) and the user ids in SLACK_ADMIN_USER_IDS.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot import messages
from bot.adapters.slack_render import CHOICE_ACTION_PREFIX, render_reply, request_heading
from bot.core import Attachment, Command, Reply
from bot.router import Router
from bot.settings import Settings, secret_value
from knowledge.loaders import IngestError, check_size

logger = logging.getLogger(__name__)

# Slack reserves /help, so the help command is /tutor-help there.
SLASH_COMMANDS = {
    "/ask": "ask",
    "/lesson": "lesson",
    "/quiz": "quiz",
    "/demo": "demo",
    "/ingest": "ingest",
    "/docs": "docs",
    "/progress": "progress",
    "/leaderboard": "leaderboard",
    "/answer": "answer",
    "/tutor-help": "help",
}

# chat.update is rate-limited (Tier 3, about 50 calls a minute), so a streamed answer edits at most once a second.
EDIT_INTERVAL_SECONDS = 1.0
ADMIN_CACHE_SECONDS = 300.0
SEEN_EVENTS_LIMIT = 10_000
DOWNLOAD_TIMEOUT_SECONDS = 60.0
# Posting fails with these when the bot is not a member of a private channel or a DM between people.
CHANNEL_UNREACHABLE = {"channel_not_found", "not_in_channel", "is_archived"}
MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")


@dataclass
class PostedMessage:
    """The Slack messages that one reply occupies: their timestamps and the payload each one shows now."""

    channel: str
    timestamps: list[str] = field(default_factory=list)
    payloads: list[dict] = field(default_factory=list)
    uploaded: set[str] = field(default_factory=set)


class SlackResponder:
    """The responder for one command: posts its replies in a channel or thread and edits them in place."""

    min_edit_interval = EDIT_INTERVAL_SECONDS

    def __init__(
        self, client: AsyncWebClient, channel: str, *, thread_ts: str | None = None, respond=None, heading: str | None = None
    ):
        self.client = client
        self.channel = channel
        self.thread_ts = thread_ts
        self.heading = heading
        self._respond = respond
        self._unreachable = False

    async def acknowledge(self) -> None:
        """Do nothing: the adapter acknowledged the request before it dispatched the command."""

    async def send(self, reply: Reply) -> PostedMessage:
        posted = PostedMessage(self.channel)
        await self._show(posted, reply)
        return posted

    async def edit(self, message: PostedMessage, reply: Reply) -> None:
        await self._show(message, reply)

    async def _show(self, posted: PostedMessage, reply: Reply) -> None:
        """Bring the posted messages in line with `reply`: update changed ones, post or delete the rest."""
        if self._unreachable:
            return
        rendered = [message.payload() for message in render_reply(reply, self.heading)]
        try:
            for index, payload in enumerate(rendered):
                if index < len(posted.timestamps):
                    if posted.payloads[index] != payload:
                        await self.client.chat_update(channel=self.channel, ts=posted.timestamps[index], **payload)
                        posted.payloads[index] = payload
                else:
                    response = await self.client.chat_postMessage(
                        channel=self.channel, thread_ts=self.thread_ts, unfurl_links=False, unfurl_media=False, **payload
                    )
                    posted.timestamps.append(response["ts"])
                    posted.payloads.append(payload)
            while len(posted.timestamps) > len(rendered):
                await self.client.chat_delete(channel=self.channel, ts=posted.timestamps.pop())
                posted.payloads.pop()
            await self._upload_images(posted, reply)
        except SlackApiError as error:
            if slack_error(error) not in CHANNEL_UNREACHABLE:
                raise
            await self._explain_unreachable(slack_error(error))

    async def _upload_images(self, posted: PostedMessage, reply: Reply) -> None:
        for image in reply.images:
            digest = hashlib.sha256(image.data).hexdigest()
            if digest in posted.uploaded:
                continue
            await self.client.files_upload_v2(
                channel=self.channel,
                thread_ts=self.thread_ts,
                content=image.data,
                filename=image.filename,
                title=image.description or image.filename,
                alt_txt=image.description or image.filename,
            )
            posted.uploaded.add(digest)

    async def _explain_unreachable(self, error: str) -> None:
        """Tell the user privately, once, that the bot cannot post here. Later replies are dropped."""
        self._unreachable = True
        logger.warning("cannot post in channel=%s: %s", self.channel, error)
        if self._respond is not None:
            await self._respond(text=messages.SLACK_CANNOT_POST, response_type="ephemeral")


class SlackAdapter:
    """The Bolt app, with listeners that turn Slack's requests into core commands."""

    def __init__(self, router: Router, settings: Settings, *, client: AsyncWebClient | None = None, http: bool = True):
        self.router = router
        self.settings = settings
        self.bot_token = secret_value(settings.slack_bot_token) or ""
        self.admin_ids = set(settings.slack_admin_user_ids)
        # Bolt builds the Web API client from the token; tests hand in one aimed at a local fake.
        connection = {"token": self.bot_token} if client is None else {"client": client}
        self.app = AsyncApp(
            **connection,
            signing_secret=secret_value(settings.slack_signing_secret) if http else None,
            request_verification_enabled=http,
            process_before_response=False,
            logger=logging.getLogger("slack_bolt"),
        )
        self.app.client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=2))
        self._roles: dict[tuple[str, str], tuple[float, bool, str]] = {}
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._register()

    def _register(self) -> None:
        for slash in SLASH_COMMANDS:
            self.app.command(slash)(self.on_slash_command)
        self.app.event("app_mention")(self.on_mention)
        self.app.event("message")(self.on_direct_message)
        self.app.action(re.compile("^" + re.escape(CHOICE_ACTION_PREFIX)))(self.on_choice)

    # -- listeners -------------------------------------------------------------

    async def on_slash_command(self, ack, body, client, respond) -> None:
        await ack()
        name = SLASH_COMMANDS[body["command"]]
        command = await self.build_command(
            client,
            name=name,
            args=body.get("text", ""),
            team=body["team_id"],
            channel=body["channel_id"],
            user=body["user_id"],
            user_name=body.get("user_name") or body["user_id"],
        )
        heading = request_heading(command.user, f"{body['command']} {command.args}".strip())
        responder = SlackResponder(client, command.channel, respond=respond, heading=heading)
        if name == "ingest":
            # A slash command cannot carry a file, so /ingest only explains how to share one.
            text = messages.SLACK_INGEST_HOW if command.is_admin else messages.ADMIN_ONLY.format(name=name)
            await responder.send(Reply(text))
            return
        await self.dispatch(command, responder)

    async def on_mention(self, body, event, client, request) -> None:
        if self._is_redelivery(body, event, request):
            return
        thread_ts = event.get("thread_ts") or event["ts"]
        await self._handle_message(body, event, client, thread_ts)

    async def on_direct_message(self, body, event, client, request) -> None:
        """Handle a message in a DM with the bot: a shared file is ingested, text is a question."""
        if event.get("channel_type") != "im" or event.get("bot_id") or event.get("subtype") not in (None, "file_share"):
            return
        if self._is_redelivery(body, event, request):
            return
        await self._handle_message(body, event, client, event.get("thread_ts"))

    async def on_choice(self, ack, body, action, client, respond) -> None:
        """Run the command a clicked button carries, as the user who clicked it."""
        await ack()
        name, _, args = action["value"].lstrip("/").partition(" ")
        user = body["user"]
        container = body.get("container") or {}
        channel = container.get("channel_id") or body["channel"]["id"]
        thread_ts = container.get("thread_ts") or (body.get("message") or {}).get("thread_ts")
        command = await self.build_command(
            client,
            name=name.lower(),
            args=args,
            team=(body.get("team") or {}).get("id") or user.get("team_id", ""),
            channel=channel,
            user=user["id"],
            user_name=user.get("username") or user["id"],
        )
        label = (action.get("text") or {}).get("text", action["value"])
        heading = request_heading(command.user, f"picked {label}")
        await self.dispatch(
            command, SlackResponder(client, channel, thread_ts=thread_ts, respond=respond, heading=heading)
        )

    # -- helpers -----------------------------------------------------------------

    async def _handle_message(self, body, event, client, thread_ts: str | None) -> None:
        team = body.get("team_id") or event.get("team", "")
        user, channel = event.get("user", ""), event["channel"]
        text = MENTION.sub("", event.get("text", "")).strip()
        files = event.get("files") or []
        responder = SlackResponder(client, channel, thread_ts=thread_ts)

        if files:
            try:
                attachments = await self.attachments(client, files)
            except SlackApiError as error:
                logger.warning("files.info failed team=%s user=%s: %s", team, user, slack_error(error))
                await responder.send(Reply(messages.SLACK_FILE_INFO_FAILED.format(error=slack_error(error))))
                return
            name, args = "ingest", ""
        else:
            attachments = ()
            name, args = ("ask", text) if text else ("help", "")
        command = await self.build_command(
            client, name=name, args=args, team=team, channel=channel, user=user, user_name=user,
            attachments=tuple(attachments),
        )
        await self.dispatch(command, responder)

    async def dispatch(self, command: Command, responder: SlackResponder) -> None:
        logger.info("dispatching %s", command.log_ids())
        try:
            await self.router.dispatch(command, responder)
        except Exception:
            # The router turns handler errors into a message, so this is posting itself failing.
            logger.exception("could not deliver a reply: %s", command.log_ids())

    def _is_redelivery(self, body: dict, event: dict, request) -> bool:
        """Return True for an event already handled, so a redelivery never produces a second answer.

        Keys are the event id (Slack's retries reuse it) and the message's channel
        and ts (an app_mention in a DM and its message.im event are one message).
        A retry after `http_timeout` is dropped even when unseen: the first
        delivery reached some worker, which answers it.
        """
        keys = [f"event:{body.get('event_id')}", f"message:{event.get('channel')}:{event.get('ts')}"]
        retry_num = request.headers.get("x-slack-retry-num", [None])[0]
        retry_reason = request.headers.get("x-slack-retry-reason", [None])[0]
        seen = any(key in self._seen for key in keys)
        for key in keys:
            self._seen[key] = None
            self._seen.move_to_end(key)
        while len(self._seen) > SEEN_EVENTS_LIMIT:
            self._seen.popitem(last=False)
        if seen or (retry_num is not None and retry_reason == "http_timeout"):
            logger.info(
                "ignored redelivery event=%s retry=%s reason=%s seen=%s",
                body.get("event_id"), retry_num, retry_reason, seen,
            )
            return True
        return False

    async def build_command(
        self, client: AsyncWebClient, *, name: str, args: str, team: str, channel: str, user: str, user_name: str,
        attachments: tuple[Attachment, ...] = (),
    ) -> Command:
        """Build a core command; users.info is asked only when the command needs to know who is an admin.

        Looking every user up would spend users.info's rate limit (Tier 4) on
        commands that do not check roles.
        """
        args = args.strip()
        spec = self.router.registry.get(name)
        needs_role = (spec is not None and spec.admin_only) or (name == "docs" and args.split()[:1] == ["remove"])
        is_admin = user in self.admin_ids
        if needs_role:
            is_admin, user_name = await self.user_role(client, team, user, user_name)
        return Command(
            name=name,
            args=args,
            platform="slack",
            tenant=team,
            channel=channel,
            user=user,
            user_name=user_name,
            is_admin=is_admin,
            attachments=attachments,
        )

    async def user_role(self, client: AsyncWebClient, team: str, user: str, fallback_name: str) -> tuple[bool, str]:
        """Return whether `user` is an admin, and the name to show, from users.info (cached for 5 minutes)."""
        cached = self._roles.get((team, user))
        if cached is not None and time.monotonic() - cached[0] < ADMIN_CACHE_SECONDS:
            return cached[1], cached[2]
        is_admin, name = user in self.admin_ids, fallback_name
        try:
            info = (await client.users_info(user=user))["user"]
        except SlackApiError as error:
            logger.warning("users.info failed team=%s user=%s: %s", team, user, slack_error(error))
            return is_admin, name
        is_admin = is_admin or any(info.get(flag) for flag in ("is_admin", "is_owner", "is_primary_owner"))
        profile = info.get("profile") or {}
        name = profile.get("display_name") or info.get("real_name") or info.get("name") or fallback_name
        self._roles[(team, user)] = (time.monotonic(), is_admin, name)
        return is_admin, name

    async def attachments(self, client: AsyncWebClient, files: list[dict]) -> list[Attachment]:
        """Turn shared files into core attachments; the download happens when the handler fetches one."""
        attachments = []
        for file in files:
            if file.get("file_access") == "check_file_info" or not file.get("url_private_download"):
                file = (await client.files_info(file=file["id"]))["file"]
            attachments.append(self._attachment(file))
        return attachments

    def _attachment(self, file: dict) -> Attachment:
        name = file.get("name") or file.get("title") or file["id"]
        url = file.get("url_private_download") or file.get("url_private")
        size = file.get("size")

        async def fetch() -> bytes:
            if not url:
                raise IngestError(name, messages.SLACK_FILE_NO_URL)
            return await download_file(url, self.bot_token, name, self.settings.max_file_bytes)

        return Attachment(name=name, size=size, fetch=fetch)


def slack_error(error: SlackApiError) -> str:
    """Return Slack's error code (`not_in_channel`), or the HTTP status when the body was not JSON."""
    data = error.response.data
    if isinstance(data, dict):
        return str(data.get("error", "unknown_error"))
    return f"HTTP {error.response.status_code}"


async def download_file(url: str, token: str, name: str, max_bytes: int) -> bytes:
    """Download a private Slack file with the bot token, stopping as soon as it passes `max_bytes`."""
    timeout = aiohttp.ClientTimeout(total=DOWNLOAD_TIMEOUT_SECONDS)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.get(url, headers={"Authorization": f"Bearer {token}"}) as response:
                if response.status != 200:
                    raise IngestError(name, messages.SLACK_FILE_HTTP_ERROR.format(status=response.status))
                # Without the files:read scope Slack answers with its sign-in page instead of the file.
                if response.content_type == "text/html" and not name.lower().endswith((".html", ".htm")):
                    raise IngestError(name, messages.SLACK_FILE_SIGN_IN_PAGE)
                data = bytearray()
                async for chunk in response.content.iter_chunked(64 * 1024):
                    data.extend(chunk)
                    check_size(name, len(data), max_bytes)
                return bytes(data)
    except (aiohttp.ClientError, asyncio.TimeoutError) as error:
        raise IngestError(name, messages.SLACK_FILE_DOWNLOAD_FAILED.format(error=error or type(error).__name__)) from error


def missing_tokens(settings: Settings, *, http: bool) -> list[str]:
    """Return the names of the settings that the chosen mode needs and that are unset."""
    needed = ["slack_bot_token", "slack_signing_secret" if http else "slack_app_token"]
    return [name.upper() for name in needed if not secret_value(getattr(settings, name))]


async def serve_http(adapter: SlackAdapter, host: str, port: int) -> None:
    """Serve Slack's requests at http://HOST:PORT/slack/events until cancelled."""
    from aiohttp import web

    runner = web.AppRunner(adapter.app.web_app(path="/slack/events"))
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    logger.info("Slack HTTP mode listening on %s:%d/slack/events", host, port)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


async def serve_socket_mode(adapter: SlackAdapter, app_token: str) -> None:
    """Connect to Slack over Socket Mode and handle events until cancelled."""
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    handler = AsyncSocketModeHandler(adapter.app, app_token)
    logger.info("Slack Socket Mode connecting")
    try:
        await handler.start_async()
    finally:
        await handler.close_async()


def run(settings: Settings, *, http: bool = False, port: int = 3000, host: str = "0.0.0.0") -> int:
    """Start the Slack bot in Socket Mode, or in HTTP mode on HOST:PORT; return the exit status."""
    import sys

    from bot.commands import registry
    from bot.services import start_platform_services

    missing = missing_tokens(settings, http=http)
    if missing:
        mode = "HTTP mode" if http else "Socket Mode"
        print(messages.SLACK_MISSING_TOKENS.format(mode=mode, names=", ".join(missing)), file=sys.stderr)
        return 2

    try:
        services = start_platform_services(settings)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2

    async def serve() -> None:
        router = Router(
            registry,
            services,
            cooldown_seconds=settings.cooldown_seconds,
            max_concurrent_model_jobs=settings.max_concurrent_model_jobs,
        )
        adapter = SlackAdapter(router, settings, http=http)
        try:
            if http:
                await serve_http(adapter, host, port)
            else:
                await serve_socket_mode(adapter, secret_value(settings.slack_app_token) or "")
        finally:
            await services.aclose()

    print(f"genai-tutor: Slack {'HTTP mode on port ' + str(port) if http else 'Socket Mode'}; Ctrl-C stops it.", file=sys.stderr)
    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        logger.info("Slack adapter stopped by Ctrl-C")
    finally:
        services.close()
    return 0
