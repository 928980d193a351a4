"""Quality gates: the GX check and its severity gate, drift, and write-audit-publish."""

from __future__ import annotations

import math
import multiprocessing
import os
import shutil
import subprocess
import time
from pathlib import Path

import duckdb
import pytest

from dbt_runner import PROJECT_ROOT, SAMPLE_RAW, build_warehouse, run_segments
from segments.check import load_suites, run_checks
from segments.publish import publish

pytestmark = pytest.mark.slow
SUITES = load_suites(PROJECT_ROOT / "gx" / "expectations")


def test_every_expectation_evaluates_and_the_sample_passes(sample_warehouse: Path, tmp_path: Path) -> None:
    report = run_checks(sample_warehouse, SUITES, tmp_path / "context")
    # the route (DuckDB read-only -> pandas -> GX) broke if any expectation raised
    assert [outcome for outcome in report.outcomes if outcome.raised] == []
    assert len(report.outcomes) == sum(len(suite["expectations"]) for suite in SUITES)
    assert report.gate_failures == []
    assert (tmp_path / "context" / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html").exists()


def test_a_critical_failure_fails_the_gate_and_a_warning_does_not(sample_warehouse: Path, tmp_path: Path) -> None:
    database = tmp_path / "broken.duckdb"
    shutil.copy(sample_warehouse, database)
    with duckdb.connect(str(database)) as connection:
        # an accepted order with a malformed email and one with an absurd total
        connection.execute("""
            update staging.base_shop__orders set email = 'not-an-email', order_total = 5000000
            where raw_row_id = (select min(raw_row_id) from staging.base_shop__orders
                                where rejection_reason is null and not is_duplicate)
        """)
    report = run_checks(database, SUITES, tmp_path / "context")
    failed = {(outcome.expectation_type, outcome.column) for outcome in report.gate_failures}
    assert ("expect_column_values_to_match_regex", "email") in failed
    assert ("expect_column_values_to_be_between", "order_total") in failed
    result = run_segments(["check", "--database", str(database), "--context-dir", str(tmp_path / "cli")])
    assert result.returncode == 1 and "critical expectation(s) failed" in result.stderr
    # the sample's data is months older than its load: the freshness warning fails, exit stays 0
    healthy = run_segments(["check", "--database", str(sample_warehouse), "--context-dir", str(tmp_path / "ok")])
    assert healthy.returncode == 0, healthy.stderr
    assert "warning:" in healthy.stdout and "days_since_latest_order" in healthy.stdout


def independent_psi(current: list[float], previous: list[float], floor: float = 0.0001) -> float:
    return sum(
        (max(a, floor) - max(e, floor)) * math.log(max(a, floor) / max(e, floor))
        for a, e in zip(current, previous)
    )


def backfill(database: Path, start: str, end: str) -> subprocess.CompletedProcess[str]:
    return run_segments(["backfill", "--from", start, "--to", end, "--database", str(database)])


def test_stable_months_raise_no_drift_failure_and_statistics_are_right(tmp_path: Path) -> None:
    database = build_warehouse(SAMPLE_RAW, tmp_path, {"as_of_date": "2025-12-31"})
    result = backfill(database, "2026-01-01", "2026-06-30")
    assert result.returncode == 0, result.stdout + result.stderr
    with duckdb.connect(str(database), read_only=True) as connection:
        statuses = connection.execute(
            "select count(distinct as_of_date), count(*) filter (where drift_status = 'fail') from marts.segment_drift"
        ).fetchall()[0]
        sizes = connection.execute(
            "select as_of_date, segment_name, share, customers from marts.segment_sizes "
            "where segment_family = 'rfm' order by as_of_date, segment_name"
        ).fetchall()
        drift = connection.execute(
            "select as_of_date, max(psi), max(chi_square), max(cohens_w) from marts.segment_drift "
            "where segment_family = 'rfm' and psi is not null group by as_of_date order by as_of_date"
        ).fetchall()
    assert statuses == (7, 0)  # six monthly as-of dates after the first, none failing
    by_date: dict = {}
    for as_of_date, name, share, customers in sizes:
        by_date.setdefault(as_of_date, {})[name] = (share, customers)
    dates = sorted(by_date)
    for (as_of_date, psi, chi_square, cohens_w), previous_date in zip(drift, dates):
        current, previous = by_date[as_of_date], by_date[previous_date]
        names = sorted(current)
        expected_psi = independent_psi([current[n][0] for n in names], [previous[n][0] for n in names])
        total = sum(current[n][1] for n in names)
        expected_chi = sum(
            (current[n][1] - max(previous[n][0], 0.0001) * total) ** 2 / (max(previous[n][0], 0.0001) * total)
            for n in names
        )
        assert psi == pytest.approx(expected_psi, rel=1e-9)
        assert chi_square == pytest.approx(expected_chi, rel=1e-9)
        assert cohens_w == pytest.approx(math.sqrt(expected_chi / total), rel=1e-9)


def test_a_behaviour_shift_fails_the_drift_gate_naming_the_segments(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    generated = run_segments(["generate", "--customers", "2000", "--seed", "42", "--out", str(raw),
                              "--shift-date", "2026-03-01", "--shift-purchase-factor", "0.1"])
    assert generated.returncode == 0, generated.stderr
    database = build_warehouse(raw, tmp_path, {"as_of_date": "2026-02-28"})
    result = backfill(database, "2026-03-01", "2026-06-30")
    assert result.returncode != 0
    assert "segment_drift_psi_below_fail_threshold" in result.stderr
    check = run_segments(["check", "--database", str(database), "--context-dir", str(tmp_path / "context")])
    assert check.returncode == 1
    assert "drift fail: lifecycle segment '" in check.stdout  # names the segments that moved
    assert "drift fail: rfm" not in check.stdout  # RFM scores are percentiles: relative, stable


def read_published(path: str, queue: "multiprocessing.Queue[str]", seconds: float) -> None:
    """A BI reader: opens the published file again and again and checks it is consistent."""
    deadline = time.monotonic() + seconds
    reads = 0
    try:
        while time.monotonic() < deadline:
            with duckdb.connect(path, read_only=True) as connection:
                shares, customers, segmented = connection.execute("""
                    select
                        (select sum(share) from marts.segment_sizes where segment_family = 'rfm'
                         and as_of_date = (select latest_as_of_date from marts.publication)),
                        (select count(*) from marts.customer_rfm),
                        (select count(*) from marts.customer_segments
                         where as_of_date = (select latest_as_of_date from marts.publication))
                """).fetchall()[0]
            if abs(shares - 1) > 1e-9 or customers != segmented:
                queue.put(f"inconsistent snapshot: shares {shares}, {customers} vs {segmented}")
                return
            reads += 1
        queue.put(f"ok {reads}")
    except Exception as error:  # any error, a lock error included, is a failure
        queue.put(f"error: {error!r}")


def test_publish_is_atomic_for_readers_and_a_failed_build_keeps_the_last_publication(
    sample_warehouse: Path, tmp_path: Path
) -> None:
    published = tmp_path / "published.duckdb"
    publish(sample_warehouse, published)
    original = published.read_bytes()

    spawn = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[str] = spawn.Queue()
    reader = spawn.Process(target=read_published, args=(str(published), queue, 8.0))
    reader.start()
    for _ in range(4):
        publish(sample_warehouse, published)
    reader.join(30)
    outcome = queue.get(timeout=5)
    assert outcome.startswith("ok"), outcome
    assert int(outcome.split()[1]) > 0

    # a build that fails (identity cannot converge in one step): make stops before publish
    before = published.read_bytes()
    make = subprocess.run(
        ["make", "build", "DBT_BUILD_FLAGS=--vars '{identity_max_iterations: 1}'"],
        cwd=PROJECT_ROOT, capture_output=True, text=True,
        env={**os.environ, "SEGMENTS_DUCKDB_PATH": str(tmp_path / "failing.duckdb"),
             "SEGMENTS_PUBLISHED_PATH": str(published)},
    )
    assert make.returncode != 0
    assert "did not converge" in make.stdout
    assert published.read_bytes() == before
    with duckdb.connect(str(published), read_only=True) as connection:
        assert connection.execute("select count(*) from marts.customer_segments").fetchall()[0][0] > 0
    assert original
