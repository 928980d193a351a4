"""``segments load --from DIR [--append]``: validate a raw folder against the contract and load it.

The load is all or nothing. Every file is validated first, in an in-memory DuckDB, without
opening the warehouse; only a folder with no contract violation is written, inside one
transaction that replaces every raw table (plain load) or appends the folder's tables to
them (``--append``: one delivery of a daily feed, any subset of the tables). A refused
load leaves the warehouse exactly as it was (a warehouse file that did not exist is not
created).

Every load is one delivery: its id is a SHA-256 of the files' content (per table), every
row carries it (``_delivery_id``) with its load time, and ``raw.deliveries`` records it
(one row per delivery and file: load time, file, SHA-256, rows). A plain load replaces the
deliveries with its own; an appended delivery whose id is already recorded (the same
files again) is refused, so no delivery is ever loaded twice.

Row-level problems (null keys, malformed emails, negative totals, duplicates) are not
contract violations: those rows load as they are and staging quarantines them.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from segments.contract import (
    AMOUNT,
    BOOLEAN,
    DATE,
    FILE_EXTENSIONS,
    INTEGER,
    LINEAGE_COLUMNS,
    PRICE,
    RAW_DELIVERY_ID,
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
from segments.sources import (
    ROW_COLUMN,
    file_kind_problem,
    first_line,
    literal,
    quote,
    read_csv,
    read_parquet,
    read_problem,
)
from segments.warehouse import add_database_argument, resolve_database

RAW_SCHEMA = "raw"
DELIVERIES_TABLE = "deliveries"
# The warehouse's customer key secret (macro identifier_key): restricted, never published.
SECRET_SCHEMA = "restricted"
SECRET_TABLE = "customer_key_secret"
TRUE_WORDS = ("true", "t", "1", "yes", "y")
FALSE_WORDS = ("false", "f", "0", "no", "n")


@dataclass(frozen=True)
class RawFile:
    """One contract table's file in the folder."""

    table: Table
    path: Path
    # (device, inode, size, modification time) when the folder was listed, before any read:
    # a Parquet file is read again by the insert, so a file changed meanwhile is refused
    fingerprint: tuple[int, int, int, int] | None = None

    @property
    def view(self) -> str:
        return f"source_{self.table.name}"


def file_fingerprint(path: Path) -> tuple[int, int, int, int] | None:
    try:
        status = path.stat()
    except OSError:
        return None  # unreadable: the checks say so
    return (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)


def check_unchanged(files: dict[str, RawFile]) -> None:
    """Refuse the load when a file changed after the folder was listed (its rows were checked
    and inserted by separate reads)."""
    for raw_file in files.values():
        if file_fingerprint(raw_file.path) != raw_file.fingerprint:
            raise CommandError(f"{raw_file.path.name} changed while it was being loaded; nothing was loaded")


@dataclass(frozen=True)
class Delivery:
    """What one load adds: its content id, load time, and the row id offset of each table."""

    delivery_id: str
    loaded_at: datetime
    file_hashes: dict[str, str]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="folder", type=Path, required=True, help="folder of raw files")
    parser.add_argument(
        "--append",
        action="store_true",
        help="add the folder as one more delivery (any subset of the tables) instead of replacing the raw tables",
    )
    add_database_argument(parser)


def run(args: argparse.Namespace) -> int:
    from segments.spark_load import is_spark_target, load_folder_spark, spark_dir

    spark = is_spark_target()
    database = resolve_database(args.database)
    destination = f"Spark at {spark_dir()}" if spark else str(database)
    try:
        if spark:
            delivery_id, row_counts = load_folder_spark(args.folder, append=args.append)
        else:
            delivery_id, row_counts = load_folder(args.folder, database, append=args.append)
    except (duckdb.Error, OSError) as error:
        raise CommandError(f"loading {args.folder} failed: {first_line(error)}") from error
    for table_name, rows in row_counts.items():
        print(f"{RAW_SCHEMA}.{table_name}: {rows:,} rows{' added' if args.append else ''}")
    print(f"{'appended' if args.append else 'loaded'} {args.folder} into {destination} as delivery {delivery_id[:16]}")
    return 0


def file_sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def new_delivery(files: dict[str, RawFile]) -> Delivery:
    """The delivery a folder's files make: its id is a SHA-256 over each table's name and the
    SHA-256 of its file's bytes, so the same files give the same id wherever they lie."""
    import hashlib

    hashes = {name: file_sha256(files[name].path) for name in sorted(files)}
    content = "".join(f"{name}\t{digest}\n" for name, digest in hashes.items())
    return Delivery(
        delivery_id=hashlib.sha256(content.encode()).hexdigest(),
        loaded_at=datetime.now(UTC).replace(tzinfo=None),
        file_hashes=hashes,
    )


def find_files(folder: Path, required: bool = True) -> tuple[list[RawFile], list[str]]:
    """The contract files in folder, and every naming violation found (a required table
    missing too, unless not required: an appended delivery may hold any tables, not none)."""
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
        kind_problem = file_kind_problem(path)
        if kind_problem is not None:
            problems.append(f"{path.name}: {kind_problem}")
            continue
        if table.name in files:
            problems.append(f"{path.name}: table {table.name} is already given by {files[table.name].path.name}")
            continue
        files[table.name] = RawFile(table, path, file_fingerprint(path))
    for table in TABLES:
        if required and table.required and table.name not in files:
            problems.append(f"{table.name}.parquet or {table.name}.csv: required table is missing")
    if not required and not files and not problems:
        problems.append("no table file: a delivery holds at least one <table>.parquet or <table>.csv")
    return list(files.values()), problems


def contract_message(folder: Path, problems: list[str]) -> str:
    lines = "\n".join(f"  - {problem}" for problem in problems)
    return f"{folder} breaks the raw data contract; nothing was loaded:\n{lines}"


def register_source(connection: duckdb.DuckDBPyConnection, raw_file: RawFile) -> tuple[list[str], list[str]]:
    """The file's contract columns as table raw_file.view, with its row number in ROW_COLUMN.

    Returns the file's contract problems and the names of its ignored extra columns.
    """
    read = read_parquet if raw_file.path.suffix.lower() == ".parquet" else read_csv
    return read(connection, raw_file.path, raw_file.view, raw_file.table.column_names)


# Source types whose values are numbers; a numeric contract column accepts only these (or text).
INTEGER_SOURCE_TYPES = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
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
    return source_type in INTEGER_SOURCE_TYPES or source_type in FLOAT_SOURCE_TYPES or source_type.startswith("DECIMAL")


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
            f"least(greatest(abs({name}), 1) * {FLOAT_RELATIVE_TOLERANCE!r}, {FLOAT_SCALE_TOLERANCE!r} / 10 ** {scale})"
        )
        return f"case when abs({name} - {cast}) <= {tolerance} then {cast} end"
    if is_numeric_source(source_type):
        return f"case when {cast} = {name} then {cast} end"
    return f"cast(null as {target_type})"


# Text a timestamp or date column takes: an ISO 8601 date, optionally a time of day (at most
# 6 fractional digits: the loader never rounds) and a UTC offset or zone name. DuckDB's own
# words (infinity, -infinity, epoch, now, today, ...) and years beyond 4 digits never match.
TIMESTAMP_TEXT = (
    r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    r"([T ][0-9]{1,2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
    r"(\s*(Z|[+-][0-9]{1,2}(:?[0-9]{2})?|[A-Za-z][A-Za-z0-9_/+-]*))?)?"
)
# The range of timestamps and dates the contract takes; outside it (year 0, negative years,
# infinity) a value is refused.
MIN_TIMESTAMP = "1900-01-01 00:00:00"
MAX_TIMESTAMP = "9999-12-31 23:59:59.999999"
TIMESTAMP_SOURCE_TYPES = (
    "DATE",
    "TIMESTAMP",
    "TIMESTAMP_S",
    "TIMESTAMP_MS",
    "TIMESTAMP_NS",
    "TIMESTAMP WITH TIME ZONE",
    "TIMESTAMPTZ_NS",
)


def accepted_source(source_type: str, target_type: str) -> tuple[bool, str]:
    """Whether a source column type can feed a contract type, and what that type takes."""
    if source_type in ("NULL", '"NULL"'):
        return True, ""  # a Parquet column of the null type: every value is missing
    if target_type == TEXT:
        return source_type in ("VARCHAR", *INTEGER_SOURCE_TYPES), (
            "text (or whole numbers, read as their decimal digits)"
        )
    if target_type in (TIMESTAMP, DATE):
        return source_type in ("VARCHAR", *TIMESTAMP_SOURCE_TYPES), ("text, a date or a timestamp")
    if target_type == BOOLEAN:
        return source_type in ("VARCHAR", "BOOLEAN") or is_numeric_source(source_type), (
            "text, a boolean or the numbers 1/0"
        )
    return source_type in ("VARCHAR", "BOOLEAN") or is_numeric_source(source_type), ("text or numbers")


def sane_timestamp(value: str) -> str:
    """value where it is a finite timestamp within the contract's range, else null."""
    return (
        f"case when isfinite({value}) and {value} >= timestamp {literal(MIN_TIMESTAMP)} "
        f"and {value} <= timestamp {literal(MAX_TIMESTAMP)} then {value} end"
    )


def timestamp_value(name: str, text: str, source_type: str) -> str:
    """SQL for a source value as a UTC timestamp; null where it is not an exact, sane one."""
    if source_type == "VARCHAR":
        value = (
            f"case when regexp_full_match({text}, {literal(TIMESTAMP_TEXT)}) "
            f"then timezone('UTC', try_cast({text} as timestamptz)) end"
        )
    elif source_type in ("TIMESTAMP_NS", "TIMESTAMPTZ_NS"):
        # Nanoseconds are refused unless whole microseconds: a timestamp holds microseconds.
        zoned = source_type == "TIMESTAMPTZ_NS"
        cast = f"timezone('UTC', cast({name} as timestamptz))" if zoned else (f"cast({name} as timestamp)")
        value = f"case when epoch_ns({name}) % 1000 = 0 then {cast} end"
    elif source_type == "TIMESTAMP WITH TIME ZONE":
        value = f"timezone('UTC', {name})"
    else:
        value = f"cast({name} as timestamp)"
    return sane_timestamp(value)


def conversion(column: str, source_type: str, target_type: str) -> str:
    """SQL turning a source column into its contract type; null where it cannot be read exactly."""
    name = quote(column)
    source_type = source_type.upper()
    is_text = source_type == "VARCHAR"
    text = f"nullif(trim({name}), '')" if is_text else name
    if target_type == TEXT:
        return f"cast({text} as varchar)"
    if target_type == TIMESTAMP:
        return timestamp_value(name, text, source_type)
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
        if is_text:
            as_timestamp = sane_timestamp(
                f"case when regexp_full_match({text}, {literal(TIMESTAMP_TEXT)}) then try_cast({text} as timestamp) end"
            )
        else:
            as_timestamp = timestamp_value(name, text, source_type)
        return (
            f"case when {as_timestamp} = cast(cast({as_timestamp} as date) as timestamp) "
            f"then cast({as_timestamp} as date) end"
        )
    if target_type in (INTEGER, AMOUNT, PRICE):
        return exact_number(name, text, source_type, target_type)
    raise ValueError(f"no conversion for contract type {target_type}")


def presence(column: str, source_type: str) -> str:
    """SQL true where the source value is present (not null, not blank text)."""
    if source_type.upper() == "VARCHAR":
        return f"nullif(trim({quote(column)}), '') is not null"
    return f"{quote(column)} is not null"


def validate_file(connection: duckdb.DuckDBPyConnection, raw_file: RawFile) -> tuple[list[str], str]:
    """Contract problems of one file, and the select that yields its typed rows."""
    name = raw_file.path.name
    try:
        problems, extra = register_source(connection, raw_file)
    except (duckdb.Error, OSError) as error:
        return [f"{name}: cannot be read ({first_line(error)})"], ""
    if extra:
        print(
            f"segments load: warning: {name}: columns not in the contract are ignored: {', '.join(extra)}",
            file=sys.stderr,
        )
    if problems:
        return [f"{name}: {problem}" for problem in problems], ""
    described = connection.execute(f"describe {raw_file.view}").fetchall()
    source_types = {row[0]: str(row[1]).upper() for row in described if row[0] != ROW_COLUMN}
    for column, target_type in raw_file.table.columns:
        accepted, takes = accepted_source(source_types[column], target_type)
        if not accepted:
            problems.append(
                f"{name}: column {column} has type {source_types[column]} in the file; "
                f"a {target_type} column takes {takes}"
            )
    if problems:
        return problems, ""
    expressions = {
        column: conversion(column, source_types[column], target_type) for column, target_type in raw_file.table.columns
    }
    failures = ", ".join(
        f"count(*) filter (where {presence(column, source_types[column])} and {expressions[column]} is null)"
        for column in raw_file.table.column_names
    )
    try:
        counts = connection.execute(f"select {failures} from {raw_file.view}").fetchall()[0]
    except duckdb.Error as error:  # the first full read of a Parquet file's data
        return [f"{name}: {read_problem(raw_file.path, raw_file.table.column_names, connection, error)}"], ""
    for (column, target_type), failed in zip(raw_file.table.columns, counts, strict=False):
        if failed:
            example = connection.execute(
                f"select {ROW_COLUMN}, cast({quote(column)} as varchar) from {raw_file.view} "
                f"where {presence(column, source_types[column])} "
                f"and {expressions[column]} is null order by {ROW_COLUMN} limit 1"
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
        f"select\n    {typed_columns},\n    {ROW_COLUMN} + $row_offset::bigint as {RAW_ROW_ID},\n"
        f"    {literal(name)} as {RAW_SOURCE_FILE},\n"
        f"    $loaded_at::timestamp as {RAW_LOADED_AT},\n"
        f"    $delivery_id::varchar as {RAW_DELIVERY_ID}\nfrom {raw_file.view}"
    )
    return problems, select


def empty_select(table: Table) -> str:
    columns = ", ".join(f"cast(null as {column_type}) as {quote(column)}" for column, column_type in table.columns)
    return (
        f"select {columns}, cast(null as bigint) as {RAW_ROW_ID}, "
        f"cast(null as varchar) as {RAW_SOURCE_FILE}, "
        f"cast(null as timestamp) as {RAW_LOADED_AT}, "
        f"cast(null as varchar) as {RAW_DELIVERY_ID} limit 0"
    )


def validate_folder(
    folder: Path, connection: duckdb.DuckDBPyConnection, required: bool = True
) -> tuple[dict[str, RawFile], dict[str, str]]:
    """The folder's files and the select yielding each raw table; CommandError if refused."""
    found, problems = find_files(folder, required)
    files = {raw_file.table.name: raw_file for raw_file in found}
    selects: dict[str, str] = {}
    for table in TABLES:
        raw_file = files.get(table.name)
        if raw_file is None:
            selects[table.name] = empty_select(table)
            continue
        try:
            file_problems, select = validate_file(connection, raw_file)
        except (duckdb.Error, OSError) as error:
            file_problems = [f"{raw_file.path.name}: cannot be read ({first_line(error)})"]
            select = ""
        problems += file_problems
        selects[table.name] = select
    if problems:
        raise CommandError(contract_message(folder, problems))
    return files, selects


def raw_columns(table: Table) -> list[str]:
    return [*table.column_names, *LINEAGE_COLUMNS]


def existing_columns(connection: duckdb.DuckDBPyConnection, table_name: str) -> list[str] | None:
    """The columns of the attached warehouse's raw table, in order (None when it does not exist)."""
    rows = connection.execute(
        "select column_name from duckdb_columns() where database_name = 'warehouse' "
        "and schema_name = ? and table_name = ? order by column_index",
        [RAW_SCHEMA, table_name],
    ).fetchall()
    return [str(row[0]) for row in rows] or None


def check_appendable(connection: duckdb.DuckDBPyConnection, delivery: Delivery) -> None:
    """Refuse an append the warehouse cannot take: a delivery already loaded, or raw tables
    loaded by a loader without delivery ids (reload them with a plain segments load)."""
    for table in TABLES:
        columns = existing_columns(connection, table.name)
        if columns is not None and columns != raw_columns(table):
            raise CommandError(
                f"{RAW_SCHEMA}.{table.name} does not have the columns of this loader ({', '.join(LINEAGE_COLUMNS)} "
                "after the contract columns): load the whole history once with a plain segments load"
            )
    if existing_columns(connection, DELIVERIES_TABLE) is None:
        return
    earlier = connection.execute(
        f"select cast(min(loaded_at) as varchar) from warehouse.{RAW_SCHEMA}.{DELIVERIES_TABLE} where delivery_id = ?",
        [delivery.delivery_id],
    ).fetchall()[0][0]
    if earlier is not None:
        raise CommandError(
            f"delivery {delivery.delivery_id[:16]} (the same files) was already loaded at {earlier} UTC; "
            "nothing was loaded"
        )


def row_offset(connection: duckdb.DuckDBPyConnection, table_name: str, append: bool) -> int:
    """The largest _raw_row_id of the table (0 for a replacing load or a new table)."""
    if not append or existing_columns(connection, table_name) is None:
        return 0
    counted = connection.execute(
        f"select coalesce(max({RAW_ROW_ID}), 0) from warehouse.{RAW_SCHEMA}.{table_name}"
    ).fetchall()
    return int(counted[0][0])


def write_raw_tables(
    connection: duckdb.DuckDBPyConnection,
    files: dict[str, RawFile],
    selects: dict[str, str],
    delivery: Delivery,
    append: bool = False,
) -> dict[str, int]:
    """Replace every raw table (or append the delivery's tables to them), record the delivery and
    rewrite the manifest of the attached warehouse (no transaction). Returns the rows the
    delivery brought per table."""
    connection.execute(f"create schema if not exists warehouse.{RAW_SCHEMA}")
    if append:
        check_appendable(connection, delivery)
    row_counts: dict[str, int] = {}
    for table in TABLES:
        target = f"warehouse.{RAW_SCHEMA}.{table.name}"
        parameters = {
            "loaded_at": delivery.loaded_at,
            "delivery_id": delivery.delivery_id,
            "row_offset": row_offset(connection, table.name, append),
        }
        if not append:
            connection.execute(
                f"create or replace table {target} as {selects[table.name]}",
                parameters if table.name in files else None,
            )
        else:
            connection.execute(f"create table if not exists {target} as {empty_select(table)}")
            if table.name not in files:
                continue
            connection.execute(f"insert into {target} {selects[table.name]}", parameters)
        counted = connection.execute(
            f"select count(*) from {target} where {RAW_DELIVERY_ID} = ?", [delivery.delivery_id]
        ).fetchall()
        row_counts[table.name] = int(counted[0][0])
    record_delivery(connection, files, delivery, row_counts, append)
    write_manifest(connection, delivery)
    create_customer_key_secret(connection)
    check_unchanged(files)
    return row_counts


def record_delivery(
    connection: duckdb.DuckDBPyConnection,
    files: dict[str, RawFile],
    delivery: Delivery,
    row_counts: dict[str, int],
    append: bool,
) -> None:
    """One row per file of the delivery in raw.deliveries (replaced by a plain load)."""
    target = f"warehouse.{RAW_SCHEMA}.{DELIVERIES_TABLE}"
    if not append:
        connection.execute(f"drop table if exists {target}")
    connection.execute(
        f"create table if not exists {target} (delivery_id varchar not null, delivery_number bigint not null, "
        "loaded_at timestamp not null, table_name varchar not null, source_file varchar not null, "
        "file_sha256 varchar not null, row_count bigint not null)"
    )
    number = int(connection.execute(f"select coalesce(max(delivery_number), 0) + 1 from {target}").fetchall()[0][0])
    for table_name in sorted(files):
        connection.execute(
            f"insert into {target} values (?, ?, ?, ?, ?, ?, ?)",
            [
                delivery.delivery_id,
                number,
                delivery.loaded_at,
                table_name,
                files[table_name].path.name,
                delivery.file_hashes[table_name],
                row_counts[table_name],
            ],
        )


def write_manifest(connection: duckdb.DuckDBPyConnection, delivery: Delivery) -> None:
    """raw.load_manifest: every table's rows now, its latest source file and the latest load.
    Its hash is the identity of the raw data a build read (macro raw_data_identity_sql), so
    every load, appended or not, changes it."""
    manifest_rows = ", ".join(
        f"({literal(table.name)}, "
        f"(select max_by(source_file, delivery_number) from warehouse.{RAW_SCHEMA}.{DELIVERIES_TABLE} "
        f"where table_name = {literal(table.name)}), "
        f"(select count(*) from warehouse.{RAW_SCHEMA}.{table.name}), "
        "$loaded_at::timestamp, $delivery_id::varchar)"
        for table in TABLES
    )
    connection.execute(
        f"create or replace table warehouse.{RAW_SCHEMA}.load_manifest as "
        f"select * from (values {manifest_rows}) "
        "as manifest(table_name, source_file, row_count, loaded_at, delivery_id)",
        {"loaded_at": delivery.loaded_at, "delivery_id": delivery.delivery_id},
    )


def create_customer_key_secret(connection: duckdb.DuckDBPyConnection) -> None:
    """Give a warehouse without one its customer key secret: 256 random bits from the operating
    system (secrets), which every customer_key and erasure key is salted with (macro
    identifier_key). An existing secret is kept, so keys stay the same across loads, builds
    and full refreshes; no dbt model owns the table, so no dbt command replaces it."""
    import secrets

    connection.execute(f"create schema if not exists warehouse.{SECRET_SCHEMA}")
    connection.execute(
        f"create table if not exists warehouse.{SECRET_SCHEMA}.{SECRET_TABLE} "
        "(secret varchar not null, created_at timestamp not null)"
    )
    connection.execute(
        f"insert into warehouse.{SECRET_SCHEMA}.{SECRET_TABLE} "
        "select ?, current_timestamp::timestamp "
        f"where not exists (select 1 from warehouse.{SECRET_SCHEMA}.{SECRET_TABLE})",
        [secrets.token_hex(32)],
    )


def remove_created_warehouse(database: Path) -> None:
    """Remove a warehouse file (and its write-ahead log) this load created and then failed."""
    for path in (database, database.with_name(database.name + ".wal")):
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)


def loader_connection(database: Path) -> duckdb.DuckDBPyConnection:
    """The loader's in-memory DuckDB in UTC, with the warehouse's resources (the profile's
    environment variables and defaults): at most SEGMENTS_DUCKDB_MEMORY_LIMIT of memory and
    SEGMENTS_DUCKDB_THREADS threads, spilling beyond it to SEGMENTS_DUCKDB_TEMP_DIRECTORY, by
    default <warehouse file>.tmp, on the warehouse's disk."""
    settings = {
        "memory_limit": ("SEGMENTS_DUCKDB_MEMORY_LIMIT", "4GB"),
        "threads": ("SEGMENTS_DUCKDB_THREADS", "2"),
        "temp_directory": ("SEGMENTS_DUCKDB_TEMP_DIRECTORY", str(default_temp_directory(database))),
    }
    config: dict[str, str | bool | int | float | list[str]] = {
        option: os.environ.get(variable) or default for option, (variable, default) in settings.items()
    }
    try:
        connection = duckdb.connect(":memory:", config=config)
        connection.execute("set TimeZone = 'UTC'")
    except duckdb.Error as error:
        variables = ", ".join(f"{variable}={config[option]}" for option, (variable, _) in settings.items())
        raise CommandError(f"cannot start DuckDB with {variables}: {first_line(error)}") from error
    return connection


def default_temp_directory(database: Path) -> Path:
    """<warehouse file>.tmp, as the profile has it; while the warehouse's folder does not exist
    yet (a first load creates it after the checks), a hidden folder in its nearest existing
    ancestor, so spilled data is still on the warehouse's disk."""
    folder = database.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if folder == database.parent:
        return Path(f"{database}.tmp")
    return folder / f".{database.name}.tmp"


def load_folder(folder: Path, database: Path, append: bool = False) -> tuple[str, dict[str, int]]:
    """Validate folder, then replace the warehouse's raw tables with it (or append it as one
    delivery) in one transaction. Returns the delivery id and the rows loaded per table.

    Any failure (a contract violation, an unreadable file, a delivery already loaded, a
    locked warehouse, a full disk) raises CommandError and leaves the warehouse as it was.
    """
    connection = loader_connection(database)
    try:
        files, selects = validate_folder(folder, connection, required=not append)
        delivery = new_delivery(files)
        return delivery.delivery_id, write_warehouse(connection, database, files, selects, delivery, append)
    finally:
        connection.close()


def write_warehouse(
    connection: duckdb.DuckDBPyConnection,
    database: Path,
    files: dict[str, RawFile],
    selects: dict[str, str],
    delivery: Delivery,
    append: bool = False,
) -> dict[str, int]:
    """Attach the warehouse and replace (or append to) its raw tables in one transaction, or
    change nothing."""
    existed = database.exists()
    try:
        database.parent.mkdir(parents=True, exist_ok=True)
        connection.execute(f"attach {literal(str(database))} as warehouse")
    except (duckdb.Error, OSError) as error:
        if not existed:
            remove_created_warehouse(database)
        raise CommandError(f"cannot open the warehouse {database}: {first_line(error)}") from error
    try:
        connection.execute("begin transaction")
        row_counts = write_raw_tables(connection, files, selects, delivery, append)
        connection.execute("commit")
    except BaseException as error:
        # the transaction may already be gone (a failed commit rolls back by itself)
        with contextlib.suppress(duckdb.Error):
            connection.execute("rollback")
        with contextlib.suppress(duckdb.Error):
            connection.execute("detach warehouse")
        if not existed:
            remove_created_warehouse(database)
        if isinstance(error, CommandError):
            raise
        if isinstance(error, (duckdb.Error, OSError)):
            raise CommandError(f"loading into {database} failed, nothing changed: {first_line(error)}") from error
        raise
    connection.execute("detach warehouse")
    return row_counts
