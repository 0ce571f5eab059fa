"""A fake of the Discord HTTP API on 127.0.0.1 that records every request, and real-format payloads.

discord.py's HTTP client is pointed here by setting `discord.http.Route.BASE`.
The endpoints respond with the JSON shapes the Discord API v10 documents, so
discord.py's own parsing runs. `interaction`, `slash`, `button` and `guild`
build gateway payloads (INTERACTION_CREATE, GUILD_CREATE) as Discord sends them.

`python tests/fake_discord.py` runs it on its own, printing its URL; GET
/_requests then returns what it recorded.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

import discord.utils
from aiohttp import web

APPLICATION_ID = "900000000000000001"
BOT_USER = {"id": APPLICATION_ID, "username": "genai-tutor", "discriminator": "0", "avatar": None, "bot": True,
            "global_name": None}
MANAGE_GUILD = 1 << 5
# Everything a regular member has in a fresh server, without Manage Server.
MEMBER_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 14) | (1 << 15) | (1 << 16) | (1 << 31)
_sequence = itertools.count()


def json_response(data: Any, status: int = 200) -> web.Response:
    # discord.py parses a body as JSON only when Content-Type is exactly application/json, as Discord sends it.
    return web.Response(body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"})


def snowflake() -> str:
    """Return a new id whose timestamp is now, as Discord's ids carry their creation time."""
    return str(discord.utils.time_snowflake(discord.utils.utcnow()) + next(_sequence) % (1 << 22))


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    json: Any
    files: list[tuple[str, bytes]] = field(default_factory=list)
    at: float = field(default_factory=time.monotonic)


class FakeDiscord:
    """The Discord API endpoints the adapter uses, plus a file server standing in for the attachment CDN."""

    def __init__(self):
        self.requests: list[Recorded] = []
        self.cdn: dict[str, bytes] = {}
        self.expired_tokens: set[str] = set()
        self.messages: dict[str, dict] = {}
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._sockets: list[web.WebSocketResponse] = []
        self._sequence = itertools.count(1)

    async def start(self) -> str:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        api = "/api/v10"
        app.router.add_get(api + "/users/@me", self.me)
        app.router.add_get(api + "/oauth2/applications/@me", self.application)
        app.router.add_put(api + "/applications/{app}/commands", self.sync)
        app.router.add_put(api + "/applications/{app}/guilds/{guild}/commands", self.sync)
        app.router.add_post(api + "/interactions/{id}/{token}/callback", self.callback)
        app.router.add_post(api + "/webhooks/{app}/{token}", self.follow_up)
        app.router.add_get(api + "/webhooks/{app}/{token}/messages/{message}", self.get_message)
        app.router.add_patch(api + "/webhooks/{app}/{token}/messages/{message}", self.edit)
        app.router.add_delete(api + "/webhooks/{app}/{token}/messages/{message}", self.delete)
        app.router.add_post(api + "/channels/{channel}/messages", self.channel_message)
        app.router.add_patch(api + "/channels/{channel}/messages/{message}", self.edit)
        app.router.add_get("/attachments/{name}", self.attachment)
        app.router.add_get("/_requests", self.request_log)
        app.router.add_get("/gateway", self.gateway)
        app.router.add_post("/_gateway/dispatch", self.push_event)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # --- what the tests read -------------------------------------------------

    def sent(self) -> list[Recorded]:
        """Return the requests that post or edit a message or respond to an interaction."""
        return [r for r in self.requests if r.method in ("POST", "PATCH") and "/commands" not in r.path]

    def callbacks(self) -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith("/callback")]

    def texts(self) -> list[str]:
        """Return the content of every message posted or edited, in order."""
        texts = []
        for request in self.sent():
            body = request.json or {}
            data = body.get("data", body) if request.path.endswith("/callback") else body
            if data and data.get("content"):
                texts.append(data["content"])
        return texts

    # --- endpoints -------------------------------------------------------------

    async def _record(self, request: web.Request) -> Recorded:
        files: list[tuple[str, bytes]] = []
        payload: Any = None
        if request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            async for part in reader:
                if part.name == "payload_json":
                    payload = json.loads(await part.text())
                else:
                    files.append((part.filename or part.name or "", await part.read()))
        elif request.can_read_body:
            payload = await request.json()
        recorded = Recorded(request.method, request.path, dict(request.query), payload, files)
        self.requests.append(recorded)
        return recorded

    async def request_log(self, request: web.Request) -> web.Response:
        """Return the recorded requests, for a bot running in another process (bench/ack_discord.py)."""
        return json_response([
            {"method": r.method, "path": r.path, "json": r.json, "files": [name for name, _ in r.files], "at": r.at}
            for r in self.requests
        ])

    async def gateway(self, request: web.Request) -> web.WebSocketResponse:
        """Speak the gateway protocol's start: HELLO, then READY and one GUILD_CREATE after IDENTIFY.

        Heartbeats are acknowledged; events pushed to /_gateway/dispatch are sent as DISPATCH frames.
        """
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self.requests.append(Recorded("GATEWAY", request.path, dict(request.query), None))
        await socket.send_json({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None})
        async for frame in socket:
            message = json.loads(frame.data)
            self.requests.append(Recorded("GATEWAY", f"op {message['op']}", {}, None))
            if message["op"] == 1:
                await socket.send_json({"op": 11, "d": None, "s": None, "t": None})
            elif message["op"] == 2:
                ready = {
                    "v": 10, "user": BOT_USER, "guilds": [{"id": GUILD_ID, "unavailable": True}],
                    "session_id": "fake-session", "resume_gateway_url": self.url.replace("http", "ws") + "/gateway",
                    "application": {"id": APPLICATION_ID, "flags": 0}, "private_channels": [], "relationships": [],
                }
                await self._dispatch(socket, "READY", ready)
                await self._dispatch(socket, "GUILD_CREATE", guild({}))
                self._sockets.append(socket)
        return socket

    async def _dispatch(self, socket: web.WebSocketResponse, event: str, data: dict) -> None:
        await socket.send_json({"op": 0, "t": event, "s": next(self._sequence), "d": data})

    async def push_event(self, request: web.Request) -> web.Response:
        """Send the posted {"t": EVENT, "d": payload} to every identified gateway connection."""
        event = await request.json()
        for socket in self._sockets:
            await self._dispatch(socket, event["t"], event["d"])
        return json_response({"sent_to": len(self._sockets)})

    async def me(self, request: web.Request) -> web.Response:
        await self._record(request)
        return json_response(BOT_USER)

    async def application(self, request: web.Request) -> web.Response:
        await self._record(request)
        return json_response({
            "id": APPLICATION_ID, "name": "genai-tutor", "icon": None, "description": "", "bot_public": True,
            "bot_require_code_grant": False, "owner": BOT_USER, "verify_key": "0" * 64, "flags": 0,
            "team": None, "summary": "", "rpc_origins": [],
        })

    async def sync(self, request: web.Request) -> web.Response:
        recorded = await self._record(request)
        commands = [{**command, "id": snowflake(), "application_id": APPLICATION_ID, "version": snowflake(),
                     "default_member_permissions": None, "type": command.get("type", 1)}
                    for command in recorded.json]
        return json_response(commands)

    async def callback(self, request: web.Request) -> web.Response:
        recorded = await self._record(request)
        body = recorded.json
        response: dict[str, Any] = {"interaction": {"id": request.match_info["id"], "type": 2}}
        if body["type"] == 4:
            message = self._message(body.get("data", {}), recorded.files, request.match_info["token"])
            response["interaction"]["response_message_id"] = message["id"]
            response["resource"] = {"type": 4, "message": message}
        else:
            response["interaction"]["response_message_loading"] = body["type"] == 5
        return json_response(response)

    def _expired(self, request: web.Request) -> web.Response | None:
        if request.match_info["token"] in self.expired_tokens:
            return json_response({"message": "Invalid Webhook Token", "code": 50027}, status=401)
        return None

    async def follow_up(self, request: web.Request) -> web.Response:
        recorded = await self._record(request)
        return self._expired(request) or json_response(
            self._message(recorded.json, recorded.files, request.match_info["token"])
        )

    async def channel_message(self, request: web.Request) -> web.Response:
        recorded = await self._record(request)
        return json_response(self._message(recorded.json, recorded.files, None, request.match_info["channel"]))

    async def get_message(self, request: web.Request) -> web.Response:
        await self._record(request)
        return json_response(self.messages[request.match_info["message"]])

    async def edit(self, request: web.Request) -> web.Response:
        recorded = await self._record(request)
        if "token" in request.match_info and (refusal := self._expired(request)):
            return refusal
        message = self.messages[request.match_info["message"]]
        for key in ("content", "embeds", "components"):
            if key in recorded.json:
                message[key] = recorded.json[key]
        if "attachments" in recorded.json:
            message["attachments"] = self._attachments(recorded.files)
        return json_response(message)

    async def delete(self, request: web.Request) -> web.Response:
        await self._record(request)
        self.messages.pop(request.match_info["message"], None)
        return web.Response(status=204)

    async def attachment(self, request: web.Request) -> web.Response:
        await self._record(request)
        data = self.cdn.get(request.match_info["name"])
        if data is None:
            return web.Response(status=404)
        return web.Response(body=data)

    def _attachments(self, files: list[tuple[str, bytes]]) -> list[dict]:
        return [
            {"id": snowflake(), "filename": name, "size": len(data), "url": f"{self.url}/attachments/{name}",
             "proxy_url": f"{self.url}/attachments/{name}"}
            for name, data in files
        ]

    def _message(self, data: dict, files, token: str | None, channel_id: str = "700000000000000001") -> dict:
        message = {
            "id": snowflake(), "channel_id": channel_id, "type": 0, "author": BOT_USER, "content": data.get("content") or "",
            "embeds": data.get("embeds") or [], "components": data.get("components") or [],
            "attachments": self._attachments(files), "mentions": [], "mention_roles": [], "mention_everyone": False,
            "pinned": False, "tts": False, "timestamp": "2026-12-04T23:00:00.000000+00:00", "edited_timestamp": None,
            "flags": data.get("flags", 0),
        }
        if token is not None:
            message["webhook_id"] = APPLICATION_ID
            message["application_id"] = APPLICATION_ID
        self.messages[message["id"]] = message
        return message


# --- gateway payloads ------------------------------------------------------------

GUILD_ID = "800000000000000001"
CHANNEL_ID = "700000000000000001"


def user(user_id: str = "600000000000000001", name: str = "ada") -> dict:
    return {"id": user_id, "username": name, "discriminator": "0", "avatar": None, "global_name": name.title()}


def interaction(kind: int, data: dict, *, guild_id: str | None = GUILD_ID, user_id: str = "600000000000000001",
                permissions: int = MEMBER_PERMISSIONS, roles: tuple[str, ...] = (), message: dict | None = None,
                interaction_id: str | None = None) -> dict:
    """Build an INTERACTION_CREATE payload: in a guild channel with a member, or in a DM with a user."""
    payload: dict[str, Any] = {
        "id": interaction_id or snowflake(),
        "application_id": APPLICATION_ID,
        "type": kind,
        "data": data,
        "token": "token-" + snowflake(),
        "version": 1,
        "locale": "en-US",
        "app_permissions": str(MEMBER_PERMISSIONS | (1 << 15) | (1 << 14)),
        "entitlements": [],
        "authorizing_integration_owners": {"0": GUILD_ID} if guild_id else {"1": user_id},
        "attachment_size_limit": 10 * 1024 * 1024,
    }
    if guild_id is not None:
        payload["guild_id"] = guild_id
        payload["guild"] = {"id": guild_id, "locale": "en-US", "features": []}
        payload["guild_locale"] = "en-US"
        payload["context"] = 0
        payload["channel_id"] = CHANNEL_ID
        payload["channel"] = {"id": CHANNEL_ID, "type": 0, "guild_id": guild_id, "name": "study", "position": 0,
                              "permission_overwrites": [], "nsfw": False, "parent_id": None}
        payload["member"] = {
            "user": user(user_id), "roles": list(roles), "joined_at": "2026-01-01T00:00:00+00:00", "deaf": False,
            "mute": False, "flags": 0, "pending": False, "nick": None, "permissions": str(permissions),
        }
    else:
        channel_id = "710000000000000001"
        payload["context"] = 1
        payload["channel_id"] = channel_id
        payload["channel"] = {"id": channel_id, "type": 1, "recipients": [user(user_id)]}
        payload["user"] = user(user_id)
    if message is not None:
        payload["message"] = message
    return payload


def slash(name: str, options: dict[str, Any] | None = None, *, attachments: dict[str, dict] | None = None,
          **context) -> dict:
    """Build a type 2 (application command) interaction; options map names to values."""
    kinds = {str: 3, int: 4, bool: 5}
    data: dict[str, Any] = {"id": snowflake(), "name": name, "type": 1, "options": []}
    for option, value in (options or {}).items():
        data["options"].append({"name": option, "type": kinds[type(value)], "value": value})
    for option, attachment in (attachments or {}).items():
        data["options"].append({"name": option, "type": 11, "value": attachment["id"]})
        data.setdefault("resolved", {}).setdefault("attachments", {})[attachment["id"]] = attachment
    if context.get("guild_id", GUILD_ID):
        data["guild_id"] = context.get("guild_id", GUILD_ID)
    return interaction(2, data, **context)


def button(custom_id: str, message: dict, **context) -> dict:
    """Build a type 3 (message component) interaction for a button press on `message`."""
    return interaction(3, {"custom_id": custom_id, "component_type": 2}, message=message, **context)


def attachment(fake: FakeDiscord, name: str, data: bytes, size: int | None = None) -> dict:
    """Serve `data` from the fake CDN and return the attachment object of an interaction's resolved data."""
    fake.cdn[name] = data
    return {
        "id": snowflake(), "filename": name, "size": len(data) if size is None else size,
        "url": f"{fake.url}/attachments/{name}", "proxy_url": f"{fake.url}/attachments/{name}",
        "content_type": "text/markdown; charset=utf-8",
    }


def guild(roles: dict[str, str], guild_id: str = GUILD_ID) -> dict:
    """Build a GUILD_CREATE payload with the given roles (id -> name) and one text channel."""
    role_list = [{"id": guild_id, "name": "@everyone", "permissions": str(MEMBER_PERMISSIONS), "position": 0,
                  "color": 0, "hoist": False, "managed": False, "mentionable": False}]
    role_list += [{"id": role_id, "name": name, "permissions": "0", "position": 1, "color": 0, "hoist": False,
                   "managed": False, "mentionable": False} for role_id, name in roles.items()]
    return {
        "id": guild_id, "name": "Study group", "owner_id": "1", "roles": role_list, "emojis": [], "stickers": [],
        "features": [], "member_count": 2, "members": [], "channels": [
            {"id": CHANNEL_ID, "type": 0, "name": "study", "position": 0, "permission_overwrites": []}
        ], "threads": [], "unavailable": False, "large": False, "verification_level": 0,
        "default_message_notifications": 0, "explicit_content_filter": 0, "mfa_level": 0, "premium_tier": 0,
        "preferred_locale": "en-US", "system_channel_flags": 0, "nsfw_level": 0, "afk_timeout": 300,
        "joined_at": "2026-01-01T00:00:00+00:00", "voice_states": [], "presences": [], "stage_instances": [],
        "guild_scheduled_events": [],
    }


async def serve() -> None:
    """Run the fake API until stopped, printing its URL on the first line of output."""
    fake = FakeDiscord()
    print(await fake.start(), flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(serve())
