"""The BI layer: what the published file holds (nothing personal), how keys are made, the
segment catalog's history and the semantic layer (MetricFlow).

Most tests read the session's sample warehouse (read-only) or a copy of it; one module
fixture rebuilds the identity models of a copy to show keys survive a full refresh.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pytest
import yaml

from dbt_runner import BIN, PROJECT_ROOT, SAMPLE_RAW, dbt_environment, run_dbt, run_segments

EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
PHONE_SHAPE = re.compile(r"\+?[0-9][0-9 ().-]*[0-9]")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}([ T].*)?")
EARLIER_DATE = "2026-03-31"  # an as-of date inside the sample, before its latest
EARLIER_VARS = {"as_of_date": EARLIER_DATE, "high_spender_min_avg_order_value": 150}


# --- the privacy scan of the published file ---------------------------------------------


@dataclass(frozen=True)
class RawPersonalData:
    """What the raw data says is personal, read with its own simple normalisation."""

    names: frozenset[str]  # CRM first and last names, lowercased and trimmed
    customer_ids: frozenset[str]  # CRM ids, trimmed
    phone_digits: frozenset[str]  # digits of every raw CRM phone


def read_raw_personal_data(raw_folder: Path) -> RawPersonalData:
    customers = str(raw_folder / "customers.parquet")
    with duckdb.connect() as connection:

        def values(sql: str) -> frozenset[str]:
            return frozenset(str(row[0]) for row in connection.execute(sql).fetchall() if row[0])

        return RawPersonalData(
            names=values(
                f"select lower(trim(first_name)) from '{customers}' "
                f"union select lower(trim(last_name)) from '{customers}'"
            ),
            customer_ids=values(f"select trim(customer_id) from '{customers}'"),
            phone_digits=values(f"select regexp_replace(phone, '[^0-9]', '', 'g') from '{customers}'"),
        )


INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UBIGINT", "UINTEGER")


def looks_like_phone(text: str, data_type: str, raw: RawPersonalData) -> bool:
    """Text made of phone characters with 7 to 15 digits (not a date), or a text or whole
    number whose digits are a raw CRM phone."""
    digits = re.sub(r"[^0-9]", "", text)
    if data_type in INTEGER_TYPES:
        return digits in raw.phone_digits
    if data_type != "VARCHAR":
        return False
    if digits in raw.phone_digits:
        return True
    stripped = text.strip()
    shaped = PHONE_SHAPE.fullmatch(stripped) is not None and not ISO_DATE.fullmatch(stripped)
    return shaped and 7 <= len(digits) <= 15 and not stripped.isdigit()


def personal_values(published: Path, raw: RawPersonalData) -> list[str]:
    """Every value of every column of every table of the published file that looks like an
    email or a phone, or is a raw CRM name or id: one line each (table.column: value)."""
    findings: list[str] = []
    with duckdb.connect(str(published), read_only=True) as connection:
        columns = connection.execute(
            "select schema_name, table_name, column_name, data_type from duckdb_columns() "
            "where database_name = current_database() order by schema_name, table_name, column_index"
        ).fetchall()
        for schema, table, column, data_type in columns:
            distinct_values = connection.execute(
                f'select distinct cast("{column}" as varchar) from "{schema}"."{table}" where "{column}" is not null'
            ).fetchall()
            for (value,) in distinct_values:
                text = str(value)
                where = f"{schema}.{table}.{column}"
                if EMAIL.search(text):
                    findings.append(f"{where}: email {text!r}")
                elif looks_like_phone(text, str(data_type), raw):
                    findings.append(f"{where}: phone {text!r}")
                elif text.strip().lower() in raw.names:
                    findings.append(f"{where}: name {text!r}")
                elif text.strip() in raw.customer_ids:
                    findings.append(f"{where}: CRM id {text!r}")
    return findings


@pytest.fixture(scope="module")
def raw_personal_data() -> RawPersonalData:
    raw = read_raw_personal_data(SAMPLE_RAW)
    assert len(raw.names) > 20 and len(raw.customer_ids) > 1000 and len(raw.phone_digits) > 500
    return raw


def test_published_file_holds_nothing_personal(published_sample: Path, raw_personal_data: RawPersonalData) -> None:
    assert personal_values(published_sample, raw_personal_data) == []
    with duckdb.connect(str(published_sample), read_only=True) as connection:
        schemas = {row[0] for row in connection.execute("select distinct schema_name from duckdb_tables()").fetchall()}
        customers = connection.execute(
            "select count(*), count(age_band), count(country) from marts.customers"
        ).fetchone()
    assert schemas == {"marts"}  # nothing from schema restricted
    # the scan read the customer dimension BI gets, coarse attributes filled in
    assert customers is not None and customers[0] > 1500 and customers[1] > 1000 and customers[2] > 1000


@pytest.mark.parametrize(
    "kind, planted",
    [
        ("email", "someone.new@mail.example"),
        ("phone", "+44 20 7946 0958"),
        ("name", None),  # a raw CRM first name, with different case
        ("CRM id", None),  # a raw CRM customer_id
    ],
)
def test_the_scan_finds_a_planted_value(
    published_sample: Path,
    raw_personal_data: RawPersonalData,
    tmp_path: Path,
    kind: str,
    planted: str | None,
) -> None:
    if planted is None:
        planted = (
            sorted(raw_personal_data.names)[0].upper() if kind == "name" else sorted(raw_personal_data.customer_ids)[0]
        )
    copy = tmp_path / "published.duckdb"
    shutil.copy(published_sample, copy)
    with duckdb.connect(str(copy)) as connection:
        connection.execute(
            "update marts.customers set country = ? where customer_key = (select min(customer_key) from marts.customers)",
            [planted],
        )
    assert personal_values(copy, raw_personal_data) == [f"marts.customers.country: {kind} {planted!r}"]


def test_restricted_models_are_never_published(sample_warehouse: Path) -> None:
    manifest = json.loads((sample_warehouse.parent / "target" / "manifest.json").read_text())
    restricted = {
        node["name"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["schema"] == "restricted"
    }
    assert {"restricted_customer_profiles", "restricted_customer_contacts", "customer_identifiers"} <= set(restricted)
    assert [name for name, node in restricted.items() if node["config"].get("meta", {}).get("publish")] == []
    personal = {"first_name", "last_name", "birth_date", "city", "email", "phone", "primary_customer_id"}
    outside = [
        f"{node['name']}.{column}"
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["schema"] == "marts"  # staging cleans it, no mart keeps it
        for column in node["columns"]
        if column in personal
    ]
    assert outside == []


def age_band(birth_date: date, on: date, lower_bounds: list[int]) -> str | None:
    """The band of the age in whole years on a date, computed here independently of dbt."""
    age = on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))
    if age < 0:
        return None
    if age < lower_bounds[0]:
        return f"under {lower_bounds[0]}"
    for lower, upper in itertools.pairwise(lower_bounds):
        if age < upper:
            return f"{lower}-{upper - 1}"
    return f"{lower_bounds[-1]}+"


def test_age_band_and_country_come_from_the_latest_crm_record(sample_warehouse: Path) -> None:
    lower_bounds = yaml.safe_load((PROJECT_ROOT / "dbt_project.yml").read_text())["vars"][
        "customer_age_band_lower_bounds"
    ]
    with duckdb.connect(str(sample_warehouse), read_only=True) as connection:
        reference = connection.execute("select max(last_seen_date) from marts.customers").fetchone()[0]
        rows = connection.execute("""
            select customers.age_band, customers.country, profiles.birth_date, profiles.country
            from marts.customers
            left join restricted.restricted_customer_profiles as profiles using (customer_key)
        """).fetchall()
    mismatches = [
        row
        for row in rows
        if row[0] != (age_band(row[2], reference, lower_bounds) if row[2] else None) or row[1] != row[3]
    ]
    assert mismatches == []
    assert len({row[0] for row in rows}) >= len(lower_bounds)  # the bands are really used


def test_restricted_contacts_hold_the_latest_crm_email_and_consent(sample_warehouse: Path) -> None:
    """One row per customer with a CRM account; its email and consent are those of a raw CRM
    version of one of the customer's accounts, read again from the raw file."""
    customers = str(SAMPLE_RAW / "customers.parquet")
    with duckdb.connect(str(sample_warehouse), read_only=True) as connection:
        counts = connection.execute("""
            select
                (select count(*) from restricted.restricted_customer_contacts),
                (select count(distinct customer_key) from restricted.restricted_customer_contacts),
                (select count(*) from marts.customers where has_crm_account)
        """).fetchone()
        unmatched = connection.execute(f"""
            with latest_raw as (
                select trim(customer_id) as customer_id, lower(trim(email)) as email,
                    coalesce(marketing_opt_in, false) as is_marketing_opted_in
                from '{customers}'
                qualify row_number() over (partition by trim(customer_id) order by updated_at desc) = 1
            )
            select count(*)
            from restricted.restricted_customer_contacts as contacts
            left join latest_raw
                on contacts.primary_customer_id = latest_raw.customer_id
                    and contacts.email is not distinct from latest_raw.email
                    and contacts.is_marketing_opted_in = latest_raw.is_marketing_opted_in
            where latest_raw.customer_id is null
        """).fetchone()
    assert counts is not None and counts[0] == counts[1] == counts[2] > 1000
    # staging may quarantine a bad latest version, so allow a few; never most
    assert unmatched is not None and unmatched[0] < counts[0] * 0.02


# --- keys ---------------------------------------------------------------------------------


def secret_of(database: Path) -> str:
    with duckdb.connect(str(database), read_only=True) as connection:
        rows = connection.execute("select secret from restricted.customer_key_secret").fetchall()
    assert len(rows) == 1
    return str(rows[0][0])


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def identifiers_and_keys(database: Path) -> list[tuple[str, str, str]]:
    with duckdb.connect(str(database), read_only=True) as connection:
        return [
            (str(kind), str(value), str(key))
            for kind, value, key in connection.execute(
                "select identifier_type, identifier_value, customer_key from restricted.customer_identifiers"
            ).fetchall()
        ]


@pytest.mark.skipif(bool(os.environ.get("SEGMENTS_CUSTOMER_KEY_SALT")), reason="the environment overrides the secret")
def test_keys_are_salted_with_the_warehouse_secret_not_guessable(sample_warehouse: Path) -> None:
    secret = secret_of(sample_warehouse)
    assert re.fullmatch(r"[0-9a-f]{64}", secret)
    rows = identifiers_and_keys(sample_warehouse)
    assert not [row for row in rows if md5(f"{row[0]}:{row[1]}") == row[2]]  # never the unsalted hash
    # every customer's key is md5(secret + "type:value") of one of its own identifiers
    made_from = {key for kind, value, key in rows if md5(f"{secret}{kind}:{value}") == key}
    assert made_from == {key for _, _, key in rows}


@pytest.mark.skipif(bool(os.environ.get("SEGMENTS_CUSTOMER_KEY_SALT")), reason="the environment overrides the secret")
def test_erasure_keys_use_the_same_secret(sample_warehouse: Path) -> None:
    """stg_privacy__erased_identifiers holds md5(secret + type:value) of every requested id."""
    requests = str(SAMPLE_RAW / "erasure_requests.parquet")
    secret = secret_of(sample_warehouse)
    with duckdb.connect(str(sample_warehouse), read_only=True) as connection:
        requested = [row[0] for row in connection.execute(f"select trim(customer_id) from '{requests}'").fetchall()]
        erased = {
            row[0]
            for row in connection.execute(
                "select identifier_key from staging.stg_privacy__erased_identifiers "
                "where identifier_type = 'customer_id'"
            ).fetchall()
        }
    requested = [customer_id for customer_id in requested if customer_id]
    assert requested and {md5(f"{secret}customer_id:{customer_id}") for customer_id in requested} <= erased


@pytest.fixture(scope="module")
def rebuilt_copy(sample_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the sample warehouse, loaded again and its identity models rebuilt with
    --full-refresh (the key-making subgraph only: nothing else makes keys)."""
    work = tmp_path_factory.mktemp("rebuilt")
    database = work / "warehouse.duckdb"
    shutil.copy(sample_warehouse, database)
    loaded = run_segments(["load", "--from", str(SAMPLE_RAW), "--database", str(database)])
    assert loaded.returncode == 0, loaded.stderr
    run_dbt(["run", "--full-refresh", "--select", "+customer_identifiers"], database, work)
    # an earlier as-of date rebuilt with another threshold: its catalog row keeps that value
    run_dbt(
        ["run", "--select", "int_as_of_date", "segment_catalog_history"],
        database,
        work,
        EARLIER_VARS,
    )
    return database


def test_keys_survive_a_new_load_and_a_full_refresh(sample_warehouse: Path, rebuilt_copy: Path) -> None:
    assert secret_of(rebuilt_copy) == secret_of(sample_warehouse)
    before = identifiers_and_keys(sample_warehouse)
    assert sorted(identifiers_and_keys(rebuilt_copy)) == sorted(before) and len(before) > 5000


def test_catalog_history_keeps_the_vars_each_date_was_built_with(sample_warehouse: Path, rebuilt_copy: Path) -> None:
    query = """
        select cast(as_of_date as varchar), vars_used from marts.segment_catalog_history
        where segment_name = 'high_spenders'
    """
    with duckdb.connect(str(sample_warehouse), read_only=True) as connection:
        latest = connection.execute("select cast(max(as_of_date) as varchar) from marts.customer_segments").fetchone()
        catalog = connection.execute(
            "select vars_used from marts.segment_catalog where segment_name = 'high_spenders'"
        ).fetchone()
        sample_history = dict(connection.execute(query).fetchall())
    with duckdb.connect(str(rebuilt_copy), read_only=True) as connection:
        history = dict(connection.execute(query).fetchall())
    assert latest is not None and catalog is not None
    built = "high_spender_min_avg_order_value = 100; high_spender_window_days = 90"
    assert sample_history == {latest[0]: built} and catalog[0] == built
    assert history == {latest[0]: built, EARLIER_DATE: built.replace("= 100", "= 150")}


def test_every_catalog_segment_has_its_own_label_and_description(sample_warehouse: Path) -> None:
    with duckdb.connect(str(sample_warehouse), read_only=True) as connection:
        rows = connection.execute(
            "select segment_family, segment_name, segment_label, description from marts.segment_catalog"
        ).fetchall()
        stored = connection.execute(
            "select distinct segment_family, segment_name from marts.segment_memberships"
        ).fetchall()
        clusters = connection.execute("select count(distinct cluster_name) from marts.cluster_profiles").fetchone()
    # rfm, behavioural, lifecycle; the predictive bands, risk levels and not_scored rows; and
    # every cluster discovered in the history
    assert clusters is not None and clusters[0] >= 2
    assert len(rows) == 12 + 8 + 6 + 9 + clusters[0]
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", name) for _, name, _, _ in rows)
    assert all(label and description for _, _, label, description in rows)
    assert len({description for *_, description in rows}) == len(rows)
    assert set(stored) <= {(family, name) for family, name, _, _ in rows}


def test_two_fresh_warehouses_get_different_secrets(tmp_path: Path) -> None:
    secrets = []
    for name in ("one", "two"):
        database = tmp_path / name / "warehouse.duckdb"
        database.parent.mkdir()
        loaded = run_segments(["load", "--from", str(SAMPLE_RAW), "--database", str(database)])
        assert loaded.returncode == 0, loaded.stderr
        secrets.append(secret_of(database))
    assert secrets[0] != secrets[1]


@pytest.mark.skipif(bool(os.environ.get("SEGMENTS_CUSTOMER_KEY_SALT")), reason="the environment overrides the secret")
def test_a_build_without_the_secret_fails_with_the_remedy(rebuilt_copy: Path, tmp_path: Path) -> None:
    database = tmp_path / "warehouse.duckdb"
    shutil.copy(rebuilt_copy, database)
    with duckdb.connect(str(database)) as connection:
        connection.execute("drop table restricted.customer_key_secret")
    # the rebuilt copy's target folder and vars: dbt reuses its parse
    result = run_dbt(["run", "--select", "int_as_of_date"], database, rebuilt_copy.parent, EARLIER_VARS, check=False)
    assert result.returncode != 0
    assert "the warehouse has no customer key secret" in result.stdout


# --- the semantic layer ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def metricflow_project(sample_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A throwaway project folder for mf (which reads <project>/target/semantic_manifest.json):
    links to the project's sources, the sample build's semantic manifest, and a copy of the
    sample warehouse (mf opens it read-write). Returns the environment for mf."""
    work = tmp_path_factory.mktemp("metricflow")
    project = work / "project"
    (project / "target").mkdir(parents=True)
    for entry in ("dbt_project.yml", "selectors.yml", "models", "macros", "seeds", "tests", "analyses", "profiles"):
        (project / entry).symlink_to(PROJECT_ROOT / entry)
    shutil.copy(sample_warehouse.parent / "target" / "semantic_manifest.json", project / "target")
    database = work / "warehouse.duckdb"
    shutil.copy(sample_warehouse, database)
    environment = dbt_environment(database, work)
    environment.update(
        {
            "DBT_PROJECT_DIR": str(project),
            "DBT_TARGET_PATH": str(project / "target"),
            # mf checks PyPI for a newer version on every run: a closed local port keeps it offline
            "HTTPS_PROXY": "http://127.0.0.1:9",
            "HTTP_PROXY": "http://127.0.0.1:9",
            "NO_PROXY": "",
        }
    )
    environment["PROJECT"] = str(project)
    environment["DATABASE"] = str(database)
    return environment


def run_mf(arguments: list[str], environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "mf"), *arguments],
        cwd=environment["PROJECT"],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )


def test_metricflow_validates_the_semantic_layer(metricflow_project: dict[str, str]) -> None:
    result = run_mf(["validate-configs"], metricflow_project)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "Successfully validated the semantics of built manifest (ERRORS: 0" in result.stdout
    assert "Successfully validated metrics against data warehouse (ERRORS: 0" in result.stdout


def test_metricflow_saved_query_matches_sql_on_the_marts(metricflow_project: dict[str, str], tmp_path: Path) -> None:
    output = tmp_path / "segment_performance.csv"
    result = run_mf(["query", "--saved-query", "segment_performance", "--csv", str(output)], metricflow_project)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    with output.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    got = {
        (
            row["segment_membership__as_of_date__day"][:10],
            row["segment_membership__segment_family"],
            row["segment_membership__segment_name"],
        ): row
        for row in rows
    }
    # the same figures straight from the history marts (not from segment_customer_facts)
    with duckdb.connect(metricflow_project["DATABASE"], read_only=True) as connection:
        expected = connection.execute("""
            with populations as (
                select as_of_date, count(*) as customers from marts.customer_segments group by as_of_date
            )
            select
                cast(memberships.as_of_date as varchar),
                memberships.segment_family,
                memberships.segment_name,
                count(*) as customers,
                count(*) / max(populations.customers) as share,
                sum(segments.monetary) as revenue,
                sum(segments.monetary) / nullif(sum(segments.frequency), 0) as average_order_value,
                sum(segments.frequency) / count(*) as orders_per_customer
            from marts.segment_memberships as memberships
            inner join marts.customer_segments as segments using (as_of_date, customer_key)
            inner join populations using (as_of_date)
            group by all
        """).fetchall()
    assert len(expected) > 20 and set(got) == {row[:3] for row in expected}
    for key_date, family, name, customers, share, revenue, average_order_value, orders_per_customer in expected:
        row = got[(key_date, family, name)]
        assert int(row["customers"]) == customers
        assert float(row["share_of_customers"]) == pytest.approx(share, rel=1e-9)
        assert float(row["revenue"]) == pytest.approx(float(revenue), abs=0.005)
        if average_order_value is None:
            assert row["average_order_value"] == ""
        else:
            assert float(row["average_order_value"]) == pytest.approx(float(average_order_value), rel=1e-9)
        assert float(row["orders_per_customer"]) == pytest.approx(float(orders_per_customer), rel=1e-9)
