"""``segments load --from DIR``: validate a raw folder against the contract and load it.

The load is all or nothing. Every file is validated first, in an in-memory DuckDB, without
opening the warehouse; only a folder with no contract violation is written, inside one
transaction that replaces every raw table. A refused load leaves the warehouse exactly as
it was (a warehouse file that did not exist is not created).

Row-level problems (null keys, malformed emails, negative totals, duplicates) are not
contract violations: those rows load as they are and staging quarantines them.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from segments.contract import (
    AMOUNT,
    BOOLEAN,
    DATE,
    FILE_EXTENSIONS,
    INTEGER,
    PRICE,
    RAW_LOADED_AT,
    RAW_ROW_ID,
    RAW_SOURCE_FILE,
    TABLES,
    TABLES_BY_NAME,
    TEXT,
    TIMESTAMP,
    Table,
)
from segments.errors import CommandError
from segments.warehouse import add_database_argument, resolve_database

RAW_SCHEMA = "raw"
TRUE_WORDS = ("true", "t", "1", "yes", "y")
FALSE_WORDS = ("false", "f", "0", "no", "n")


@dataclass(frozen=True)
class RawFile:
    """One contract table's file in the folder."""

    table: Table
    path: Path

    @property
    def view(self) -> str:
        return f"source_{self.table.name}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--from", dest="folder", type=Path, required=True, help="folder of raw files"
    )
    add_database_argument(parser)


def run(args: argparse.Namespace) -> int:
    database = resolve_database(args.database)
    row_counts = load_folder(args.folder, database)
    for table_name, rows in row_counts.items():
        print(f"{RAW_SCHEMA}.{table_name}: {rows:,} rows")
    print(f"loaded {args.folder} into {database}")
    return 0


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def find_files(folder: Path) -> tuple[list[RawFile], list[str]]:
    """The contract files in folder, and every naming violation found."""
    if not folder.exists():
        raise CommandError(f"folder {folder} does not exist")
    if not folder.is_dir():
        raise CommandError(f"{folder} is not a folder")
    problems: list[str] = []
    files: dict[str, RawFile] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        if path.is_dir():
            # A folder named after a table (a partitioned web_events/ or a Spark-style
            # web_events.parquet/) would otherwise load that table empty: refuse it. Other
            # folders (the generator's _truth/, notes) are ignored.
            stem = path.stem if path.suffix.lower() in FILE_EXTENSIONS else path.name
            if stem in TABLES_BY_NAME:
                problems.append(
                    f"{path.name}/: a folder named after table {stem}; folders are not read, "
                    f"give the table as one file {stem}.parquet or {stem}.csv"
                )
            continue
        table = TABLES_BY_NAME.get(path.stem)
        if path.suffix.lower() not in FILE_EXTENSIONS or table is None:
            problems.append(
                f"{path.name}: unknown file (expected <table>.parquet or <table>.csv for one of: "
                f"{', '.join(t.name for t in TABLES)})"
            )
            continue
        if table.name in files:
            problems.append(
                f"{path.name}: table {table.name} is already given by {files[table.name].path.name}"
            )
            continue
        files[table.name] = RawFile(table, path)
    for table in TABLES:
        if table.required and table.name not in files:
            problems.append(f"{table.name}.parquet or {table.name}.csv: required table is missing")
    return list(files.values()), problems


def contract_message(folder: Path, problems: list[str]) -> str:
    lines = "\n".join(f"  - {problem}" for problem in problems)
    return f"{folder} breaks the raw data contract; nothing was loaded:\n{lines}"


def register_source(connection: duckdb.DuckDBPyConnection, raw_file: RawFile) -> None:
    """A view over the file with its 1-based row position in column _file_row."""
    path = literal(str(raw_file.path))
    if raw_file.path.suffix.lower() == ".parquet":
        connection.execute(
            f"create view {raw_file.view} as select * exclude (file_row_number), "
            f"file_row_number + 1 as _file_row "
            f"from read_parquet({path}, file_row_number = true)"
        )
    else:
        # A table keeps insertion order, so rowid follows the file's row order.
        connection.execute(
            f"create temp table {raw_file.view}_text as "
            f"select * from read_csv({path}, header = true, all_varchar = true)"
        )
        connection.execute(
            f"create view {raw_file.view} as "
            f"select *, rowid + 1 as _file_row from {raw_file.view}_text"
        )


# Source types whose values are numbers; a numeric contract column accepts only these (or text).
INTEGER_SOURCE_TYPES = (
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
    "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT",
)
FLOAT_SOURCE_TYPES = ("FLOAT", "REAL", "DOUBLE")
# A binary float counts as exact when it is within this share of its own size of the
# decimal it is read as (about 4,500 float64 steps: room for the error of a few float
# additions, far below any digit a person would write) ...
FLOAT_RELATIVE_TOLERANCE = 1e-12
# ... and never more than this share of the column's smallest unit (0.01 for an amount).
FLOAT_SCALE_TOLERANCE = 1e-3


def numeric_scale(target_type: str) -> int:
    """Digits after the decimal point a numeric contract type holds exactly (0 for bigint)."""
    if target_type == INTEGER:
        return 0
    match = re.fullmatch(r"decimal\(\d+, *(\d+)\)", target_type)
    if match is None:
        raise ValueError(f"{target_type} is not a numeric contract type")
    return int(match.group(1))


def type_hint(target_type: str) -> str:
    """What a value of a contract type must look like, added to a contract error."""
    if target_type == INTEGER:
        return ", a whole number"
    if target_type in (AMOUNT, PRICE):
        return f", a number with at most {numeric_scale(target_type)} decimal places"
    if target_type == BOOLEAN:
        return f", one of {'/'.join(TRUE_WORDS)} or {'/'.join(FALSE_WORDS)}"
    if target_type == DATE:
        return ", a date without a time of day"
    return ""


def is_numeric_source(source_type: str) -> bool:
    return (
        source_type in INTEGER_SOURCE_TYPES
        or source_type in FLOAT_SOURCE_TYPES
        or source_type.startswith("DECIMAL")
    )


def exact_number(name: str, text: str, source_type: str, target_type: str) -> str:
    """SQL for a number read exactly as target_type; null where that would change the value.

    A cast alone rounds (1.5 -> 2 for bigint, 10.005 -> 10.01 for decimal(18, 2)), so
    the loader refuses instead: text must be a plain decimal numeral whose fractional
    digits beyond the type's scale are all zeros; an integer or decimal from Parquet must
    equal its cast, a float must lie within float representation error of it. Booleans,
    dates and every other type are never read as numbers.
    """
    if source_type == "VARCHAR":
        scale = numeric_scale(target_type)
        fraction = f"[0-9]{{0,{scale}}}0*" if scale else "0*"
        numeral = f"[+-]?([0-9]+(\\.{fraction})?|\\.{fraction})"
        return (
            f"case when regexp_full_match({text}, {literal(numeral)}) "
            f"and regexp_matches({text}, '[0-9]') "
            f"then try_cast({text} as {target_type}) end"
        )
    cast = f"try_cast({name} as {target_type})"
    if source_type in FLOAT_SOURCE_TYPES:
        # A binary float cannot hold most decimals (0.1 + 0.2 is 0.30000000000000004), so
        # it is exact when it lies within float representation error of its cast.
        scale = numeric_scale(target_type)
        tolerance = (
            f"least(greatest(abs({name}), 1) * {FLOAT_RELATIVE_TOLERANCE!r}, "
            f"{FLOAT_SCALE_TOLERANCE!r} / 10 ** {scale})"
        )
        return f"case when abs({name} - {cast}) <= {tolerance} then {cast} end"
    if is_numeric_source(source_type):
        return f"case when {cast} = {name} then {cast} end"
    return f"cast(null as {target_type})"


def conversion(column: str, source_type: str, target_type: str) -> str:
    """SQL turning a source column into its contract type; null where it cannot be read exactly."""
    name = quote(column)
    source_type = source_type.upper()
    is_text = source_type == "VARCHAR"
    text = f"nullif(trim({name}), '')" if is_text else name
    if target_type == TEXT:
        return f"cast({text} as varchar)"
    if target_type == TIMESTAMP:
        if source_type == "TIMESTAMP WITH TIME ZONE":
            return f"timezone('UTC', {name})"
        if source_type.startswith("TIMESTAMP") or source_type == "DATE":
            return f"cast({name} as timestamp)"
        return f"timezone('UTC', try_cast({text} as timestamptz))"
    if target_type == BOOLEAN:
        if is_text:
            lowered = f"lower({text})"
            return (
                f"case when {lowered} in ({', '.join(map(literal, TRUE_WORDS))}) then true "
                f"when {lowered} in ({', '.join(map(literal, FALSE_WORDS))}) then false end"
            )
        if source_type == "BOOLEAN":
            return name
        if is_numeric_source(source_type):
            return f"case when {name} = 1 then true when {name} = 0 then false end"
        return "cast(null as boolean)"
    if target_type == DATE:
        # A date column refuses a timestamp with a time of day rather than drop the time.
        if source_type == "DATE":
            return name
        if is_text:
            as_date, as_timestamp = f"try_cast({text} as date)", f"try_cast({text} as timestamp)"
            return (
                f"case when {as_timestamp} is null or {as_timestamp} = cast({as_date} as timestamp) "
                f"then {as_date} end"
            )
        if source_type.startswith("TIMESTAMP"):
            return (
                f"case when cast(cast({name} as date) as timestamp) = cast({name} as timestamp) "
                f"then cast({name} as date) end"
            )
        return "cast(null as date)"
    if target_type in (INTEGER, AMOUNT, PRICE):
        return exact_number(name, text, source_type, target_type)
    raise ValueError(f"no conversion for contract type {target_type}")


def presence(column: str, source_type: str) -> str:
    """SQL true where the source value is present (not null, not blank text)."""
    if source_type.upper() == "VARCHAR":
        return f"nullif(trim({quote(column)}), '') is not null"
    return f"{quote(column)} is not null"


def validate_file(
    connection: duckdb.DuckDBPyConnection, raw_file: RawFile
) -> tuple[list[str], str]:
    """Contract problems of one file, and the select that yields its typed rows."""
    name = raw_file.path.name
    try:
        register_source(connection, raw_file)
        described = connection.execute(f"describe {raw_file.view}").fetchall()
    except duckdb.Error as error:
        return [f"{name}: cannot be read ({str(error).splitlines()[0]})"], ""
    source_types = {row[0]: row[1] for row in described if row[0] != "_file_row"}
    problems = [
        f"{name}: column {column} is missing"
        for column in raw_file.table.column_names
        if column not in source_types
    ]
    extra = sorted(set(source_types) - set(raw_file.table.column_names))
    if extra:
        print(
            f"segments load: warning: {name}: columns not in the contract are ignored: "
            f"{', '.join(extra)}",
            file=sys.stderr,
        )
    if problems:
        return problems, ""
    expressions = {
        column: conversion(column, source_types[column], target_type)
        for column, target_type in raw_file.table.columns
    }
    failures = ", ".join(
        f"count(*) filter (where {presence(column, source_types[column])} "
        f"and {expressions[column]} is null)"
        for column in raw_file.table.column_names
    )
    counts = connection.execute(f"select {failures} from {raw_file.view}").fetchall()[0]
    for (column, target_type), failed in zip(raw_file.table.columns, counts):
        if failed:
            example = connection.execute(
                f"select _file_row, cast({quote(column)} as varchar) from {raw_file.view} "
                f"where {presence(column, source_types[column])} "
                f"and {expressions[column]} is null order by _file_row limit 1"
            ).fetchall()[0]
            problems.append(
                f"{name}: column {column}: {failed:,} value(s) cannot be read as "
                f"{target_type}{type_hint(target_type)} "
                f"(first at row {example[0]}: {example[1]!r})"
            )
    typed_columns = ",\n    ".join(
        f"{expressions[column]} as {quote(column)}" for column in raw_file.table.column_names
    )
    select = (
        f"select\n    {typed_columns},\n    _file_row as {RAW_ROW_ID},\n"
        f"    {literal(name)} as {RAW_SOURCE_FILE},\n"
        f"    $loaded_at::timestamp as {RAW_LOADED_AT}\nfrom {raw_file.view}"
    )
    return problems, select


def empty_select(table: Table) -> str:
    columns = ", ".join(
        f"cast(null as {column_type}) as {quote(column)}" for column, column_type in table.columns
    )
    return (
        f"select {columns}, cast(null as bigint) as {RAW_ROW_ID}, "
        f"cast(null as varchar) as {RAW_SOURCE_FILE}, "
        f"cast(null as timestamp) as {RAW_LOADED_AT} limit 0"
    )


def load_folder(folder: Path, database: Path) -> dict[str, int]:
    """Validate folder, then replace the warehouse's raw tables with it in one transaction."""
    found, problems = find_files(folder)
    files = {raw_file.table.name: raw_file for raw_file in found}
    connection = duckdb.connect(":memory:")
    connection.execute("set TimeZone = 'UTC'")
    selects: dict[str, str] = {}
    for table in TABLES:
        raw_file = files.get(table.name)
        if raw_file is None:
            selects[table.name] = empty_select(table)
            continue
        file_problems, select = validate_file(connection, raw_file)
        problems += file_problems
        selects[table.name] = select
    if problems:
        raise CommandError(contract_message(folder, problems))

    loaded_at = datetime.now(timezone.utc).replace(tzinfo=None)
    database.parent.mkdir(parents=True, exist_ok=True)
    try:
        connection.execute(f"attach {literal(str(database))} as warehouse")
    except duckdb.Error as error:
        raise CommandError(f"cannot open the warehouse {database}: {error}") from error
    row_counts: dict[str, int] = {}
    try:
        connection.execute("begin transaction")
        connection.execute(f"create schema if not exists warehouse.{RAW_SCHEMA}")
        for table in TABLES:
            connection.execute(
                f"create or replace table warehouse.{RAW_SCHEMA}.{table.name} as "
                f"{selects[table.name]}",
                {"loaded_at": loaded_at} if table.name in files else None,
            )
            counted = connection.execute(
                f"select count(*) from warehouse.{RAW_SCHEMA}.{table.name}"
            ).fetchall()
            row_counts[table.name] = int(counted[0][0])
        manifest_rows = ", ".join(
            f"({literal(table.name)}, "
            f"{literal(files[table.name].path.name) if table.name in files else 'null'}, "
            f"{row_counts[table.name]}, $loaded_at::timestamp)"
            for table in TABLES
        )
        connection.execute(
            f"create or replace table warehouse.{RAW_SCHEMA}.load_manifest as "
            f"select * from (values {manifest_rows}) "
            f"as manifest(table_name, source_file, row_count, loaded_at)",
            {"loaded_at": loaded_at},
        )
        connection.execute("commit")
    except BaseException as error:
        connection.execute("rollback")
        if isinstance(error, duckdb.Error):
            raise CommandError(f"loading into {database} failed, nothing changed: {error}") from error
        raise
    finally:
        connection.close()
    return row_counts
