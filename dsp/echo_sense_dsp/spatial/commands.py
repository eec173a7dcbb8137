"""``echo-sense spatialize``: render a stereo WAV to one channel per driver."""

from __future__ import annotations

import argparse

from ..wavio import read_wav, write_wav
from .design import DEFAULT_SWEET_SPOT, MODES, SWEET_SPOTS
from .layout import LAYOUTS, load_layout
from .renderer import render


def run_spatialize(args: argparse.Namespace) -> int:
    """Read IN (mono or stereo, any rate), render, write OUT with one channel per driver at IN's rate."""
    layout = load_layout(args.layout)
    audio = read_wav(args.input)
    samples = audio.samples
    if samples.shape[1] > 2:
        samples = samples[:, :2]
    out = render(
        samples,
        layout,
        mode=args.mode,
        sample_rate=audio.sample_rate,
        compensate_latency=True,
        sweet_spot=args.sweet_spot,
    )
    write_wav(args.output, out, audio.sample_rate)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``spatialize`` subcommand."""
    parser = subparsers.add_parser(
        "spatialize",
        help="render stereo audio to a device's drivers (one output channel per driver)",
        description=(
            "Render IN.wav to OUT.wav with one channel per driver, in the layout's order, at IN's "
            f"sample rate. --layout is a JSON file or a preset name ({', '.join(LAYOUTS)})."
        ),
    )
    parser.add_argument("input", metavar="IN.wav")
    parser.add_argument("output", metavar="OUT.wav")
    parser.add_argument("--layout", required=True, metavar="LAYOUT", help="layout JSON file or preset name")
    parser.add_argument("--mode", choices=MODES, default="spatial", help="spatial (default) or plain stereo")
    parser.add_argument(
        "--sweet-spot",
        choices=tuple(SWEET_SPOTS),
        default=DEFAULT_SWEET_SPOT,
        help=(
            "crosstalk canceller: zone (default: the seat, +/-10 cm, head turns and depth, a floor 30 cm off), "
            "most separation at the seat only, a wider zone, or mild for a whole room"
        ),
    )
    parser.set_defaults(func=run_spatialize)


__all__ = ["register", "run_spatialize"]
