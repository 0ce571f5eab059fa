"""`/demo attention "text"`: one heatmap per head of the tiny character GPT's attention weights.

The model is tinygpt's briefly trained one (BRIEF_STEPS steps, seed 0,
cached), so the same text always gives the same picture. Row i of a heatmap
is the query at character i, column j the key at character j, and the cell
is softmax(q_i . k_j / sqrt(d)) after the causal mask. Masked cells (j > i)
are drawn in gray; their weight is exactly 0.
"""

from __future__ import annotations

from lessons.demos import Demo, DemoResult
from lessons.demos.plotting import new_figure, to_png

DEFAULT_TEXT = "the model reads the prompt."
MAX_TEXT_CHARS = 40  # a label per character stays readable up to about this many


def run(text: str = DEFAULT_TEXT, layer: int | None = None, time_limit: float = 30.0) -> DemoResult:
    import numpy as np

    from lessons.demos import tinygpt

    # NOTE: the brief training runs to the end even past `time_limit`, so the picture does not
    # depend on how busy the machine is. Later runs reuse the cached model.
    training = tinygpt.briefly_trained(0)
    layer_number = layer or tinygpt.LAYERS
    seen = tinygpt.in_alphabet(text)
    weights = tinygpt.attention_weights(training.model, seen)[layer_number - 1]  # (heads, T, T)

    strongest = []
    for head, matrix in enumerate(weights):
        # For the last query, the key it weights most shows what this head looks at.
        key = int(np.argmax(matrix[-1]))
        strongest.append(f"head {head + 1}: {seen[key]!r} at position {key + 1} ({matrix[-1, key]:.2f})")

    lines = [
        f"Attention of layer {layer_number} of {tinygpt.LAYERS} in the tiny character GPT "
        f"({tinygpt.BRIEF_STEPS} training steps on the lessons, seed 0), reading {seen!r}.",
        "Each row is a query position and sums to 1; the gray upper triangle is the causal mask, weight 0. "
        f"The last character {seen[-1]!r} attends most to: " + "; ".join(strongest) + ".",
    ]
    if seen != text:
        lines.append("Characters outside the model's alphabet (newline and printable ASCII) are shown as '?'.")
    command = f'/demo attention "{text}"' + (f" {layer}" if layer else "")
    lines.append(f"Reproduce: `{command}`")
    png = _draw(seen, weights, layer_number)
    facts = {"weights": weights.tolist(), "layer": layer_number, "text_seen": seen}
    return DemoResult("\n\n".join(lines), png, command, facts)


def _draw(text, weights, layer_number) -> bytes:
    import numpy as np
    from matplotlib import colormaps

    figure = new_figure()
    heads = len(weights)
    columns = 2 if heads == 4 else heads
    panels = figure.subplots((heads + columns - 1) // columns, columns, squeeze=False).ravel()
    labels = [character.replace(" ", "·") for character in text]
    upper = np.triu(np.ones_like(weights[0], dtype=bool), k=1)
    colormap = colormaps["viridis"].with_extremes(bad="lightgray")
    font_size = 7 if len(text) <= 28 else 5

    image = None
    for head, panel in enumerate(panels):
        image = panel.imshow(np.ma.masked_array(weights[head], mask=upper), cmap=colormap, vmin=0, vmax=1)
        panel.set_xticks(range(len(labels)), labels, fontsize=font_size, fontfamily="monospace")
        panel.set_yticks(range(len(labels)), labels, fontsize=font_size, fontfamily="monospace")
        panel.set_title(f"head {head + 1}", fontsize=9)
        panel.set_xlabel("key (looked at)", fontsize=8)
        panel.set_ylabel("query (looking)", fontsize=8)
    figure.colorbar(image, ax=list(panels), shrink=0.8, pad=0.01, label="attention weight (gray: masked, 0)")
    figure.suptitle(f"Tiny character GPT, layer {layer_number}: attention weights per head", fontsize=11)
    return to_png(figure)


def parse(args: str) -> dict:
    """Read `"text" [layer]`: the text, quoted when a layer number follows; empty means the default text."""
    from lessons.demos.tinygpt import LAYERS

    text, layer = args.strip(), None
    words = text.rsplit(maxsplit=1)
    if len(words) == 2 and words[1].isdigit() and words[0][-1:] in "\"'”":
        text, layer = words[0], int(words[1])
        if not 1 <= layer <= LAYERS:
            raise ValueError(f"layer must be between 1 and {LAYERS}, got {layer}")
    text = text.strip("\"'“”").strip()
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"the text is {len(text)} characters; give at most {MAX_TEXT_CHARS} so every label fits")
    if not text:
        return {} if layer is None else {"layer": layer}
    if len(text) < 2:
        raise ValueError("give at least two characters, so there is something to attend to")
    return {"text": text} if layer is None else {"text": text, "layer": layer}


DEMO = Demo(
    name="attention",
    usage='["text"] [layer]',
    description="Draw the attention weights of each head of a tiny character GPT reading your text.",
    run=run,
    parse=parse,
)
