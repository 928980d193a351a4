"""Identity resolution on hand-made hard cases, built end to end with dbt.

Each case uses its own identifiers, so one small warehouse holds all of them. Expected
results are written by hand from the case descriptions, not read from the models.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

import duckdb
import pytest

from dbt_runner import build_warehouse, run_dbt
from segments.contract import TABLES_BY_NAME

pytestmark = pytest.mark.slow

CHAIN_ACCOUNTS = 25  # 25 accounts + 25 emails = a chain of 50 identifiers


def write_table(folder: Path, table: str, rows: list[dict[str, object]]) -> None:
    columns = TABLES_BY_NAME[table].column_names
    with open(folder / f"{table}.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({column: row.get(column) for column in columns})


def crm(customer_id: str, email: str | None, updated_at: str = "2025-01-01", phone: str | None = None) -> dict[str, object]:
    return {
        "customer_id": customer_id, "email": email, "phone": phone,
        "created_at": "2025-01-01", "updated_at": updated_at, "marketing_opt_in": "true",
    }


def order(order_id: str, customer_id: str | None, email: str | None, ordered_at: str = "2025-03-01") -> dict[str, object]:
    return {
        "order_id": order_id, "customer_id": customer_id, "email": email,
        "ordered_at": ordered_at, "status": "completed", "order_total": "10.00", "channel": "web",
    }


def hard_cases(folder: Path) -> dict[str, list[dict[str, object]]]:
    folder.mkdir(parents=True, exist_ok=True)
    customers = [
        # email case and whitespace variants on two accounts of one person
        crm("c-variant-1", "  Ann.Lee@Example.ORG "),
        crm("c-variant-2", "ann.lee@example.org"),
        # chain: cookie -> account -> email -> guest order
        crm("c-chain", "chain@mail.test", updated_at="2025-01-02"),
        # shared tablet: two people on one device
        crm("c-tablet-1", "tablet.one@mail.test"),
        crm("c-tablet-2", "tablet.two@mail.test"),
        # placeholder email on two strangers' accounts
        crm("c-placeholder-1", "test@example.com", phone="111-222-3333"),
        crm("c-placeholder-2", "TEST@example.com", phone="444 555 6666"),
        # erased customer
        crm("c-erased", "erased@mail.test"),
        # the merge case for stability: an account and, separately, a guest email
        crm("c-merge", "merge.account@mail.test"),
    ]
    for index in range(CHAIN_ACCOUNTS):
        # account i held email i-1 first and email i later: the chain links every pair
        account = f"c-long-{index:02d}"
        if index > 0:
            customers.append(crm(account, f"long-{index - 1:02d}@mail.test", "2025-01-01"))
        customers.append(crm(account, f"long-{index:02d}@mail.test", "2025-02-01"))
    # the same chain again with identifier values in shuffled order, so node ids (and the
    # smallest label) fall anywhere along it: plain label propagation then needs many steps
    shuffled = [f"{number:03d}" for number in random.Random(0).sample(range(1000), 2 * CHAIN_ACCOUNTS)]
    for index in range(CHAIN_ACCOUNTS):
        account = f"c-shuffled-{shuffled[2 * index]}"
        if index > 0:
            customers.append(crm(account, f"shuffled-{shuffled[2 * index - 1]}@mail.test", "2025-01-01"))
        customers.append(crm(account, f"shuffled-{shuffled[2 * index + 1]}@mail.test", "2025-02-01"))
    orders = [
        order("o-chain-guest", None, "CHAIN@mail.test "),
        order("o-placeholder-1", "c-placeholder-1", None),
        order("o-placeholder-guest", None, "test@example.com"),
        order("o-erased-guest", None, "erased@mail.test"),
        order("o-merge-guest", None, "merge.guest@mail.test", "2025-04-01"),
    ]
    web_events = [
        {"event_id": "w-chain-1", "anonymous_id": "cookie-chain", "user_id": None,
         "session_id": "s1", "event_type": "page_view", "occurred_at": "2024-12-20"},
        {"event_id": "w-chain-2", "anonymous_id": "cookie-chain", "user_id": "c-chain",
         "session_id": "s2", "event_type": "product_view", "occurred_at": "2025-01-05"},
        {"event_id": "w-anonymous", "anonymous_id": "cookie-never-logged-in", "user_id": None,
         "session_id": "s3", "event_type": "page_view", "occurred_at": "2025-01-05"},
    ]
    app_events = [
        {"event_id": "a-tablet-1", "device_id": "device-tablet", "user_id": "c-tablet-1",
         "session_id": "t1", "event_name": "app_open", "occurred_at": "2025-02-01"},
        {"event_id": "a-tablet-2", "device_id": "device-tablet", "user_id": "c-tablet-2",
         "session_id": "t2", "event_name": "app_open", "occurred_at": "2025-02-02"},
        {"event_id": "a-tablet-anonymous", "device_id": "device-tablet", "user_id": None,
         "session_id": "t3", "event_name": "app_open", "occurred_at": "2025-02-03"},
    ]
    erasure_requests = [{"request_id": "r1", "customer_id": "c-erased", "requested_at": "2025-05-01"}]
    tables = {
        "customers": customers, "orders": orders, "web_events": web_events,
        "app_events": app_events, "erasure_requests": erasure_requests,
    }
    for table, rows in tables.items():
        write_table(folder, table, rows)
    return tables


def keys_by_identifier(database: Path) -> dict[tuple[str, str], str]:
    with duckdb.connect(str(database), read_only=True) as connection:
        rows = connection.execute(
            "select identifier_type, identifier_value, customer_key from marts.customer_identifiers"
        ).fetchall()
    return {(kind, value): key for kind, value, key in rows}


@pytest.fixture(scope="module")
def identity_warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    work_dir = tmp_path_factory.mktemp("identity")
    hard_cases(work_dir / "raw")
    return build_warehouse(work_dir / "raw", work_dir), work_dir


def test_email_variants_merge(identity_warehouse: tuple[Path, Path]) -> None:
    keys = keys_by_identifier(identity_warehouse[0])
    assert keys[("customer_id", "c-variant-1")] == keys[("customer_id", "c-variant-2")]
    assert keys[("email", "ann.lee@example.org")] == keys[("customer_id", "c-variant-1")]


def test_chain_across_three_systems_merges(identity_warehouse: tuple[Path, Path]) -> None:
    database = identity_warehouse[0]
    keys = keys_by_identifier(database)
    account_key = keys[("customer_id", "c-chain")]
    assert keys[("anonymous_id", "cookie-chain")] == account_key
    assert keys[("email", "chain@mail.test")] == account_key
    with duckdb.connect(str(database), read_only=True) as connection:
        guest_key = connection.execute(
            "select customer_key from intermediate.int_orders_attributed where order_id = 'o-chain-guest'"
        ).fetchall()[0][0]
        anonymous_before_login = connection.execute(
            "select customer_key from intermediate.int_web_events_attributed where event_id = 'w-chain-1'"
        ).fetchall()[0][0]
    assert guest_key == account_key  # a guest order goes to the CRM customer with that email
    assert anonymous_before_login == account_key  # browsing before login joins the person


def test_shared_tablet_does_not_merge(identity_warehouse: tuple[Path, Path]) -> None:
    database = identity_warehouse[0]
    keys = keys_by_identifier(database)
    assert keys[("customer_id", "c-tablet-1")] != keys[("customer_id", "c-tablet-2")]
    assert ("device_id", "device-tablet") not in keys
    with duckdb.connect(str(database), read_only=True) as connection:
        attributed = dict(connection.execute(
            "select event_id, customer_key from intermediate.int_app_events_attributed"
        ).fetchall())
        audit = connection.execute(
            "select exclusion_rule from marts.identity_exclusions where identifier_value = 'device-tablet'"
        ).fetchall()
    assert attributed["a-tablet-1"] == keys[("customer_id", "c-tablet-1")]
    assert attributed["a-tablet-2"] == keys[("customer_id", "c-tablet-2")]
    assert attributed["a-tablet-anonymous"] is None
    assert audit == [("shared_device_id",)]


def test_placeholder_email_does_not_merge_strangers(identity_warehouse: tuple[Path, Path]) -> None:
    database = identity_warehouse[0]
    keys = keys_by_identifier(database)
    assert keys[("customer_id", "c-placeholder-1")] != keys[("customer_id", "c-placeholder-2")]
    assert ("email", "test@example.com") not in keys
    with duckdb.connect(str(database), read_only=True) as connection:
        audit = connection.execute(
            "select exclusion_rule from marts.identity_exclusions where identifier_value = 'test@example.com'"
        ).fetchall()
        placeholder_guest = connection.execute(
            "select customer_key from intermediate.int_orders_attributed where order_id = 'o-placeholder-guest'"
        ).fetchall()[0][0]
    assert audit == [("blocklist",)]
    assert placeholder_guest is None


def test_erased_customer_appears_nowhere(identity_warehouse: tuple[Path, Path]) -> None:
    database = identity_warehouse[0]
    keys = keys_by_identifier(database)
    assert ("customer_id", "c-erased") not in keys
    assert ("email", "erased@mail.test") not in keys
    with duckdb.connect(str(database), read_only=True) as connection:
        for schema, table in connection.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema in ('intermediate', 'marts')"
        ).fetchall():
            text = connection.execute(
                f"select count(*) from {schema}.{table} as row_values "
                f"where cast(row_values as varchar) ilike '%erased%' or cast(row_values as varchar) like '%o-erased%'"
            ).fetchall()[0][0]
            assert text == 0, f"{schema}.{table} still holds the erased customer"


def test_long_chain_converges(identity_warehouse: tuple[Path, Path]) -> None:
    keys = keys_by_identifier(identity_warehouse[0])
    chain = {keys[("customer_id", f"c-long-{index:02d}")] for index in range(CHAIN_ACCOUNTS)}
    chain |= {keys[("email", f"long-{index:02d}@mail.test")] for index in range(CHAIN_ACCOUNTS)}
    assert len(chain) == 1
    shuffled = {key for (kind, value), key in keys.items() if "shuffled" in value}
    assert len(shuffled) == 1 and len([value for (_, value) in keys if "shuffled" in value]) == 2 * CHAIN_ACCOUNTS


def test_iteration_limit_fails_loudly(identity_warehouse: tuple[Path, Path]) -> None:
    database, work_dir = identity_warehouse
    result = run_dbt(
        ["run", "--select", "int_identity__components"], database, work_dir / "limited",
        {"identity_max_iterations": 3}, check=False,
    )
    assert result.returncode != 0
    assert "did not converge within identity_max_iterations = 3" in result.stdout


def test_keys_are_stable_when_data_arrives_and_customers_merge(tmp_path: Path) -> None:
    first_day = hard_cases(tmp_path / "raw_first")
    first = keys_by_identifier(build_warehouse(tmp_path / "raw_first", tmp_path / "first"))
    later = tmp_path / "raw_later"
    later.mkdir()
    extra_orders = [
        # the account now checks out with the guest's email: the two customers merge
        order("o-merge-link", "c-merge", "merge.guest@mail.test", "2025-06-01"),
        order("o-new-person", None, "brand.new@mail.test", "2025-06-01"),
    ]
    extra_web = [
        {"event_id": "w-new-cookie", "anonymous_id": "cookie-new", "user_id": "c-variant-1",
         "session_id": "s9", "event_type": "page_view", "occurred_at": "2025-06-01"},
    ]
    for table, rows in first_day.items():
        rows = rows + (extra_orders if table == "orders" else extra_web if table == "web_events" else [])
        write_table(later, table, rows)
    second = keys_by_identifier(build_warehouse(later, tmp_path / "second"))

    merged_away = ("email", "merge.guest@mail.test")
    survivor = ("customer_id", "c-merge")  # first seen 2025-01-01, before the guest email
    assert second[merged_away] == second[survivor] == first[survivor]
    assert first[merged_away] != first[survivor]
    changed = {identifier for identifier, key in first.items() if second.get(identifier) != key}
    assert changed == {merged_away}
    assert second[("anonymous_id", "cookie-new")] == first[("customer_id", "c-variant-1")]
    assert ("email", "brand.new@mail.test") in second
