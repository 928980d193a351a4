"""Writing, chunk by chunk: the documented defects applied to each chunk's clean tables, each
table's file appended in its final row order, ``_truth/defects.parquet`` and
``_truth/identifiers.parquet`` written at the end.

A file holds four sections, in this order: the rows on time (by position), the late rows
(by position), then the second copies of the re-delivered rows on time, then of the late
ones. A chunk appends its rows on time to the file, its other rows to three side files that
are appended to the file once every chunk is written; the defects are recorded as (section,
rank in the section) and get their file row once the section sizes are known. Every Parquet
file is written in row groups of exactly ROW_GROUP_ROWS rows from one contiguous buffer, so
its bytes depend on its rows only, not on how they were cut into chunks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from segments.contract import TABLES, Table
from segments.generation.blocks import Counters, Flags, defect_names
from segments.generation.duck import connect
from segments.generation.parameters import DEFECT_RATES, ROW_GROUP_ROWS
from segments.generation.settings import Bools, Codes, Ints
from segments.generation.vocabulary import PLACEHOLDER_EMAIL, PLACEHOLDER_PHONE
from segments.sources import file_literal

Progress = Callable[[str], None]

KEYS = {
    "customers": "customer_id",
    "orders": "order_id",
    "order_items": "order_id",
    "web_events": "event_id",
    "app_events": "event_id",
    "email_events": "event_id",
}
TIMESTAMPS = {
    "orders": "ordered_at",
    "web_events": "occurred_at",
    "app_events": "occurred_at",
    "email_events": "occurred_at",
}
# the counter that numbers each table's rows (its positions)
POSITION_COUNTERS = {
    "customers": "versions",
    "orders": "orders",
    "order_items": "lines",
    "web_events": "web_events",
    "app_events": "app_events",
    "email_events": "email_events",
    "erasure_requests": "requests",
}
ON_TIME, LATE, REDELIVERED, REDELIVERED_LATE = range(4)  # the sections of a file, in order
DUPLICATE = "duplicate_delivery"


class RowGroupWriter:
    """A Parquet file (zstd level 3, as DuckDB writes) written in row groups of exactly ROW_GROUP_ROWS rows (the last
    one shorter), each from one contiguous copy of its rows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.writer: pq.ParquetWriter | None = None
        self.schema: pa.Schema | None = None
        self.pending: list[pa.Table] = []
        self.pending_rows = 0
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        if self.writer is None:
            self.schema = table.schema
            self.writer = pq.ParquetWriter(self.path, table.schema, compression="zstd", compression_level=3)
        if table.num_rows:
            self.pending.append(table.cast(self.schema))
            self.pending_rows += table.num_rows
        while self.pending_rows >= ROW_GROUP_ROWS:
            self.flush(ROW_GROUP_ROWS)

    def flush(self, rows: int) -> None:
        assert self.writer is not None
        buffered = pa.concat_tables(self.pending)
        self.writer.write_table(buffered.slice(0, rows).combine_chunks(), row_group_size=rows)
        rest = buffered.slice(rows)
        self.pending, self.pending_rows = ([rest] if rest.num_rows else []), rest.num_rows
        self.rows += rows

    def close(self) -> int:
        """Write what is buffered and close; the rows written."""
        if self.writer is not None:
            if self.pending_rows:
                self.flush(self.pending_rows)
            self.writer.close()
        return self.rows


def append_file(writer: RowGroupWriter, path: Path) -> None:
    """Stream a side file's rows into ``writer``."""
    if not path.exists():
        return
    for batch in pq.ParquetFile(path).iter_batches(batch_size=ROW_GROUP_ROWS):
        writer.write(pa.Table.from_batches([batch]))


def ranks(mask: Bools, start: int) -> Ints:
    """The rank of each row of mask (from ``start``) among the rows where mask holds."""
    ranked: Ints = start + np.cumsum(mask) - 1
    return ranked


@dataclass
class TableOutput:
    """One contract table's file, its three side files, section sizes and defects so far."""

    table: Table
    main: RowGroupWriter
    side_paths: tuple[Path, Path, Path]
    side_writers: dict[int, pq.ParquetWriter] = field(default_factory=dict)
    sizes: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    defect_sections: list[Codes] = field(default_factory=list)
    defect_ranks: list[Ints] = field(default_factory=list)
    defect_codes: list[Codes] = field(default_factory=list)

    def write_side(self, section: int, rows: pa.Table) -> None:
        if rows.num_rows == 0:
            return
        if section not in self.side_writers:
            self.side_writers[section] = pq.ParquetWriter(self.side_paths[section - 1], rows.schema)
        self.side_writers[section].write_table(rows)

    def add(self, rows: pa.Table, flags: Flags) -> None:
        """A chunk's rows (in position order, one per flag) split into the four sections."""
        late = flags.is_late
        names = defect_names(self.table.name)
        duplicate = (flags.code == names.index(DUPLICATE) + 1) if DUPLICATE in names else np.zeros(len(late), bool)
        masks = {ON_TIME: ~late, LATE: late, REDELIVERED: duplicate & ~late, REDELIVERED_LATE: duplicate & late}
        # a defect is recorded at its row, a re-delivery at its second copy
        rank_first = np.where(late, ranks(late, self.sizes[LATE]), ranks(~late, self.sizes[ON_TIME]))
        first_defects = (flags.code > 0) & ~duplicate
        self.record(late[first_defects].astype(np.int8), rank_first[first_defects], flags.code[first_defects])
        rank_copy = np.where(
            late,
            ranks(masks[REDELIVERED_LATE], self.sizes[REDELIVERED_LATE]),
            ranks(masks[REDELIVERED], self.sizes[REDELIVERED]),
        )
        self.record((REDELIVERED + late[duplicate]).astype(np.int8), rank_copy[duplicate], flags.code[duplicate])
        for section, mask in masks.items():
            selected = rows.filter(pa.array(mask)) if not mask.all() else rows
            if section == ON_TIME:
                self.main.write(selected)
            else:
                self.write_side(section, selected)
            self.sizes[section] += int(mask.sum())

    def record(self, sections: Codes, row_ranks: Ints, codes: Codes) -> None:
        self.defect_sections.append(sections)
        self.defect_ranks.append(row_ranks)
        self.defect_codes.append(codes)

    def finish(self) -> tuple[int, pa.Table]:
        """Append the side files, close; the rows written and this table's defects by file row."""
        for writer in self.side_writers.values():
            writer.close()
        for path in self.side_paths:
            append_file(self.main, path)
            path.unlink(missing_ok=True)
        rows = self.main.close()
        bases = np.cumsum([0, *self.sizes[:-1]])
        sections = np.concatenate([np.zeros(0, np.int8), *self.defect_sections])
        file_rows = bases[sections] + np.concatenate([np.zeros(0, np.int64), *self.defect_ranks]) + 1
        codes = np.concatenate([np.zeros(0, np.int8), *self.defect_codes])
        names = np.array(defect_names(self.table.name) or [""], dtype=object)
        order = np.argsort(file_rows, kind="stable")
        defects = pa.table(
            {
                "table_name": pa.array([self.table.name] * len(order), pa.string()),
                "raw_row_id": pa.array(file_rows[order], pa.int64()),
                "defect": pa.array(names[codes[order] - 1] if len(order) else [], pa.string()),
            }
        )
        return rows, defects


def flagged_sql(table: Table, horizon_seconds: int) -> str:
    """The chunk's rows of a table with its defects applied, in position order."""
    name = table.name
    names = defect_names(name)
    defect_case = (
        "case flags.defect_code "
        + " ".join(f"when {index} then '{defect}'" for index, defect in enumerate(names, start=1))
        + " end"
        if names
        else "null"
    )
    replacements: dict[str, str] = {}
    key = KEYS.get(name)
    if key:
        replacements[key] = f"case when defect = 'null_key' then null else clean.{key} end"
    if name == "order_items":
        replacements["order_id"] = (
            "case when defect = 'null_key' then null "
            "when defect = 'orphan_order_item' then 'O-MISSING-' || cast(clean.position as varchar) "
            "else clean.order_id end"
        )
    if name in TIMESTAMPS:
        column = TIMESTAMPS[name]
        replacements[column] = (
            f"case when defect = 'future_timestamp' then at_second({horizon_seconds} + "
            f"clean.future_seconds) else clean.{column} end"
        )
    if "email" in table.column_names and name in ("orders", "customers", "email_events"):
        replacements["email"] = (
            "case when defect = 'malformed_email' "
            "then replace(coalesce(clean.email, 'someone@mail.test'), '@', '(at)') "
            "else clean.email end"
        )
    if name == "orders":
        replacements["order_total"] = (
            "case when defect = 'zero_total' then 0.00 "
            "when defect = 'negative_total' then -clean.order_total else clean.order_total end"
        )
    columns = ",\n    ".join(
        replacements.get(column, f"clean.{column}") + f" as {column}" for column in table.column_names
    )
    return f"""with joined as (
            select clean.*, flags.future_seconds, {defect_case} as defect
            from {name}_clean as clean
            inner join {name}_flags as flags using (position)
        )
        select {columns}
        from joined as clean
        order by clean.position"""


IDENTIFIER_PAIRS_SQL = """
    select 'customer_id' as identifier_type, customer_id as identifier_value, person
    from account_ids
    union
    select 'email', lower(trim(email)), person from customers_clean
    union
    select 'email', lower(trim(email)), person from orders_clean where email is not null
    union
    select 'email', email, person_identity.person from email_events_clean
    inner join person_identity using (email)
    union
    select 'phone', regexp_replace(phone, '[^0-9]', '', 'g'), person
    from customers_clean where phone is not null
    union
    select 'anonymous_id', 'anon-' || lpad(cast(cookie_number + 1 as varchar), 9, '0'), person
    from cookies
    union
    select 'anonymous_id', 'anon-' || lpad(cast(cookie_number + 1 as varchar), 9, '0'), user_person
    from web_sessions where logged_in
    union
    select 'device_id', 'dev-' || lpad(cast(device_number + 1 as varchar), 8, '0'), person
    from devices
    union
    select 'device_id', 'dev-' || lpad(cast(device_number + 1 as varchar), 8, '0'), user_person
    from app_sessions"""


class RawWriter:
    """The raw folder written chunk by chunk, then finished: every table and the truth."""

    def __init__(self, out: Path, staging: Path, file_format: str, horizon_seconds: int) -> None:
        self.out, self.staging, self.file_format = out, staging, file_format
        self.horizon_seconds = horizon_seconds
        out.mkdir(parents=True, exist_ok=True)
        (out / "_truth").mkdir(exist_ok=True)
        self.tables: list[TableOutput] = []
        for table in TABLES:
            main = out / f"{table.name}.parquet" if file_format == "parquet" else staging / f"{table.name}.parquet"
            sides = tuple(staging / f"{table.name}.{section}.parquet" for section in ("late", "again", "again_late"))
            self.tables.append(TableOutput(table, RowGroupWriter(main), sides))  # type: ignore[arg-type]
        self.identifiers_path = staging / "identifiers.parquet"
        self.identifiers: pq.ParquetWriter | None = None

    def write_chunk(self, connection: duckdb.DuckDBPyConnection, flags: dict[str, Flags], first: Counters) -> None:
        """Apply the defects to the chunk's clean tables and append every table's rows."""
        for output in self.tables:
            name = output.table.name
            table_flags = flags[name]
            start = getattr(first, POSITION_COUNTERS[name])
            connection.register(
                f"{name}_flags",
                pa.table(
                    {
                        "position": start + np.arange(1, len(table_flags.code) + 1),
                        "defect_code": table_flags.code,
                        "future_seconds": table_flags.future_seconds,
                    }
                ),
            )
            rows = connection.sql(flagged_sql(output.table, self.horizon_seconds)).to_arrow_table()
            assert rows.num_rows == len(table_flags.code), name
            output.add(rows, table_flags)
            connection.unregister(f"{name}_flags")
        pairs = connection.sql(
            f"""select pairs.identifier_type, pairs.identifier_value, person_identity.person_id
            from ({IDENTIFIER_PAIRS_SQL}) as pairs
            inner join person_identity on pairs.person = person_identity.person"""
        ).to_arrow_table()
        if self.identifiers is None:
            self.identifiers = pq.ParquetWriter(self.identifiers_path, pairs.schema)
        self.identifiers.write_table(pairs)

    def finish(self, spill_directory: str, start_epoch: int, progress: Progress) -> dict[str, int]:
        """Close every table, write defects.parquet and identifiers.parquet; rows per table."""
        counts: dict[str, int] = {}
        defects: list[pa.Table] = []
        for output in self.tables:
            name = output.table.name
            counts[name], table_defects = output.finish()
            defects.append(table_defects)
            if self.file_format == "csv":
                csv_connection = connect(spill_directory, start_epoch)
                csv_connection.execute(
                    f"copy (select * from read_parquet({file_literal(output.main.path)})) "
                    f"to '{self.out / (name + '.csv')}' (format csv, header true)"
                )
                csv_connection.close()
                output.main.path.unlink()
            for other in ("parquet", "csv"):
                stale = self.out / f"{name}.{other}"
                if other != self.file_format and stale.exists():
                    stale.unlink()
            progress(f"{name}: {counts[name]:,} rows written")
        by_table = sorted(defects, key=lambda table: str(table["table_name"][0]) if table.num_rows else "")
        defects_writer = RowGroupWriter(self.out / "_truth" / "defects.parquet")
        defects_writer.write(pa.concat_tables(by_table))
        defects_writer.close()
        self.write_identifiers(spill_directory, start_epoch)
        return counts

    def write_identifiers(self, spill_directory: str, start_epoch: int) -> None:
        """identifiers.parquet: every identifier (normalised) with its true person(s), shared
        when more than one person uses it (in any chunk), in sorted order."""
        assert self.identifiers is not None
        self.identifiers.close()
        connection = connect(spill_directory, start_epoch)
        reader = connection.sql(
            f"""with pairs as (select * from read_parquet({file_literal(self.identifiers_path)})),
            people_per_identifier as (
                select identifier_type, identifier_value, count(distinct person_id) as people
                from pairs group by all
            )
            select
                pairs.identifier_type,
                pairs.identifier_value,
                pairs.person_id,
                people_per_identifier.people > 1 as is_shared,
                pairs.identifier_value in ('{PLACEHOLDER_EMAIL}', '{PLACEHOLDER_PHONE}') as is_placeholder
            from pairs
            inner join people_per_identifier using (identifier_type, identifier_value)
            order by all"""
        ).to_arrow_reader(ROW_GROUP_ROWS)
        writer = RowGroupWriter(self.out / "_truth" / "identifiers.parquet")
        for batch in reader:
            writer.write(pa.Table.from_batches([batch]))
        writer.close()
        connection.close()
        self.identifiers_path.unlink()


__all__ = ["DEFECT_RATES", "RawWriter", "RowGroupWriter"]
