"""Time the three predictive models (fits and scores) at a given number of customers.

    python benchmarks/bench_predictive.py --customers 250000

Builds synthetic orders and daily activity in an in-memory DuckDB (customers with personal
order counts over two years and a few active days each), creates customer_rfm and
customer_engagement as the point-in-time summaries at the as-of date (the same definitions as the
marts, python_tests/test_predictive_warehouse.py), then runs segments.predictive.pipeline.fit_all
and score_all with the project's vars, as the dbt Python models do. Prints one JSON line: wall and
CPU (user + sys) seconds of the fits and of the scoring, and the figures fitted. The upstream
models (staging, identity, features) are not included: `segments bench` measures those.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

import duckdb
import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
AS_OF = dt.date(2026, 6, 30)


def cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def synthetic(connection: duckdb.DuckDBPyConnection, customers: int, seed: float) -> None:
    connection.execute(f"select setseed({seed})")
    connection.execute(f"""
        create table people as
        select 'c' || lpad(cast(i as varchar), 9, '0') as customer_key,
            cast(1 + floor(-ln(random() + 1e-12) * 3) as integer) as orders,
            cast(floor(random() * 700) as integer) as start_day,
            20 + random() * 300 as spend,
            cast(floor(random() * 6) as integer) as active_days
        from range({customers}) as t(i)
    """)
    connection.execute("""
        create table orders as
        select customer_key,
            timestamp '2024-07-01'
            + to_days(cast(start_day + floor(random() * (730 - start_day)) as integer))
            + to_hours(cast(floor(random() * 24) as integer)) as ordered_at,
            'completed' as order_status,
            cast(spend * (0.5 + random()) as decimal(18, 2)) as order_total
        from (select customer_key, start_day, spend, unnest(range(orders)) from people)
    """)
    connection.execute("""
        create table activity as
        select customer_key,
            date '2024-07-01' + cast(floor(random() * 730) as integer) as activity_date,
            cast(floor(random() * 8) as bigint) as page_views,
            cast(floor(random() * 4) as bigint) as web_product_views,
            cast(floor(random() * 2) as bigint) as app_product_views,
            cast(floor(random() * 2) as bigint) as web_add_to_carts,
            0::bigint as app_add_to_carts, 0::bigint as web_purchases, 0::bigint as app_purchases,
            cast(floor(random() * 2) as bigint) as app_opens,
            cast(floor(random() * 2) as bigint) as email_opens,
            0::bigint as email_clicks
        from (select customer_key, unnest(range(active_days)) from people)
    """)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=250_000)
    arguments = parser.parse_args(argv)
    sys.path.insert(0, str(PROJECT_ROOT / "python_tests"))
    from segments.predictive import features, pipeline

    v = yaml.safe_load((PROJECT_ROOT / "dbt_project.yml").read_text())["vars"]
    settings = pipeline.Settings.from_vars(v)
    connection = duckdb.connect()
    synthetic(connection, arguments.customers, 0.42)
    summary = features.customer_summaries(
        connection,
        "orders",
        "activity",
        AS_OF,
        settings.engagement_weights,
        settings.engagement_half_life_days,
        settings.horizon_days,
    )
    window = settings.horizon_days
    connection.register("summary", summary)
    connection.execute(f"""
        create table customer_rfm as
        select customer_key, recency_days, frequency, monetary, avg_order_value, tenure_days,
            frequency_{window}d from summary
    """)
    connection.execute("create table customer_engagement as select customer_key, engagement_score from summary")
    sources = pipeline.Sources("orders", "activity", "customer_rfm", "customer_engagement")
    wall, cpu = time.perf_counter(), cpu_seconds()
    fits = pipeline.fit_all(connection, sources, AS_OF, settings)
    fit_wall, fit_cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    wall, cpu = time.perf_counter(), cpu_seconds()
    scores = pipeline.score_all(connection, sources, AS_OF, settings, fits)
    score_wall, score_cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    chosen = fits[(fits.statistic_kind == "metric") & fits.segment_name.isna()]
    metric = dict(zip(chosen.model_name + "." + chosen.statistic_name, chosen.value, strict=True))
    print(
        json.dumps(
            {
                "customers": arguments.customers,
                "buyers_scored": len(scores),
                "orders": connection.execute("select count(*) from orders").fetchone()[0],  # type: ignore[index]
                "fit_wall_s": round(fit_wall, 1),
                "fit_cpu_s": round(fit_cpu, 1),
                "score_wall_s": round(score_wall, 1),
                "score_cpu_s": round(score_cpu, 1),
                "total_wall_s": round(fit_wall + score_wall, 1),
                "total_cpu_s": round(fit_cpu + score_cpu, 1),
                "clusters_k": metric.get("clusters.k"),
                "churn_auc": metric.get("churn.auc"),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
