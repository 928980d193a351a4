"""History and backfill safety, and the drift gate's fixed reference (issue 9, sections 6 and 7)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
import pytest

from dbt_runner import DATA_ONLY, PROJECT_ROOT, SAMPLE_RAW, build_warehouse, run_dbt, run_segments
from segments.gx_checks import load_suites, run_checks

pytestmark = pytest.mark.slow
SUITES = load_suites(PROJECT_ROOT / "gx" / "expectations")
REFUSAL = "the segment history holds another data set"


def copy_warehouse(source: Path, work_dir: Path) -> Path:
    work_dir.mkdir(parents=True, exist_ok=True)
    database = work_dir / "warehouse.duckdb"
    shutil.copy(source, database)
    return database


def failures(dbt_output: str) -> list[str]:
    """The models and tests whose failure stopped a dbt run (warnings excluded)."""
    return re.findall(r"Failure in (?:model|test) (\w+)", dbt_output)


def history_state(database: Path) -> tuple:
    """Dates, rows and a checksum of every incremental history table."""
    with duckdb.connect(str(database), read_only=True) as connection:
        return tuple(
            connection.execute(
                f"select list(distinct as_of_date order by as_of_date), count(*), "
                f"sum(hash(columns(*)))::hugeint from marts.{table}"
            ).fetchone()
            for table in ("customer_segments", "segment_memberships", "rfm_cutoffs")
        )


def test_backfill_of_an_earlier_date_then_check_passes_and_bad_data_still_fails(
    sample_warehouse: Path, tmp_path: Path
) -> None:
    database = copy_warehouse(sample_warehouse, tmp_path / "wh")  # built as of 2026-06-30
    result = run_segments(["backfill", "--from", "2026-03-31", "--to", "2026-03-31", "--database", str(database)])
    assert result.returncode == 0, result.stdout + result.stderr
    report = run_checks(database, SUITES, tmp_path / "context")
    assert [outcome for outcome in report.outcomes if outcome.raised] == []
    assert report.gate_failures == []
    # the whole gate, as a user runs it: the backfill's build vouches, check and publish pass
    checked = run_segments(["check", "--database", str(database), "--context-dir", str(tmp_path / "gate")])
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # the current marts hold the last build's date, the history its latest: publish says both
    published = tmp_path / "published.duckdb"
    released = run_segments(["publish", "--database", str(database), "--published", str(published)])
    assert released.returncode == 0, released.stdout + released.stderr
    with duckdb.connect(str(published), read_only=True) as connection:
        dates = connection.execute(
            "select cast(current_as_of_date as varchar), cast(latest_as_of_date as varchar) from marts.publication"
        ).fetchone()
    assert dates == ("2026-03-31", "2026-06-30")
    # bad data still fails: a customer of the current as-of date lost its segment row
    with duckdb.connect(str(database)) as connection:
        connection.execute("""
            delete from marts.customer_segments
            where as_of_date = '2026-03-31'
                and customer_key = (select min(customer_key) from marts.customer_rfm)
        """)
    broken = run_checks(database, SUITES, tmp_path / "broken")
    assert [(outcome.expectation_type, outcome.observed) for outcome in broken.gate_failures] == [
        ("expect_column_pair_values_to_be_equal", 1)
    ]


@pytest.mark.parametrize("state", ["missing", "empty", "loaded_not_built"])
def test_backfill_of_a_warehouse_never_loaded_or_built_fails_in_one_line(tmp_path: Path, state: str) -> None:
    database = tmp_path / "warehouse.duckdb"
    if state == "empty":
        duckdb.connect(str(database)).close()
    if state == "loaded_not_built":
        loaded = run_segments(["load", "--from", str(SAMPLE_RAW), "--database", str(database)])
        assert loaded.returncode == 0, loaded.stderr
    result = run_segments(["backfill", "--from", "2026-01-01", "--to", "2026-02-28", "--database", str(database)])
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("segments backfill: error: "), result.stderr
    expected = "run dbt build first" if state == "loaded_not_built" else "run segments load --from DIR"
    assert expected in lines[0]
    assert "building as of" not in result.stdout  # dbt never ran


def test_another_data_set_is_refused_leaving_the_history_and_full_refresh_resets_it(
    sample_warehouse: Path, tmp_path: Path
) -> None:
    database = copy_warehouse(sample_warehouse, tmp_path / "wh")
    before = history_state(database)
    # another draw of the generator: the same customer ids (C00000001, ...), other people
    other = tmp_path / "other"
    generated = run_segments(["generate", "--customers", "500", "--seed", "1", "--out", str(other)])
    assert generated.returncode == 0, generated.stderr
    loaded = run_segments(["load", "--from", str(other), "--database", str(database)])
    assert loaded.returncode == 0, loaded.stderr
    refused = run_dbt(["build", *DATA_ONLY], database, tmp_path / "wh", check=False)
    assert refused.returncode != 0
    assert REFUSAL in refused.stdout and "dbt build --full-refresh" in refused.stdout, refused.stdout[-3000:]
    assert failures(refused.stdout) == ["int_history_dataset_guard"], refused.stdout[-3000:]
    assert history_state(database) == before  # the failing run did not touch the history
    # a backfill is refused the same way
    backfilled = run_segments(["backfill", "--from", "2026-05-31", "--to", "2026-05-31", "--database", str(database)])
    assert backfilled.returncode == 2 and REFUSAL in backfilled.stderr
    assert history_state(database) == before
    # the remedy: --full-refresh resets the history to the new data set's dates
    run_dbt(["build", "--full-refresh", *DATA_ONLY], database, tmp_path / "wh")
    with duckdb.connect(str(database), read_only=True) as connection:
        dates = connection.execute("select list(distinct as_of_date) from marts.customer_segments").fetchone()[0]
        current = connection.execute("select list(distinct as_of_date) from marts.customer_rfm").fetchone()[0]
    assert dates == current and len(dates) == 1


def truncate_raw(source: Path, target: Path, before: str) -> Path:
    """The raw folder as it was delivered before a date: every row recorded before it."""
    target.mkdir(parents=True)
    timestamps = {
        "customers": "updated_at",
        "orders": "ordered_at",
        "web_events": "occurred_at",
        "app_events": "occurred_at",
        "email_events": "occurred_at",
        "erasure_requests": "requested_at",
    }
    with duckdb.connect() as connection:
        for table, column in timestamps.items():
            connection.execute(f"""
                copy (select * from read_parquet('{source / (table + ".parquet")}') where {column} < '{before}')
                to '{target / (table + ".parquet")}' (format parquet)
            """)
        connection.execute(f"""
            copy (
                select * from read_parquet('{source / "order_items.parquet"}')
                where order_id in (select order_id from read_parquet('{target / "orders.parquet"}'))
            ) to '{target / "order_items.parquet"}' (format parquet)
        """)
    return target


def test_a_grown_delivery_of_the_same_data_set_is_not_refused(tmp_path: Path) -> None:
    early = truncate_raw(SAMPLE_RAW, tmp_path / "early", "2026-04-01")
    database = build_warehouse(early, tmp_path / "wh")  # as of the early data's latest date
    loaded = run_segments(["load", "--from", str(SAMPLE_RAW), "--database", str(database)])
    assert loaded.returncode == 0, loaded.stderr
    run_dbt(["build", *DATA_ONLY], database, tmp_path / "wh")  # the grown delivery builds, every test passes
    with duckdb.connect(str(database), read_only=True) as connection:
        overlap, customers = connection.execute(
            "select customer_overlap, history_customers from intermediate.int_history_dataset_guard"
        ).fetchone()
        dates = connection.execute("select count(distinct as_of_date) from marts.customer_segments").fetchone()[0]
    assert customers > 500 and overlap > 0.95
    assert dates == 2


# --- drift against a fixed reference ----------------------------------------------------------

MONTH_ENDS = [
    "2025-10-31",
    "2025-11-30",
    "2025-12-31",
    "2026-01-31",
    "2026-02-28",
    "2026-03-31",
    "2026-04-30",
    "2026-05-31",
    "2026-06-30",
]
# share of active and new customers who have stopped buying by each month end: seven level,
# stable months, then a collapse starting in May (a third lapse per month)
# on the sample (13% active, 2% new) this moves lifecycle PSI 0.07 a month, 0.21 from the
# trailing baseline and 0.30 from the fixed reference in the second month
COLLAPSED = [0, 0, 0, 0, 0, 0, 0, 0.5, 0.85]


def write_collapsing_history(database: Path) -> None:
    """Replace the history with the sample's latest date repeated at nine month ends, where
    from May on the stated share of active and new customers have become dormant or lapsed
    (half each): lifecycle shares move about 10 points a month, never far from one month to
    the next."""
    with duckdb.connect(str(database)) as connection:
        connection.execute("""
            create temp table template as
            select
                customer_segments.*,
                percent_rank() over (partition by lifecycle_stage order by md5(customer_key)) as stopped_rank,
                md5(customer_key || 'lapsed') < '8' as becomes_dormant
            from marts.customer_segments
            where as_of_date = (select max(as_of_date) from marts.customer_segments)
        """)
        connection.execute("""
            create temp table template_memberships as
            select * from marts.segment_memberships
            where segment_family != 'lifecycle'
                and as_of_date = (select max(as_of_date) from marts.customer_segments)
        """)
        connection.execute("delete from marts.customer_segments")
        connection.execute("delete from marts.segment_memberships")
        for month_end, collapsed in zip(MONTH_ENDS, COLLAPSED, strict=False):
            connection.execute(
                """
                insert into marts.customer_segments
                select * exclude (stopped_rank, becomes_dormant) replace (
                    cast(? as date) as as_of_date,
                    case
                        when lifecycle_stage in ('active', 'new') and stopped_rank < ?
                            then case when becomes_dormant then 'dormant' else 'lapsed' end
                        else lifecycle_stage
                    end as lifecycle_stage
                )
                from template
            """,
                [month_end, collapsed],
            )
            connection.execute(
                """
                insert into marts.segment_memberships
                select * replace (cast(? as date) as as_of_date) from template_memberships
                union all
                select as_of_date, customer_key, 'lifecycle', lifecycle_stage
                from marts.customer_segments where as_of_date = ?
            """,
                [month_end, month_end],
            )


def drift_by_date(database: Path) -> dict[str, tuple]:
    with duckdb.connect(str(database), read_only=True) as connection:
        rows = connection.execute("""
            select cast(as_of_date as varchar), max(psi), max(baseline_psi), max(reference_psi),
                bool_or(drift_status = 'fail'), cast(min(reference_as_of_date) as varchar)
            from marts.segment_drift where segment_family = 'lifecycle'
            group by as_of_date
        """).fetchall()
    return {row[0]: row[1:] for row in rows}


def rebuild_drift(database: Path, work_dir: Path, check: bool) -> str:
    """Rebuild the sizes and the drift gate from the history (unit tests pin default vars)."""
    result = run_dbt(
        ["build", "--select", "segment_sizes+", "--exclude", "test_type:unit"], database, work_dir, check=check
    )
    return result.stdout


def test_a_slow_collapse_fails_within_two_months_and_an_acknowledgement_moves_the_reference(
    sample_warehouse: Path, tmp_path: Path
) -> None:
    work_dir = tmp_path / "wh"
    database = copy_warehouse(sample_warehouse, work_dir)  # its as-of date is 2026-06-30
    write_collapsing_history(database)
    output = rebuild_drift(database, work_dir, check=False)
    assert failures(output) == ["segment_drift_psi_below_fail_threshold"], output[-3000:]
    drift = drift_by_date(database)
    # six stable months raise nothing; the collapse fails in its second month (June) ...
    assert [date for date, row in drift.items() if row[3]] == ["2026-06-30"]
    _psi, _baseline_psi, reference_psi, _, reference = drift["2026-06-30"]
    # ... on the fixed reference alone: month to month and against the trailing baseline it
    # stays under drift_psi_fail (0.25), so the gate without a reference never failed
    assert max(row[0] or 0 for row in drift.values()) < 0.25
    assert max(row[1] or 0 for row in drift.values()) < 0.25
    assert reference_psi > 0.25 and reference == "2025-10-31"
    moved = run_segments(["check", "--drift-only", "--database", str(database)])
    assert "drift fail: lifecycle segment 'active'" in moved.stdout, moved.stdout

    # the collapse was intended (say a new definition from May): acknowledging May makes it
    # the lifecycle reference, the gate stops failing, and the other families keep theirs
    with duckdb.connect(str(database)) as connection:
        connection.execute("""
            insert into reference.drift_acknowledgements
            values ('2026-05-01', 'lifecycle', 'analytics@example.com', 'test: collapse accepted')
        """)
    rebuild_drift(database, work_dir, check=True)
    drift = drift_by_date(database)
    assert not any(row[3] for row in drift.values())
    assert drift["2026-06-30"][4] == "2026-05-31" and drift["2026-04-30"][4] == "2025-10-31"
    assert drift["2026-05-31"][2] is None  # the new reference date compares with nothing before it
    with duckdb.connect(str(database), read_only=True) as connection:
        rfm_reference = connection.execute(
            "select distinct cast(reference_as_of_date as varchar) from marts.segment_drift "
            "where segment_family = 'rfm'"
        ).fetchall()
    assert rfm_reference == [("2025-10-31",)]
    report = run_checks(database, SUITES, tmp_path / "context")
    assert report.gate_failures == []
