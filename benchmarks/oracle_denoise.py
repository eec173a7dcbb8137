"""What the denoiser's design can reach: oracle band gains (and comb strengths) through the runtime.

The network's outputs are replaced by the training targets computed from the clean reference
(``models/denoiser/dataset.py: features_and_targets``, the ideal band gains ``sqrt(E_clean /
E_noisy)`` and the comb strengths that match the clean band's pitch coherence); everything
else is the shipped runtime (features, ERB bands, pitch mix, post-filter, synthesis). The gap
between the "network" and "oracle" rows is what better training can win; the oracle row itself
is the ceiling of 32 ERB band gains at 16 kHz.

Run (the bench venv, see bench_denoise.py)::

    ~/.cache/echo_sense/venv-bench/bin/python benchmarks/oracle_denoise.py

Same tuning subset as ``tune_denoise.py`` (24 mixtures of ``validation_mixtures(seed=999)``).
Prints one markdown table and asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
from tune_denoise import score_mixtures

from echo_sense_dsp.voice import Denoiser, DenoiserSettings

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "models" / "denoiser"))
import dataset  # noqa: E402  (models/denoiser/dataset.py: the split, the mixer, the oracle targets)


class OracleDenoiser(Denoiser):
    """The runtime with the network's step replaced by the oracle targets of the current signal."""

    def __init__(self, settings: DenoiserSettings, noisy: np.ndarray, clean: np.ndarray) -> None:
        super().__init__(settings)
        self._oracle_features, gains, strengths = dataset.features_and_targets(noisy, clean)
        self._oracle_gains = np.where(gains < 0, 0.0, gains).astype(np.float32)
        self._oracle_strengths = np.where(strengths < 0, 0.0, strengths).astype(np.float32)
        self._cursor = 0

    def compute_network(self) -> None:
        # the step sees frames t-2..t and answers for t-1; find t among the oracle's frames
        newest = self._features[0, -1]
        window = self._oracle_features[self._cursor : self._cursor + 64]
        if not len(window):
            self._gains.fill(1.0)
            self._comb_strengths.fill(0.0)
            return
        t = self._cursor + int(np.argmin(np.abs(window - newest).sum(axis=1)))
        self._cursor = t
        self._gains[:] = self._oracle_gains[max(t - 1, 0)]
        self._comb_strengths[0] = self._oracle_strengths[max(t - 1, 0)] * self._comb_scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=24, help="mixtures with speech")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    mixtures = [m for m in dataset.validation_mixtures(2 * args.count, seed=999) if np.isfinite(m.snr_db)]
    mixtures = mixtures[: args.count]
    rows = {
        "network (shipped), defaults": (False, DenoiserSettings()),
        "oracle gains, no post-filter": (True, DenoiserSettings(postfilter=False)),
        "oracle gains, post-filter": (True, DenoiserSettings()),
        "oracle gains + oracle comb strengths, no post-filter": (
            True,
            DenoiserSettings(postfilter=False, comb_strength_scale=1.0),
        ),
    }
    print("| gains | PESQ-WB | STOI | SI-SDR | SI-SDR hi | SIG | BAK | OVRL |")
    print("|---|---|---|---|---|---|---|---|")
    for label, (oracle, settings) in rows.items():
        shipped = Denoiser(settings)

        def run(
            m: dataset.Mixture,
            oracle: bool = oracle,
            settings: DenoiserSettings = settings,
            shipped: Denoiser = shipped,
        ) -> np.ndarray:
            denoiser = OracleDenoiser(settings, m.noisy, m.clean) if oracle else shipped
            return denoiser.process(m.noisy)

        s, hi = score_mixtures(run, mixtures, label)
        print(
            f"| {label} | {s['pesq_wb']:.3f} | {s['stoi']:.3f} | {s['si_sdr_db']:.2f} | {hi:.2f} "
            f"| {s['sig']:.3f} | {s['bak']:.3f} | {s['ovrl']:.3f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
