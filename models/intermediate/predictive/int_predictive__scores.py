"""Scores every buyer as of the as-of date with the stored fits (a thin wrapper: segments.predictive.pipeline)."""

import json

from segments.predictive import pipeline


def settings(dbt):
    return pipeline.Settings(
        horizon_days=int(dbt.config.get("horizon_days")),
        engagement_weights=json.loads(dbt.config.get("engagement_weights")),
        engagement_half_life_days=float(dbt.config.get("engagement_half_life_days")),
        fit_sample_customers=0,
        churn_thresholds=(0.0, 0.0),
        churn_holdout_share=0.0,
        churn_max_training_customers=0,
        cluster_k_min=0,
        cluster_k_max=0,
        cluster_min_share=0.0,
        cluster_fit_sample_customers=0,
        cluster_silhouette_sample_customers=0,
        cluster_initialisations=0,
        seed=0,
    )


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
    return pipeline.score_all(session, sources, as_of, settings(dbt), fits)
