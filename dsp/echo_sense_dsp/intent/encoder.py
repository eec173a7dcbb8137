"""Dense sentence encoder: all-MiniLM-L6-v2 as int8 ONNX, with its WordPiece tokenizer.

The asset ``assets/intent_encoder.onnx`` is written by ``models/intent_encoder/recipe.py`` with
a sidecar ``intent_encoder.json`` (sha256 of the graph and of the vocabulary, input/output
names, token limit) and the vocabulary ``intent_encoder.vocab.json`` (tokens in id order).
:class:`OnnxSentenceEncoder` checks both hashes at load and raises
:class:`~echo_sense_dsp.errors.ModelError` on a mismatch.

Tokenisation is BERT's uncased WordPiece (Devlin et al., "BERT", NAACL 2019; Wu et al.,
"Google's neural machine translation system", arXiv:1609.08144): clean, lower-case, strip accents, split
punctuation, greedy longest-match sub-words with ``##`` continuations. The model is
sentence-transformers' all-MiniLM-L6-v2 (Reimers & Gurevych, "Sentence-BERT", EMNLP 2019;
Wang et al., "MiniLM", NeurIPS 2020), mean-pooled and L2-normalised inside the graph.
"""

import json
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from .. import sidecar
from ..errors import ModelError

ENCODER_INPUTS = ("input_ids", "attention_mask")
"""Graph input names (int64, shape (batch, tokens))."""

ENCODER_OUTPUT = "sentence_embedding"
"""Graph output name (float32, shape (batch, embedding_dim), unit rows)."""

ASSET_DIR = Path(__file__).resolve().parent.parent / "assets"
DEFAULT_ENCODER_PATH = ASSET_DIR / "intent_encoder.onnx"

MAX_WORD_CHARS = 100
"""Words longer than this become ``[UNK]`` (as BERT's WordPiece does)."""


def _is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


class WordPieceTokenizer:
    """BERT uncased WordPiece tokenizer.

    Parameters
    ----------
    vocab : sequence of str
        Tokens in id order (must contain ``[PAD]``, ``[UNK]``, ``[CLS]``, ``[SEP]``).
    max_tokens : int
        Longest id sequence including ``[CLS]`` and ``[SEP]``.
    """

    def __init__(self, vocab: Sequence[str], *, max_tokens: int = 32) -> None:
        self.ids = {tok: i for i, tok in enumerate(vocab)}
        missing = [t for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]") if t not in self.ids]
        if missing:
            raise ModelError(f"vocabulary lacks special tokens {missing}")
        if max_tokens < 3:
            raise ModelError(f"max_tokens must be >= 3, got {max_tokens}")
        self.max_tokens = max_tokens
        self.pad_id, self.unk_id = self.ids["[PAD]"], self.ids["[UNK]"]
        self.cls_id, self.sep_id = self.ids["[CLS]"], self.ids["[SEP]"]

    @classmethod
    def from_file(cls, path: str | Path, *, max_tokens: int = 32) -> "WordPieceTokenizer":
        """Read a vocabulary: a JSON list of tokens in id order, or a ``vocab.txt`` (one per line)."""
        path = Path(path)
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".json":
            tokens = json.loads(text)
            if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
                raise ModelError(f"{path} is not a JSON list of tokens")
            return cls(tokens, max_tokens=max_tokens)
        return cls(text.splitlines(), max_tokens=max_tokens)

    def basic_tokens(self, text: str) -> list[str]:
        """Clean, lower-case, strip accents and split on whitespace and punctuation."""
        out: list[str] = []
        chars = []
        for ch in text:
            cp = ord(ch)
            if cp in {0, 0xFFFD} or (unicodedata.category(ch) in {"Cc", "Cf"} and ch not in "\t\n\r"):
                continue
            chars.append(f" {ch} " if _is_cjk(cp) else (" " if ch.isspace() else ch))
        cleaned = unicodedata.normalize("NFD", "".join(chars).lower())
        cleaned = "".join(ch for ch in cleaned if unicodedata.category(ch) != "Mn")
        for word in cleaned.split():
            current = ""
            for ch in word:
                if _is_punctuation(ch):
                    if current:
                        out.append(current)
                        current = ""
                    out.append(ch)
                else:
                    current += ch
            if current:
                out.append(current)
        return out

    def wordpiece_ids(self, word: str) -> list[int]:
        """Greedy longest-match-first sub-word ids of one word (``[UNK]`` if it cannot be covered)."""
        if len(word) > MAX_WORD_CHARS:
            return [self.unk_id]
        ids: list[int] = []
        start = 0
        while start < len(word):
            end = len(word)
            found = None
            while start < end:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.ids:
                    found = self.ids[piece]
                    break
                end -= 1
            if found is None:
                return [self.unk_id]
            ids.append(found)
            start = end
        return ids

    def encode(self, text: str) -> list[int]:
        """``[CLS] pieces... [SEP]``, cut to ``max_tokens``."""
        body: list[int] = []
        limit = self.max_tokens - 2
        for word in self.basic_tokens(text[: 8 * self.max_tokens]):
            body.extend(self.wordpiece_ids(word))
            if len(body) >= limit:
                break
        return [self.cls_id, *body[:limit], self.sep_id]

    def batch(self, texts: Sequence[str]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """Padded ``(input_ids, attention_mask)``, both int64 of shape (n, longest)."""
        encoded = [self.encode(t) for t in texts]
        width = max((len(e) for e in encoded), default=2)
        ids = np.full((len(encoded), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(encoded), width), dtype=np.int64)
        for row, seq in enumerate(encoded):
            ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1
        return ids, mask


class OnnxSentenceEncoder:
    """The shipped int8 MiniLM sentence encoder on onnxruntime (one intra-op thread).

    Parameters
    ----------
    path : str or Path, optional
        The ``.onnx`` file; its sidecar ``.json`` and vocabulary ``.vocab.json`` sit beside it.

    Raises
    ------
    ModelError
        Missing files, or a graph or vocabulary whose sha256 differs from the sidecar's.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else DEFAULT_ENCODER_PATH
        vocab_path = self.path.with_suffix(".vocab.json")
        expected = {"inputs": {name: ["batch", "tokens", "int64"] for name in ENCODER_INPUTS}}
        self.sidecar = sidecar.load_sidecar(self.path, expected, hashed={"vocab_sha256": vocab_path})
        self.tokenizer = WordPieceTokenizer.from_file(vocab_path, max_tokens=int(self.sidecar["max_tokens"]))
        self._session = sidecar.open_session(self.path)
        self._dim = int(self.sidecar["embedding_dim"])
        self._min_similarity = float(self.sidecar.get("min_similarity", 0.8))

    @property
    def dim(self) -> int:
        """Embedding size (384)."""
        return self._dim

    @property
    def min_similarity(self) -> float:
        """Retrieval threshold from the sidecar."""
        return self._min_similarity

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embed texts: shape (n, dim), float32, unit rows."""
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        ids, mask = self.tokenizer.batch(texts)
        out = self._session.run([ENCODER_OUTPUT], {ENCODER_INPUTS[0]: ids, ENCODER_INPUTS[1]: mask})[0]
        return np.asarray(out, dtype=np.float32)


__all__ = [
    "DEFAULT_ENCODER_PATH",
    "ENCODER_INPUTS",
    "ENCODER_OUTPUT",
    "MAX_WORD_CHARS",
    "OnnxSentenceEncoder",
    "WordPieceTokenizer",
]
