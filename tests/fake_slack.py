"""A loopback stand-in for Slack's Web API (aiohttp on 127.0.0.1) that records every call.

It implements the methods the adapter calls (auth.test, users.info,
chat.postMessage, chat.update, chat.delete, files.info, apps.connections.open
and the three steps of files_upload_v2). It also serves files for the adapter
to download, acts as the Socket Mode WebSocket endpoint, and lets a test delay
or hold one method to see what happens while it is slow.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from aiohttp import web

BOT_USER = "UBOT"
BOT_ID = "BBOT"
TEAM = "T0TEAM"


@dataclass
class Call:
    method: str
    params: dict
    headers: dict
    response: dict = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)


@dataclass
class ServedFile:
    data: bytes
    content_type: str


class FakeSlack:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.users: dict[str, dict] = {}
        self.files: dict[str, ServedFile] = {}
        self.delays: dict[str, float] = {}
        self.holds: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._next_ts = 1000
        self._runner: web.AppRunner | None = None
        self._sockets: list[web.WebSocketResponse] = []
        self.base_url = ""

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/files/{name}", self._download)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self.base_url

    async def stop(self) -> None:
        for socket in self._sockets:
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- what tests read -----------------------------------------------------------

    def record(self, method: str, params: dict, headers: dict) -> Call:
        call = Call(method, params, headers)
        with self._lock:
            self.calls.append(call)
        return call

    def calls_to(self, method: str, channel: str | None = None) -> list[Call]:
        with self._lock:
            calls = list(self.calls)
        return [
            call for call in calls
            if call.method == method and (channel is None or _channel_of(call.params) == channel)
        ]

    def wait_for(self, method: str, channel: str | None = None, count: int = 1, timeout: float = 30.0) -> list[Call]:
        """Block until `count` calls of `method` (in `channel`) were recorded, or fail after `timeout` s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            calls = self.calls_to(method, channel)
            if len(calls) >= count:
                return calls
            time.sleep(0.02)
        raise AssertionError(
            f"expected {count} call(s) of {method} in {channel}, got {len(self.calls_to(method, channel))}: "
            f"{[call.method for call in self.calls]}"
        )

    def hold(self, method: str) -> threading.Event:
        """Make `method` wait until the returned event is set."""
        event = threading.Event()
        self.holds[method] = event
        return event

    # -- handlers -----------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = dict(parse_qsl(request.query_string))
        params.update(await _body_params(request))
        call = self.record(method, params, dict(request.headers))

        if method in self.delays:
            await asyncio.sleep(self.delays[method])
        if method in self.holds:
            await asyncio.to_thread(self.holds[method].wait, 30)

        call.response = self._answer(method, params)
        return web.json_response(call.response)

    def _answer(self, method: str, params: dict) -> dict:
        if method == "auth.test":
            return {"ok": True, "user_id": BOT_USER, "bot_id": BOT_ID, "team_id": TEAM, "user": "genai-tutor"}
        if method == "apps.connections.open":
            return {"ok": True, "url": self.base_url.replace("http://", "ws://") + "/socket"}
        if method == "users.info":
            user = self.users.get(params.get("user"), {"id": params.get("user"), "name": "learner"})
            return {"ok": True, "user": user}
        if method in ("chat.postMessage", "chat.update"):
            if params.get("channel", "").startswith("CLOSED"):
                return {"ok": False, "error": "not_in_channel"}
            with self._lock:
                self._next_ts += 1
                ts = params.get("ts") or f"{self._next_ts}.000100"
            return {"ok": True, "channel": params.get("channel"), "ts": ts}
        if method == "chat.delete":
            return {"ok": True, "channel": params.get("channel"), "ts": params.get("ts")}
        if method == "files.getUploadURLExternal":
            file_id = f"F{len(self.calls)}"
            return {"ok": True, "file_id": file_id, "upload_url": f"{self.base_url}/upload/{file_id}"}
        if method == "files.completeUploadExternal":
            files = json.loads(params["files"]) if isinstance(params.get("files"), str) else params.get("files")
            return {"ok": True, "files": [{"id": item["id"], "title": item.get("title")} for item in files]}
        if method == "files.info":
            name = params.get("file", "")
            served = self.files.get(name)
            if served is None:
                return {"ok": False, "error": "file_not_found"}
            return {"ok": True, "file": self.file_object(name)}
        return {"ok": False, "error": "unknown_method"}

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        """Act as Slack's Socket Mode endpoint: send hello, then record each acknowledgement the app sends."""
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets.append(socket)
        await socket.send_json({"type": "hello", "num_connections": 1})
        async for message in socket:
            if message.type == web.WSMsgType.TEXT:
                self.record("socket.ack", json.loads(message.data), {})
        self._sockets.remove(socket)
        return socket

    async def send_envelope(self, envelope: dict) -> None:
        """Push one Socket Mode envelope to the connected app."""
        await self._sockets[-1].send_json(envelope)

    async def _upload(self, request: web.Request) -> web.Response:
        data = await request.read()
        self.record("upload", {"file_id": request.match_info["file_id"], "bytes": len(data)}, dict(request.headers))
        return web.Response(text="OK - %d" % len(data))

    async def _download(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.record("download", {"name": name}, dict(request.headers))
        served = self.files.get(name)
        if served is None:
            return web.Response(status=404)
        return web.Response(body=served.data, content_type=served.content_type)

    def file_object(self, name: str, size: int | None = None) -> dict:
        """Return a file object as events carry it, pointing at this server's download URL."""
        served = self.files[name]
        return {
            "id": name,
            "name": name,
            "title": name,
            "size": len(served.data) if size is None else size,
            "mimetype": served.content_type,
            "url_private": f"{self.base_url}/files/{name}",
            "url_private_download": f"{self.base_url}/files/{name}",
        }


async def _body_params(request: web.Request) -> dict:
    if not request.can_read_body:
        return {}
    if request.content_type == "application/json":
        return await request.json()
    form = await request.post()
    return {key: value if isinstance(value, str) else value.file.read() for key, value in form.items()}


def _channel_of(params: dict) -> str | None:
    return params.get("channel") or params.get("channel_id")
