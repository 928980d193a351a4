"""Segment tables on the bundled sample, checked against independent pandas computations.

The inputs are the feature marts (customer_rfm, customer_engagement; tested in
test_warehouse.py); scores, bands, the named segment and the tie-sensitive rules are
recomputed here from the documented definitions (docs/segments.md) with exact fractions.
"""

from __future__ import annotations

import shutil
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from dbt_runner import DATA_ONLY, PROJECT_ROOT, SAMPLE_RAW, build_warehouse, run_dbt, run_segments

pytestmark = pytest.mark.slow

CUTOFFS = [Fraction("0.2"), Fraction("0.4"), Fraction("0.6"), Fraction("0.8")]


def read(database: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(database), read_only=True) as connection:
        return connection.execute(sql).df()


def expected_scores(values: pd.Series, higher_is_better: bool) -> pd.Series:
    """Score 1-5 from the middle of each tied block: (worse + tied / 2) / n, cut-offs inclusive."""
    ordered = values if higher_is_better else -values
    count = len(ordered)
    worse = ordered.map(lambda value: int((ordered < value).sum()))
    tied = ordered.map(lambda value: int((ordered == value).sum()))
    positions = [Fraction(2 * w + t, 2 * count) for w, t in zip(worse, tied, strict=False)]
    return pd.Series([1 + sum(position >= cutoff for cutoff in CUTOFFS) for position in positions], index=values.index)


@pytest.fixture(scope="module")
def scored(sample_warehouse: Path) -> pd.DataFrame:
    features = read(sample_warehouse, "select * from marts.customer_rfm")
    segments = read(
        sample_warehouse,
        "select * from marts.customer_segments where as_of_date = (select max(as_of_date) from marts.customer_rfm)",
    )
    merged = features[["customer_key", "frequency", "monetary", "recency_days"]].merge(
        segments, on="customer_key", suffixes=("", "_segments"), validate="one_to_one"
    )
    assert len(merged) == len(features) == len(segments)
    return merged


def test_scores_match_an_independent_tie_aware_ranking(scored: pd.DataFrame) -> None:
    buyers = scored[scored.frequency > 0].copy()
    assert len(buyers) > 100
    buyers["monetary"] = buyers.monetary.map(Decimal)
    expected_r = expected_scores(buyers.recency_days.astype(int), higher_is_better=False)
    expected_f = expected_scores(buyers.frequency.astype(int), higher_is_better=True)
    expected_m = expected_scores(buyers.monetary, higher_is_better=True)
    assert (buyers.r_score == expected_r).all()
    assert (buyers.f_score == expected_f).all()
    assert (buyers.m_score == expected_m).all()
    # equal values, equal scores
    assert buyers.groupby("frequency").f_score.nunique().max() == 1
    assert buyers.groupby("recency_days").r_score.nunique().max() == 1


def test_named_segment_follows_the_seed_map(scored: pd.DataFrame) -> None:
    segment_map = pd.read_csv(PROJECT_ROOT / "seeds" / "rfm_segment_map.csv")
    assert segment_map.rfm_segment.nunique() == 11

    def named(row: pd.Series) -> str:
        if row.frequency == 0:
            return "prospects"
        fm_score = (row.f_score + row.m_score) / 2
        matches = segment_map[
            (segment_map.r_score == row.r_score)
            & (segment_map.fm_score_min <= fm_score)
            & (fm_score <= segment_map.fm_score_max)
        ]
        assert len(matches) == 1, row
        return str(matches.rfm_segment.iloc[0])

    assert (scored.apply(named, axis=1) == scored.rfm_segment).all()
    assert scored[scored.frequency == 0].r_score.isna().all()


def test_rfm_cutoffs_list_every_band(sample_warehouse: Path, scored: pd.DataFrame) -> None:
    as_of = scored.as_of_date.iloc[0]
    cutoffs = read(sample_warehouse, f"select * from marts.rfm_cutoffs where as_of_date = '{as_of}'")
    assert len(cutoffs) == 15
    buyers = scored[scored.frequency > 0]
    for measure, score_column in [("recency_days", "r_score"), ("frequency", "f_score"), ("monetary", "m_score")]:
        for score in range(1, 6):
            band = buyers[buyers[score_column] == score][measure].astype(float)
            row = cutoffs[(cutoffs.measure == measure) & (cutoffs.score == score)].iloc[0]
            assert row.customers == len(band)
            if len(band) == 0:
                assert pd.isna(row.min_value) and pd.isna(row.max_value)
            else:
                assert row.min_value == pytest.approx(band.min()) and row.max_value == pytest.approx(band.max())
    # on the sample 44% bought once: their block's middle (about 0.22) scores 2, band 1 is empty
    frequency_bands = cutoffs[cutoffs.measure == "frequency"].set_index("score")
    assert frequency_bands.customers[1] == 0 and frequency_bands.min_value[2] == 1


def test_tie_sensitive_rules_match_independent_computation(sample_warehouse: Path, scored: pd.DataFrame) -> None:
    features = read(
        sample_warehouse,
        "select customer_key, frequency_90d, cast(monetary_90d as varchar) as spend from marts.customer_rfm",
    )
    spend = features.set_index("customer_key")
    expected_high_spender = spend.apply(
        lambda row: row.frequency_90d > 0 and Decimal(row.spend) > 100 * row.frequency_90d, axis=1
    )
    actual = scored.set_index("customer_key").is_high_spender
    assert (actual.loc[expected_high_spender.index] == expected_high_spender).all()
    assert expected_high_spender.sum() > 0

    engagement = read(
        sample_warehouse, "select customer_key, avg_session_duration_seconds as duration from marts.customer_engagement"
    ).set_index("customer_key")
    with_sessions = engagement.duration.dropna()
    longer = with_sessions.map(lambda value: int((with_sessions > value).sum()))
    expected_engaged = (longer.map(Fraction) < Fraction("0.25") * len(with_sessions)).reindex(
        engagement.index, fill_value=False
    )
    assert (scored.set_index("customer_key").is_highly_engaged.loc[expected_engaged.index] == expected_engaged).all()
    assert expected_engaged.sum() >= len(with_sessions) // 4


@pytest.mark.parametrize(
    "cutoffs, problem",
    [
        ([0.2, 0.4, 0.8, 0.6], "not strictly ascending"),
        ([0.2, 0.4, 0.6], "has 3 values"),
        ([0.2, 0.4, 0.6, 0.8, 0.9], "has 5 values"),
        ([0, 0.4, 0.6, 0.8], "not strictly between 0 and 1"),
        ([0.2, 0.4, 0.6, 1], "not strictly between 0 and 1"),
        ([0.2, 0.2, 0.6, 0.8], "not strictly ascending"),
    ],
)
def test_invalid_rfm_score_cutoffs_fail_compilation(tmp_path: Path, cutoffs: list[float], problem: str) -> None:
    result = run_dbt(["parse"], tmp_path / "unused.duckdb", tmp_path, {"rfm_score_cutoffs": cutoffs}, check=False)
    assert result.returncode != 0
    assert "rfm_score_cutoffs" in result.stdout and problem in result.stdout, result.stdout[-3000:]


def test_valid_custom_rfm_score_cutoffs_compile(tmp_path: Path) -> None:
    result = run_dbt(
        ["parse"], tmp_path / "unused.duckdb", tmp_path, {"rfm_score_cutoffs": [0.1, 0.3, 0.7, 0.9]}, check=False
    )
    assert result.returncode == 0, result.stdout[-3000:]


def test_a_later_erasure_purges_the_customer_from_every_as_of_date(tmp_path: Path) -> None:
    """History built before an erasure request arrived loses the erased customer's rows on the
    next build, at every as-of date, and the sizes of those dates follow."""
    raw = tmp_path / "raw"
    shutil.copytree(SAMPLE_RAW, raw)
    database = build_warehouse(raw, tmp_path, {"as_of_date": "2026-05-31"})
    with duckdb.connect(str(database), read_only=True) as connection:
        customer_key, customer_id = connection.execute("""
            select profiles.customer_key, profiles.primary_customer_id
            from restricted.restricted_customer_profiles as profiles
            inner join marts.customer_segments
                on profiles.customer_key = customer_segments.customer_key
            where customer_segments.r_score is not null
            order by profiles.customer_key
            limit 1
        """).fetchone()
        population_before = connection.execute(
            "select count(*) from marts.customer_segments where as_of_date = '2026-05-31'"
        ).fetchone()[0]
    requests = raw / "erasure_requests.parquet"
    with duckdb.connect() as connection:
        connection.execute(
            f"""
            copy (
                select * from read_parquet('{requests}')
                union all
                select 'r-late-erasure', ?, null, timestamp '2026-06-15 10:00:00'
            ) to '{tmp_path / "requests.parquet"}' (format parquet)
        """,
            [customer_id],
        )
    shutil.move(tmp_path / "requests.parquet", requests)
    loaded = run_segments(["load", "--from", str(raw), "--database", str(database)])
    assert loaded.returncode == 0, loaded.stderr
    run_dbt(["build", *DATA_ONLY], database, tmp_path)  # the default as-of date, 2026-06-30; every test passes

    with duckdb.connect(str(database), read_only=True) as connection:
        for table in ("customers", "customer_segments", "segment_memberships", "customer_rfm"):
            leaked = connection.execute(
                f"select count(*) from marts.{table} where customer_key = ?", [customer_key]
            ).fetchone()[0]
            assert leaked == 0, table
        dates = [
            row[0].isoformat()
            for row in connection.execute(
                "select distinct as_of_date from marts.customer_segments order by 1"
            ).fetchall()
        ]
        population_after = connection.execute(
            "select count(*) from marts.customer_segments where as_of_date = '2026-05-31'"
        ).fetchone()[0]
        sized = connection.execute("""
            select sum(customers) from marts.segment_sizes
            where as_of_date = '2026-05-31' and segment_family = 'rfm'
        """).fetchone()[0]
    assert dates == ["2026-05-31", "2026-06-30"]
    assert population_after == population_before - 1
    assert sized == population_after
