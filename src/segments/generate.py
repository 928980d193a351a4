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

``--deliveries daily`` writes the same rows as a feed instead (``segments.deliveries``):
``OUT/<first day - 1>/`` holds the history, then one folder per day of the last
``--delivery-days`` days, with a share of rows arriving up to ``--max-late-days`` late;
the ground truth goes to ``OUT/_truth/``.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from datetime import date, timedelta
from pathlib import Path

from segments.deliveries import DEFAULT_LATE_SHARE, DEFAULT_MAX_LATE_DAYS, check_lateness, split_daily
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
    parser.add_argument(
        "--deliveries",
        choices=("single", "daily"),
        default="single",
        help="single: one raw folder (default); daily: a feed, OUT/<day>/ per delivery, the history "
        "first, then one folder per day of the last --delivery-days days (Parquet only)",
    )
    parser.add_argument(
        "--delivery-days",
        type=int,
        default=7,
        help="with --deliveries daily: the last days delivered one folder each (default %(default)s)",
    )
    parser.add_argument(
        "--late-share",
        type=float,
        default=DEFAULT_LATE_SHARE,
        help="with --deliveries daily: share of rows that arrive late (default %(default)s)",
    )
    parser.add_argument(
        "--max-late-days",
        type=int,
        default=DEFAULT_MAX_LATE_DAYS,
        help="with --deliveries daily: most days a late row arrives after (default %(default)s)",
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
    if args.deliveries == "daily":
        check_daily_arguments(args)
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
    if args.deliveries == "daily":
        return generate_feed(settings, args.out, args.delivery_days, args.late_share, args.max_late_days)
    counts = generate(settings, args.out, args.format)
    for table_name, rows in counts.items():
        print(f"{table_name}: {rows:,} rows")
    return 0


def check_daily_arguments(args: argparse.Namespace) -> None:
    if args.format != "parquet":
        raise CommandError("--deliveries daily writes Parquet only: drop --format csv")
    if not 1 <= args.delivery_days < args.days:
        raise CommandError("--delivery-days must be at least 1 and less than --days")
    check_lateness(args.late_share, args.max_late_days)


def generate_feed(settings: Settings, out: Path, delivery_days: int, late_share: float, max_late_days: int) -> int:
    """The generator's rows as a feed under OUT: the history, then one folder per day."""
    out.mkdir(parents=True, exist_ok=True)
    since = settings.end_date - timedelta(days=delivery_days - 1)
    with tempfile.TemporaryDirectory(prefix=".generated-", dir=out) as scratch:
        generated = Path(scratch)
        generate(settings, generated, "parquet")
        folders = split_daily(generated, out, since, settings.end_date, late_share, max_late_days)
        truth = out / "_truth"
        shutil.rmtree(truth, ignore_errors=True)
        shutil.move(generated / "_truth", truth)
    for folder, rows in folders.items():
        print(f"{folder}: {sum(rows.values()):,} rows")
    return 0
