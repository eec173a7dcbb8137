"""Utterance normalisation: bounded, Unicode-safe, comparable.

Every utterance that enters the rewriter passes through :func:`normalize_utterance` first, so
an utterance of 10 kB or one full of odd Unicode (combining marks, full-width letters, control
and format characters, lone surrogates) costs bounded work and compares equal to its plain form.
"""

import re
import unicodedata

MAX_UTTERANCE_CHARS = 256
"""Longest normalised utterance kept; longer input is cut at a word boundary."""

MAX_RAW_CHARS = 4 * MAX_UTTERANCE_CHARS
"""Raw characters looked at before normalising (bounds the work on a 10 kB input)."""

_DROP_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
_PUNCT_RE = re.compile(r"[^\w%'.\s-]+|(?<!\d)\.|\.(?!\d)|(?<![a-z])'|'(?![a-z])|(?<!\w)-|-(?!\w)")
_SPACE_RE = re.compile(r"\s+")
_TOKEN_RE = re.compile(r"[\w%'.-]+")


def normalize_utterance(text: str, *, max_chars: int = MAX_UTTERANCE_CHARS) -> str:
    """Return the comparable form of an utterance.

    Steps: cut the raw text to ``4 * max_chars`` characters, drop control, format, surrogate and
    unassigned code points, NFKC-normalise, casefold, map punctuation (except ``%``, ``'`` inside
    words and ``.`` inside numbers) to spaces, collapse whitespace and cut to ``max_chars`` at a
    word boundary.

    Parameters
    ----------
    text : str
        The utterance as the speech-to-text engine or the user typed it.
    max_chars : int
        Longest result in characters.

    Returns
    -------
    str
        The normalised utterance; empty when nothing usable remains.
    """
    raw = text[: 4 * max_chars]
    kept = "".join(" " if unicodedata.category(ch) in _DROP_CATEGORIES else ch for ch in raw)
    folded = unicodedata.normalize("NFKC", kept).casefold()
    folded = folded.replace("\u2019", "'").replace("\u2018", "'")
    cleaned = _SPACE_RE.sub(" ", _PUNCT_RE.sub(" ", folded)).strip()
    if len(cleaned) > max_chars:
        cut = cleaned[:max_chars]
        space = cut.rfind(" ")
        cleaned = cut[:space] if space > 0 else cut
    return cleaned


def utterance_tokens(normalized: str) -> list[str]:
    """Split a normalised utterance into word tokens (numbers and ``50%`` stay whole)."""
    return _TOKEN_RE.findall(normalized)


__all__ = ["MAX_RAW_CHARS", "MAX_UTTERANCE_CHARS", "normalize_utterance", "utterance_tokens"]
