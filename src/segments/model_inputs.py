"""What the dbt Python models read and return, the same on DuckDB and on Spark.

The predictive pipeline and segment_lift compute in DuckDB SQL and pandas. On DuckDB they run
on dbt-duckdb's own connection, reading each ref as a subquery. On Spark (dbt-spark's session,
see segments.spark_python) each ref is read once as Arrow into an in-memory DuckDB, the same
code runs there, and the result becomes a Spark DataFrame through Arrow, so both engines run
one implementation with the same types (docs/spark.md says what this costs at scale).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import pandas as pd


def is_spark(session: Any) -> bool:
    return type(session).__module__.startswith("pyspark")


def duckdb_refs(session: Any, refs: Mapping[str, Any]) -> tuple[duckdb.DuckDBPyConnection, dict[str, str]]:
    """A DuckDB connection and, per name of refs (name -> dbt.ref(name): dbt finds a Python
    model's refs only in literal dbt.ref calls), the SQL relation that reads it there."""
    if not is_spark(session):
        return session, {name: f"({relation.sql_query()})" for name, relation in refs.items()}
    connection = duckdb.connect()
    connection.execute("set TimeZone = 'UTC'")
    for name, relation in refs.items():
        connection.register(name, relation.toArrow())
    return connection, {name: name for name in refs}


def ref_frame(session: Any, relation: Any) -> pd.DataFrame:
    """A ref (dbt.ref(name)) as a pandas DataFrame."""
    frame: pd.DataFrame = (
        relation.toArrow().to_pandas() if is_spark(session) else session.execute(relation.sql_query()).df()
    )
    return frame


def model_result(session: Any, frame: pd.DataFrame, column_types: Sequence[tuple[str, str]] | None = None) -> Any:
    """The model's table: frame, cast to column_types (name, DuckDB type) when given, as the
    engine's own relation."""
    connection = duckdb.connect() if is_spark(session) else session
    relation = connection.from_df(frame)
    if column_types:
        relation = relation.project(
            ", ".join(f"cast({name} as {sql_type}) as {name}" for name, sql_type in column_types)
        )
    if not is_spark(session):
        return relation if column_types else frame
    return session.createDataFrame(relation.to_arrow_table())
