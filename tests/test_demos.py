"""Demos: the math is checked, not only that a PNG exists."""

import pytest

from lessons.course import load_course
from lessons.demos import available
from lessons.demos.xor import parse, run, train_xor

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data):
    """Width and height from a PNG's IHDR chunk."""
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_xor_learns_all_four_points():
    result = run()
    assert result.facts["correct"] == 4
    outputs = result.facts["outputs"]
    assert outputs[0] < 0.1
    assert outputs[3] < 0.1
    assert outputs[1] > 0.9
    assert outputs[2] > 0.9
    assert result.facts["losses"][-1] < 0.05 < result.facts["losses"][0]


def test_xor_starts_near_ln2():
    losses = run(steps=1).facts["losses"]
    assert losses[0] == pytest.approx(0.693, abs=0.05)


def test_xor_deterministic_given_seed():
    first, second = run(seed=3, steps=200), run(seed=3, steps=200)
    assert first.facts["losses"] == second.facts["losses"]
    assert first.png == second.png
    assert run(seed=4, steps=200).facts["losses"] != first.facts["losses"]


def test_xor_picture_chat_sized():
    result = run(steps=100)
    assert result.png.startswith(PNG_SIGNATURE)
    assert png_size(result.png) == (800, 500)
    assert result.command == "/demo xor 4 100 0"
    assert "Reproduce: `/demo xor 4 100 0`" in result.text


def test_xor_snapshots_at_named_steps():
    snapshots, losses, _, axis, _ = train_xor(steps=150)
    assert sorted(snapshots) == [1, 10, 100, 150]
    assert snapshots[1].shape == (len(axis), len(axis))
    assert len(losses) == 150


def test_xor_time_limit_returns_partial_result():
    result = run(steps=20000, time_limit=0.2)
    assert result.facts["steps_run"] < 20000
    assert "limit ran out" in result.text


@pytest.mark.parametrize("args, message", [("4 abc", "whole number"), ("0", "between 1 and 64"), ("1 2 3 4", "at most three")])
def test_xor_arguments_rejected_with_reason(args, message):
    with pytest.raises(ValueError, match=message):
        parse(args)


def test_xor_arguments_parsed():
    assert parse("8 500 7") == {"hidden": 8, "steps": 500, "seed": 7}
    assert parse("") == {}


def test_visual_steps_name_known_demos():
    shipped = available()
    names = {step.demo for lesson in load_course().lessons.values() for step in lesson.steps if step.demo}
    assert "xor" in names
    # neuron and generate are reached through /demo only; no lesson step draws their picture.
    assert set(shipped) <= names | {"neuron", "generate"}


@pytest.mark.parametrize("seed", range(5))
def test_neuron_gradients_match_autograd(seed):
    import random

    from lessons.demos.neuron import autograd_gradients, forward_backward

    rng = random.Random(seed)
    inputs = {name: rng.uniform(-3, 3) for name in ("x1", "x2", "w1", "w2", "b")}
    inputs["target"] = rng.choice([0.0, 1.0])
    by_hand = forward_backward(**inputs).gradients
    oracle = autograd_gradients(**inputs)
    for name, gradient in oracle.items():
        assert by_hand[name] == pytest.approx(gradient, abs=1e-12), name


def test_neuron_gradient_step_lowers_loss():
    from lessons.demos.neuron import DEFAULTS, forward_backward

    before = forward_backward(**DEFAULTS)
    stepped = {**DEFAULTS, **{k: DEFAULTS[k] - 0.1 * before.gradients[k] for k in ("w1", "w2", "b")}}
    assert forward_backward(**stepped).values["loss"] < before.values["loss"]


def test_neuron_demo_picture_and_command():
    from lessons.demos.neuron import parse, run

    result = run(**parse("1 2 0.5 -0.2 0.3 0"))
    assert png_size(result.png) == (800, 500)
    assert result.command == "/demo neuron 1 2 0.5 -0.2 0.3 0"
    assert result.facts["difference"] < 1e-12
    assert run(**parse("1 2 0.5 -0.2 0.3 0")).png == result.png
    with pytest.raises(ValueError, match="must be a number"):
        parse("1 two")


def test_nexttoken_probabilities_are_softmax():
    import numpy as np

    from lessons.demos.nexttoken import next_token_logits, softmax

    logits, token_text = next_token_logits("The cat sat on the")
    for temperature in (0.2, 0.7, 1.2):
        probabilities = softmax(logits, temperature)
        assert probabilities.sum() == pytest.approx(1.0, abs=1e-9)
        assert int(np.argmax(probabilities)) == int(np.argmax(logits))
    assert token_text(int(np.argmax(logits))).strip()


def test_nexttoken_low_temperature_sharpens():
    from lessons.demos.nexttoken import run

    result = run()
    tops = [result.facts["probabilities"][t][0] for t in (0.2, 0.7, 1.2)]
    assert tops[0] > tops[1] > tops[2]
    assert png_size(result.png) == (800, 500)
    assert run().png == result.png
    assert result.command == '/demo nexttoken "The cat sat on the"'


def test_nexttoken_arguments():
    from lessons.demos.nexttoken import parse

    assert parse('"Once upon a"') == {"text": "Once upon a"}
    assert parse("") == {}
    with pytest.raises(ValueError, match="at most 300"):
        parse("x" * 301)


def test_embed_similarity_matches_cosine():
    import numpy as np

    from lessons.demos.embed import DEFAULT_SENTENCES, similarities_and_map

    vectors, similarity, coordinates, kept = similarities_and_map(list(DEFAULT_SENTENCES))
    norms = np.linalg.norm(vectors, axis=1)
    assert np.allclose(norms, 1, atol=1e-5)
    brute = np.array([[a @ b / (np.linalg.norm(a) * np.linalg.norm(b)) for b in vectors] for a in vectors])
    assert np.allclose(similarity, brute, atol=1e-5)
    assert coordinates.shape == (len(DEFAULT_SENTENCES), 2)
    assert 0 < kept <= 1
    # The cat and kitten sentences are closer to each other than to the stock-market one.
    assert similarity[0, 1] > similarity[0, 3] + 0.3


def test_embed_demo_and_arguments():
    from lessons.demos.embed import parse, run

    options = parse('"a cat sleeps" "a kitten naps" "stocks fell"')
    result = run(**options)
    assert "The closest pair" in result.text
    assert "sentences 1 and 2" in result.text
    assert png_size(result.png) == (800, 500)
    assert run(**options).png == result.png
    assert parse(result.command.removeprefix("/demo embed ")) == options
    with pytest.raises(ValueError, match="2 to 12 sentences"):
        parse('"only one"')
    with pytest.raises(ValueError, match="in quotes"):
        parse('"unclosed')


# The tiny GPT, and the four demos built on it and on the shipped tokenizers.

TRAIN_STEPS = 30  # enough to see the loss fall; the chat default trains longer


@pytest.fixture(scope="module")
def short_training():
    from lessons.demos.tinygpt import train

    return train(TRAIN_STEPS, seed=1, sample_steps=(1,), evaluations=3, time_limit=600)


def test_tinygpt_starts_near_uniform_loss(short_training):
    import math

    from lessons.demos.tinygpt import ALPHABET

    _, first_train, first_held_out = short_training.evaluations[0]
    assert first_train == pytest.approx(math.log(len(ALPHABET)), abs=0.4)
    assert first_held_out == pytest.approx(math.log(len(ALPHABET)), abs=0.4)


def test_tinygpt_loss_falls(short_training):
    _, _, first_held_out = short_training.evaluations[0]
    last_step, _, last_held_out = short_training.evaluations[-1]
    assert last_step == TRAIN_STEPS
    assert last_held_out < first_held_out - 0.5
    assert len(short_training.losses) == TRAIN_STEPS
    assert sorted(short_training.samples) == [1, TRAIN_STEPS]


def test_tinygpt_deterministic_given_seed(short_training):
    from lessons.demos.tinygpt import train

    again = train(TRAIN_STEPS, seed=1, sample_steps=(1,), evaluations=3, time_limit=600)
    assert again.losses == short_training.losses
    assert again.samples == short_training.samples
    other = train(5, seed=2, evaluations=1)
    assert other.losses != short_training.losses[:5]


def test_tinygpt_attention_rows_causal(short_training):
    import numpy as np

    from lessons.demos.tinygpt import HEADS, LAYERS, attention_weights

    weights = attention_weights(short_training.model, "attention looks back")
    length = len("attention looks back")
    assert weights.shape == (LAYERS, HEADS, length, length)
    assert np.allclose(weights.sum(axis=-1), 1.0, atol=1e-6)
    upper = np.triu(np.ones((length, length), dtype=bool), k=1)
    assert (weights[..., upper] == 0).all()
    # The first query can only see itself.
    assert np.allclose(weights[..., 0, 0], 1.0)


def test_tinygpt_attention_matches_formula(short_training):
    """Recompute layer 1's weights from its query and key projections: softmax(QK^T / sqrt(d)) with the mask."""
    import math

    import torch

    from lessons.demos.tinygpt import EMBEDDING, HEADS, attention_weights, encode

    text = "the cat sat"
    model = short_training.model
    ids = torch.tensor([encode(text)])
    with torch.no_grad():
        x = model.wte(ids) + model.wpe(torch.arange(len(text)))
        q, k, _ = model.blocks[0].attn.qkv(model.blocks[0].ln_1(x)).split(EMBEDDING, dim=2)
        head_size = EMBEDDING // HEADS
        for head in range(HEADS):
            columns = slice(head * head_size, (head + 1) * head_size)
            scores = q[0, :, columns] @ k[0, :, columns].T / math.sqrt(head_size)
            scores = scores + torch.triu(torch.full_like(scores, float("-inf")), diagonal=1)
            expected = torch.softmax(scores, dim=-1).numpy()
            assert attention_weights(model, text)[0, head] == pytest.approx(expected, abs=1e-5)


def test_tinygpt_unknown_characters_replaced():
    from lessons.demos.tinygpt import decode, encode, in_alphabet

    assert in_alphabet("café\nok") == "caf?\nok"
    assert decode(encode("Hello, world!\n")) == "Hello, world!\n"


def test_train_gpt_demo_reports_loss():
    from lessons.demos.traingpt import parse, run

    result = run(**parse(f"{TRAIN_STEPS} 3"), time_limit=600)
    assert result.command == f"/demo train-gpt {TRAIN_STEPS} 3"
    assert result.facts["steps_run"] == TRAIN_STEPS
    assert result.facts["held_out_loss"] < result.facts["first_held_out_loss"]
    assert f"{result.facts['held_out_loss']:.2f} after step {TRAIN_STEPS}" in result.text
    assert png_size(result.png) == (800, 500)
    assert run(**parse(f"{TRAIN_STEPS} 3"), time_limit=600).png == result.png


def test_train_gpt_time_limit_returns_partial():
    from lessons.demos.traingpt import run

    result = run(steps=5000, time_limit=0.5)
    assert result.facts["steps_run"] < 5000
    assert "limit ran out" in result.text
    assert result.png.startswith(PNG_SIGNATURE)


@pytest.mark.parametrize("args, message", [("ten", "whole number"), ("0", "between 1 and 5000"), ("1 2 3", "at most two")])
def test_train_gpt_arguments_rejected(args, message):
    from lessons.demos.traingpt import parse

    with pytest.raises(ValueError, match=message):
        parse(args)


def test_attention_demo_heatmaps():
    import numpy as np

    from lessons.demos.attention import parse, run
    from lessons.demos.tinygpt import HEADS, LAYERS

    options = parse('"the cat sat" 1')
    assert options == {"text": "the cat sat", "layer": 1}
    result = run(**options)
    weights = np.array(result.facts["weights"])
    assert weights.shape == (HEADS, 11, 11)
    assert np.allclose(weights.sum(axis=-1), 1.0, atol=1e-6)
    assert (weights[:, np.triu_indices(11, k=1)[0], np.triu_indices(11, k=1)[1]] == 0).all()
    assert result.command == '/demo attention "the cat sat" 1'
    assert png_size(result.png) == (800, 500)
    assert run(**options).png == result.png
    assert run().facts["layer"] == LAYERS


@pytest.mark.parametrize("args, message", [("x" * 41, "at most 40"), ('"ab" 9', "between 1 and 3"), ("a", "at least two")])
def test_attention_arguments_rejected(args, message):
    from lessons.demos.attention import parse

    with pytest.raises(ValueError, match=message):
        parse(args)


def test_generate_bigram_is_counts():
    import numpy as np

    from lessons.demos.generate import BIGRAM_SMOOTHING, bigram_loss, bigram_table
    from lessons.demos.tinygpt import ALPHABET, encode, split_text

    table = bigram_table()
    assert np.allclose(table.sum(axis=1), 1.0)
    text = split_text()[0]
    t, h = encode("t")[0], encode("h")[0]
    pairs = sum(1 for a, b in zip(text, text[1:]) if a == "t" and b == "h")
    after_t = sum(1 for a in text[:-1] if a == "t")
    expected = (pairs + BIGRAM_SMOOTHING) / (after_t + BIGRAM_SMOOTHING * len(ALPHABET))
    assert table[t, h] == pytest.approx(expected)
    assert bigram_loss("the") == pytest.approx(-(np.log(table[t, h]) + np.log(table[h, encode("e")[0]])) / 2)


def test_generate_smollm2_perplexity_per_character():
    import numpy as np

    from lessons.demos.generate import smollm2_losses
    from lessons.demos.nexttoken import _model

    text = "The cat sat on the mat. The dog sat on the rug."
    per_character, per_token, tokens = smollm2_losses(text)
    assert per_character * len(text) == pytest.approx(per_token * tokens)
    # A real model predicts plain English far better than uniform guessing over 49,152 tokens.
    assert 0 < per_token < 6

    # Oracle: a plain float64 log-softmax over the same logits.
    model = _model()
    ids = [model.token_bos()] + model.tokenize(text.encode("utf-8"), add_bos=False)
    model.reset()
    model.eval(ids)
    logits = np.array(model.scores[: len(ids) - 1], dtype=np.float64)
    log_softmax = logits - np.log(np.exp(logits - logits.max(axis=1, keepdims=True)).sum(axis=1, keepdims=True))
    log_softmax -= logits.max(axis=1, keepdims=True)
    expected = -log_softmax[np.arange(len(ids) - 1), ids[1:]].mean()
    assert tokens == len(ids) - 1
    assert per_token == pytest.approx(expected, rel=1e-4)


def test_generate_demo_ladder():
    from lessons.demos.generate import parse, run

    options = parse('"Attention is"')
    result = run(**options, time_limit=600)  # a busy machine must not skip SmolLM2
    perplexity = result.facts["perplexity"]
    names = list(perplexity)
    assert len(result.facts["samples"]) == 4
    assert all(sample.strip() for sample in result.facts["samples"].values())
    # Each rung of the ladder predicts the held-out lesson text better than the one before.
    assert perplexity[names[0]] > perplexity[names[1]] > perplexity[names[2]] > perplexity[names[3]]
    assert result.command == '/demo generate "Attention is"'
    assert png_size(result.png) == (800, 500)
    again = run(**options, time_limit=600)
    assert again.png == result.png
    assert again.facts["samples"] == result.facts["samples"]


def test_generate_time_limit_skips_smollm2():
    from lessons.demos.generate import run

    result = run(time_limit=0)
    assert "SmolLM2-135M" not in result.facts["samples"]
    assert len(result.facts["perplexity"]) == 3
    assert "limit ran out" in result.text
    assert result.png.startswith(PNG_SIGNATURE)


def test_tokenize_round_trips():
    from lessons.demos.tokenize import lesson_bpe_tokens, smollm2_tokens, wordpiece_tokenizer, wordpiece_tokens

    for text in ("Tokenizers split unbelievably long words.", "café, naïve 東京 2026!", "  two  spaces\nand a line"):
        assert smollm2_tokens(text).decoded == text
        assert lesson_bpe_tokens(text).decoded == text
        normalized = wordpiece_tokenizer().normalizer.normalize_str(text)
        assert wordpiece_tokens(text).decoded.replace(" ", "") == normalized.replace(" ", "").replace("\n", "")
    assert wordpiece_tokens("Hello World").decoded == "hello world"
    assert "##" in "".join(wordpiece_tokens("unbelievably").pieces)


def test_tokenize_first_merges_most_frequent():
    """Replay BPE training by brute force: each of the first merges joins a pair of maximal count."""
    from collections import Counter

    from lessons.demos.tokenize import apply_merge, lesson_bpe, lesson_bpe_merges, lesson_texts

    pre_tokenizer = lesson_bpe().pre_tokenizer
    words = Counter(word for text in lesson_texts() for word, _ in pre_tokenizer.pre_tokenize_str(text))
    symbols = {word: list(word) for word in words}
    for left, right in lesson_bpe_merges()[:8]:
        pairs = Counter()
        for word, pieces in symbols.items():
            for pair in zip(pieces, pieces[1:]):
                pairs[pair] += words[word]
        assert pairs[(left, right)] == max(pairs.values()), (left, right)
        symbols = {word: apply_merge(pieces, left, right) for word, pieces in symbols.items()}


def test_tokenize_demo_facts():
    from lessons.demos.tokenize import parse, run

    options = parse('"Hello tokenizer"')
    result = run(**options)
    tokens = result.facts["tokens"]
    assert set(tokens) == {"SmolLM2 byte-level BPE", "MiniLM WordPiece", "BPE trained on the lessons (1000 tokens)"}
    assert tokens["MiniLM WordPiece"]["decoded"] == "hello tokenizer"
    counts = result.facts["merge_counts"]
    assert counts == sorted(counts, reverse=True)
    assert result.command == '/demo tokenize "Hello tokenizer"'
    assert png_size(result.png) == (800, 500)
    assert run(**options).png == result.png
    with pytest.raises(ValueError, match="at most 200"):
        parse("y" * 201)
