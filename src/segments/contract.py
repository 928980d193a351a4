"""The raw data contract: the tables a user may bring and the type of every column.

This module is the single source of truth for the contract. The loader validates folders
against it, the generator writes folders that follow it, and the README documents it.

Only ``orders`` is required. Every other table may be absent and then loads as an empty
table with the contract's columns, so the dbt sources always exist.
"""

from __future__ import annotations

from dataclasses import dataclass

# DuckDB types used in the raw schema. Identifiers are text: real systems mix numeric and
# alphanumeric ids, and a leading zero must survive. Amounts are exact decimals in one
# reporting currency. Timestamps are stored as UTC without a zone: a value that carries an
# offset is converted to UTC on load, a value without one is taken to be UTC already.
TEXT = "varchar"
INTEGER = "bigint"
BOOLEAN = "boolean"
DATE = "date"
TIMESTAMP = "timestamp"
AMOUNT = "decimal(18, 2)"
PRICE = "decimal(18, 4)"


@dataclass(frozen=True)
class Table:
    """One raw table of the contract: its name, whether it is required, and its columns."""

    name: str
    required: bool
    columns: tuple[tuple[str, str], ...]
    description: str

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]


TABLES: tuple[Table, ...] = (
    Table(
        "customers",
        False,
        (
            ("customer_id", TEXT),
            ("email", TEXT),
            ("phone", TEXT),
            ("first_name", TEXT),
            ("last_name", TEXT),
            ("birth_date", DATE),
            ("gender", TEXT),
            ("city", TEXT),
            ("country", TEXT),
            ("loyalty_tier", TEXT),
            ("marketing_opt_in", BOOLEAN),
            ("created_at", TIMESTAMP),
            ("updated_at", TIMESTAMP),
        ),
        "CRM accounts; a customer may appear in several versions (one row per update).",
    ),
    Table(
        "orders",
        True,
        (
            ("order_id", TEXT),
            ("customer_id", TEXT),
            ("email", TEXT),
            ("ordered_at", TIMESTAMP),
            ("status", TEXT),
            ("order_total", AMOUNT),
            ("channel", TEXT),
        ),
        "Orders; customer_id is null for a guest checkout. status: completed, cancelled, "
        "returned. channel: web, app, store.",
    ),
    Table(
        "order_items",
        False,
        (
            ("order_id", TEXT),
            ("line_number", INTEGER),
            ("product_id", TEXT),
            ("category", TEXT),
            ("quantity", INTEGER),
            ("unit_price", PRICE),
        ),
        "Order lines.",
    ),
    Table(
        "web_events",
        False,
        (
            ("event_id", TEXT),
            ("anonymous_id", TEXT),
            ("user_id", TEXT),
            ("session_id", TEXT),
            ("event_type", TEXT),
            ("page_path", TEXT),
            ("product_id", TEXT),
            ("occurred_at", TIMESTAMP),
            ("device_type", TEXT),
        ),
        "Web events; user_id is the CRM customer_id when logged in. event_type: page_view, "
        "product_view, add_to_cart, checkout, purchase.",
    ),
    Table(
        "app_events",
        False,
        (
            ("event_id", TEXT),
            ("device_id", TEXT),
            ("user_id", TEXT),
            ("session_id", TEXT),
            ("event_name", TEXT),
            ("occurred_at", TIMESTAMP),
            ("platform", TEXT),
        ),
        "App events. event_name: app_open, screen_view, product_view, add_to_cart, purchase.",
    ),
    Table(
        "email_events",
        False,
        (
            ("event_id", TEXT),
            ("email", TEXT),
            ("campaign_id", TEXT),
            ("event_type", TEXT),
            ("occurred_at", TIMESTAMP),
        ),
        "Email events. event_type: sent, delivered, open, click, bounce, unsubscribe.",
    ),
    Table(
        "erasure_requests",
        False,
        (
            ("request_id", TEXT),
            ("customer_id", TEXT),
            ("email", TEXT),
            ("requested_at", TIMESTAMP),
        ),
        "Privacy erasure requests, by customer_id, email or both.",
    ),
)

TABLES_BY_NAME: dict[str, Table] = {table.name: table for table in TABLES}

# File formats the loader reads, by extension.
FILE_EXTENSIONS: tuple[str, ...] = (".parquet", ".csv")

# Columns the loader adds to every raw table for lineage and reconciliation.
# _raw_row_id is unique across deliveries: the first delivery numbers its rows 1..n in file
# order, every appended delivery continues after the table's largest id, so ordering by it
# is delivery order, then file order.
RAW_ROW_ID = "_raw_row_id"
RAW_SOURCE_FILE = "_source_file"  # the file name the row came from
RAW_LOADED_AT = "_loaded_at"  # UTC timestamp of the load
RAW_DELIVERY_ID = "_delivery_id"  # the delivery the row came in (raw.deliveries)
LINEAGE_COLUMNS: tuple[str, ...] = (RAW_ROW_ID, RAW_SOURCE_FILE, RAW_LOADED_AT, RAW_DELIVERY_ID)


def render_markdown_table() -> str:
    """The contract as the markdown table the README shows (a test keeps them equal)."""
    lines = ["| table | required | columns (type) | notes |", "| --- | --- | --- | --- |"]
    for table in TABLES:
        columns = ", ".join(f"`{name}` ({column_type})" for name, column_type in table.columns)
        lines.append(f"| `{table.name}` | {'yes' if table.required else 'no'} | {columns} | {table.description} |")
    return "\n".join(lines)
