"""/demo prompt: the four prompts are built as intended and greedy decoding is checked against the logits."""

import math

import numpy as np
import pytest

from lessons.demos import prompt
from lessons.demos.prompt import EXAMPLES, PERSONA, STYLES, SYSTEM_RULES, build_messages, greedy_reply, parse, render_prompt

from test_demos import png_size

QUESTION = "What is a vector?"
SMOLLM_DEFAULT_SYSTEM = "You are a helpful AI assistant named SmolLM"


def test_plain_prompt_is_question_alone():
    assert build_messages("plain", QUESTION) == [{"role": "user", "content": QUESTION}]


def test_system_and_persona_prompts():
    assert build_messages("system", QUESTION) == [
        {"role": "system", "content": SYSTEM_RULES},
        {"role": "user", "content": QUESTION},
    ]
    assert build_messages("persona", QUESTION) == [
        {"role": "system", "content": PERSONA},
        {"role": "user", "content": QUESTION},
    ]


def test_few_shot_prompt_alternates_examples():
    messages = build_messages("few-shot", QUESTION)
    roles = [message["role"] for message in messages]
    assert roles == ["system"] + ["user", "assistant"] * len(EXAMPLES) + ["user"]
    assert messages[0]["content"] == SYSTEM_RULES
    for index, (question, answer) in enumerate(EXAMPLES):
        assert messages[1 + 2 * index]["content"] == question
        assert messages[2 + 2 * index]["content"] == answer
    assert messages[-1]["content"] == QUESTION


def test_unknown_style_rejected():
    with pytest.raises(ValueError, match="unknown prompting style"):
        build_messages("haiku", QUESTION)


def test_template_adds_default_system_only_to_plain():
    rendered = {style: render_prompt(build_messages(style, QUESTION)) for style in STYLES}
    assert SMOLLM_DEFAULT_SYSTEM in rendered["plain"]
    for style in ("system", "few-shot", "persona"):
        assert SMOLLM_DEFAULT_SYSTEM not in rendered[style], style
    for style, text in rendered.items():
        assert text.endswith("<|im_start|>assistant\n"), style
        assert text.count(QUESTION) == 1, style
    assert f"<|im_start|>assistant\n{EXAMPLES[0][1]}<|im_end|>" in rendered["few-shot"]


def test_greedy_reply_follows_the_logits():
    from lessons.demos.nexttoken import _model, softmax

    text = render_prompt(build_messages("system", QUESTION))
    reply = greedy_reply(text, max_new_tokens=6)
    assert len(reply.token_ids) == 6
    assert not reply.finished

    # Oracle: feed the prompt, then the chosen tokens one by one, and read the logits after each.
    # (One batch of prompt plus reply would round differently: llama.cpp's quantised matmuls depend on batch size.)
    model = _model()
    prompt_ids = model.tokenize(text.encode("utf-8"), add_bos=False, special=True)
    assert reply.prompt_tokens == len(prompt_ids)
    model.reset()
    model.eval(prompt_ids)
    for step, token in enumerate(reply.token_ids):
        distribution = softmax(np.array(model.scores[model.n_tokens - 1], dtype=np.float64), 1.0)
        assert token == int(np.argmax(distribution)), step
        assert reply.chosen_probabilities[step] == pytest.approx(distribution[token], rel=1e-9), step
        if step == 0:
            entropy = -sum(p * math.log2(p) for p in distribution if p > 0)
            assert reply.first_entropy_bits == pytest.approx(entropy, rel=1e-6)
        model.eval([token])
    assert greedy_reply(text, max_new_tokens=3).token_ids == reply.token_ids[:3]


def test_demo_deterministic(monkeypatch):
    monkeypatch.setattr(prompt, "MAX_NEW_TOKENS", 4)
    first, second = prompt.run(QUESTION, time_limit=120), prompt.run(QUESTION, time_limit=120)
    assert list(first.facts["replies"]) == list(STYLES)
    assert first.facts == second.facts
    assert first.png == second.png
    assert png_size(first.png) == (800, 500)
    assert all(len(ids) <= 4 for ids in first.facts["token_ids"].values())
    for style in STYLES:
        assert f"**{style}**" in first.text
    assert first.command == f'/demo prompt "{QUESTION}"'
    assert parse(first.command.removeprefix("/demo prompt ")) == {"question": QUESTION}


def test_time_limit_returns_what_it_has():
    result = prompt.run(QUESTION, time_limit=0)
    assert list(result.facts["replies"]) == ["plain"]
    assert len(result.facts["token_ids"]["plain"]) == 1  # the first token is decoded even after the deadline
    assert result.facts["first_entropy_bits"]["plain"] > 0
    assert "limit ran out" in result.text


def test_arguments():
    assert parse("") == {}
    assert parse("'Why is the sky blue?'") == {"question": "Why is the sky blue?"}
    with pytest.raises(ValueError, match="at most 300"):
        parse("x" * 301)
