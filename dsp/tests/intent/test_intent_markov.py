"""Absorbing Markov chain: hand-checked solutions and chains built from rephrase episodes."""

import numpy as np
import pytest

from echo_sense_dsp.errors import ConfigError
from echo_sense_dsp.intent import (
    GAVE_UP,
    RephraseSequence,
    absorption_probabilities,
    best_rewrites,
    build_rephrase_chain,
    fundamental_matrix,
)

PROB_TOL = 1e-12  # absolute tolerance on probabilities (exact rational answers)


def test_absorption_probabilities_match_hand_solved_two_state_chain() -> None:
    # A -> B 1/2, A -> S1 1/2; B -> A 1/4, B -> S2 1/2, B -> gave up 1/4.
    # (I - Q) = [[1, -1/2], [-1/4, 1]], det 7/8, N = [[8/7, 4/7], [2/7, 8/7]], B = N R.
    q = np.array([[0.0, 0.5], [0.25, 0.0]])
    r = np.array([[0.5, 0.0, 0.0], [0.0, 0.5, 0.25]])
    np.testing.assert_allclose(fundamental_matrix(q), [[8 / 7, 4 / 7], [2 / 7, 8 / 7]], atol=PROB_TOL)
    np.testing.assert_allclose(
        absorption_probabilities(q, r), [[4 / 7, 2 / 7, 1 / 7], [1 / 7, 4 / 7, 2 / 7]], atol=PROB_TOL
    )


def test_drunkards_walk_absorption_matches_grinstead_and_snell() -> None:
    # Grinstead & Snell, Example 11.15: walk on 0..4, p = 1/2; from 1 it ends at 0 w.p. 3/4.
    q = np.array([[0, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0]])
    r = np.array([[0.5, 0], [0, 0], [0, 0.5]])
    np.testing.assert_allclose(
        absorption_probabilities(q, r), [[3 / 4, 1 / 4], [1 / 2, 1 / 2], [1 / 4, 3 / 4]], atol=PROB_TOL
    )


def test_chain_from_episodes_counts_transitions_and_picks_most_likely_success() -> None:
    episodes = [
        RephraseSequence(("nuke the lights",), "turn off the lights"),
        RephraseSequence(("nuke the lights", "lights go dark"), "turn off the lights"),
        RephraseSequence(("nuke the lights",), None),
        RephraseSequence(("lights go dark",), "turn off the kitchen light"),
    ]
    chain = build_rephrase_chain(episodes)
    assert set(chain.transient) == {"nuke the lights", "lights go dark"}
    assert GAVE_UP in chain.absorbing
    b = dict(
        zip(chain.absorbing, chain.absorption_probabilities()[chain.transient.index("nuke the lights")], strict=True)
    )
    # nuke: 1/3 direct success, 1/3 -> "lights go dark" (then 1/2 each success), 1/3 gave up.
    assert b["turn off the lights"] == pytest.approx(1 / 3 + 1 / 6, abs=PROB_TOL)
    assert b["turn off the kitchen light"] == pytest.approx(1 / 6, abs=PROB_TOL)
    assert b[GAVE_UP] == pytest.approx(1 / 3, abs=PROB_TOL)
    table = best_rewrites(chain, min_probability=0.4, min_support=2)
    assert table["nuke the lights"][0] == "turn off the lights"
    assert "lights go dark" in table  # 1/2 >= 0.4, support 2
    assert best_rewrites(chain, min_probability=0.6, min_support=2) == {}


def test_bad_transition_matrices_are_rejected_with_clear_errors() -> None:
    with pytest.raises(ConfigError, match="sum to 1"):
        absorption_probabilities(np.array([[0.5]]), np.array([[0.1]]))
    with pytest.raises(ConfigError, match="same number of rows"):
        absorption_probabilities(np.zeros((2, 2)), np.ones((3, 1)))
    with pytest.raises(ConfigError, match="singular"):
        absorption_probabilities(np.array([[1.0]]), np.array([[0.0]]))
