"""The DuckDB connection that turns the numeric arrays into text columns and files."""

from __future__ import annotations

from collections.abc import Mapping

import duckdb
import numpy as np
import pyarrow as pa

from segments.generation.parameters import DUCKDB_MEMORY_LIMIT
from segments.generation.settings import Array


def connect(spill_directory: str, start_epoch: int) -> duckdb.DuckDBPyConnection:
    """An in-memory connection in UTC, insertion order kept, memory capped (DuckDB spills
    sorts and joins to ``spill_directory`` beyond the cap), with the ``at_second`` macro:
    seconds since the start of history to a timestamp."""
    connection = duckdb.connect(":memory:")
    connection.execute("set TimeZone = 'UTC'")
    connection.execute("set preserve_insertion_order = true")
    connection.execute(f"set memory_limit = '{DUCKDB_MEMORY_LIMIT}'")
    connection.execute(f"set temp_directory = '{spill_directory}'")
    connection.execute(
        f"create macro at_second(seconds) as make_timestamp(({start_epoch} + seconds) * 1000000::bigint)"
    )
    return connection


def register(connection: duckdb.DuckDBPyConnection, name: str, columns: Mapping[str, Array]) -> None:
    """Expose numpy columns to SQL as the view ``name``."""
    connection.register(name, pa.table({key: np.asarray(value) for key, value in columns.items()}))
