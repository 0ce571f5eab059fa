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
    assert set(shipped) <= names | {"neuron"}


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
