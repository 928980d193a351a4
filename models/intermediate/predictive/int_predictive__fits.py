"""Fits the predictive models as of the as-of date (a thin wrapper: segments.predictive.pipeline)."""

import json

from segments.predictive import pipeline


def settings(dbt):
    return pipeline.Settings(
        horizon_days=int(dbt.config.get("horizon_days")),
        engagement_weights=json.loads(dbt.config.get("engagement_weights")),
        engagement_half_life_days=float(dbt.config.get("engagement_half_life_days")),
        fit_sample_customers=int(dbt.config.get("fit_sample_customers")),
        churn_thresholds=(float(dbt.config.get("churn_high_threshold")), float(dbt.config.get("churn_medium_threshold"))),
        churn_holdout_share=float(dbt.config.get("churn_holdout_share")),
        churn_max_training_customers=int(dbt.config.get("churn_max_training_customers")),
        cluster_k_min=int(dbt.config.get("cluster_k_min")),
        cluster_k_max=int(dbt.config.get("cluster_k_max")),
        cluster_min_share=float(dbt.config.get("min_segment_share")),
        cluster_fit_sample_customers=int(dbt.config.get("cluster_fit_sample_customers")),
        cluster_silhouette_sample_customers=int(dbt.config.get("cluster_silhouette_sample_customers")),
        cluster_initialisations=int(dbt.config.get("cluster_initialisations")),
        seed=int(dbt.config.get("predictive_seed")),
    )


def sources(dbt):
    return pipeline.Sources(
        orders=f"({dbt.ref('int_orders_attributed').sql_query()})",
        activity=f"({dbt.ref('int_customer_daily_activity').sql_query()})",
        customer_rfm=f"({dbt.ref('customer_rfm').sql_query()})",
        customer_engagement=f"({dbt.ref('customer_engagement').sql_query()})",
    )


def model(dbt, session):
    dbt.config(materialized="table")
    as_of = session.execute(dbt.ref("int_as_of_date").sql_query()).fetchone()[0]
    return pipeline.fit_all(session, sources(dbt), as_of, settings(dbt))
