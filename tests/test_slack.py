"""The Slack adapter end to end: the real Bolt app, signed requests, a loopback Slack Web API.

The app and the fake API run on one event loop in a background thread. Tests
POST requests the way Slack does in HTTP mode, push envelopes over the fake's
Socket Mode WebSocket, and read what the bot sent to the fake API.
The router, the knowledge base (embedded Qdrant, MiniLM) and the course are
real; answers are extractive, so no LLM is loaded.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from urllib.parse import urlencode

import pytest
import yaml
from slack_sdk.models.blocks import Block

from bot import messages
from bot.adapters.slack import SLASH_COMMANDS, SlackAdapter, SlackResponder
from bot.adapters.slack_render import (
    MAX_BLOCKS,
    MESSAGE_CHAR_BUDGET,
    SECTION_LIMIT,
    markdown_to_mrkdwn,
    mrkdwn_of,
    render_reply,
    request_heading,
    split_text,
)
from bot.core import Choice, Citation, Image, Reply
from conftest import ROOT, shared_path
from fake_slack import TEAM, ServedFile
from slack_harness import ADMIN, BOT_TOKEN, LEARNER, LISTED_ADMIN, SlackBot, all_text

FORBIDDEN_MENTIONS = ("<!everyone>", "<!here>", "<!channel>", "<!subteam", "<@&")


def _buttons(params_list: list[dict]) -> list[dict]:
    return [
        element
        for params in params_list
        for block in params.get("blocks") or []
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def wait_for_text(bot, channel: str, expected: str, timeout: float = 30) -> str:
    """Return the channel's final text once it contains `expected` (or whatever is there at the timeout)."""
    bot.fake.wait_for("chat.postMessage", channel, timeout=timeout)
    deadline = time.monotonic() + timeout
    text = bot.text_in(channel)
    while expected not in text and time.monotonic() < deadline:
        text = bot.text_in(channel)
    return text


@pytest.fixture(scope="module")
def bot(tmp_path_factory):
    slack_bot = SlackBot(tmp_path_factory.mktemp("slack") / "data")
    yield slack_bot
    slack_bot.close()


@pytest.fixture
def fake(bot):
    bot.fake.delays.clear()
    bot.fake.holds.clear()
    return bot.fake


# -- rendering (pure functions) ------------------------------------------------------------


def test_mrkdwn_inline_formatting():
    converted = markdown_to_mrkdwn("Use **bold**, *italic*, ~~old~~ and [the docs](https://example.org/a?b=1&c=2).")
    assert "*bold*" in converted
    assert "_italic_" in converted
    assert "~old~" in converted
    assert "<https://example.org/a?b=1&amp;c=2|the docs>" in converted
    assert "**" not in converted


def test_mrkdwn_escapes_control_characters():
    converted = markdown_to_mrkdwn("if a < b && c > d: `x<y`")
    assert converted == "if a &lt; b &amp;&amp; c &gt; d: `x&lt;y`"


def test_mrkdwn_headings_lists_and_code():
    markdown = "## Loss & gradients\n\n- first **step**\n\n```python\nif x < 1:\n    y = '**not bold**'\n```"
    lines = markdown_to_mrkdwn(markdown).splitlines()
    assert lines[0] == "*Loss &amp; gradients*"
    assert lines[2] == "• first *step*"
    assert lines[4] == "```"
    assert lines[5] == "if x &lt; 1:"
    assert lines[6] == "    y = '**not bold**'"
    assert lines[7] == "```"


def test_mrkdwn_table_becomes_code_block():
    markdown = "| id | name |\n|---|---|\n| `ab12` | notes.md |\n| `cd3456` | **x** |"
    assert markdown_to_mrkdwn(markdown) == "```\nid      name\nab12    notes.md\ncd3456  x\n```"


def test_mrkdwn_unsafe_link_stays_text():
    converted = markdown_to_mrkdwn("[click](javascript:alert(1)) [team](!subteam^S1)")
    assert "<javascript" not in converted
    assert "<!subteam" not in converted


@pytest.mark.parametrize(
    "text",
    [
        "@everyone lesson 3 is live <@&42> @here",
        "<!channel> <!here|here> <!subteam^S0123|@tutors> <!everyone> @Channel",
        "[ping](<!here>) **@here** `@everyone`",
    ],
)
def test_render_defuses_broadcast_mentions(text):
    for message in render_reply(Reply(text, citations=[Citation(1, "@here.md", "<!channel>")])):
        rendered = json.dumps(message.payload(), ensure_ascii=False)
        for mention in FORBIDDEN_MENTIONS:
            assert mention not in rendered
        assert not re.search(r"@(everyone|here|channel)\b", rendered, re.IGNORECASE)


def test_split_long_paragraph_at_words():
    words = [f"word{i % 97}" for i in range(600)]
    paragraph = " ".join(words)  # about 3,500 characters, one paragraph
    assert len(paragraph) > 3400
    pieces = split_text(paragraph, SECTION_LIMIT)
    assert len(pieces) == 2
    assert all(len(piece) <= SECTION_LIMIT for piece in pieces)
    assert " ".join(pieces).split() == words


def test_split_keeps_links_and_code_blocks_whole():
    link = "<https://example.org/a|a link with several words>"
    text = ("filler " * 2990)[: SECTION_LIMIT - 30] + link + " tail"
    pieces = split_text(text, SECTION_LIMIT)
    assert any(link in piece for piece in pieces)

    code = "```\n" + "\n".join(f"    line {i}" for i in range(800)) + "\n```"
    pieces = split_text(code, SECTION_LIMIT)
    assert len(pieces) >= 2
    for piece in pieces:
        assert len(piece) <= SECTION_LIMIT
        assert all(line.startswith("    line ") for line in piece.splitlines()[1:-1])
        assert piece.startswith("```")
        assert piece.endswith("```")


def test_split_hard_cuts_a_giant_word():
    text = "x" * 7000 + " &amp;"
    pieces = split_text(text, SECTION_LIMIT)
    assert "".join(pieces).replace(" ", "") == text.replace(" ", "")
    assert all(len(piece) <= SECTION_LIMIT for piece in pieces)


def test_render_spills_into_more_messages():
    paragraphs = [f"Paragraph {i}: " + "tokens and vectors " * 120 for i in range(40)]
    reply = Reply("\n\n".join(paragraphs), citations=[Citation(1, "a.md", "Intro")], choices=[Choice("Next", "/lesson 1 2")])
    rendered = render_reply(reply)
    assert len(rendered) >= 3
    for message in rendered:
        assert len(message.blocks) <= MAX_BLOCKS
        assert sum(len(block["text"]["text"]) for block in message.blocks if block["type"] == "section") <= MESSAGE_CHAR_BUDGET
        for block in message.blocks:
            Block.parse(block).validate_json()  # slack_sdk's own Block Kit limits
    text = mrkdwn_of(rendered)
    assert text.split("\n\n") == [markdown_to_mrkdwn(p).strip() for p in paragraphs]
    assert rendered[-1].blocks[-2]["type"] == "context"
    assert rendered[-1].blocks[-1]["type"] == "actions"


def test_request_heading_escapes_request():
    assert request_heading("U0ABC", "/ask is a<b & <!channel>?") == "<@U0ABC> /ask is a&lt;b &amp; &lt;!channel&gt;?"
    assert request_heading("<!here>", "/progress") == "/progress"
    long = request_heading("U0ABC", "/ask " + "word " * 1000)
    assert len(long) <= 3000
    assert long.endswith("…")


def test_render_buttons_carry_commands():
    choices = [Choice(f"Choice {i}", f"/quiz 1 answer q{i} {i}") for i in range(30)]
    blocks = render_reply(Reply("Pick one", choices=choices))[0].blocks
    actions = [block for block in blocks if block["type"] == "actions"]
    assert [len(block["elements"]) for block in actions] == [25, 5]
    values = [element["value"] for block in actions for element in block["elements"]]
    assert values == [choice.command for choice in choices]
    action_ids = [element["action_id"] for block in actions for element in block["elements"]]
    assert len(set(action_ids)) == len(action_ids)


# -- the app over HTTP ----------------------------------------------------------------------


def test_bad_signature_rejected(bot, fake):
    form = {"team_id": TEAM, "channel_id": "CBADSIG", "user_id": LEARNER, "command": "/tutor-help", "text": ""}
    response = bot.post(urlencode(form), "application/x-www-form-urlencoded", secret="not-the-signing-secret")
    assert response.status_code == 401
    time.sleep(0.5)
    assert fake.calls_to("chat.postMessage", "CBADSIG") == []


def test_slash_ask_acknowledged_before_work(bot, fake):
    channel = "CACK"
    release = fake.hold("chat.postMessage")  # the answer cannot be posted until the test lets it
    started = time.monotonic()
    response = bot.slash("/ask", "what is a decision boundary?", channel=channel, user="UACK")
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert response.text == ""
    assert elapsed < 3
    assert all(call.response == {} for call in fake.calls_to("chat.postMessage", channel))
    assert fake.calls_to("users.info") == [] or all(call.params["user"] != "UACK" for call in fake.calls_to("users.info"))
    release.set()
    text = wait_for_text(bot, channel, "Sources")
    assert "Sources" in text
    assert "lessons/01-ai-foundations.md" in text
    assert "decision boundary" in text.lower()
    for call in fake.calls_to("chat.postMessage", channel):
        assert "thread_ts" not in call.params
        assert call.headers["Authorization"] == f"Bearer {BOT_TOKEN}"
    heading = fake.calls_to("chat.postMessage", channel)[0].params["blocks"][0]
    assert heading["elements"][0]["text"] == "<@UACK> /ask what is a decision boundary?"
    updates = [call.at for call in fake.calls_to("chat.update", channel)]
    for earlier, later in zip(updates, updates[1:-1]):  # only the final edit may follow sooner
        assert later - earlier >= 0.9


def test_mention_redelivery_answered_once(bot, fake):
    channel = "CRETRY"
    fake.delays["chat.postMessage"] = 4.0  # handling the first delivery takes 4 s
    event = {
        "type": "app_mention",
        "user": "URETRY",
        "text": "<@UBOT> what is a decision boundary?",
        "ts": "1700000000.000200",
        "channel": channel,
        "event_ts": "1700000000.000200",
    }
    first = bot.event(event, event_id="Ev1")
    assert first.status_code == 200
    time.sleep(3.1)
    retry = bot.event(event, event_id="Ev1", headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    assert retry.status_code == 200
    again = bot.event(event, event_id="Ev1")  # Socket Mode: the same event id once more, without headers
    assert again.status_code == 200
    posts = fake.wait_for("chat.postMessage", channel)
    time.sleep(5)
    posts = fake.calls_to("chat.postMessage", channel)
    assert len(posts) == 1
    assert posts[0].params["thread_ts"] == event["ts"]


def test_unseen_retry_after_error_is_answered(bot, fake):
    channel = "CRETRY2"
    event = {"type": "app_mention", "user": "URETRY2", "text": "<@UBOT> what is a loss function?",
             "ts": "1700000001.000300", "channel": channel}
    bot.event(event, event_id="Ev2", headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_error"})
    assert "Sources" in wait_for_text(bot, channel, "Sources")
    time.sleep(1)
    assert len(fake.calls_to("chat.postMessage", channel)) == 1


def test_dm_and_mention_of_one_message_answered_once(bot, fake):
    channel = "DBOTH"
    message = {"user": "UBOTH", "text": "<@UBOT> what is gradient descent?", "ts": "1700000002.000400", "channel": channel}
    bot.event({**message, "type": "message", "channel_type": "im"}, event_id="Ev3a")
    bot.event({**message, "type": "app_mention"}, event_id="Ev3b")
    wait_for_text(bot, channel, "Sources")
    time.sleep(3)  # room for a second answer, were one coming
    assert len(fake.calls_to("chat.postMessage", channel)) == 1


def test_empty_mention_shows_help(bot, fake):
    channel = "CHELP"
    bot.event({"type": "app_mention", "user": "UHELP", "text": "<@UBOT>", "ts": "1700000003.000500", "channel": channel},
              event_id="Ev4")
    fake.wait_for("chat.postMessage", channel)
    text = bot.text_in(channel)
    assert "/lesson" in text
    assert "/ask" in text


def test_tutor_help_lists_commands(bot, fake):
    channel = "CTHELP"
    assert bot.slash("/tutor-help", channel=channel).status_code == 200
    fake.wait_for("chat.postMessage", channel)
    text = bot.text_in(channel)
    assert "*Commands*" in text
    assert "`/quiz NUMBER`" in text


def test_long_reply_posted_in_order(bot, fake):
    channel = "CLONG"
    paragraph = " ".join(f"w{i}" for i in range(900))  # 3,500+ characters, no paragraph break
    assert len(paragraph) >= 3500
    bot.run(SlackResponder(bot.client, channel).send(Reply(paragraph)))
    posts = fake.calls_to("chat.postMessage", channel)
    assert len(posts) == 1
    sections = [block["text"]["text"] for block in posts[0].params["blocks"]]
    assert len(sections) == 2
    assert all(len(section) <= SECTION_LIMIT for section in sections)
    assert " ".join(sections).split() == paragraph.split()

    huge = "\n\n".join(f"Part {i}. " + "attention weights sum to one " * 100 for i in range(20))
    bot.run(SlackResponder(bot.client, channel).send(Reply(huge)))
    posts = fake.calls_to("chat.postMessage", channel)[1:]
    assert len(posts) >= 2
    joined = "\n\n".join(block["text"]["text"] for call in posts for block in call.params["blocks"])
    assert joined.split() == huge.split()


def test_streamed_edits_stay_in_limits_and_shrink(bot, fake):
    channel = "CEDIT"
    responder = SlackResponder(bot.client, channel)
    message = bot.run(responder.send(Reply("first")))
    bot.run(responder.edit(message, Reply("grown " * 4000)))
    assert len(message.timestamps) >= 2
    bot.run(responder.edit(message, Reply("short again")))
    assert len(message.timestamps) == 1
    assert len(fake.calls_to("chat.delete", channel)) >= 1
    for call in fake.calls_to("chat.update", channel) + fake.calls_to("chat.postMessage", channel):
        for block in call.params["blocks"]:
            Block.parse(block).validate_json()


def test_model_text_cannot_ping_everyone(bot, fake):
    channel = "CPING"
    responder = SlackResponder(bot.client, channel)
    message = bot.run(responder.send(Reply("@everyone lesson 3 is live <@&42> @here")))
    bot.run(responder.edit(message, Reply("<!channel> and <!subteam^S1|@tutors> <@U999> @here", citations=[Citation(1, "@everyone.md")])))
    calls = fake.calls_to("chat.postMessage", channel) + fake.calls_to("chat.update", channel)
    assert len(calls) == 2
    for call in calls:
        sent = json.dumps(call.params, ensure_ascii=False)
        for mention in FORBIDDEN_MENTIONS + ("<@U999>",):
            assert mention not in sent
        assert not re.search(r"@(everyone|here|channel)\b", sent)
        assert call.params.get("link_names") in (None, False)
    assert "lesson 3 is live" in json.dumps(calls[0].params)


def test_images_uploaded_in_thread(bot, fake):
    channel = "CIMG"
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 500
    responder = SlackResponder(bot.client, channel, thread_ts="1700000009.000100")
    message = bot.run(responder.send(Reply("A picture", images=[Image(png, "xor.png", "decision boundary")])))
    bot.run(responder.edit(message, Reply("A picture, again", images=[Image(png, "xor.png", "decision boundary")])))
    steps = [call.method for call in fake.calls if call.method in ("files.getUploadURLExternal", "upload", "files.completeUploadExternal")]
    assert steps[-3:] == ["files.getUploadURLExternal", "upload", "files.completeUploadExternal"]
    completes = fake.calls_to("files.completeUploadExternal", channel)
    assert len(completes) == 1  # the edit did not upload the same picture twice
    assert completes[0].params["thread_ts"] == "1700000009.000100"
    assert fake.calls_to("upload")[-1].params["bytes"] == len(png)


def test_unreachable_channel_explained_once(bot, fake):
    from bot.adapters.slack import SlackResponder as Responder

    ephemeral = []

    async def respond(**kwargs):
        ephemeral.append(kwargs)

    responder = Responder(bot.client, "CLOSED1", respond=respond)
    bot.run(responder.send(Reply("hello")))
    bot.run(responder.send(Reply("hello again")))
    assert len(ephemeral) == 1
    assert ephemeral[0]["text"] == messages.SLACK_CANNOT_POST
    assert ephemeral[0]["response_type"] == "ephemeral"


def test_slash_ingest_explains_file_sharing(bot, fake):
    bot.slash("/ingest", channel="CING1", user=ADMIN)
    bot.slash("/ingest", channel="CING2", user=LEARNER)
    fake.wait_for("chat.postMessage", "CING1")
    fake.wait_for("chat.postMessage", "CING2")
    assert "direct message" in bot.text_in("CING1")
    assert "Only admins can run /ingest" in bot.text_in("CING2")


def test_non_admin_file_share_refused(bot, fake):
    channel = "DNOADMIN"
    fake.files["refused.md"] = ServedFile(b"# Refused\n\nText.\n", "text/markdown")
    event = {"type": "message", "subtype": "file_share", "channel_type": "im", "user": LEARNER, "text": "",
             "ts": "1700000010.000100", "channel": channel, "files": [fake.file_object("refused.md")]}
    bot.event(event, event_id="Ev10")
    fake.wait_for("chat.postMessage", channel)
    assert "Only admins can run /ingest" in bot.text_in(channel)
    assert [call for call in fake.calls_to("download") if call.params["name"] == "refused.md"] == []


NOTES = (
    b"# Training notes\n\n## Cross-entropy\n\n"
    b"Cross-entropy scores a classifier by the negative log of the probability it gave the right class.\n\n"
    b"## Early stopping\n\nEarly stopping ends training once the validation loss stops improving.\n"
)


def share_in_dm(bot, channel: str, name: str, *, user: str = ADMIN, ts: str) -> None:
    event = {"type": "message", "subtype": "file_share", "channel_type": "im", "user": user, "text": "",
             "ts": ts, "channel": channel, "files": [bot.fake.file_object(name)]}
    assert bot.event(event, event_id=f"Ev-{channel}-{ts}").status_code == 200


def test_admin_dm_file_is_ingested_and_cited(bot, fake):
    channel = "DADMIN"
    fake.files["training-notes.md"] = ServedFile(NOTES, "text/markdown")
    share_in_dm(bot, channel, "training-notes.md", ts="1700000011.000100")
    text = wait_for_text(bot, channel, "Added", timeout=60)
    assert "Added 1 document, 2 chunks" in text
    download = [call for call in fake.calls_to("download") if call.params["name"] == "training-notes.md"]
    assert len(download) == 1
    assert download[0].headers["Authorization"] == f"Bearer {BOT_TOKEN}"

    bot.slash("/ask", "what does cross-entropy score?", channel="CASKNOTES")
    answer = wait_for_text(bot, "CASKNOTES", "Sources")
    assert "[1] training-notes.md &gt; Training notes &gt; Cross-entropy" in answer

    bot.slash("/docs", channel="CDOCS")
    assert "training-notes.md" in wait_for_text(bot, "CDOCS", "training-notes.md")


def test_case_fixture_file_is_ingested(bot, fake):
    notes = shared_path("cases", "files", "one-page-notes.md")
    fake.files["one-page-notes.md"] = ServedFile(notes.read_bytes(), "text/markdown")
    share_in_dm(bot, "DCASE", "one-page-notes.md", ts="1700000011.000200")
    text = wait_for_text(bot, "DCASE", "Added", timeout=60)
    match = re.search(r"Added 1 document, (\d+) chunks?", text)
    assert match, text
    assert int(match.group(1)) > 0


def test_mention_with_file_from_listed_admin(bot, fake):
    channel = "CLISTED"
    fake.files["listed.md"] = ServedFile(b"# Perplexity\n\nPerplexity is the exponential of the average loss.\n", "text/markdown")
    event = {"type": "app_mention", "user": LISTED_ADMIN, "text": "<@UBOT> please add this",
             "ts": "1700000012.000100", "channel": channel, "files": [{"id": "listed.md", "file_access": "check_file_info"}]}
    bot.event(event, event_id="Ev12")
    assert "Added 1 document, 1 chunk" in wait_for_text(bot, channel, "Added", timeout=60)
    assert len(fake.calls_to("files.info")) >= 1
    assert fake.calls_to("chat.postMessage", channel)[0].params["thread_ts"] == event["ts"]


def test_unreadable_files_say_why(bot, fake):
    fake.files["sign-in.md"] = ServedFile(b"<html><body>Sign in to Slack</body></html>", "text/html")
    fake.files["big.md"] = ServedFile(b"# Big\n\n" + b"word " * 20000, "text/markdown")
    fake.files["picture.png"] = ServedFile(b"\x89PNG\r\n\x1a\n" + b"\x00" * 200, "image/png")
    cases = {
        "DSIGNIN": (fake.file_object("sign-in.md"), "sign-in page"),
        "DBIG": (fake.file_object("big.md"), "limit"),
        "DLIES": (fake.file_object("big.md", size=100), "limit"),  # the metadata understates the size
        "DPNG": (fake.file_object("picture.png"), "picture.png"),
        "DGONE": ({**fake.file_object("sign-in.md"), "name": "gone.md", "url_private_download": f"{fake.base_url}/files/gone.md"},
                  "HTTP 404"),
    }
    for number, (channel, (file, expected)) in enumerate(cases.items()):
        event = {"type": "message", "subtype": "file_share", "channel_type": "im", "user": ADMIN, "text": "",
                 "ts": f"1700000020.00{number}", "channel": channel, "files": [file]}
        bot.event(event, event_id=f"Ev20{number}")
    for channel, (file, expected) in cases.items():
        fake.wait_for("chat.postMessage", channel, timeout=60)
        text = bot.text_in(channel)
        assert "could not be ingested" in text, (channel, text)
        assert expected in text, (channel, text)
    big_downloads = [call for call in fake.calls_to("download") if call.params["name"] == "big.md"]
    assert len(big_downloads) == 1  # DLIES downloaded it; DBIG was stopped by the size in the metadata


def test_lesson_buttons_step_through(bot, fake):
    channel = "CLESSON"
    bot.slash("/lesson", "1", channel=channel)
    fake.wait_for("chat.postMessage", channel)
    first = bot.final_messages(channel)
    assert "Step 1 of" in all_text(first[-1])
    next_button = next(button for button in _buttons(first) if button["text"]["text"] == "Next")
    assert next_button["value"] == "/lesson 1 2"

    response = bot.click(next_button, channel=channel, user="UCLICKER", thread_ts="1700000030.000100")
    assert response.status_code == 200
    fake.wait_for("chat.postMessage", channel, count=2)
    second = fake.calls_to("chat.postMessage", channel)[1]
    assert "Step 2 of" in all_text(second.params)
    assert second.params["thread_ts"] == "1700000030.000100"
    labels = [button["text"]["text"] for button in _buttons([second.params])]
    assert "Back" in labels
    assert second.params["blocks"][0] == {
        "type": "context", "elements": [{"type": "mrkdwn", "text": "<@UCLICKER> picked Next"}]
    }


def test_quiz_buttons_grade_the_click(bot, fake):
    from lessons.course import load_course

    channel = "CQUIZ"
    bot.slash("/quiz", "1", channel=channel, user="UQUIZ")
    fake.wait_for("chat.postMessage", channel)
    buttons = _buttons(bot.final_messages(channel))
    choices = [button for button in buttons if button["value"].startswith("/quiz 1 answer")]
    assert len(choices) >= 2
    question = next(q for q in load_course().quizzes[1] if q.kind == "choice")
    assert all(f" {question.id} " in button["value"] for button in choices)

    bot.click(choices[0], channel=channel, user="UQUIZ")
    fake.wait_for("chat.postMessage", channel, count=2)
    verdict = all_text(fake.calls_to("chat.postMessage", channel)[1].params)
    assert "✅" in verdict or "❌" in verdict


def test_click_with_unknown_command(bot, fake):
    channel = "CUNKNOWN"
    button = {"type": "button", "action_id": "genai-tutor-choice-0", "text": {"type": "plain_text", "text": "Old"},
              "value": "/nosuch 1"}
    bot.click(button, channel=channel)
    fake.wait_for("chat.postMessage", channel)
    assert "There is no command /nosuch" in bot.text_in(channel)


def test_sent_blocks_pass_block_kit_validation(bot, fake):
    sent = fake.calls_to("chat.postMessage") + fake.calls_to("chat.update")
    assert len(sent) > 10
    for call in sent:
        assert call.params["text"]
        assert len(call.params["blocks"]) <= MAX_BLOCKS
        for block in call.params["blocks"]:
            Block.parse(block).validate_json()


def test_socket_mode_acks_and_dedupes(bot, fake):
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    async def connect() -> AsyncSocketModeHandler:
        adapter = SlackAdapter(bot.router, bot.settings, client=bot.client, http=False)
        handler = AsyncSocketModeHandler(adapter.app, "xapp-test-token")  # needs the running loop
        await handler.connect_async()
        return handler

    handler = bot.run(connect())
    try:
        channel = "CSOCKET"
        event = {"type": "app_mention", "user": "USOCKET", "text": "<@UBOT> what is a decision boundary?",
                 "ts": "1700000040.000100", "channel": channel}
        body = {"team_id": TEAM, "api_app_id": "A0APP", "type": "event_callback", "event_id": "EvSocket",
                "event_time": int(time.time()), "event": event}
        for attempt in range(2):
            envelope = {"envelope_id": f"env-{attempt}", "type": "events_api", "accepts_response_payload": False,
                        "retry_attempt": attempt, "retry_reason": "timeout" if attempt else "", "payload": body}
            bot.run(fake.send_envelope(envelope))
        command = {"team_id": TEAM, "channel_id": channel, "user_id": "USOCKET", "user_name": "sam",
                   "command": "/progress", "text": "", "response_url": f"{fake.base_url}/api/response_url"}
        bot.run(fake.send_envelope({"envelope_id": "env-command", "type": "slash_commands",
                                    "accepts_response_payload": True, "payload": command}))

        fake.wait_for("socket.ack", count=3)
        acknowledged = {call.params["envelope_id"] for call in fake.calls_to("socket.ack")}
        assert {"env-0", "env-1", "env-command"} <= acknowledged
        fake.wait_for("chat.postMessage", channel, count=2)
        time.sleep(2)
        posts = fake.calls_to("chat.postMessage", channel)
        assert len(posts) == 2  # one answer to the mention, one to /progress
        assert sum(call.params.get("thread_ts") == event["ts"] for call in posts) == 1
    finally:
        bot.run(handler.close_async())


# -- manifest and start-up ------------------------------------------------------------------


def test_manifest_matches_adapter():
    manifest = yaml.safe_load((ROOT / "slack-manifest.yaml").read_text())
    commands = {entry["command"] for entry in manifest["features"]["slash_commands"]}
    assert commands == set(SLASH_COMMANDS)
    for entry in manifest["features"]["slash_commands"]:
        assert entry["description"]
        assert len(entry["description"]) <= 100
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    for scope in ("commands", "chat:write", "app_mentions:read", "im:history", "files:read", "files:write", "users:read"):
        assert scope in scopes
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == {"app_mention", "message.im"}
    assert manifest["settings"]["interactivity"]["is_enabled"] is True


@pytest.mark.parametrize(
    ("args", "names"),
    [(["slack"], ["SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"]), (["slack", "--http"], ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"])],
)
def test_missing_tokens_stop_startup(args, names, tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("SLACK_")}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60
    )
    assert result.returncode == 2
    for name in names:
        assert name in result.stderr
