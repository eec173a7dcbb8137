"""Absorbing Markov chains over rephrase sequences.

A household's rephrase sequences (a failed utterance, maybe more failed ones, then a
successful one or giving up) form an absorbing Markov chain: the transient states are the
failed utterances, the absorbing states the successful utterances plus "gave up". With the
transition matrix in canonical form

    P = [[Q, R],
         [0, I]]

the fundamental matrix is ``N = (I - Q)^-1`` and the absorption probabilities are ``B = N R``
(Kemeny & Snell, *Finite Markov Chains*, 1960, ch. III; Grinstead & Snell, *Introduction to
Probability*, 1997, §11.2). ``B[i, j]`` is the probability that a user who said failed utterance
``i`` ends up succeeding with utterance ``j``.
"""

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..errors import ConfigError

GAVE_UP = ""
"""Name of the absorbing state "the user gave up" (no successful rephrase within the window)."""

ROW_SUM_TOL = 1e-9
"""Tolerance on the row sums of ``[Q R]`` (must be 1)."""


def fundamental_matrix(q: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Return ``N = (I - Q)^-1``, expected visits to each transient state.

    Parameters
    ----------
    q : ndarray, shape (t, t), float64
        Transitions among the transient states.

    Returns
    -------
    ndarray, shape (t, t), float64

    Raises
    ------
    ConfigError
        If ``q`` is not square or ``I - Q`` is singular (a closed set of transient states).
    """
    q = np.asarray(q, dtype=np.float64)
    if q.ndim != 2 or q.shape[0] != q.shape[1]:
        raise ConfigError(f"Q must be square, got shape {q.shape}")
    try:
        return np.asarray(np.linalg.inv(np.eye(q.shape[0]) - q), dtype=np.float64)
    except np.linalg.LinAlgError as err:
        raise ConfigError("I - Q is singular: some transient states never reach an absorbing state") from err


def absorption_probabilities(q: npt.NDArray[np.float64], r: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Return ``B = (I - Q)^-1 R``, the probability of ending in each absorbing state.

    Parameters
    ----------
    q : ndarray, shape (t, t), float64
        Transient-to-transient transition probabilities.
    r : ndarray, shape (t, a), float64
        Transient-to-absorbing transition probabilities; each row of ``[Q R]`` sums to 1.

    Returns
    -------
    ndarray, shape (t, a), float64
        Rows sum to 1.

    Raises
    ------
    ConfigError
        On mismatched shapes, negative entries, rows of ``[Q R]`` that do not sum to 1, or a
        singular ``I - Q``.
    """
    q = np.asarray(q, dtype=np.float64)
    r = np.asarray(r, dtype=np.float64)
    if r.ndim != 2 or q.ndim != 2 or r.shape[0] != q.shape[0]:
        raise ConfigError(f"Q {q.shape} and R {r.shape} must have the same number of rows")
    if (q < 0).any() or (r < 0).any():
        raise ConfigError("transition probabilities must be non-negative")
    row_sums = q.sum(axis=1) + r.sum(axis=1)
    if q.shape[0] and not np.allclose(row_sums, 1.0, atol=ROW_SUM_TOL):
        raise ConfigError(f"rows of [Q R] must sum to 1, got {row_sums.tolist()}")
    if q.shape[0] == 0:
        return np.zeros((0, r.shape[1]), dtype=np.float64)
    try:
        return np.asarray(np.linalg.solve(np.eye(q.shape[0]) - q, r), dtype=np.float64)
    except np.linalg.LinAlgError as err:
        raise ConfigError("I - Q is singular: some transient states never reach an absorbing state") from err


@dataclass(frozen=True, slots=True)
class RephraseSequence:
    """One rephrase episode: failed utterances in order, then the success (or None = gave up)."""

    failed: tuple[str, ...]
    success: str | None
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class RephraseChain:
    """An absorbing chain in canonical form, with state names and raw support counts.

    Attributes
    ----------
    transient : tuple of str
        Failed utterances (row/column order of ``q``).
    absorbing : tuple of str
        Successful utterances plus :data:`GAVE_UP` (column order of ``r``).
    q : ndarray, shape (t, t), float64
    r : ndarray, shape (t, a), float64
    support : ndarray, shape (t,), float64
        Weighted number of times each transient state was left.
    """

    transient: tuple[str, ...]
    absorbing: tuple[str, ...]
    q: npt.NDArray[np.float64]
    r: npt.NDArray[np.float64]
    support: npt.NDArray[np.float64]

    def absorption_probabilities(self) -> npt.NDArray[np.float64]:
        """``B = N R`` for this chain, shape (t, a)."""
        return absorption_probabilities(self.q, self.r)


def build_rephrase_chain(sequences: Iterable[RephraseSequence]) -> RephraseChain:
    """Count the transitions of rephrase sequences into an absorbing chain.

    Each failed utterance moves to the next failed one, the last failed one to the success
    (or to :data:`GAVE_UP`). A failed utterance repeated verbatim is a self-loop. Rows are
    normalised by their weighted counts.

    Parameters
    ----------
    sequences : iterable of RephraseSequence

    Returns
    -------
    RephraseChain
    """
    seqs = [s for s in sequences if s.failed and s.weight > 0]
    transient = tuple(dict.fromkeys(u for s in seqs for u in s.failed))
    absorbing = tuple(dict.fromkeys([*(s.success for s in seqs if s.success is not None), GAVE_UP]))
    t_index = {u: i for i, u in enumerate(transient)}
    a_index = {u: i for i, u in enumerate(absorbing)}
    counts_q = np.zeros((len(transient), len(transient)), dtype=np.float64)
    counts_r = np.zeros((len(transient), len(absorbing)), dtype=np.float64)
    for seq in seqs:
        for here, there in zip(seq.failed[:-1], seq.failed[1:], strict=True):
            counts_q[t_index[here], t_index[there]] += seq.weight
        end = seq.success if seq.success is not None else GAVE_UP
        counts_r[t_index[seq.failed[-1]], a_index[end]] += seq.weight
    support = counts_q.sum(axis=1) + counts_r.sum(axis=1)
    scale = np.where(support > 0, support, 1.0)[:, None]
    return RephraseChain(transient, absorbing, counts_q / scale, counts_r / scale, support)


def best_rewrites(
    chain: RephraseChain, *, min_probability: float, min_support: float
) -> dict[str, tuple[str, float, float]]:
    """Most likely successful rewrite of each failed utterance.

    Parameters
    ----------
    chain : RephraseChain
    min_probability : float
        Smallest absorption probability for an entry (the confidence threshold).
    min_support : float
        Smallest weighted count of episodes through the failed utterance.

    Returns
    -------
    dict
        ``failed utterance -> (successful utterance, absorption probability, support)``.
    """
    if not chain.transient:
        return {}
    b = chain.absorption_probabilities()
    success_cols = [j for j, name in enumerate(chain.absorbing) if name != GAVE_UP]
    table: dict[str, tuple[str, float, float]] = {}
    if not success_cols:
        return table
    sub = b[:, success_cols]
    for i, source in enumerate(chain.transient):
        j = int(np.argmax(sub[i]))
        p = float(sub[i, j])
        if p >= min_probability and chain.support[i] >= min_support:
            table[source] = (chain.absorbing[success_cols[j]], p, float(chain.support[i]))
    return table


__all__ = [
    "GAVE_UP",
    "RephraseChain",
    "RephraseSequence",
    "absorption_probabilities",
    "best_rewrites",
    "build_rephrase_chain",
    "fundamental_matrix",
]
