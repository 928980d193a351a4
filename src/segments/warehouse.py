"""Where the warehouse lives, shared by every command that opens it."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

DATABASE_ENVIRONMENT_VARIABLE = "SEGMENTS_DUCKDB_PATH"
DEFAULT_DATABASE = "warehouse.duckdb"


def add_database_argument(parser: argparse.ArgumentParser) -> None:
    """The ``--database`` option every command that opens the warehouse takes."""
    parser.add_argument(
        "--database",
        type=Path,
        default=None,
        help=f"DuckDB warehouse file (default: ${DATABASE_ENVIRONMENT_VARIABLE}, "
        f"else {DEFAULT_DATABASE} in the current directory)",
    )


def resolve_database(database: Path | None) -> Path:
    """The --database option, else $SEGMENTS_DUCKDB_PATH, else ./warehouse.duckdb."""
    if database is not None:
        return database
    return Path(os.environ.get(DATABASE_ENVIRONMENT_VARIABLE) or DEFAULT_DATABASE)
