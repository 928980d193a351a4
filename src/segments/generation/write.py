"""Writing: the documented defects applied to the clean tables, each table's file in its
final row order, ``_truth/defects.parquet`` and ``_truth/identifiers.parquet``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from segments.contract import TABLES
from segments.generation.parameters import DEFECT_RATES, FUTURE_YEARS, LATE_EVENT_SHARE
from segments.generation.vocabulary import PLACEHOLDER_EMAIL, PLACEHOLDER_PHONE

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
LATE_TABLES = ("web_events", "app_events", "email_events")


def inject_defects_and_write(
    connection: duckdb.DuckDBPyConnection,
    rng: np.random.Generator,
    horizon_seconds: int,
    out: Path,
    file_format: str,
    progress: Progress,
) -> dict[str, int]:
    """Apply the documented defects, order the rows, write every table and defects.parquet."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "_truth").mkdir(exist_ok=True)
    counts: dict[str, int] = {}
    defect_selects: list[str] = []
    for table in TABLES:
        name = table.name
        rows = connection.execute(f"select count(*) from {name}_clean").fetchall()[0][0]
        defect_names = [defect for (table_name, defect) in DEFECT_RATES if table_name == name]
        # one defect at most per row; drawn in a fixed order for determinism
        codes = np.zeros(rows, np.int8)
        draws = rng.random(rows)
        threshold = 0.0
        for index, defect in enumerate(defect_names, start=1):
            rate = DEFECT_RATES[(name, defect)]
            codes[(draws >= threshold) & (draws < threshold + rate)] = index
            threshold += rate
        is_late = (rng.random(rows) < LATE_EVENT_SHARE) if name in LATE_TABLES else np.zeros(rows, bool)
        future_seconds = rng.integers(FUTURE_YEARS[0] * 365 * 86400, FUTURE_YEARS[1] * 365 * 86400, rows)
        connection.register(
            f"{name}_flags",
            pa.table(
                {
                    "position": np.arange(1, rows + 1),
                    "defect_code": codes,
                    "is_late": is_late,
                    "future_seconds": future_seconds,
                }
            ),
        )
        defect_case = (
            "case flags.defect_code "
            + " ".join(f"when {index} then '{defect}'" for index, defect in enumerate(defect_names, start=1))
            + " end"
            if defect_names
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
        if "email" in table.column_names and (name == "orders" or name in ("customers", "email_events")):
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
        connection.execute(
            f"""create view {name}_flagged as
            with joined as (
                select clean.*, flags.is_late, flags.future_seconds, {defect_case} as defect
                from {name}_clean as clean
                inner join {name}_flags as flags using (position)
            )
            select {columns}, defect, is_late, position
            from joined as clean"""
        )
        # duplicates are delivered again: appended after the late rows, as a second copy
        connection.execute(
            f"""create view {name}_final as
            with delivered as (
                select *, 0 as copy from {name}_flagged
                union all
                select * replace ('duplicate_delivery' as defect), 1 as copy
                from {name}_flagged where defect = 'duplicate_delivery'
            )
            select * exclude (copy), row_number() over (order by copy, is_late, position) as file_row
            from delivered"""
        )
        columns_list = ", ".join(table.column_names)
        target = out / f"{name}.{file_format}"
        options = (
            "(format parquet, compression zstd, row_group_size 1000000)"
            if file_format == "parquet"
            else "(format csv, header true)"
        )
        written = connection.execute(
            f"copy (select {columns_list} from {name}_final order by file_row) to '{target}' {options}"
        ).fetchall()
        counts[name] = int(written[0][0])
        for other in ("parquet", "csv"):
            stale = out / f"{name}.{other}"
            if other != file_format and stale.exists():
                stale.unlink()
        # the first copy of a duplicated row is fine; only the re-delivery is the defect
        defect_selects.append(
            f"select '{name}' as table_name, file_row as raw_row_id, defect from {name}_final "
            f"where defect is not null and (defect != 'duplicate_delivery' or file_row > "
            f"(select count(*) from {name}_flagged))"
        )
        progress(f"{name}: {counts[name]:,} rows written")
    connection.execute(
        f"copy ({' union all '.join(defect_selects)} order by table_name, raw_row_id) "
        f"to '{out / '_truth' / 'defects.parquet'}' (format parquet)"
    )
    return counts


def write_truth(connection: duckdb.DuckDBPyConnection, out: Path) -> None:
    """identifiers.parquet: every identifier (normalised) with its true person(s)."""
    connection.execute(
        f"""copy (
        with pairs as (
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
            from app_sessions
        ),
        people_per_identifier as (
            select identifier_type, identifier_value, count(distinct person) as people
            from pairs group by all
        )
        select
            pairs.identifier_type,
            pairs.identifier_value,
            person_identity.person_id,
            people_per_identifier.people > 1 as is_shared,
            pairs.identifier_value in ('{PLACEHOLDER_EMAIL}', '{PLACEHOLDER_PHONE}') as is_placeholder
        from pairs
        inner join people_per_identifier using (identifier_type, identifier_value)
        inner join person_identity on pairs.person = person_identity.person
        order by all
        ) to '{out / "_truth" / "identifiers.parquet"}' (format parquet)"""
    )
