"""`segments bench`: the two RFM baselines agree with the project, and the bookkeeping
(tiers, layers, the RFM path, the docs section) is right. Nothing here is timed.

What the baseline comparison covers: the baselines start from the raw tables the loader
wrote (raw.orders, raw.erasure_requests) and redo, themselves, the staging rules that change
RFM (rejected rows, last accepted delivery per order_id), the attribution of an order (its
customer_id, else its email), recency, frequency, monetary, the tie-safe quintile scores and
the named segment. Identity resolution is not redone: the baselines are given the project's
identities (restricted.customer_identifiers, customer_id and email rows), so that the scored
population is the same and the scores (relative to that population) can be compared exactly,
for every scored customer of the sample. Erasure closure is therefore covered only through
those identities (an erased identifier has no customer_key), not by the baselines' own direct
erasure rule.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from dbt_runner import PROJECT_ROOT
from segments.bench import (
    DOCS_END,
    DOCS_START,
    Measured,
    NodeTiming,
    TierResult,
    layer_of,
    model_growth,
    parse_tiers,
    replace_section,
    rfm_path,
    target_checks,
    targets_table,
)
from segments.bench_timeline import wall_time
from segments.errors import CommandError

sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))

from baseline_one_query import one_query_rfm, project_as_of_date
from baseline_pandas import SEGMENT_MAP, pandas_rfm, read_raw

COLUMNS = ["recency_days", "frequency", "monetary", "r_score", "f_score", "m_score", "rfm_segment"]


def project_scores(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return connection.execute("""
        select
            segments.customer_key,
            rfm.recency_days,
            rfm.frequency,
            rfm.monetary,
            segments.r_score,
            segments.f_score,
            segments.m_score,
            segments.rfm_segment
        from marts.customer_segments as segments
        inner join marts.customer_rfm as rfm
            on segments.customer_key = rfm.customer_key
                and segments.as_of_date = rfm.as_of_date
        where rfm.frequency > 0
    """).df()


def assert_same_scores(project: pd.DataFrame, baseline: pd.DataFrame, name: str) -> None:
    merged = project.merge(baseline, on="customer_key", how="outer", suffixes=("", "_baseline"), indicator=True)
    assert (merged._merge == "both").all(), (
        f"{name}: customers scored on one side only: "
        f"{merged.loc[merged._merge != 'both', ['customer_key', '_merge']].head().to_dict('records')}"
    )
    for column in COLUMNS:
        wanted, got = merged[column], merged[f"{column}_baseline"]
        if column == "monetary":
            wanted, got = wanted.astype(float).round(2), got.astype(float).round(2)
        else:
            wanted, got = wanted.astype(str), got.astype(str)
        differing = merged.loc[wanted != got, ["customer_key", column, f"{column}_baseline"]]
        assert differing.empty, f"{name}: {column} differs: {differing.head().to_dict('records')}"


@pytest.mark.slow
def test_baselines_give_the_projects_scores_and_segments(sample_warehouse: Path) -> None:
    with duckdb.connect(str(sample_warehouse), read_only=True) as connection:
        as_of = project_as_of_date(connection)
        project = project_scores(connection)
        identities = connection.execute(
            "select identifier_type, identifier_value, customer_key from restricted.customer_identifiers "
            "where identifier_type in ('customer_id', 'email')"
        ).df()
        one_query = one_query_rfm(connection, as_of, identity="project")
        orders, erasure_requests = read_raw(connection)
        redelivered_qualifying = connection.execute("""
            select count(*) from (
                select trim(order_id) from raw.orders
                where lower(trim(status)) = 'completed' and order_total > 0
                group by trim(order_id) having count(*) > 1
            )
        """).fetchone()
    pandas = pandas_rfm(orders, erasure_requests, pd.read_csv(SEGMENT_MAP), as_of, identities)
    # the sample exercises what is compared: many customers, tied blocks, every score band
    # in use for R and M, re-delivered qualifying orders (counted once), and most segments
    assert len(project) > 1000
    assert redelivered_qualifying is not None and redelivered_qualifying[0] >= 3
    assert project.frequency.value_counts().max() > 100  # a large tied block
    assert set(project.r_score) == {1, 2, 3, 4, 5} and set(project.m_score) == {1, 2, 3, 4, 5}
    assert project.rfm_segment.nunique() >= 9
    assert_same_scores(project, one_query, "one query")
    assert_same_scores(project, pandas, "pandas")


def test_naive_identity_runs_on_raw_tables_alone(tmp_path: Path) -> None:
    """Without the project's identities, a guest checkout is its own customer (its email)."""
    database = tmp_path / "raw_only.duckdb"
    with duckdb.connect(str(database)) as connection:
        connection.execute("create schema raw")
        connection.execute("""
            create table raw.orders as select * from (values
                (1, 'O1', 'C1', null, timestamp '2026-01-01 10:00', 'completed', 10.00, 'web',
                 timestamp '2026-02-01'),
                (2, 'O2', null, 'Guest@Example.com ', timestamp '2026-01-20 10:00', 'Completed',
                 30.00, 'store', timestamp '2026-02-01'),
                (3, 'O3', 'C2', null, timestamp '2026-01-25 10:00', 'completed', 5.00, 'app',
                 timestamp '2026-02-01'),
                (4, 'O3', 'C2', null, timestamp '2026-01-25 10:00', 'returned', 5.00, 'app',
                 timestamp '2026-02-01'),
                (5, 'O4', 'C3', null, timestamp '2026-01-26 10:00', 'completed', 7.00, 'app',
                 timestamp '2026-02-01')
            ) as orders(_raw_row_id, order_id, customer_id, email, ordered_at, status,
                        order_total, channel, _loaded_at)
        """)
        connection.execute("""
            create table raw.erasure_requests as
            select 'R1' as request_id, 'C3' as customer_id, null as email,
                timestamp '2026-01-30' as requested_at
        """)
        query = one_query_rfm(connection, date(2026, 1, 31))
        orders, erasure_requests = read_raw(connection)
    pandas = pandas_rfm(orders, erasure_requests, pd.read_csv(SEGMENT_MAP), date(2026, 1, 31))
    # O3's last delivery is a return and C3 is erased: two customers are scored
    for result in (query, pandas):
        assert list(result.customer_key) == ["customer_id:C1", "email:guest@example.com"]
        assert list(result.recency_days) == [30, 11]
        assert list(result.r_score) == [2, 4] and list(result.m_score) == [2, 4]


def test_tiers_are_parsed_in_size_order() -> None:
    assert parse_tiers("250k, sample", with_10m=False) == ["sample", "250k"]
    assert parse_tiers("1M,250k,1m", with_10m=True) == ["250k", "1m", "10m"]
    with pytest.raises(CommandError, match="unknown tier '2m'"):
        parse_tiers("sample,2m", with_10m=False)


def test_layer_comes_from_the_tag_else_the_folder() -> None:
    assert (
        layer_of({"resource_type": "model", "tags": ["features"], "original_file_path": "models/marts/segments/x.sql"})
        == "features"
    )
    assert (
        layer_of({"resource_type": "model", "tags": [], "original_file_path": "models/marts/identity/customers.sql"})
        == "identity"
    )
    assert layer_of({"resource_type": "unit_test", "tags": ["segments"]}) == "tests"
    assert layer_of({"resource_type": "seed", "original_file_path": "seeds/a.csv"}) == "seeds"


def test_rfm_path_is_the_lineage_from_raw_orders_to_the_scores() -> None:
    def model(name: str, *parents: str) -> dict[str, object]:
        return {"resource_type": "model", "name": name, "depends_on": {"nodes": list(parents)}}

    # the raw orders are found by source and table name, whatever the project is called
    orders, events = "source.any_project.shop.orders", "source.any_project.web.events"
    manifest = {
        "sources": {
            orders: {"resource_type": "source", "source_name": "shop", "name": "orders"},
            events: {"resource_type": "source", "source_name": "web", "name": "events"},
        },
        "nodes": {
            "model.p.stg_orders": model("stg_orders", orders),
            "model.p.stg_events": model("stg_events", events),
            "model.p.identity": model("identity", "model.p.stg_orders", "model.p.stg_events"),
            "model.p.customer_rfm": model("customer_rfm", "model.p.identity"),
            "model.p.engagement": model("engagement", "model.p.stg_events", "model.p.stg_orders"),
            "model.p.int_rfm_scores": model("int_rfm_scores", "model.p.customer_rfm", "seed.p.map"),
            "model.p.customer_segments": model("customer_segments", "model.p.int_rfm_scores", "model.p.engagement"),
            "model.p.drift": model("drift", "model.p.customer_segments"),
            "seed.p.map": {"resource_type": "seed", "name": "map"},
        },
    }
    assert rfm_path(manifest) == sorted(
        [
            "model.p.stg_orders",
            "model.p.identity",
            "model.p.customer_rfm",
            "model.p.int_rfm_scores",
            "model.p.customer_segments",
        ]
    )


def test_docs_section_is_replaced_between_markers() -> None:
    first = replace_section("# Benchmarks\n\nIntro.\n", "old\n")
    assert first == f"# Benchmarks\n\nIntro.\n\n{DOCS_START}\nold\n{DOCS_END}\n"
    second = replace_section(first + "After.\n", "new\n")
    assert second == f"# Benchmarks\n\nIntro.\n\n{DOCS_START}\nnew\n{DOCS_END}\nAfter.\n"


def made_up_tier(tier: str, customers: int | None, seconds: dict[str, float], **measured: Measured) -> TierResult:
    result = TierResult(tier, customers)
    result.nodes = [NodeTiming(f"model.p.{name}", name, "staging", value, "success") for name, value in seconds.items()]
    result.nodes.append(NodeTiming("test.p.a_test", "a_test", "tests", 99.0, "pass"))  # never a model
    result.rfm_path = ["model.p.orders", "model.p.rfm"]
    result.load, result.build = measured.get("load"), measured.get("build")
    result.baselines = {"one query": measured["one_query"]} if "one_query" in measured else {}
    return result


def test_targets_are_computed_from_the_measured_figures() -> None:
    """Growth, ratio and limits on made-up results (worked out by hand); nothing timed."""
    small = made_up_tier("250k", 250_000, {"orders": 2.0, "rfm": 1.0, "events": 0.1, "noise": 0.2})
    large = made_up_tier(
        "1m",
        1_000_000,
        {"orders": 9.0, "rfm": 6.5, "events": 0.9, "noise": 1.0, "new_model": 3.0},
        load=Measured(12.0, 0),
        build=Measured(47.5, 7 * 1000**3),
        one_query=Measured(5.0, 0),
    )
    # events (0.9 s) is under the 1 s floor; new_model was not measured on the smaller tier
    assert model_growth(small, large) == {"orders": 4.5, "rfm": 6.5, "noise": 5.0}
    checks = {check.target.split(" (")[0]: check for check in target_checks([small, large])}
    wall = checks["`segments load` + `dbt build` wall time"]
    assert (wall.measured, wall.met) == ("59.5 s", True)  # 12.0 + 47.5 <= 60
    path = checks["project path / one-query bound"]
    assert (path.measured, path.met) == ("3.1x", False)  # (9.0 + 6.5) / 5.0 = 3.1 > 3
    growth = checks["model growth 250,000 → 1,000,000"]
    # 4x data: at most 5x; noise at exactly 5.0x is within, rfm at 6.5x is not
    assert (growth.limit, growth.measured, growth.met) == ("5.0x", "rfm 6.5x", False)
    peak = checks["peak memory of `dbt build`"]
    assert (peak.measured, peak.met) == ("6.52 GiB", False)  # 7e9 bytes > 6e9
    table = targets_table([small, large])
    assert sum("| **no** |" in row for row in table) == 3
    assert sum("| yes |" in row for row in table) == 1
    # where the time goes, for the missed ones: the path's slowest models, and the models
    # over the growth limit by the time they added; nothing for a met target
    assert path.where == "slowest on the path: orders 9.0 s, rfm 6.5 s (of 15.5 s)"
    assert growth.where == "most time added: rfm 1.0 → 6.5 s"
    assert wall.where == ""


def timed(name: str, thread: str, start: float, end: float, kind: str = "model") -> NodeTiming:
    return NodeTiming(f"{kind}.p.{name}", name, "staging", end - start, "success", thread, 1000.0 + start, 1000.0 + end)


def test_a_builds_wall_time_is_taken_apart_by_its_nodes_spans() -> None:
    """Made-up spans on two threads, worked out by hand: a runs 0-10 alone until b starts at
    4, b runs 4-6, c 6-9, d runs alone from 10 to 14; the build took 20 s."""
    nodes = [
        timed("a", "Thread-1", 0.0, 10.0),
        timed("b", "Thread-2", 4.0, 6.0),
        timed("c", "Thread-2", 6.0, 9.0),
        timed("d", "Thread-1", 10.0, 14.0),
        NodeTiming("model.p.skipped", "skipped", "staging", 0.0, "skipped"),  # no span: not counted
    ]
    wall = wall_time(nodes, 20.0)
    assert wall is not None
    assert wall.outside_nodes == pytest.approx(6.0)  # 20 s, of which 14 s between first start and last end
    assert wall.node_seconds == pytest.approx(19.0)  # 10 + 2 + 3 + 4
    assert wall.threads == 2 and wall.least_node_wall == pytest.approx(9.5)
    # alone: a in 0-4 and 9-10 (5 s), d in 10-14 (4 s); b and c never
    assert wall.alone_seconds == pytest.approx(9.0)
    assert [(name, round(seconds, 6)) for name, seconds in wall.alone_nodes] == [("a", 5.0), ("d", 4.0)]
    assert wall.idle_between == pytest.approx(0.0)
    assert wall_time([NodeTiming("model.p.old", "old", "staging", 1.0, "success")], 5.0) is None


def test_hooks_on_the_main_thread_and_a_test_named_like_its_model() -> None:
    """A hook on dbt's main thread is no third worker, and a gap with nothing running is idle;
    a test sharing its model's name is another node: the two running together is not alone."""
    nodes = [
        timed("start", "main", 0.0, 1.0, kind="operation"),
        timed("a", "Thread-1", 2.0, 8.0),  # 1-2: nothing runs
        timed("a", "Thread-2", 2.0, 6.0, kind="test"),  # alongside model a from 2 to 6
    ]
    wall = wall_time(nodes, 10.0)
    assert wall is not None
    assert (wall.threads, wall.main_seconds, wall.node_seconds) == (2, pytest.approx(1.0), pytest.approx(10.0))
    assert wall.least_node_wall == pytest.approx(6.0)  # 10 s of worker time on 2 threads, then 1 s of hook
    assert wall.idle_between == pytest.approx(1.0)
    assert wall.outside_nodes == pytest.approx(2.0)  # 10 s, of which 8 s between 0 and 8
    # alone: the hook 0-1, model a 6-8
    assert [(name, round(seconds, 6)) for name, seconds in wall.alone_nodes] == [("a", 2.0), ("start", 1.0)]


def test_the_1m_targets_stay_on_1m_and_10m_is_held_to_twelve_times_it() -> None:
    """With a 10M tier measured, the 60 s and 3x targets are still checked on 1M, and the
    10M load plus build is set against 12 times the 1M's (made-up figures)."""
    million = made_up_tier(
        "1m", 1_000_000, {"orders": 9.0, "rfm": 6.0}, load=Measured(10.0, 0), build=Measured(40.0, 0)
    )
    ten = made_up_tier(
        "10m", 10_000_000, {"orders": 200.0, "rfm": 60.0}, load=Measured(100.0, 0), build=Measured(550.0, 0)
    )
    checks = {check.target.split(" (")[0]: check for check in target_checks([million, ten])}
    assert checks["`segments load` + `dbt build` wall time"].tier == "1,000,000"
    large = checks["`segments load` + `dbt build` against the 1,000,000 tier's"]
    # 650 s over 50 s = 13x > 12x; orders added 191 s, rfm 54 s
    assert (large.tier, large.measured, large.met) == ("10,000,000", "650.0 s (13.0x 50.0 s)", False)
    assert large.where == (
        "load 10.0 → 100.0 s, build 40.0 → 550.0 s; most time added: orders 9.0 → 200.0 s, rfm 6.0 → 60.0 s"
    )
    ten.build = Measured(500.0, 0, returncode=1)  # 12x, but the build failed: not met
    failed = next(check for check in target_checks([million, ten]) if "against" in check.target)
    assert (failed.measured, failed.met) == ("600.0 s (12.0x 50.0 s)", False)
    assert failed.where.startswith("`dbt build` exit 1; load 10.0 → 100.0 s")
    ten.nodes[0].status = "error"
    failed = next(check for check in target_checks([million, ten]) if "against" in check.target)
    assert failed.where.startswith("`dbt build` exit 1: orders; load")


def test_a_failed_one_query_baseline_misses_the_path_target_and_says_why() -> None:
    million = made_up_tier(
        "1m", 1_000_000, {"orders": 9.0}, load=Measured(10.0, 0), build=Measured(40.0, 0), one_query=Measured(3.0, 0, 1)
    )
    path = next(check for check in target_checks([million]) if check.target.startswith("project path"))
    assert (path.measured, path.met, path.where) == ("not measured", False, "the one-query baseline failed (exit 1)")


def test_targets_met_and_a_lone_tier_has_no_growth_check() -> None:
    small = made_up_tier("250k", 250_000, {"orders": 2.0, "rfm": 1.0})
    large = made_up_tier(
        "1m",
        1_000_000,
        {"orders": 2.0, "rfm": 4.0},
        load=Measured(10.0, 0),
        build=Measured(20.0, 2 * 1000**3),
        one_query=Measured(3.0, 0),
    )
    checks = target_checks([small, large])
    assert all(check.met for check in checks) and len(checks) == 4
    growth = next(check for check in checks if check.target.startswith("model growth"))
    assert growth.measured == "largest rfm 4.0x"  # 4.0 / 1.0, under 5x
    assert [check.target for check in target_checks([large])] == [
        "`segments load` + `dbt build` wall time",
        "project path / one-query bound",
        "peak memory of `dbt build`",
    ]


def test_the_spark_report_sets_each_tier_beside_its_duckdb_run(tmp_path: Path) -> None:
    """segments bench --engine spark: saved runs of both engines read back, the ratios worked
    out by hand; a tier without a DuckDB run is named, not compared."""
    from segments import bench_spark
    from segments.bench import save_result

    duckdb_run = made_up_tier(
        "1m", 1_000_000, {"orders": 4.0}, load=Measured(20.0, 0), build=Measured(50.0, 2 * 1024**3)
    )
    spark_run = made_up_tier("1m", 1_000_000, {"orders": 30.0}, load=Measured(50.0, 0), build=Measured(400.0, 0))
    # the 250k Spark build failed (exit 1): its cell says so
    lone = made_up_tier("250k", 250_000, {"orders": 3.0}, load=Measured(9.0, 0), build=Measured(100.0, 0, 1))
    for name, result in (("1m", duckdb_run), ("1m-spark", spark_run), ("250k-spark", lone)):
        (tmp_path / "runs" / name).mkdir(parents=True)
        save_result(tmp_path, result, name)
    results = [bench_spark.measured_tier(tier, tmp_path, report_only=True) for tier in ("250k", "1m")]
    rows = {
        row.split(" | ")[0].removeprefix("| "): row.split(" | ")[1:]
        for row in bench_spark.comparison_table(results, tmp_path)
    }
    # per tier: Spark, DuckDB, ratio; 250k has no DuckDB run
    assert rows["`segments load`"][:3] == ["9.0 s", "", ""]
    assert rows["`segments load`"][3:] == ["50.0 s", "20.0 s", "2.5x |"]
    assert rows["`dbt build` wall time"][:3] == ["100.0 s (exit 1)", "", ""]
    assert rows["`dbt build` wall time"][3:] == ["400.0 s", "50.0 s", "8.0x |"]
    assert rows["staging (sum of node times)"][3:] == ["30.0 s", "4.0 s", "7.5x |"]
    assert rows["tests (sum of node times)"][3:] == ["99.0 s", "99.0 s", "1.0x |"]
    assert rows["peak memory of the build (DuckDB)"][3:5] == ["", "2.00 GiB"]
    text = bench_spark.report(results, {"CPU": "test"}, tmp_path)
    assert "No DuckDB run of 250k" in text
