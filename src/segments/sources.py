"""Reading one raw file, strictly, as a view of the loader's DuckDB.

Only the contract's columns are read, under their contract names, next to the loader's own
row number column ``ROW_COLUMN``. A Parquet file is a view over the file itself (read when
the loader checks and inserts it, so its rows are never all in memory); a CSV file is parsed
into a table. Each is built from a select list of contract columns,
so no column of the file (``rowid``, ``file_row_number``, ``_file_row``, ...) can ever collide
with a column the loader adds. Anything that is not a clean file is a contract problem: a
path that is not a regular file, a duplicated column, and for CSV a line that is not UTF-8, a
row with too few or too many fields, a quote that is never closed, or an empty line.

Every function here returns contract problems as text (without the file name, which the
caller prefixes) instead of raising, so the loader can report every file at once.
"""

from __future__ import annotations

import codecs
import csv
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

ROW_COLUMN = "_file_row"  # 1-based data row of the file; only ever in tables built here
FILE_ROW_NUMBER = "file_row_number"  # DuckDB's virtual column of read_parquet: the 0-based row
BATCH_ROWS = 50_000  # CSV rows handed to DuckDB at a time


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def first_line(error: BaseException) -> str:
    """The first non-blank line of an error message (DuckDB appends hints on later lines)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def file_kind_problem(path: Path) -> str | None:
    """Why path cannot be read as a file (a FIFO, a socket, a device, a broken link), or None.

    Symbolic links are followed: a link to a regular file is read as that file.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError as error:
        return f"cannot be read ({error.strerror or error})"
    if stat.S_ISREG(mode):
        return None
    kind = (
        "a FIFO"
        if stat.S_ISFIFO(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else "a device"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "not a regular file"
    )
    return f"is {kind}, not a regular file; only regular files are read"


def normalized(name: str) -> str:
    """How a file's column name is matched to the contract: trimmed, case-insensitive."""
    return name.strip().lower()


def match_columns(names: list[str], contract_columns: list[str]) -> tuple[dict[str, int], list[str], list[str]]:
    """Position of each contract column among names, the problems, and the ignored extra names.

    A name is matched trimmed and case-insensitively (SQL identifiers are case-insensitive),
    so two names that match the same key are refused as a duplicated column.
    """
    positions: dict[str, list[int]] = {}
    for position, name in enumerate(names):
        positions.setdefault(normalized(name), []).append(position)
    problems = [
        f"column {key or repr(names[found[0]])} appears {len(found)} times "
        f"({', '.join(repr(names[position]) for position in found)}); "
        f"each column must appear once"
        for key, found in positions.items()
        if len(found) > 1
    ]
    problems += [f"column {column} is missing" for column in contract_columns if column not in positions]
    matched = {column: positions[column][0] for column in contract_columns if column in positions}
    extra = [names[found[0]] for key, found in positions.items() if key not in contract_columns]
    return matched, problems, extra


def create_table(connection: duckdb.DuckDBPyConnection, table: str, columns: list[str]) -> None:
    definitions = ", ".join(f"{quote(column)} varchar" for column in columns)
    connection.execute(f"create temp table {quote(table)} ({definitions}, {quote(ROW_COLUMN)} bigint)")


class CsvLineError(Exception):
    """A physical line of a CSV file that is not valid UTF-8."""

    def __init__(self, line: int, raw: bytes, error: UnicodeDecodeError) -> None:
        super().__init__(f"line {line}")
        self.line, self.raw, self.error = line, raw, error


def decoded_lines(handle: BinaryIO) -> Iterator[str]:
    """The file's lines as text, strictly UTF-8 (a leading byte order mark is dropped)."""
    for number, raw in enumerate(handle, start=1):
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise CsvLineError(number, raw, error) from error


def encoding_problem(failure: CsvLineError, header: list[str] | None) -> str:
    """A one-line message for a line that is not UTF-8, naming the column when it can."""
    byte = failure.raw[failure.error.start : failure.error.start + 1].hex()
    where = ""
    if header is not None:
        # Parse the line with the bad bytes kept as surrogates to find the field holding them.
        text = failure.raw.decode("utf-8", errors="surrogateescape")
        try:
            fields = next(csv.reader([text]))
        except (csv.Error, StopIteration):
            fields = []
        for position, field in enumerate(fields):
            if any("\udc80" <= character <= "\udcff" for character in field):
                if position < len(header):
                    where = f" in column {header[position].strip()}"
                break
    return f"line {failure.line}{where}: not UTF-8 encoded (invalid byte 0x{byte}); save the file as UTF-8"


def csv_problem(line: int, error: csv.Error) -> str:
    text = str(error)
    if "unexpected end of data" in text:
        return f"line {line}: a quoted value is never closed (unterminated quote)"
    if "expected after" in text:
        return (
            f"line {line}: text after a closing quote (a value containing a quote must be "
            f"quoted as a whole, with the quote doubled)"
        )
    return f"line {line}: malformed CSV ({text})"


def read_csv(
    connection: duckdb.DuckDBPyConnection, path: Path, table: str, contract_columns: list[str]
) -> tuple[list[str], list[str]]:
    """Copy a CSV file's contract columns, as text, into table; its problems and extra columns.

    The file is read strictly as RFC 4180: UTF-8 (an optional byte order mark), comma
    delimiter, double-quote quoting with "" as the escaped quote, LF or CRLF line endings,
    a header row, and every row with exactly as many fields as the header.
    """
    header: list[str] | None = None
    matched: dict[str, int] = {}
    extra: list[str] = []
    batch: list[list[str]] = []
    row = 0
    with path.open("rb") as handle:
        reader = csv.reader(decoded_lines(handle), strict=True)
        while True:
            start = reader.line_num + 1
            try:
                fields = next(reader)
            except StopIteration:
                break
            except CsvLineError as failure:
                return [encoding_problem(failure, header)], []
            except csv.Error as error:
                return [csv_problem(start, error)], []
            if header is None:
                header = fields
                matched, problems, extra = match_columns(header, contract_columns)
                if problems:
                    return problems, extra
                create_table(connection, table, contract_columns)
                continue
            if not fields:
                return [f"line {start} is empty (every row needs {len(header)} fields)"], []
            if len(fields) != len(header):
                return [f"line {start}: row has {len(fields)} field(s), the header has {len(header)}"], []
            row += 1
            batch.append([fields[matched[column]] for column in contract_columns] + [str(row)])
            if len(batch) >= BATCH_ROWS:
                insert_batch(connection, table, contract_columns, batch)
                batch = []
    if header is None:
        return ["is empty (no header row)"], []
    insert_batch(connection, table, contract_columns, batch)
    return [], extra


def insert_batch(
    connection: duckdb.DuckDBPyConnection,
    table: str,
    contract_columns: list[str],
    batch: list[list[str]],
) -> None:
    if not batch:
        return
    names = [*contract_columns, ROW_COLUMN]
    arrays = [pa.array([row[index] for row in batch], pa.string()) for index in range(len(names))]
    rows = pa.Table.from_arrays(arrays, names=[f"c{index}" for index in range(len(names))])
    connection.register("csv_batch", rows)
    try:
        connection.execute(f"insert into {quote(table)} select * from csv_batch")
    finally:
        connection.unregister("csv_batch")


def file_literal(path: Path | str) -> str:
    """A SQL string naming exactly this file for DuckDB's file readers (read_parquet, ...):
    DuckDB reads a path holding *, ? or [ as a glob (a folder g[1] would read g1), so each is
    escaped as a one-character class."""
    escaped = "".join(f"[{character}]" if character in "*?[" else character for character in str(path))
    return literal(escaped)


def parquet_source(path: Path) -> str:
    """read_parquet of exactly this file."""
    return f"read_parquet({file_literal(path)})"


def read_parquet(
    connection: duckdb.DuckDBPyConnection, path: Path, table: str, contract_columns: list[str]
) -> tuple[list[str], list[str]]:
    """Copy a Parquet file's contract columns, with their file types, into table."""
    try:
        names = pq.read_schema(path).names
    except (pa.ArrowException, OSError) as error:
        return [f"cannot be read as Parquet ({first_line(error)})"], []
    matched, problems, extra = match_columns(names, contract_columns)
    if problems:
        return problems, extra
    source = parquet_source(path)
    columns = ", ".join(f"{quote(names[matched[column]])} as {quote(column)}" for column in contract_columns)
    if FILE_ROW_NUMBER not in {name.lower() for name in names}:
        # A view over the file: its rows are read where they are used (the checks, then the
        # insert into the warehouse), never held in memory; DuckDB's virtual column
        # file_row_number is the row's 0-based position in the file. The probe reads no row.
        prepare = f"select {columns} from {source} limit 0"
        rows = f"select {columns}, {FILE_ROW_NUMBER} + 1 as {quote(ROW_COLUMN)} from {source}"
    else:
        # The file has a column of that name, which hides the virtual column: copy the
        # contract columns into a table instead (a table keeps insertion order, so rowid
        # follows the file's row order).
        data = quote(f"{table}_data")
        prepare = f"create temp table {data} as select {columns} from {source}"
        rows = f"select *, rowid + 1 as {quote(ROW_COLUMN)} from {data}"
    try:
        connection.execute(prepare)
    except duckdb.Error as error:
        return [parquet_read_problem(connection, source, names, matched, error)], extra
    connection.execute(f"create temp view {quote(table)} as {rows}")
    return [], extra


def read_problem(
    path: Path, contract_columns: list[str], connection: duckdb.DuckDBPyConnection, error: duckdb.Error
) -> str:
    """Why a file registered by read_parquet or read_csv could not be read in full (the view
    of a Parquet file reads it only when queried): for Parquet, the contract column whose data
    cannot be read (invalid UTF-8, a corrupt page), if one is; else the error's first line."""
    if path.suffix.lower() != ".parquet":
        return f"cannot be read ({first_line(error)})"
    try:
        names = pq.read_schema(path).names
    except (pa.ArrowException, OSError):
        return f"cannot be read ({first_line(error)})"
    matched, _, _ = match_columns(names, contract_columns)
    return parquet_read_problem(connection, parquet_source(path), names, matched, error)


def parquet_read_problem(
    connection: duckdb.DuckDBPyConnection,
    source: str,
    names: list[str],
    matched: dict[str, int],
    error: duckdb.Error,
) -> str:
    """Name the column whose data cannot be read (invalid UTF-8, a corrupt page), if one is."""
    for column, position in matched.items():
        try:
            connection.execute(f"select count(distinct {quote(names[position])}) from {source}").fetchall()
        except duckdb.Error as column_error:
            return f"column {column}: cannot be read ({first_line(column_error)})"
    return f"cannot be read ({first_line(error)})"
