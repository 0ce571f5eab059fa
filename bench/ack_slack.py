"""Print how fast the Slack app acknowledges 100 concurrent slash commands.

The real Bolt app runs in HTTP mode on 127.0.0.1 against the loopback Slack
Web API from tests/fake_slack.py, with the real router and knowledge base and
extractive answers. Each round sends 100 signed slash commands at once from
100 users and times each one from sending the request to its HTTP response
(the ack), then waits until every answer has been posted. Slack wants the ack
within 3 s. The sending client runs in the same process (another thread), so
it competes with the app for the GIL, and the 1-minute load average is
printed because other work on the machine shows in the figures.
Run: python bench/ack_slack.py
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

REQUESTS = 100
ROUNDS = [("/tutor-help", ""), ("/ask", "what is a decision boundary?")]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def send_all(bot, command: str, text: str, channel: str) -> list[float]:
    """Send REQUESTS slash commands at once; return each one's seconds from request to response."""
    import httpx
    from slack_harness import SECRET
    from slack_sdk.signature import SignatureVerifier

    from fake_slack import TEAM

    verifier = SignatureVerifier(SECRET)
    limits = httpx.Limits(max_connections=REQUESTS)

    async def one(client: httpx.AsyncClient, number: int) -> float:
        body = urlencode(
            {"team_id": TEAM, "channel_id": channel, "user_id": f"UBENCH{number}", "user_name": f"learner{number}",
             "command": command, "text": text, "response_url": f"{bot.fake.base_url}/api/response_url"}
        )
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": verifier.generate_signature(timestamp=timestamp, body=body),
        }
        started = time.perf_counter()
        response = await client.post(bot.url, content=body.encode(), headers=headers)
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise RuntimeError(f"request {number} got HTTP {response.status_code}: {response.text[:200]}")
        return elapsed

    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        return list(await asyncio.gather(*(one(client, number) for number in range(REQUESTS))))


def main() -> None:
    from slack_harness import SlackBot

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as folder:
        started = time.monotonic()
        bot = SlackBot(Path(folder) / "data")
        print(f"start-up with the lessons ingested: {time.monotonic() - started:.1f} s")
        try:
            # One command first, so the embedding model is loaded before timing starts.
            bot.slash("/ask", "warm up", channel="CWARM")
            bot.fake.wait_for("chat.postMessage", "CWARM", timeout=120)
            for command, text in ROUNDS:
                channel = "CBENCH" + command.strip("/").replace("-", "").upper()
                started = time.monotonic()
                acks = asyncio.run(send_all(bot, command, text, channel))
                bot.fake.wait_for("chat.postMessage", channel, count=REQUESTS, timeout=600)
                answered = time.monotonic() - started
                print(
                    f"load {os.getloadavg()[0]:.1f}; {REQUESTS} x {command}: ack p50 {statistics.median(acks) * 1000:.0f} ms, "
                    f"p99 {percentile(acks, 0.99) * 1000:.0f} ms, max {max(acks) * 1000:.0f} ms; "
                    f"all {REQUESTS} answers posted after {answered:.1f} s"
                )
        finally:
            bot.close()


if __name__ == "__main__":
    main()
