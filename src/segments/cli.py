"""The ``segments`` command line.

Each subcommand lives in its own module, which exposes ``add_arguments(parser)`` and
``run(args) -> int``. Only the chosen subcommand's module is imported (the first argument
that is not an option names it), so ``segments --help`` and a mistyped command import no
heavy dependency (duckdb, numpy, pandas, great_expectations) and one command's
dependencies never slow another.

Every failure a user can act on is one line on stderr and exit code 2: a CommandError,
and, as a last resort, any DuckDB error or OSError (a locked file, a full disk, a missing
folder) that a command did not turn into one. SEGMENTS_DEBUG=1 shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import os
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
    "split-deliveries": (
        "segments.deliveries",
        "split a raw folder into daily deliveries (history, then one folder per day, late rows included)",
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
    "report": (
        "segments.report",
        "render the published marts as one self-contained HTML report (opens offline)",
    ),
    "export": (
        "segments.export",
        "write privacy-safe segment audiences (hashed match keys, holdouts excluded) and their changes",
    ),
    "bench": (
        "segments.bench",
        "measure load, every dbt layer and the RFM baselines on tiers of generated data",
    ),
    "diff": (
        "segments.diff",
        "build the segments of the working tree and of a git ref on the same data and report what moved",
    ),
    "dbt": (
        "segments.spark_python",
        "run dbt (same arguments); on the spark target Python models run in the Spark session",
    ),
    "online-retail": (
        "segments.online_retail",
        "convert the UCI Online Retail data set into a raw folder",
    ),
}


def chosen_command(argv: Sequence[str]) -> str | None:
    """The subcommand argv names (its first argument that is not an option), if any."""
    for argument in argv:
        if not argument.startswith("-"):
            return argument if argument in SUBCOMMANDS else None
    return None


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser; only the subcommand argv names gets its module imported for its options."""
    chosen = chosen_command(argv)
    parser = argparse.ArgumentParser(
        prog="segments",
        description="Tooling for the customer-segmentation warehouse (dbt + DuckDB).",
    )
    parser.add_argument("--version", action="version", version=f"segments {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        subparser = subparsers.add_parser(name, help=help_text, description=help_text)
        subparser.set_defaults(module_name=module_name)
        if name == chosen:
            importlib.import_module(module_name).add_arguments(subparser)
    return parser


def is_expected_failure(error: BaseException) -> bool:
    """A failure of the environment (file, lock, disk, database), not a bug in the tool."""
    duckdb = sys.modules.get("duckdb")  # never imported here: loaded only if a command used it
    return isinstance(error, OSError) or (duckdb is not None and isinstance(error, duckdb.Error))


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(arguments).parse_args(arguments)
    module = importlib.import_module(args.module_name)
    try:
        return int(module.run(args))
    except CommandError as error:
        print(f"segments {args.command}: error: {error}", file=sys.stderr)
        return 2
    except Exception as error:
        if not is_expected_failure(error) or os.environ.get("SEGMENTS_DEBUG") == "1":
            raise
        message = " ".join(str(error).split()) or type(error).__name__
        print(f"segments {args.command}: error: {message} (SEGMENTS_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
