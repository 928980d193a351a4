"""Compare two builds of the warehouse on different engines, table by table, row by row.

Both sides are Arrow tables converted to pandas the same way, so types line up: counts and
dates must be equal, money (decimals) equal to the cent, floating-point numbers equal to a
relative 1e-9 (an absolute 1e-12 near zero). Rows are matched by sorting on every column
that is not a float; a difference names the table, the column and the first rows (by
customer_key when the table has one).
"""

from __future__ import annotations

import decimal
import math
from typing import Any

import pandas as pd
import pyarrow as pa

RELATIVE_TOLERANCE = 1e-9
ABSOLUTE_TOLERANCE = 1e-12
CENT = decimal.Decimal("0.005")
SHOWN_ROWS = 3


def is_float(column: pa.ChunkedArray) -> bool:
    return pa.types.is_floating(column.type)


def sort_key(value: Any) -> tuple[int, str]:
    return (0, "") if value is None or (isinstance(value, float) and math.isnan(value)) else (1, repr(value))


def sorted_rows(table: pa.Table, keys: list[str]) -> dict[str, list[Any]]:
    """The table's columns as Python lists (nulls and NaNs as None), rows sorted by keys."""
    frame = table.to_pandas(types_mapper=None, date_as_object=True)
    frame = frame.astype(object).where(frame.notna(), None)
    columns = {column: frame[column].tolist() for column in frame.columns}
    row_keys = list(zip(*(map(sort_key, columns[key]) for key in keys), strict=True)) if keys else []
    order = sorted(range(len(frame)), key=row_keys.__getitem__) if keys else list(range(len(frame)))
    return {column: [values[row] for row in order] for column, values in columns.items()}


def values_equal(left: Any, right: Any, floating: bool) -> bool:
    if left is None or right is None:
        return left is None and right is None
    if floating:
        return math.isclose(float(left), float(right), rel_tol=RELATIVE_TOLERANCE, abs_tol=ABSOLUTE_TOLERANCE)
    if isinstance(left, decimal.Decimal) or isinstance(right, decimal.Decimal):
        return abs(decimal.Decimal(str(left)) - decimal.Decimal(str(right))) < CENT
    if isinstance(left, pd.Timestamp) or isinstance(right, pd.Timestamp):
        return pd.Timestamp(left) == pd.Timestamp(right)
    return bool(left == right)


def table_differences(name: str, expected: pa.Table, actual: pa.Table) -> list[str]:
    """What differs between two versions of a table (empty when they are equal)."""
    expected_columns, actual_columns = set(expected.column_names), set(actual.column_names)
    if expected_columns != actual_columns:
        return [
            f"{name}: columns differ: only on the first engine {sorted(expected_columns - actual_columns)}, "
            f"only on the second {sorted(actual_columns - expected_columns)}"
        ]
    if expected.num_rows != actual.num_rows:
        return [f"{name}: {expected.num_rows} rows on the first engine, {actual.num_rows} on the second"]
    columns = expected.column_names
    floats = {column for column in columns if is_float(expected.column(column)) or is_float(actual.column(column))}
    keys = [column for column in columns if column not in floats]
    left, right = sorted_rows(expected, keys), sorted_rows(actual.select(columns), keys)
    problems = []
    for column in columns:
        floating = column in floats
        different = [
            row
            for row, (mine, theirs) in enumerate(zip(left[column], right[column], strict=True))
            if not values_equal(mine, theirs, floating)
        ]
        if different:
            label = "customer_key" if "customer_key" in columns else keys[0] if keys else column
            shown = "; ".join(
                f"{label}={left[label][row]}: {left[column][row]!r} against {right[column][row]!r}"
                for row in different[:SHOWN_ROWS]
            )
            problems.append(f"{name}.{column}: {len(different)} of {expected.num_rows} rows differ, first: {shown}")
    return problems
