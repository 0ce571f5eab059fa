"""`/demo neuron`: one neuron's forward and backward pass, drawn as a graph of values and gradients.

The neuron is y = sigmoid(w1*x1 + w2*x2 + b) with the squared-error loss
L = (y - t)^2. The gradients are worked out by hand with the chain rule and
checked against torch autograd.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lessons.demos import Demo, DemoResult
from lessons.demos.plotting import new_figure, to_png

DEFAULTS = {"x1": 1.0, "x2": 2.0, "w1": 0.5, "w2": -0.2, "b": 0.3, "target": 1.0}


@dataclass(frozen=True)
class Pass:
    values: dict[str, float]  # every node's value in the forward pass
    gradients: dict[str, float]  # dL/d(node) from the backward pass


def forward_backward(x1: float, x2: float, w1: float, w2: float, b: float, target: float) -> Pass:
    """Compute the forward pass, then the gradients by the chain rule, node by node."""
    z = w1 * x1 + w2 * x2 + b
    y = 1 / (1 + math.exp(-z))
    loss = (y - target) ** 2

    d_y = 2 * (y - target)  # dL/dy
    d_z = d_y * y * (1 - y)  # sigmoid'(z) = y (1 - y)
    gradients = {
        "loss": 1.0, "y": d_y, "z": d_z,
        "w1": d_z * x1, "w2": d_z * x2, "b": d_z, "x1": d_z * w1, "x2": d_z * w2,
    }
    values = {"x1": x1, "x2": x2, "w1": w1, "w2": w2, "b": b, "z": z, "y": y, "loss": loss}
    return Pass(values, gradients)


def autograd_gradients(x1, x2, w1, w2, b, target) -> dict[str, float]:
    """Compute the same gradients with torch autograd, the oracle for the hand-derived ones."""
    import torch

    leaves = {name: torch.tensor(value, dtype=torch.float64, requires_grad=True)
              for name, value in {"x1": x1, "x2": x2, "w1": w1, "w2": w2, "b": b}.items()}
    y = torch.sigmoid(leaves["w1"] * leaves["x1"] + leaves["w2"] * leaves["x2"] + leaves["b"])
    loss = (y - target) ** 2
    loss.backward()
    return {name: leaf.grad.item() for name, leaf in leaves.items()}


def run(time_limit: float = 10.0, **inputs: float) -> DemoResult:
    arguments = {**DEFAULTS, **inputs}
    result = forward_backward(**arguments)
    oracle = autograd_gradients(**arguments)
    difference = max(abs(result.gradients[name] - oracle[name]) for name in oracle)

    v, g = result.values, result.gradients
    lines = [
        f"Forward: z = w1·x1 + w2·x2 + b = {v['z']:.4f}, y = sigmoid(z) = {v['y']:.4f}, "
        f"loss = (y − t)² = {v['loss']:.4f} with target t = {arguments['target']:g}.",
        f"Backward: dL/dy = 2(y − t) = {g['y']:.4f}, dL/dz = dL/dy · y(1 − y) = {g['z']:.4f}, "
        f"dL/dw1 = dL/dz · x1 = {g['w1']:.4f}, dL/dw2 = {g['w2']:.4f}, dL/db = {g['b']:.4f}.",
        f"torch autograd gives the same gradients (largest difference {difference:.1e}).",
        "A gradient-descent step moves each weight against its gradient: "
        f"w1 − 0.1·dL/dw1 = {v['w1'] - 0.1 * g['w1']:.4f}.",
    ]
    values = " ".join(f"{arguments[name]:g}" for name in DEFAULTS)
    command = f"/demo neuron {values}"
    lines.append(f"Reproduce: `{command}`")
    png = _draw(result)
    return DemoResult("\n\n".join(lines), png, command, {"gradients": g, "autograd": oracle, "difference": difference})


# Node positions in the picture: inputs on the left, loss on the right.
_LAYOUT = {
    "x1": (0.08, 0.82), "w1": (0.08, 0.62), "x2": (0.08, 0.42), "w2": (0.08, 0.22), "b": (0.08, 0.04),
    "z": (0.42, 0.43), "y": (0.66, 0.43), "loss": (0.90, 0.43),
}
_EDGES = [("x1", "z"), ("w1", "z"), ("x2", "z"), ("w2", "z"), ("b", "z"), ("z", "y"), ("y", "loss")]
_LABELS = {"z": "z = w·x + b", "y": "y = sigmoid(z)", "loss": "L = (y − t)²"}


def _draw(result: Pass) -> bytes:
    figure = new_figure()
    axes = figure.add_subplot()
    axes.set_axis_off()
    axes.set_xlim(0, 1)
    axes.set_ylim(-0.05, 0.95)

    for start, end in _EDGES:
        (x0, y0), (x1, y1) = _LAYOUT[start], _LAYOUT[end]
        axes.annotate("", xy=(x1 - 0.07, y1), xytext=(x0 + 0.07, y0),
                      arrowprops={"arrowstyle": "->", "color": "gray"})
    for name, (x, y) in _LAYOUT.items():
        text = f"{_LABELS.get(name, name)}\nvalue {result.values[name]:.3f}\ngrad {result.gradients[name]:.3f}"
        axes.text(x, y, text, ha="center", va="center", fontsize=9,
                  bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "tab:blue"})
    axes.text(0.5, -0.04, "value: from the forward pass   ·   grad: dL/d(node), from the backward pass",
              ha="center", fontsize=8, color="dimgray")
    figure.suptitle("One neuron: forward pass left to right, gradients flow back right to left", fontsize=11)
    return to_png(figure)


def parse(args: str) -> dict:
    """Read up to six numbers, in the order x1 x2 w1 w2 b target."""
    words = args.split()
    if len(words) > len(DEFAULTS):
        raise ValueError("takes at most six numbers: x1 x2 w1 w2 b target, e.g. /demo neuron 1 2 0.5 -0.2 0.3 1")
    values = {}
    for name, word in zip(DEFAULTS, words):
        try:
            value = float(word)
        except ValueError:
            raise ValueError(f"{name} must be a number, got {word!r}; e.g. /demo neuron 1 2 0.5 -0.2 0.3 1") from None
        if not math.isfinite(value) or abs(value) > 100:
            raise ValueError(f"{name} must be between -100 and 100, got {word}")
        values[name] = value
    return values


DEMO = Demo(
    name="neuron",
    usage="[x1 x2 w1 w2 b target]",
    description="Follow one neuron's forward pass and its gradients, checked against torch autograd.",
    run=run,
    parse=parse,
)
