"""The ``segments`` command line.

Each subcommand lives in its own module, which exposes ``add_arguments(parser)`` and
``run(args) -> int``. Modules are imported only when their subcommand runs, so
``segments --help`` stays fast and a heavy dependency of one command never slows another.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from segments import __version__
from segments.errors import CommandError

# subcommand name -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "check": (
        "segments.check",
        "run the Great Expectations suites on the built warehouse (read-only)",
    ),
    "generate": ("segments.generate", "write a synthetic raw folder that follows the contract"),
    "backfill": (
        "segments.backfill",
        "build the segment history for successive as-of dates",
    ),
    "load": ("segments.load", "validate a raw folder against the contract and load it"),
    "identity-eval": (
        "segments.identity_eval",
        "score identity resolution against the generator's ground truth",
    ),
    "publish": (
        "segments.publish",
        "copy the BI-facing marts atomically into the published file",
    ),
    "bench": (
        "segments.bench",
        "measure load, every dbt layer and the RFM baselines on tiers of generated data",
    ),
    "online-retail": (
        "segments.online_retail",
        "convert the UCI Online Retail data set into a raw folder",
    ),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="segments",
        description="Tooling for the customer-segmentation warehouse (dbt + DuckDB).",
    )
    parser.add_argument("--version", action="version", version=f"segments {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        subparser = subparsers.add_parser(name, help=help_text, description=help_text)
        subparser.set_defaults(module_name=module_name)
        module = importlib.import_module(module_name)
        module.add_arguments(subparser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    module = importlib.import_module(args.module_name)
    try:
        return int(module.run(args))
    except CommandError as error:
        print(f"segments {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
