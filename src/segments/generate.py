"""``segments generate``: a deterministic, realistic synthetic raw folder.

Randomness is drawn vectorised (no Python loop over people or events) per block of 1,000
customers, from numpy generators seeded by (``--seed``, stage, block). Blocks are simulated,
assembled (DuckDB builds the text columns) and written in chunks of ``--chunk-customers``,
so memory is bounded whatever ``--customers``, and the same arguments give byte-identical
files whatever the chunk size.

The simulation lives in ``segments.generation`` (one module per entity); every rate and
shape parameter is a named constant in ``segments.generation.parameters``, documented in
docs/generator.md.
The generator also writes ground truth under ``DIR/_truth/`` (the loader ignores
subdirectories): ``identifiers.parquet`` maps every identifier to its true person and
``defects.parquet`` lists every deliberately bad row by table and file position.
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from segments.errors import CommandError
from segments.generation.parameters import CUSTOMERS_PER_BLOCK, DEFAULT_CHUNK_CUSTOMERS, DEFECT_RATES
from segments.generation.pipeline import generate
from segments.generation.plant import DEFAULT_HOLDOUT_SALT, DEFAULT_HOLDOUT_SHARE, parse_plant
from segments.generation.settings import Settings

__all__ = ["DEFECT_RATES", "Settings", "add_arguments", "generate", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--customers", type=int, required=True, help="number of people")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument(
        "--end-date",
        type=date.fromisoformat,
        default=date(2026, 6, 30),
        help="last day of history (default 2026-06-30)",
    )
    parser.add_argument("--days", type=int, default=730, help="days of history (default 730)")
    parser.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    parser.add_argument(
        "--shift-date",
        type=date.fromisoformat,
        default=None,
        help="from this date on, multiply every purchase rate by --shift-purchase-factor",
    )
    parser.add_argument("--shift-purchase-factor", type=float, default=1.0)
    parser.add_argument(
        "--plant-lift",
        default=None,
        metavar="FAMILY/SEGMENT:DATE:UPLIFT",
        help="plant a campaign effect: exported customers of the segment order once more with "
        "probability UPLIFT in the 30 days after DATE (e.g. lifecycle/active:2026-04-01:0.05)",
    )
    parser.add_argument(
        "--plant-holdout-share",
        type=float,
        default=DEFAULT_HOLDOUT_SHARE,
        help="the warehouse's var activation_holdout_share (default %(default)s)",
    )
    parser.add_argument(
        "--plant-holdout-salt",
        default=DEFAULT_HOLDOUT_SALT,
        help="the warehouse's var activation_holdout_salt (default %(default)s)",
    )
    parser.add_argument(
        "--chunk-customers",
        type=int,
        default=DEFAULT_CHUNK_CUSTOMERS,
        help=f"customers generated and written at a time, rounded up to blocks of {CUSTOMERS_PER_BLOCK:,}; "
        f"the files do not depend on it, peak memory does (default {DEFAULT_CHUNK_CUSTOMERS:,})",
    )


def run(args: argparse.Namespace) -> int:
    if args.customers < 1:
        raise CommandError("--customers must be at least 1")
    if args.seed < 0:
        raise CommandError("--seed must not be negative")
    if args.days < 30:
        raise CommandError("--days must be at least 30")
    if not 0 <= args.shift_purchase_factor <= 1:
        raise CommandError("--shift-purchase-factor must lie between 0 and 1")
    try:
        plant = (
            None
            if args.plant_lift is None
            else parse_plant(args.plant_lift, args.plant_holdout_share, args.plant_holdout_salt)
        )
    except ValueError as error:
        raise CommandError(str(error)) from error
    if args.chunk_customers < 1:
        raise CommandError("--chunk-customers must be at least 1")
    settings = Settings(
        args.customers,
        args.seed,
        args.end_date,
        args.days,
        args.shift_date,
        args.shift_purchase_factor,
        plant,
        args.chunk_customers,
    )
    counts = generate(settings, args.out, args.format)
    for table_name, rows in counts.items():
        print(f"{table_name}: {rows:,} rows")
    return 0
