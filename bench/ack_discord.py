"""Measure how fast the Discord adapter acknowledges 100 slash commands that arrive back to back.

Run with `python bench/ack_discord.py`. Each command is a real-format
INTERACTION_CREATE payload fed to discord.py. Its HTTP calls go to the fake
Discord API of tests/fake_discord.py, which runs in its own process on
127.0.0.1. Prints p50, p99 and maximum of the time from handing the payload to
discord.py to the fake API receiving the defer (interaction callback type 5):
for 100 commands handed over back to back (one per turn of the event loop, as
gateway frames arrive) and for 20 handed over one at a time. Also prints the
time until every answer of the 100 is posted. Discord drops an interaction that
is not answered within 3 s; the goal here is p99 under 100 ms. Answers are
extractive (no LLM), since only the acknowledgement is measured.
"""

from __future__ import annotations

import asyncio
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

COMMANDS = 100
ONE_AT_A_TIME = 20
# A mix of what a busy server sends: questions, lessons, progress and help.
MIX = [("ask", {"question": "what is a decision boundary?"}), ("lesson", {"number": 2}), ("progress", {}), ("help", {})]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def measure(services) -> tuple[list[float], list[float], float, int]:
    import aiohttp
    import discord

    from bot.adapters.discord import DiscordAdapter
    from bot.commands import registry
    from bot.router import Router
    from fake_discord import slash

    # The fake API runs in its own process, so the time it records a request
    # (CLOCK_MONOTONIC, shared by all processes) is when the bot sent it.
    server = subprocess.Popen([sys.executable, str(ROOT / "tests" / "fake_discord.py")], stdout=subprocess.PIPE, text=True)
    url = server.stdout.readline().strip()
    discord.http.Route.BASE = url + "/api/v10"
    settings = services.settings
    router = Router(registry, services, cooldown_seconds=settings.cooldown_seconds,
                    max_concurrent_model_jobs=settings.max_concurrent_model_jobs)
    adapter = DiscordAdapter(router, settings)
    await adapter.client.login("bench-token")

    payloads = [
        slash(name, options, user_id=str(600000000000001000 + index))
        for index, (name, options) in enumerate(MIX[i % len(MIX)] for i in range(COMMANDS))
    ]
    received: dict[str, float] = {}
    started = time.monotonic()
    for payload in payloads:
        received[payload["id"]] = time.monotonic()
        adapter.client._connection.parse_interaction_create(payload)
        # Gateway events arrive as separate websocket frames, each parsed in its own turn of the event loop.
        await asyncio.sleep(0)
    await settle()
    finished = time.monotonic() - started

    one_at_a_time = []
    for index in range(ONE_AT_A_TIME):
        payload = slash("lesson", {"number": 1}, user_id=str(600000000000002000 + index))
        one_at_a_time.append(payload["id"])
        received[payload["id"]] = time.monotonic()
        adapter.client._connection.parse_interaction_create(payload)
        await settle()

    async with aiohttp.ClientSession() as session, session.get(url + "/_requests") as response:
        requests = await response.json()
    server.terminate()
    server.wait()

    burst, single = [], []
    deferred = 0
    for request in requests:
        if request["path"].endswith("/callback"):
            interaction_id = request["path"].split("/")[4]
            latency = request["at"] - received[interaction_id]
            (single if interaction_id in one_at_a_time else burst).append(latency)
            deferred += request["json"]["type"] == 5
    await adapter.client.close()
    await services.aclose()
    return burst, single, finished, deferred


async def settle() -> None:
    """Wait until every slash command discord.py has started is done."""
    await asyncio.sleep(0)
    while running := [task for task in asyncio.all_tasks() if task.get_name() == "CommandTree-invoker"]:
        await asyncio.wait(running)


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    from bot.services import Services
    from bot.settings import load_settings

    with tempfile.TemporaryDirectory() as data_dir:
        settings = load_settings(data_dir=Path(data_dir), llm_backend="extractive", demos_enabled=False)
        services = Services(settings)
        services.ingest_lessons()
        # Loaded here, as in a bot that has run a while: the course at start-up, the model on the first /ask.
        services.course
        services.knowledge.embedder.model
        try:
            burst, single, finished, deferred = asyncio.run(measure(services))
        finally:
            services.close()

    load = os.getloadavg()[0]
    print(f"{COMMANDS} slash commands back to back ({', '.join(name for name, _ in MIX)} in turn), then "
          f"{ONE_AT_A_TIME} /lesson 1 one at a time; extractive answers; load average {load:.1f} on {os.cpu_count()} CPUs")
    print(f"| acknowledgements received | {len(burst) + len(single)} ({deferred} deferred) |")
    for label, values in (("back to back", burst), ("one at a time", single)):
        milliseconds = [value * 1000 for value in values]
        print(f"| receipt to defer, {label}: p50 / p99 / max | {statistics.median(milliseconds):.1f} / "
              f"{percentile(milliseconds, 0.99):.1f} / {max(milliseconds):.1f} ms |")
    print(f"| all {COMMANDS} back-to-back commands answered | {finished:.2f} s |")

if __name__ == "__main__":
    main()
