"""The ``echo-sense`` command: the library's capabilities on files.

Each capability package that offers commands has a ``commands`` module with a
``register(subparsers)`` function; it adds its subcommands and sets ``func`` on each
parser (``func(args) -> int``). Only capabilities that exist are listed in ``--help``.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence

from . import __version__
from .errors import EchoSenseError

CAPABILITIES = ("room", "audio", "presence", "voice", "spatial", "intent")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="echo-sense",
        description="echo_sense's audio, sensing and voice processing on files.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(title="commands", dest="command", metavar="COMMAND")
    for capability in CAPABILITIES:
        name = f"{__package__}.{capability}.commands"
        if importlib.util.find_spec(f"{__package__}.{capability}") is None:
            continue
        if importlib.util.find_spec(name) is None:
            continue
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 0
    try:
        return int(args.func(args))
    except EchoSenseError as err:
        print(f"echo-sense {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
