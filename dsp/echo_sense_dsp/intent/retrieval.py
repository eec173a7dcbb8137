"""Retrieval of candidate rewrites by sentence embeddings.

:class:`SentenceEncoder` is the interface (``encode(texts) -> (n, d) float32``, rows
L2-normalised) a dense encoder (a compact sentence encoder run with onnxruntime, int8) plugs
into. The shipped encoder is the lexical fallback :class:`LexicalEncoder`: hashed character
n-grams (with word boundaries) plus word unigrams, TF weighted and L2-normalised, so cosine
similarity is a robust surface similarity (Weinberger et al., "Feature hashing for large scale
multitask learning", ICML 2009).
"""

import hashlib
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from ..errors import ConfigError


@runtime_checkable
class SentenceEncoder(Protocol):
    """Maps texts to unit-length embeddings."""

    @property
    def dim(self) -> int:
        """Embedding size ``d``."""
        ...

    @property
    def min_similarity(self) -> float:
        """Cosine similarity above which two phrases count as the same request for this encoder."""
        ...

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embed normalised texts.

        Returns
        -------
        ndarray, shape (n, d), float32
            One unit-length row per text (all-zero for an empty text).
        """
        ...


LEXICAL_MIN_SIMILARITY = 0.78
"""Lexical cosine above which a phrase retrieves a learned or taught one ("sleepytime" ~ "sleepy time")."""


class LexicalEncoder:
    """Hashed character n-gram and word embedding (the lexical fallback).

    Parameters
    ----------
    dim : int
        Number of hash buckets (embedding size).
    ngram_range : tuple of int
        Smallest and largest character n-gram, over the text padded with spaces.
    word_weight : float
        Weight of whole-word features relative to character n-grams.
    """

    def __init__(self, dim: int = 2048, ngram_range: tuple[int, int] = (3, 4), word_weight: float = 1.0) -> None:
        if dim < 16:
            raise ConfigError(f"encoder dim must be >= 16, got {dim}")
        if not 1 <= ngram_range[0] <= ngram_range[1]:
            raise ConfigError(f"bad ngram_range {ngram_range!r}")
        self._dim = dim
        self._ngram_range = ngram_range
        self._word_weight = word_weight
        self._cache: dict[str, int] = {}

    @property
    def dim(self) -> int:
        """Embedding size."""
        return self._dim

    @property
    def min_similarity(self) -> float:
        """Retrieval threshold for this encoder (lexical cosine)."""
        return LEXICAL_MIN_SIMILARITY

    def _bucket(self, feature: str) -> int:
        bucket = self._cache.get(feature)
        if bucket is None:
            digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
            bucket = int.from_bytes(digest, "little") % self._dim
            if len(self._cache) < 200_000:
                self._cache[feature] = bucket
        return bucket

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embed texts; see :class:`SentenceEncoder`. Shape (n, dim), float32."""
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        lo, hi = self._ngram_range
        for row, text in enumerate(texts):
            padded = f" {text} "
            for n in range(lo, hi + 1):
                for start in range(len(padded) - n + 1):
                    out[row, self._bucket(padded[start : start + n])] += 1.0
            for word in text.split():
                out[row, self._bucket("w:" + word)] += self._word_weight
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out


def _onnx_encoder() -> SentenceEncoder:
    from .encoder import OnnxSentenceEncoder

    return OnnxSentenceEncoder()


ENCODERS: dict[str, Callable[[], SentenceEncoder]] = {
    "lexical": LexicalEncoder,
    "minilm_int8": _onnx_encoder,
}
"""Registry of encoders by name: the lexical fallback and the shipped int8 MiniLM (onnxruntime)."""


class EmbeddingIndex:
    """Cosine nearest neighbours over a fixed list of keys.

    Parameters
    ----------
    encoder : SentenceEncoder
    keys : sequence of str
        Normalised texts to search.
    """

    def __init__(self, encoder: SentenceEncoder, keys: Sequence[str]) -> None:
        self.encoder = encoder
        self.keys = tuple(keys)
        self._matrix = encoder.encode(self.keys) if self.keys else np.zeros((0, encoder.dim), dtype=np.float32)

    def search(self, text: str, *, top_k: int = 5) -> list[tuple[str, float]]:
        """Keys most similar to ``text`` with their cosine similarity, best first."""
        if not self.keys:
            return []
        query = self.encoder.encode([text])[0]
        sims = self._matrix @ query
        order = np.argsort(-sims)[:top_k]
        return [(self.keys[i], float(sims[i])) for i in order]


def text_similarity(encoder: SentenceEncoder, a: str, b: str) -> float:
    """Cosine similarity of two texts under ``encoder``."""
    emb = encoder.encode([a, b])
    return float(emb[0] @ emb[1])


__all__ = [
    "ENCODERS",
    "LEXICAL_MIN_SIMILARITY",
    "EmbeddingIndex",
    "LexicalEncoder",
    "SentenceEncoder",
    "text_similarity",
]
