"""Scores every buyer as of the as-of date with the stored fits (a thin wrapper: segments.predictive.pipeline)."""

import json

from segments.predictive import pipeline


def model(dbt, session):
    dbt.config(materialized="table")
    as_of = session.execute(dbt.ref("int_as_of_date").sql_query()).fetchone()[0]
    fits = session.execute(dbt.ref("int_predictive__fits").sql_query()).df()
    sources = pipeline.Sources(
        orders=f"({dbt.ref('int_orders_attributed').sql_query()})",
        activity=f"({dbt.ref('int_customer_daily_activity').sql_query()})",
        customer_rfm=f"({dbt.ref('customer_rfm').sql_query()})",
        customer_engagement=f"({dbt.ref('customer_engagement').sql_query()})",
    )
    settings = pipeline.Settings.from_vars(json.loads(dbt.config.get("predictive_vars")))
    return pipeline.score_all(session, sources, as_of, settings, fits)
