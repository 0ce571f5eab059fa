"""The real Slack Bolt app in HTTP mode on 127.0.0.1, wired to the loopback Slack Web API in fake_slack.

The app and the fake API run on one event loop in a background thread.
Tests and benchmarks send signed requests the way Slack does from plain
synchronous code, then read what the bot sent to the fake API.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.slack import SlackAdapter
from fake_slack import TEAM, FakeSlack

SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-token"
ADMIN = "UADMIN"
LISTED_ADMIN = "ULISTED"
LEARNER = "ULEARNER"


class SlackBot:
    """The Bolt app, the fake Slack API and the event loop they share."""

    def __init__(self, data_dir, *, ingest_lessons: bool = True):
        from bot.commands import registry
        from bot.router import Router
        from bot.services import Services
        from bot.settings import Settings

        self.settings = Settings(
            data_dir=data_dir,
            llm_backend="extractive",
            slack_bot_token=BOT_TOKEN,
            slack_signing_secret=SECRET,
            slack_admin_user_ids=[LISTED_ADMIN],
            cooldown_seconds=0,
            max_file_bytes=64 * 1024,
            demos_enabled=False,
        )
        self.services = Services(self.settings)
        if ingest_lessons:
            self.services.ingest_lessons()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="slack-test-loop", daemon=True)
        self.thread.start()
        self.fake = FakeSlack()
        self.router = Router(registry, self.services, cooldown_seconds=0, max_concurrent_model_jobs=2)
        self.url = self.run(self._start())
        self.http = httpx.Client(timeout=10)

    async def _start(self) -> str:
        from aiohttp import web

        await self.fake.start()
        self.fake.users.update(
            {
                ADMIN: {"id": ADMIN, "name": "ada", "is_admin": True, "profile": {"display_name": "Ada"}},
                LISTED_ADMIN: {"id": LISTED_ADMIN, "name": "lin"},
            }
        )
        self.client = AsyncWebClient(token=BOT_TOKEN, base_url=self.fake.base_url + "/api/")
        self.adapter = SlackAdapter(self.router, self.settings, client=self.client, http=True)
        self.runner = web.AppRunner(self.adapter.app.web_app(path="/slack/events"))
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        return f"http://127.0.0.1:{self.runner.addresses[0][1]}/slack/events"

    def run(self, coroutine, timeout: float = 60):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        self.http.close()
        self.run(self.runner.cleanup())
        self.run(self.fake.stop())
        self.run(_cancel_pending_tasks())
        self.run(self.services.aclose())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.services.close()

    # -- requests as Slack sends them -------------------------------------------------

    def post(self, body: str, content_type: str, headers: dict | None = None, secret: str = SECRET) -> httpx.Response:
        timestamp = str(int(time.time()))
        signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
        return self.http.post(
            self.url,
            content=body.encode(),
            headers={
                "Content-Type": content_type,
                "X-Slack-Request-Timestamp": timestamp,
                "X-Slack-Signature": signature,
                **(headers or {}),
            },
        )

    def slash(self, command: str, text: str = "", *, channel: str, user: str = LEARNER) -> httpx.Response:
        form = {
            "token": "unused",
            "team_id": TEAM,
            "team_domain": "study",
            "channel_id": channel,
            "channel_name": "general",
            "user_id": user,
            "user_name": user.lower(),
            "command": command,
            "text": text,
            "api_app_id": "A0APP",
            "response_url": f"{self.fake.base_url}/api/response_url",
            "trigger_id": "1.2.3",
        }
        return self.post(urlencode(form), "application/x-www-form-urlencoded")

    def event(self, event: dict, *, event_id: str, headers: dict | None = None) -> httpx.Response:
        envelope = {
            "token": "unused",
            "team_id": TEAM,
            "api_app_id": "A0APP",
            "event": event,
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM, "user_id": "UBOT", "is_bot": True}],
        }
        return self.post(json.dumps(envelope), "application/json", headers)

    def click(self, button: dict, *, channel: str, user: str = LEARNER, thread_ts: str | None = None) -> httpx.Response:
        container = {"type": "message", "message_ts": "1000.000100", "channel_id": channel, "is_ephemeral": False}
        if thread_ts:
            container["thread_ts"] = thread_ts
        payload = {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "team_id": TEAM},
            "api_app_id": "A0APP",
            "token": "unused",
            "container": container,
            "trigger_id": "1.2.3",
            "team": {"id": TEAM, "domain": "study"},
            "channel": {"id": channel, "name": "general"},
            "message": {"type": "message", "ts": "1000.000100", "text": "x"},
            "response_url": f"{self.fake.base_url}/api/response_url",
            "actions": [{**button, "block_id": "b1", "action_ts": str(time.time())}],
        }
        return self.post(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")

    # -- what the bot sent ------------------------------------------------------------

    def final_messages(self, channel: str, settle: float = 0.3) -> list[dict]:
        """Return the latest content of every message the bot posted in `channel`, in order."""
        time.sleep(settle)
        latest = {call.response.get("ts"): call.params for call in self.fake.calls_to("chat.postMessage", channel)}
        for call in self.fake.calls_to("chat.update", channel):
            if call.params["ts"] in latest:
                latest[call.params["ts"]] = call.params
        return list(latest.values())

    def text_in(self, channel: str) -> str:
        return "\n".join(all_text(params) for params in self.final_messages(channel))


def all_text(params: dict) -> str:
    parts = [params.get("text", "")]
    for block in params.get("blocks") or []:
        if block["type"] == "section":
            parts.append(block["text"]["text"])
        elif block["type"] == "context":
            parts.extend(element["text"] for element in block["elements"])
        elif block["type"] == "actions":
            parts.extend(element["text"]["text"] for element in block["elements"])
    return "\n".join(parts)


async def _cancel_pending_tasks() -> None:
    """Cancel commands still running, so the loop closes without orphaned listener tasks."""
    tasks = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
