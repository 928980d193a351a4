"""Quality gates: the GX check and its severity gate, drift, and write-audit-publish."""

from __future__ import annotations

import math
import multiprocessing
import re
import shutil
import subprocess
import time
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from dbt_runner import PROJECT_ROOT, build_warehouse, dbt_environment, dbt_log_file_level, run_dbt, run_segments
from segments.gx_checks import load_suites, run_checks
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
    assert "Calculating Metrics" not in healthy.stderr + healthy.stdout  # GX progress bars are off


def independent_psi(current: list[float], previous: list[float], floor: float = 0.0001) -> float:
    return sum(
        (max(a, floor) - max(e, floor)) * math.log(max(a, floor) / max(e, floor))
        for a, e in zip(current, previous, strict=False)
    )


def backfill(database: Path, start: str, end: str) -> subprocess.CompletedProcess[str]:
    return run_segments(["backfill", "--from", start, "--to", end, "--database", str(database)])


def test_stable_months_raise_no_drift_failure_and_statistics_are_right(sample_warehouse: Path, tmp_path: Path) -> None:
    # the sample built as of its latest date, 2026-06-30, then the six month ends before it:
    # segment_drift is computed over the whole history, whatever order its dates were built in
    database = tmp_path / "warehouse.duckdb"
    shutil.copy(sample_warehouse, database)
    result = backfill(database, "2025-12-01", "2026-05-31")
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
        behavioural = connection.execute(
            "select as_of_date, segment_name, psi from marts.segment_drift "
            "where segment_family = 'behavioural' and psi is not null"
        ).fetchall()
        moved_rows = connection.execute(
            "select as_of_date, segment_family, segment_name from marts.segment_drift where is_moved"
        ).fetchall()
    assert statuses == (7, 0)  # six monthly as-of dates after the first, none failing
    by_date: dict = {}
    for as_of_date, name, share, customers in sizes:
        by_date.setdefault(as_of_date, {})[name] = (share, customers)
    dates = sorted(by_date)
    for (as_of_date, psi, chi_square, cohens_w), previous_date in zip(drift, dates, strict=False):
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
    sizes, size_dates = read_sizes(database)
    assert len(behavioural) == 8 * 6
    for as_of_date, name, psi in behavioural:
        current = sizes["behavioural"][name][as_of_date]
        previous = sizes["behavioural"][name][size_dates[size_dates.index(as_of_date) - 1]]
        assert psi == pytest.approx(independent_psi([current, 1 - current], [previous, 1 - previous]), abs=1e-12)
    # level months still move with the seasons (the holiday buyers of December are dormant by
    # March): is_moved warns about exactly the segments an independent computation finds, for
    # behavioural segments (share and own PSI rules), and at least those for the partition
    # families (which also name a family PSI's largest contributor)
    for index in range(1, len(size_dates)):
        for family in ("behavioural", "lifecycle", "rfm"):
            flagged = {name for date, fam, name in moved_rows if date == size_dates[index] and fam == family}
            expected = independent_moved(sizes, family, size_dates, index)
            if family == "behavioural":
                assert flagged == expected, (size_dates[index], family)
            else:
                assert expected <= flagged, (size_dates[index], family)


DRIFT_LINE = re.compile(r"drift (ok|warn|fail): (\w+) segment '([^']+)'")


def named_segments(output: str) -> set[tuple[str, str, str]]:
    return set(DRIFT_LINE.findall(output))


def independent_moved(sizes: dict, family: str, dates: list, index: int) -> set[str]:
    """Segments of family whose share moved over 5 points from the previous date or the
    average of the 3 dates before, or whose in/out PSI is above 0.10 (the default vars)."""

    def two_bin(a: float, e: float) -> float:
        return independent_psi([a, 1 - a], [e, 1 - e])

    moved = set()
    for name, shares in sizes[family].items():
        current, previous = shares[dates[index]], shares[dates[index - 1]]
        window = [shares[date] for date in dates[max(0, index - 3) : index]]
        baseline = sum(window) / len(window)
        if (
            max(abs(current - previous), abs(current - baseline)) * 100 > 5
            or max(two_bin(current, previous), two_bin(current, baseline)) > 0.10
        ):
            moved.add(name)
    return moved


def independent_named_by_reference(sizes: dict, family: str, dates: list, index: int) -> set[str]:
    """Segments a failure on the fixed reference alone names (docs/quality.md, "The fixed
    reference"): the reference is the first date; the family (each behavioural segment on its
    own) fails when its PSI against it is above 0.25 while neither the PSI against the previous
    date nor against the 3-date baseline is; it then names the segments more than 5 points from
    the reference, with an in/out PSI against it above 0.10, or the largest term of the
    family's reference PSI (the default vars)."""

    def two_bin(a: float, e: float) -> float:
        return independent_psi([a, 1 - a], [e, 1 - e])

    def shares(at: int) -> dict[str, float]:
        return {name: by_date[dates[at]] for name, by_date in sizes[family].items()}

    current, reference, previous = shares(index), shares(0), shares(index - 1)
    window = [shares(at) for at in range(max(0, index - 3), index)]
    baseline = {name: sum(w[name] for w in window) / len(window) for name in current}
    groups = [[name] for name in current] if family == "behavioural" else [sorted(current)]
    named = set()
    for names in groups:
        if len(names) == 1:
            (name,) = names
            psi = {
                which: two_bin(current[name], other[name])
                for which, other in (("ref", reference), ("prev", previous), ("base", baseline))
            }
        else:
            psi = {
                which: independent_psi([current[n] for n in names], [other[n] for n in names])
                for which, other in (("ref", reference), ("prev", previous), ("base", baseline))
            }
        if psi["ref"] <= 0.25 or max(psi["prev"], psi["base"]) > 0.25:
            continue
        terms = {n: independent_psi([current[n]], [reference[n]]) for n in names}
        largest = max(terms.values())
        for n in names:
            if (
                abs(current[n] - reference[n]) * 100 > 5
                or two_bin(current[n], reference[n]) > 0.10
                or (len(names) > 1 and terms[n] == largest)
            ):
                named.add(n)
    return named


def read_sizes(database: Path) -> tuple[dict, list]:
    with duckdb.connect(str(database), read_only=True) as connection:
        rows = connection.execute(
            "select segment_family, segment_name, as_of_date, share from marts.segment_sizes"
        ).fetchall()
    sizes: dict = {}
    for family, name, as_of_date, share in rows:
        sizes.setdefault(family, {}).setdefault(name, {})[as_of_date] = share
    return sizes, sorted({row[2] for row in rows})


def generate_shifted(raw: Path, purchase_factor: str) -> Path:
    """The sample's generator settings (2,000 people, seed 42) with every purchase rate
    multiplied by purchase_factor from 2026-03-01 on."""
    generated = run_segments(
        [
            "generate",
            "--customers",
            "2000",
            "--seed",
            "42",
            "--out",
            str(raw),
            "--shift-date",
            "2026-03-01",
            "--shift-purchase-factor",
            purchase_factor,
        ]
    )
    assert generated.returncode == 0, generated.stderr
    return raw


def test_halving_purchases_is_reported_naming_the_segments_and_a_larger_shift_fails(tmp_path: Path) -> None:
    raw = generate_shifted(tmp_path / "raw", "0.5")
    database = build_warehouse(raw, tmp_path, {"as_of_date": "2026-01-31"})
    # a halving moves segment shares by 4-6 points and PSIs stay under 0.10 (two-bin 0.045 at
    # most, lifecycle 0.074 against the baseline): it warns, it does not fail the build
    result = backfill(database, "2026-02-01", "2026-03-31")
    assert result.returncode == 0, result.stdout + result.stderr
    check = run_segments(["check", "--drift-only", "--database", str(database)])
    named = named_segments(check.stdout)
    sizes, dates = read_sizes(database)
    for family in ("behavioural", "lifecycle", "rfm"):
        printed = {name for _, printed_family, name in named if printed_family == family}
        assert printed == independent_moved(sizes, family, dates, len(dates) - 1), family
    # purchase-driven segments shrink; RFM scores are percentiles, so RFM does not move
    assert {
        ("warn", "behavioural", "high_spenders"),
        ("warn", "lifecycle", "active"),
    } <= named
    assert not any(family == "rfm" for _, family, _ in named)
    assert not any(name in ("highly_engaged", "prospect") for _, _, name in named)

    # a larger shift of another kind (active now means an order within 30 days, not 90)
    # fails the build; the stored test failures and the drift report name only the
    # segments that moved
    # (unit tests pin their vars in overrides, so they pass under the changed var)
    failed = run_dbt(
        ["build", "--selector", "as_of_rebuild"],
        database,
        tmp_path,
        {"as_of_date": "2026-04-30", "lifecycle_active_days": 30},
        check=False,
    )
    assert failed.returncode != 0
    failures = re.findall(r"(?:FAIL|ERROR) \d* ?([\w.]+) \.", failed.stdout)
    assert failures == ["segment_drift_psi_below_fail_threshold"], failed.stdout[-3000:]
    sizes, dates = read_sizes(database)
    expected = independent_moved(sizes, "lifecycle", dates, len(dates) - 1)
    assert {"active", "dormant"} <= expected and "prospect" not in expected
    with duckdb.connect(str(database), read_only=True) as connection:
        schema = connection.execute(
            "select schema_name from duckdb_tables() where table_name = 'segment_drift_psi_below_fail_threshold'"
        ).fetchall()[0][0]
        stored = connection.execute(
            f"select segment_family, segment_name from {schema}.segment_drift_psi_below_fail_threshold"
        ).fetchall()
    assert sorted(stored) == sorted(("lifecycle", name) for name in expected)
    report = run_segments(["check", "--drift-only", "--database", str(database)])
    failing = {name for status, family, name in named_segments(report.stdout) if status == "fail"}
    assert failing == expected


def test_a_purchase_collapse_from_the_generator_fails_the_gate_naming_the_moved_segments(tmp_path: Path) -> None:
    # the generator's shift option at a factor the thresholds are meant to catch: from March on
    # only one purchase in ten happens (a halving only warns, see the test above)
    raw = generate_shifted(tmp_path / "raw", "0.1")
    database = build_warehouse(raw, tmp_path, {"as_of_date": "2026-02-28"})
    result = backfill(database, "2026-03-01", "2026-06-30")
    assert result.returncode != 0
    assert "segment_drift_psi_below_fail_threshold" in result.stderr
    sizes, dates = read_sizes(database)
    failing_date = dates[-1]  # the backfill stops at the first date whose drift test fails
    assert failing_date < date(2026, 6, 30)
    with duckdb.connect(str(database), read_only=True) as connection:
        failing_families = {
            family
            for (family,) in connection.execute(
                "select distinct segment_family from marts.segment_drift "
                "where as_of_date = ? and drift_status = 'fail'",
                [failing_date],
            ).fetchall()
        }
    assert failing_families and "rfm" not in failing_families  # RFM scores are percentiles
    # named: what moved from the previous date or the baseline and, where the fixed reference
    # alone fails (a collapse held for months), what moved from the reference
    expected = {
        (family, name)
        for family in failing_families
        for name in independent_moved(sizes, family, dates, len(dates) - 1)
        | independent_named_by_reference(sizes, family, dates, len(dates) - 1)
    }
    assert expected
    # the backfill's own output names the moved segments of the failing family, and only those
    printed = {(family, name) for status, family, name in named_segments(result.stdout) if status == "fail"}
    assert printed == expected, result.stdout


READER_PAUSE_SECONDS = 0.05


def read_published(path: str, queue: multiprocessing.Queue[str], first_read: Any, stop: Any) -> None:
    """A BI reader: opens the published file again and again, checks each snapshot is
    consistent, and reports every publication (published_at) it saw."""
    seen: list[str] = []
    reads = 0
    try:
        while not stop.is_set():
            with duckdb.connect(path, read_only=True) as connection:
                published_at, shares, customers, segmented = connection.execute("""
                    select
                        (select cast(published_at as varchar) from marts.publication),
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
            if published_at not in seen:
                seen.append(published_at)
                queue.put(f"saw {published_at}")
            first_read.set()
            # a read costs about 25 ms of CPU: without a pause the reader took a whole core
            # from the build it watches; a read every 75 ms or so is still about six during
            # each `segments publish` (about 0.5 s on the sample)
            time.sleep(READER_PAUSE_SECONDS)
        queue.put(f"ok {reads} {len(seen)}")
    except Exception as error:  # noqa: BLE001 - any error, a lock error included, is a failure
        queue.put(f"error: {error!r}")
        first_read.set()


def drain(queue: multiprocessing.Queue[str], messages: list[str]) -> None:
    while not queue.empty():
        messages.append(queue.get())
    assert not any(message.startswith(("error", "inconsistent")) for message in messages), messages


def publications_seen(messages: list[str]) -> int:
    return sum(message.startswith("saw") for message in messages)


def make_environment(work_dir: Path, published: Path) -> dict[str, str]:
    """For `make build` into work_dir: its own warehouse, dbt target and logs (never the
    project's, which the developer and other workers' tests share), publishing to published.
    (The session's parse state would not help: dbt parses again, as the profile differs.)"""
    return {
        **dbt_environment(work_dir / "warehouse.duckdb", work_dir),
        "SEGMENTS_PUBLISHED_PATH": str(published),
        "DBT_LOG_LEVEL_FILE": dbt_log_file_level(),
    }


def test_publish_is_atomic_for_readers_during_builds_and_a_failed_build_keeps_the_last_publication(
    sample_warehouse: Path, tmp_path: Path
) -> None:
    published = tmp_path / "published.duckdb"
    publish(sample_warehouse, published, force=True)

    spawn = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[str] = spawn.Queue()
    first_read, stop = spawn.Event(), spawn.Event()
    reader = spawn.Process(target=read_published, args=(str(published), queue, first_read, stop))
    reader.start()
    messages: list[str] = []
    try:
        assert first_read.wait(120), "the reader never read the published file"
        deadline = time.monotonic() + 120
        # publish again and again while the reader reads, until it has seen three publications
        while publications_seen(messages) < 3 and time.monotonic() < deadline:
            publish(sample_warehouse, published, force=True)
            time.sleep(0.05)
            drain(queue, messages)
        assert publications_seen(messages) >= 3, messages
        time.sleep(1)  # let the reader catch up with the last of those publications
        drain(queue, messages)
        seen_before_build = publications_seen(messages)

        # a whole build (load, dbt build, check, publish) while the reader keeps reading
        built = subprocess.run(
            ["make", "build"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=False,
            env=make_environment(tmp_path / "building", published),
        )
        assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-2000:]
        deadline = time.monotonic() + 60
        while publications_seen(messages) <= seen_before_build and time.monotonic() < deadline:
            time.sleep(0.1)
            drain(queue, messages)
        seen_after_build = publications_seen(messages)
        assert seen_after_build == seen_before_build + 1, messages  # the build's publication was read

        # a build that fails (identity cannot converge in one step): make stops before publish
        before = published.read_bytes()
        make = subprocess.run(
            ["make", "build", "DBT_BUILD_FLAGS=--vars '{identity_max_iterations: 1}'"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=False,
            env=make_environment(tmp_path / "failing", published),
        )
        assert make.returncode != 0
        assert "did not converge" in make.stdout
        assert published.read_bytes() == before
        drain(queue, messages)
    finally:
        stop.set()
        reader.join(60)
    drain(queue, messages)
    final = messages[-1]
    assert final.startswith("ok"), messages
    reads, publications = map(int, final.split()[1:])
    assert publications == seen_after_build and reads >= publications  # the failed build published nothing
    with duckdb.connect(str(published), read_only=True) as connection:
        assert connection.execute("select count(*) from marts.customer_segments").fetchall()[0][0] > 0
