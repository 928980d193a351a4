"""generate(): simulate the customers block by block, assemble and write them chunk by chunk."""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import duckdb
import numpy as np

from segments.generation import parameters as p
from segments.generation.accounts import create_account_tables
from segments.generation.app import create_app_tables
from segments.generation.blocks import Counters, Simulated, chunks, simulate_chunk
from segments.generation.duck import connect
from segments.generation.email import create_email_tables
from segments.generation.erasures import create_erasure_tables
from segments.generation.orders import create_order_tables
from segments.generation.people import create_person_identity
from segments.generation.settings import Settings, day_weights
from segments.generation.web import create_web_tables
from segments.generation.write import RawWriter


class Progress:
    """One line per stage on stderr with the elapsed time."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self, message: str) -> None:
        print(f"[{time.monotonic() - self.started:7.1f}s] {message}", file=sys.stderr, flush=True)


def assemble(connection: duckdb.DuckDBPyConnection, settings: Settings, chunk: Simulated, first: Counters) -> None:
    """The chunk's clean tables (text columns, global ids) in the connection."""
    create_person_identity(connection, chunk.people)
    birth_anchor = settings.end_date - timedelta(days=p.BIRTH_ANCHOR_DAYS_BEFORE_END)
    create_account_tables(connection, chunk.accounts, chunk.details, birth_anchor, (first.accounts, first.versions))
    create_order_tables(connection, chunk.orders, chunk.lines, first.orders, first.lines)
    create_web_tables(connection, chunk.web, (first.cookies, first.web_sessions, first.web_events))
    create_app_tables(connection, chunk.app, (first.devices, first.app_sessions, first.app_events))
    create_email_tables(connection, chunk.email, first.email_events)
    first_day = settings.end_date - timedelta(days=p.ERASURE_START_DAYS_BEFORE_END)
    create_erasure_tables(connection, chunk.erasures, first_day, first.requests)


def generate(settings: Settings, out: Path, file_format: str = "parquet") -> dict[str, int]:
    """Write the raw folder and its ground truth; return the row count of every table."""
    progress = Progress()
    cumulative = np.cumsum(day_weights(settings))
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".segments_generate_", dir=out))
    spill_directory = str(staging / "spill")
    try:
        writer = RawWriter(out, staging, file_format, settings.days * p.SECONDS_PER_DAY)
        first = Counters()
        work = chunks(settings)
        for number, blocks in enumerate(work, start=1):
            chunk, after = simulate_chunk(settings, cumulative, blocks, first)
            connection = connect(spill_directory, settings.start_epoch)
            assemble(connection, settings, chunk, first)
            writer.write_chunk(connection, chunk.flags, first)
            connection.close()
            del chunk
            first = after
            progress(
                f"chunk {number}/{len(work)}: {first.people:,} customers, {first.orders:,} orders, "
                f"{first.web_events + first.app_events + first.email_events:,} events"
            )
        counts = writer.finish(spill_directory, settings.start_epoch, progress)
        progress(f"ground truth written to {out / '_truth'}")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return counts
