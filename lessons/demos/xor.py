"""`/demo xor`: a 2-H-1 network learns XOR; the picture shows its decision boundary over training.

The network is the one lesson 1 trains: two inputs, a tanh hidden layer,
one output logit, binary cross-entropy, full-batch gradient descent.
"""

from __future__ import annotations

import time

from lessons.demos import MAX_SEED, Demo, DemoResult, whole_numbers
from lessons.demos.plotting import new_figure, to_png

INPUTS = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
LABELS = [0.0, 1.0, 1.0, 0.0]
SNAPSHOT_STEPS = (1, 10, 100)
GRID = 120  # points per axis of the boundary picture


def train_xor(hidden: int = 4, steps: int = 1000, seed: int = 0, learning_rate: float = 1.0, time_limit: float = 10.0):
    """Train the network; return the snapshots' predictions on a grid, the loss curve and the final outputs."""
    import torch

    # Four-row batches spend their time in thread hand-offs: one thread trains 1,000 steps
    # in about 0.2 s against 1.3 s with two (2-core machine). The setting is process-wide,
    # so a concurrent embedding runs on one thread until this returns.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(torch, hidden, steps, seed, learning_rate, time_limit)
    finally:
        torch.set_num_threads(threads)


def _train(torch, hidden, steps, seed, learning_rate, time_limit):
    from torch import nn

    torch.manual_seed(seed)
    inputs = torch.tensor(INPUTS)
    labels = torch.tensor(LABELS).unsqueeze(1)
    model = nn.Sequential(nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)
    loss_fn = nn.BCEWithLogitsLoss()

    axis = torch.linspace(-0.5, 1.5, GRID)
    grid = torch.cartesian_prod(axis, axis)  # (GRID*GRID, 2), first coordinate varies slowest

    def probabilities_on_grid():
        with torch.no_grad():
            return torch.sigmoid(model(grid)).reshape(GRID, GRID).T.numpy()  # rows: y, columns: x

    snapshots = {}
    losses = []
    started = time.monotonic()
    stopped_early = False
    for step in range(1, steps + 1):
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if step in SNAPSHOT_STEPS:
            snapshots[step] = probabilities_on_grid()
        if time.monotonic() - started > time_limit:
            stopped_early = step < steps
            break
    snapshots[len(losses)] = probabilities_on_grid()

    with torch.no_grad():
        final = torch.sigmoid(model(inputs)).squeeze(1).tolist()
    return snapshots, losses, final, axis.numpy(), stopped_early


def run(hidden: int = 4, steps: int = 1000, seed: int = 0, time_limit: float = 10.0) -> DemoResult:
    snapshots, losses, final, axis, stopped_early = train_xor(hidden, steps, seed, time_limit=time_limit)
    png = _draw(snapshots, losses, axis, hidden)

    predicted = [int(p >= 0.5) for p in final]
    right = sum(p == int(label) for p, label in zip(predicted, LABELS))
    lines = [
        f"A 2-{hidden}-1 network (tanh hidden layer) trained on XOR for {len(losses)} steps of gradient descent.",
        f"Loss: {losses[0]:.3f} at step 1, {losses[-1]:.4f} at step {len(losses)}.",
        "Outputs for (0,0) (0,1) (1,0) (1,1): " + ", ".join(f"{p:.2f}" for p in final)
        + f"; {right} of 4 points on the right side of the boundary.",
    ]
    if stopped_early:
        lines.append(f"Stopped at step {len(losses)} of {steps}: the demo's {time_limit:.0f} s limit ran out.")
    command = f"/demo xor {hidden} {steps} {seed}"
    lines.append(f"Reproduce: `{command}`")
    facts = {"losses": losses, "outputs": final, "correct": right, "steps_run": len(losses)}
    return DemoResult("\n\n".join(lines), png, command, facts)


def _draw(snapshots, losses, axis, hidden) -> bytes:
    figure = new_figure()
    grid = figure.add_gridspec(2, len(snapshots))
    extent = (axis[0], axis[-1], axis[0], axis[-1])
    points_x = [point[0] for point in INPUTS]
    points_y = [point[1] for point in INPUTS]
    colors = ["tab:red" if label == 0 else "tab:blue" for label in LABELS]

    for column, (step, probabilities) in enumerate(sorted(snapshots.items())):
        panel = figure.add_subplot(grid[0, column])
        panel.imshow(probabilities, origin="lower", extent=extent, cmap="RdBu", vmin=0, vmax=1, alpha=0.6)
        panel.contour(axis, axis, probabilities, levels=[0.5], colors="black", linewidths=1)
        panel.scatter(points_x, points_y, c=colors, edgecolors="black", s=50, zorder=3)
        panel.set_title(f"step {step}", fontsize=10)
        panel.set_xticks([0, 1])
        panel.set_yticks([0, 1])
        panel.set_xlabel("input 1", fontsize=8)
        if column == 0:
            panel.set_ylabel("input 2", fontsize=8)

    curve = figure.add_subplot(grid[1, :])
    curve.plot(range(1, len(losses) + 1), losses, color="tab:purple", label="training loss")
    curve.axhline(0.6931, color="gray", linestyle="--", linewidth=1, label="ln 2: guessing 0.5")
    curve.set_xscale("log")
    curve.set_xlabel("step (log scale)")
    curve.set_ylabel("binary cross-entropy")
    curve.legend(loc="upper right", fontsize=8)
    figure.suptitle(
        f"XOR with a 2-{hidden}-1 network: red = class 0, blue = class 1, black line = decision boundary",
        fontsize=11,
    )
    return to_png(figure)


def parse(args: str) -> dict:
    """Read `[hidden] [steps] [seed]` from the chat."""
    fields = (("hidden", "hidden", 1, 64), ("steps", "steps", 1, 20000), ("seed", "seed", 0, MAX_SEED))
    return whole_numbers(args, fields, "hidden units, steps and seed", "/demo xor 4 1000 0")


DEMO = Demo(
    name="xor",
    usage="[hidden] [steps] [seed]",
    description="Train a tiny network on XOR and watch its decision boundary form.",
    run=run,
    parse=parse,
)
