"""The Discord adapter, driven through the real discord.py with real-format payloads against a fake API on 127.0.0.1.

The router, services, knowledge base (extractive answers) and SQLite progress
store are real; only Discord itself is replaced by tests/fake_discord.py.
"""

import asyncio
import re
import contextlib
import datetime
import os
import signal
import subprocess
import sys
import time

import discord
import pytest

import fake_discord as fake_api
from bot.adapters.discord import DiscordAdapter, short_description
from bot.adapters.discord_render import (
    CONTENT_LIMIT,
    EMBED_DESCRIPTION_LIMIT,
    EMBEDS_PER_MESSAGE,
    EMBEDS_TOTAL_LIMIT,
    FIELD_VALUE_LIMIT,
    choice_buttons,
    embed_length,
    fit_embeds,
    graphemes,
    source_embeds,
    split_text,
)
from bot.commands import registry as bot_registry
from bot.core import Choice, Citation, Image, LiveMessage, Reply
from bot.registry import Registry
from bot.router import Router
from bot.services import Services
from bot.settings import load_settings
from conftest import ROOT, shared_path
from fake_discord import FakeDiscord, MANAGE_GUILD, button, slash

SLASH_NAMES = {"ask", "lesson", "quiz", "answer", "demo", "ingest", "docs", "progress", "leaderboard", "help"}


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    """One knowledge base with the built-in lessons for the whole module; ingesting them takes a while."""
    data_dir = tmp_path_factory.mktemp("discord-data")
    settings = load_settings(data_dir=data_dir, llm_backend="extractive", cooldown_seconds=0, demos_enabled=False)
    services = Services(settings)
    services.ingest_lessons()
    yield services
    services.close()


@contextlib.asynccontextmanager
async def running_bot(services, registry=bot_registry, **settings):
    """Log a fresh adapter in against a fresh fake API; yield (fake, adapter)."""
    fake = FakeDiscord()
    await fake.start()
    default_base = discord.http.Route.BASE
    discord.http.Route.BASE = fake.url + "/api/v10"
    services.settings = services.settings.model_copy(update=settings)
    services._progress_lock = None  # each test runs its own event loop
    router = Router(registry, services, cooldown_seconds=0, max_concurrent_model_jobs=2)
    adapter = DiscordAdapter(router, services.settings)
    try:
        await adapter.client.login("fake-token")
        yield fake, adapter
    finally:
        await adapter.client.close()
        await services.aclose()
        discord.http.Route.BASE = default_base
        await fake.stop()


async def deliver(adapter, *payloads):
    """Feed INTERACTION_CREATE payloads to discord.py and wait until their commands finish."""
    for payload in payloads:
        adapter.client._connection.parse_interaction_create(payload)
    await asyncio.sleep(0)
    while True:
        running = [
            task for task in asyncio.all_tasks()
            if task.get_name() == "CommandTree-invoker" or task.get_name().startswith("discord-ui-dynamic-item")
        ]
        if not running:
            return
        await asyncio.wait(running)


def message_bodies(fake):
    """Yield the message object of every post or edit the bot sent, with the request."""
    for request in fake.sent():
        body = request.json or {}
        if request.path.endswith("/callback"):
            if "data" in body:
                yield request, body["data"]
        else:
            yield request, body


def custom_ids(message):
    return [item["custom_id"] for row in message.get("components", []) for item in row["components"]]


def last_message(fake):
    return list(fake.messages.values())[-1]


# --- pure rendering ------------------------------------------------------------


def test_split_keeps_grapheme_clusters_whole():
    family = "👩\u200d👩\u200d👧\u200d👦"  # one cluster of 7 code points
    accented = "e\u0301"
    text = (family + accented) * 700  # no spaces or lines: only cluster boundaries to cut at
    pieces = split_text(text)
    assert len(pieces) > 1
    for piece in pieces:
        assert len(piece) <= CONTENT_LIMIT
        assert "".join(graphemes(piece)) == piece
        assert not piece.startswith("\u200d")
        assert not piece.startswith("\u0301")
    assert "".join(pieces) == text


def test_split_prefers_paragraph_then_line_then_word():
    paragraph = ("alpha " * 200).strip()  # 1,199 characters
    pieces = split_text(paragraph + "\n\n" + paragraph)
    assert pieces == [paragraph, paragraph]

    lines = "\n".join(["line of text " * 10] * 30)
    for piece in split_text(lines):
        assert len(piece) <= CONTENT_LIMIT
        assert piece.endswith("text")

    words = "word " * 1000
    pieces = split_text(words)
    assert all(piece.endswith("word") for piece in pieces)
    assert sum(piece.count("word") for piece in pieces) == 1000


def test_split_closes_and_reopens_code_fence():
    code = "\n".join(f"total = total + {i}" for i in range(300))
    text = "Here is the loop:\n\n```python\n" + code + "\n```\n\nThat is all."
    pieces = split_text(text)
    assert len(pieces) >= 3
    for piece in pieces[:-1]:
        assert len(piece) <= CONTENT_LIMIT
        assert piece.count("```") % 2 == 0, piece[-80:]
    for piece in pieces[1:]:
        assert piece.startswith("```python\n") or piece == "That is all." or piece.endswith("That is all.")
    numbers = [line for piece in pieces for line in piece.split("\n") if line.startswith("total")]
    assert numbers == code.split("\n")


def test_source_embeds_split_fields_at_1024():
    citations = [Citation(n, f"lessons/0{n % 6 + 1}-notes.md", "Section " + "x" * 40) for n in range(1, 26)]
    assert sum(len(line) for line in (c.label() for c in citations)) > 1500
    embeds = source_embeds(citations)
    fields = [item for embed in embeds for item in embed["fields"]]
    assert len(fields) >= 2
    assert all(len(item["value"]) <= FIELD_VALUE_LIMIT for item in fields)
    shown = "\n".join(item["value"] for item in fields)
    for citation in citations:
        assert f"**[{citation.number}]** {citation.label()}" in shown


def test_fit_embeds_enforces_message_totals():
    huge = [{"title": "T" * 300, "description": "d" * 5000,
             "fields": [{"name": "n", "value": "v" * 2000} for _ in range(30)]} for _ in range(12)]
    fitted = fit_embeds(huge)
    assert len(fitted) <= EMBEDS_PER_MESSAGE
    assert sum(embed_length(embed) for embed in fitted) <= EMBEDS_TOTAL_LIMIT
    for embed in fitted:
        assert len(embed["title"]) <= 256
        assert len(embed["description"]) <= EMBED_DESCRIPTION_LIMIT
        assert len(embed["fields"]) <= 25
        assert all(len(item["value"]) <= FIELD_VALUE_LIMIT for item in embed["fields"])
    assert "not shown" in fitted[-1]["footer"]["text"]


def test_choice_buttons_unique_and_short():
    choices = [Choice("Next", "/lesson 1 2"), Choice("Again", "/lesson 1 2"), Choice("Long", "/ask " + "x" * 120)]
    buttons = choice_buttons(choices)
    assert [button.custom_id for button in buttons] == ["gt:/lesson 1 2"]


def test_short_description_fits_100():
    text = "A file or folder on the bot's machine (terminal only); on Discord and Slack, attach the file instead."
    assert len(text) > 100
    short = short_description(text)
    assert len(short) <= 100
    assert short.endswith("…")


# --- through discord.py ----------------------------------------------------------


def test_commands_synced_with_descriptions(services):
    async def scenario():
        async with running_bot(services) as (fake, _adapter):
            return [request for request in fake.requests if request.method == "PUT"]

    syncs = asyncio.run(scenario())
    assert len(syncs) == 1
    assert syncs[0].path.endswith(f"/applications/{fake_api.APPLICATION_ID}/commands")
    commands = {command["name"]: command for command in syncs[0].json}
    assert set(commands) == SLASH_NAMES
    for name, command in commands.items():
        assert command["description"] == bot_registry.get(name).description
        for option in command.get("options", []):
            assert 0 < len(option["description"]) <= 100, (name, option)
    assert commands["ingest"]["options"][0]["type"] == 11  # attachment
    assert commands["ask"]["options"][0]["required"] is True
    assert commands["quiz"]["options"][0]["type"] == 4  # integer


def test_guild_ids_sync_per_guild(services):
    async def scenario():
        async with running_bot(services, discord_guild_ids=[111, 222]) as (fake, _adapter):
            return [request.path for request in fake.requests if request.method == "PUT"]

    paths = asyncio.run(scenario())
    assert paths == [
        f"/api/v10/applications/{fake_api.APPLICATION_ID}/guilds/111/commands",
        f"/api/v10/applications/{fake_api.APPLICATION_ID}/guilds/222/commands",
    ]


def test_ask_defers_then_answers_with_sources(services):
    async def scenario():
        async with running_bot(services) as (fake, adapter):
            await deliver(adapter, slash("ask", {"question": "what is a decision boundary?"}))
            return fake

    fake = asyncio.run(scenario())
    callbacks = fake.callbacks()
    assert [callback.json["type"] for callback in callbacks] == [5]
    follow_ups = [request for request in fake.requests if "/webhooks/" in request.path]
    assert follow_ups
    assert callbacks[0].at <= follow_ups[0].at
    assert fake.requests.index(callbacks[0]) < fake.requests.index(follow_ups[0])
    message = last_message(fake)
    assert "decision boundary" in message["content"].lower()
    assert message["embeds"][0]["title"] == "Sources"
    assert "lessons/01-ai-foundations.md" in message["embeds"][0]["fields"][0]["value"]
    ids = custom_ids(message)
    assert ids[0].startswith("gt:/feedback up ")
    assert ids[1].startswith("gt:/feedback down ")


def test_thumbs_up_is_stored(services):
    async def scenario():
        async with running_bot(services) as (fake, adapter):
            await deliver(adapter, slash("ask", {"question": "what is a loss function?"}))
            answer = last_message(fake)
            up = custom_ids(answer)[0]
            await deliver(adapter, button(up, answer, user_id="600000000000000002"))
            answer_id = int(up.rsplit(" ", 1)[1])
            store = await services.progress()
            return fake, answer_id, await store.feedback_counts(answer_id), await store.asked(answer_id)

    fake, answer_id, counts, asked = asyncio.run(scenario())
    assert counts == (1, 0)
    assert asked.question == "what is a loss function?"
    assert asked.tenant == fake_api.GUILD_ID
    assert "lessons/" in asked.sources
    assert f"answer {answer_id} is recorded" in fake.texts()[-1]
    assert fake.callbacks()[-1].json == {"type": 5, "data": {"flags": 64}}  # deferred, ephemeral
    assert fake.sent()[-1].json["flags"] == 64


def streaming_registry(text, citations, interval=0.0):
    """A registry whose /ask streams `text` in 100-character steps, with every state shown."""
    registry = Registry()

    @registry.command("ask", usage="QUESTION")
    async def ask(ctx):
        """Stream a fixed answer.

        Args:
            question: Ignored.
        """
        live = LiveMessage(ctx.responder, min_interval=interval)
        for end in range(100, len(text) + 100, 100):
            await live.update(Reply(text[:end] + " ▌", citations=citations))
        await live.finish(Reply(text, citations=citations))

    return registry


def test_streamed_answer_stays_within_limits(services):
    sentence = "Gradient descent lowers the loss a little at every step of training. "
    answer = (sentence * 80)[:5000]
    citations = [Citation(n, f"handbook/chapter-{n}.md", "Optimisation > Learning rate " + "z" * 30) for n in range(1, 21)]
    assert len("\n".join(c.label() for c in citations)) >= 1500

    async def scenario():
        async with running_bot(services, streaming_registry(answer, citations)) as (fake, adapter):
            await deliver(adapter, slash("ask", {"question": "how does training work?"}))
            return fake

    fake = asyncio.run(scenario())
    bodies = list(message_bodies(fake))
    assert len([request for request, _ in bodies if request.method == "PATCH"]) > 10
    for request, body in bodies:
        assert len(body.get("content") or "") <= CONTENT_LIMIT
        embeds = body.get("embeds") or []
        assert len(embeds) <= EMBEDS_PER_MESSAGE
        assert sum(embed_length(embed) for embed in embeds) <= EMBEDS_TOTAL_LIMIT
        for embed in embeds:
            assert len(embed.get("description", "")) <= EMBED_DESCRIPTION_LIMIT
            assert all(len(item["value"]) <= FIELD_VALUE_LIMIT for item in embed.get("fields", []))
    final = list(fake.messages.values())
    assert len(final) == 3
    assert "".join(message["content"] for message in final).replace(" ", "") == answer.strip().replace(" ", "")
    assert final[-1]["embeds"][0]["title"] == "Sources"
    assert not final[0]["embeds"]


def test_images_sent_as_attached_files(services):
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
    registry = Registry()

    @registry.command("help")
    async def picture(ctx):
        """Show a picture."""
        return Reply("**Loss** falls.", images=[Image(png, "loss.png", "loss curve")], choices=[Choice("Next", "/lesson 1 2")])

    async def scenario():
        async with running_bot(services, registry) as (fake, adapter):
            await deliver(adapter, slash("help"))
            return fake

    fake = asyncio.run(scenario())
    post = fake.sent()[-1]
    assert "/webhooks/" in post.path
    assert post.files == [("loss.png", png)]
    assert post.json["attachments"][0]["filename"] == "loss.png"
    assert post.json["attachments"][0]["description"] == "loss curve"
    assert post.json["content"] == "**Loss** falls."
    assert custom_ids(last_message(fake)) == ["gt:/lesson 1 2"]


def test_no_message_can_ping_everyone_or_roles(services):
    text = "@everyone lesson 3 is live <@&42> @here"

    async def scenario():
        async with running_bot(services, streaming_registry(text * 60, [])) as (fake, adapter):
            await deliver(adapter, slash("ask", {"question": "ping?"}))
            await deliver(adapter, slash("nosuch"))
            return fake, adapter.client.allowed_mentions.to_dict()

    fake, client_default = asyncio.run(scenario())
    assert client_default["parse"] == []
    bodies = list(message_bodies(fake))
    assert len(bodies) > 2
    for request, body in bodies:
        mentions = body.get("allowed_mentions")
        assert mentions is not None, f"{request.method} {request.path} has no allowed_mentions"
        assert mentions["parse"] == [], request.path
        assert not mentions.get("roles"), request.path


def test_unknown_command_answers_in_the_interaction_response(services):
    async def scenario():
        async with running_bot(services) as (fake, adapter):
            await deliver(adapter, slash("nosuch"))
            return fake

    fake = asyncio.run(scenario())
    callback = fake.callbacks()[0]
    assert callback.json["type"] == 4
    assert "There is no command /nosuch" in callback.json["data"]["content"]


def test_admin_ingests_attachment(services):
    notes = shared_path("cases", "files", "one-page-notes.md").read_bytes()

    async def scenario():
        async with running_bot(services) as (fake, adapter):
            file = fake_api.attachment(fake, "one-page-notes.md", notes)
            await deliver(adapter, slash("ingest", attachments={"file": file}, permissions=MANAGE_GUILD))
            await deliver(adapter, slash("ask", {"question": "what is cross-entropy?"}))
            await deliver(adapter, slash("docs", guild_id=None))
            return fake

    fake = asyncio.run(scenario())
    download = next(request for request in fake.requests if request.path == "/attachments/one-page-notes.md")
    assert fake.callbacks()[0].json["type"] == 5
    assert fake.callbacks()[0].at <= download.at
    texts = fake.texts()
    reports = [text for text in texts if "Added 1 document" in text]
    assert reports, texts
    assert re.search(r"Added 1 document, \d+ chunks?", reports[-1])
    sources = [message for message in fake.messages.values() if message["embeds"]]
    assert any("one-page-notes.md" in message["embeds"][0]["fields"][0]["value"] for message in sources)
    dm_listing = texts[-1]
    assert "01-ai-foundations.md" in dm_listing
    assert "one-page-notes.md" not in dm_listing


def test_non_admin_ingest_is_refused(services):
    async def scenario():
        async with running_bot(services) as (fake, adapter):
            file = fake_api.attachment(fake, "notes.md", b"# Notes\n\nSome text.\n")
            await deliver(adapter, slash("ingest", attachments={"file": file}))
            return fake

    fake = asyncio.run(scenario())
    callback = fake.callbacks()[0]
    assert callback.json["type"] == 4
    assert "Only admins can run /ingest" in callback.json["data"]["content"]
    assert not [request for request in fake.requests if request.path.startswith("/attachments/")]


def test_admin_role_by_name_may_ingest(services):
    async def scenario():
        async with running_bot(services, discord_admin_roles=["Tutor Admin"]) as (fake, adapter):
            adapter.client._connection.parse_guild_create(fake_api.guild({"810000000000000001": "tutor admin"}))
            file = fake_api.attachment(fake, "role-notes.md", b"# Role notes\n\nAdmins by role may ingest.\n")
            await deliver(adapter, slash("ingest", attachments={"file": file}, roles=("810000000000000001",)))
            return fake

    fake = asyncio.run(scenario())
    assert fake.callbacks()[0].json["type"] == 5
    assert "Added 1 document" in fake.texts()[-1]


def test_dm_sees_only_builtin_lessons(services):
    async def scenario():
        async with running_bot(services) as (fake, adapter):
            file = fake_api.attachment(fake, "guild-notes.md", b"# Guild notes\n\nOnly for this server.\n")
            await deliver(adapter, slash("ingest", attachments={"file": file}, permissions=MANAGE_GUILD))
            await deliver(adapter, slash("docs"))
            await deliver(adapter, slash("docs", guild_id=None))
            dm_file = fake_api.attachment(fake, "dm-notes.md", b"# DM notes\n\nText.\n")
            await deliver(adapter, slash("ingest", attachments={"file": dm_file}, guild_id=None))
            return fake

    fake = asyncio.run(scenario())
    texts = fake.texts()
    guild_listing, dm_listing = texts[-3], texts[-2]
    assert "guild-notes.md" in guild_listing
    assert "guild-notes.md" not in dm_listing
    assert "01-ai-foundations.md" in dm_listing
    assert "Only admins can run /ingest" in texts[-1]
    assert not [request for request in fake.requests if request.path == "/attachments/dm-notes.md"]


def test_oversized_attachment_is_not_downloaded(services):
    async def scenario():
        async with running_bot(services) as (fake, adapter):
            file = fake_api.attachment(fake, "big.md", b"# Big\n", size=50 * 1024 * 1024)
            await deliver(adapter, slash("ingest", attachments={"file": file}, permissions=MANAGE_GUILD))
            return fake

    fake = asyncio.run(scenario())
    assert not [request for request in fake.requests if request.path.startswith("/attachments/")]
    reply = fake.texts()[-1]
    assert "could not be ingested" in reply
    assert "big.md" in reply


def test_handler_error_reaches_user(services, monkeypatch):
    def broken(*_args):
        raise RuntimeError("vector store unreachable")

    monkeypatch.setattr(services.answerer, "retrieve", broken)

    async def scenario():
        async with running_bot(services) as (fake, adapter):
            payload = slash("ask", {"question": "anything?"})
            await deliver(adapter, payload)
            return fake, payload["id"]

    fake, interaction_id = asyncio.run(scenario())
    reply = fake.texts()[-1]
    assert f"/ask failed on our side (error id {interaction_id})" in reply
    assert "vector store unreachable" not in reply
    assert len(reply) < 300


def test_lesson_buttons_work_after_restart(services):
    async def scenario():
        async with running_bot(services) as (fake, adapter):
            await deliver(adapter, slash("lesson", {"number": 1}))
            lesson = last_message(fake)
        async with running_bot(services) as (fake, adapter):  # a new process: no views in memory
            await deliver(adapter, button("gt:/lesson 1 2", lesson))
            return lesson, fake

    lesson, fake = asyncio.run(scenario())
    assert "Step 1 of" in lesson["content"]
    assert "gt:/lesson 1 2" in custom_ids(lesson)
    assert fake.callbacks()[0].json["type"] == 5
    after = last_message(fake)
    assert "Step 2 of" in after["content"]
    assert "gt:/lesson 1 1" in custom_ids(after)


def test_quiz_choice_button_grades(services):
    async def scenario():
        async with running_bot(services) as (fake, adapter):
            await deliver(adapter, slash("quiz", {"number": 1}))
            question = last_message(fake)
            await deliver(adapter, button(custom_ids(question)[0], question))
            return question, last_message(fake)

    question, graded = asyncio.run(scenario())
    ids = custom_ids(question)
    assert len(ids) >= 2
    assert all(custom_id.startswith("gt:/quiz 1 answer ") for custom_id in ids)
    assert graded["content"].startswith(("✅ Right", "❌ Not quite"))
    assert any(custom_id.startswith("gt:/quiz 1") for custom_id in custom_ids(graded))


def test_expired_token_posts_in_channel(services):
    async def scenario():
        async with running_bot(services) as (fake, adapter):
            payload = slash("help")
            fake.expired_tokens.add(payload["token"])
            await deliver(adapter, payload)
            return fake

    fake = asyncio.run(scenario())
    channel_posts = [request for request in fake.requests if request.path.startswith("/api/v10/channels/")]
    assert len(channel_posts) == 1
    assert "/ask" in channel_posts[0].json["content"]
    assert channel_posts[0].json["allowed_mentions"]["parse"] == []


def test_late_reply_skips_expired_follow_up(services):
    """Send the reply to an interaction older than the 15-minute follow-up window to the channel, skipping the webhook."""
    created = discord.utils.utcnow() - datetime.timedelta(minutes=20)

    async def scenario():
        async with running_bot(services) as (fake, adapter):
            payload = slash("progress", interaction_id=str(discord.utils.time_snowflake(created)))
            await deliver(adapter, payload)
            return fake

    fake = asyncio.run(scenario())
    assert not [request for request in fake.requests if "/webhooks/" in request.path]
    channel_posts = [request for request in fake.requests if request.path.startswith("/api/v10/channels/")]
    assert len(channel_posts) == 1
    assert "Your progress" in channel_posts[0].json["content"]


# --- the whole program ------------------------------------------------------------

LAUNCH = """
import sys
import discord.gateway
import discord.http
import yarl
discord.http.Route.BASE = sys.argv[1] + "/api/v10"
discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(sys.argv[1].replace("http", "ws") + "/gateway")
from bot.cli import main
sys.exit(main(["discord"]))
"""


def wait_for(url, condition, timeout=240.0):
    """Poll the fake API's request log until `condition(requests)` holds; return the log."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        requests = httpx.get(url + "/_requests").json()
        if condition(requests):
            return requests
        time.sleep(0.2)
    raise AssertionError(f"timed out; last requests: {[r['method'] + ' ' + r['path'] for r in requests][-10:]}")


@pytest.mark.slow
def test_cli_serves_through_gateway(tmp_path):
    """Run `genai-tutor discord` through the fake gateway: it syncs commands per guild and replies to slash commands."""
    import httpx

    fake = subprocess.Popen([sys.executable, str(ROOT / "tests" / "fake_discord.py")], stdout=subprocess.PIPE, text=True)
    url = fake.stdout.readline().strip()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DISCORD_TOKEN": "fake-token", "LLM_BACKEND": "extractive",
           "DISCORD_GUILD_IDS": fake_api.GUILD_ID, "DATA_DIR": str(tmp_path / "data")}
    bot = subprocess.Popen([sys.executable, "-c", LAUNCH, url], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        wait_for(url, lambda requests: any(r["path"] == "op 2" for r in requests))
        log_file = tmp_path / "data" / "genai-tutor.log"
        deadline = time.monotonic() + 30
        while "connected to Discord as genai-tutor" not in log_file.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)  # READY waits up to 2 s for the guilds to arrive before it is dispatched
        help_command = slash("help")
        lesson_command = slash("lesson", {"number": 1})
        for payload in (help_command, lesson_command):
            sent = httpx.post(url + "/_gateway/dispatch", json={"t": "INTERACTION_CREATE", "d": payload}).json()
            assert sent["sent_to"] == 1
        requests = wait_for(url, lambda requests: sum("/webhooks/" in r["path"] for r in requests) >= 2)
    finally:
        bot.send_signal(signal.SIGINT)
        _, stderr = bot.communicate(timeout=60)
        fake.terminate()
        fake.wait()

    assert bot.returncode == 0, stderr
    syncs = [r for r in requests if r["method"] == "PUT"]
    assert [r["path"] for r in syncs] == [
        f"/api/v10/applications/{fake_api.APPLICATION_ID}/guilds/{fake_api.GUILD_ID}/commands"
    ]
    callbacks = {r["path"].split("/")[4]: r["json"]["type"] for r in requests if r["path"].endswith("/callback")}
    assert callbacks == {help_command["id"]: 5, lesson_command["id"]: 5}
    follow_ups = [r["json"]["content"] for r in requests if r["method"] == "POST" and "/webhooks/" in r["path"]]
    assert any("/ask" in text for text in follow_ups)
    assert any("Lesson 1" in text for text in follow_ups)
    log = log_file.read_text()
    assert "connected to Discord as genai-tutor (id 900000000000000001) in 1 guilds" in log
    assert "synced 10 slash commands to guild" in log
