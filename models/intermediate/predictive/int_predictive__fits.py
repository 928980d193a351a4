"""Fits the predictive models as of the as-of date (a thin wrapper: segments.predictive.pipeline)."""

import json

from segments.model_inputs import duckdb_refs, model_result
from segments.predictive import pipeline


def model(dbt, session):
    dbt.config(materialized="table")
    connection, refs = duckdb_refs(
        session,
        {
            "int_as_of_date": dbt.ref("int_as_of_date"),
            "int_orders_attributed": dbt.ref("int_orders_attributed"),
            "int_customer_daily_activity": dbt.ref("int_customer_daily_activity"),
            "customer_rfm": dbt.ref("customer_rfm"),
            "customer_engagement": dbt.ref("customer_engagement"),
        },
    )
    as_of = connection.execute(f"select as_of_date from {refs['int_as_of_date']}").fetchone()[0]
    sources = pipeline.Sources(
        orders=refs["int_orders_attributed"],
        activity=refs["int_customer_daily_activity"],
        customer_rfm=refs["customer_rfm"],
        customer_engagement=refs["customer_engagement"],
    )
    settings = pipeline.Settings.from_vars(json.loads(dbt.config.get("predictive_vars")))
    return model_result(session, pipeline.fit_all(connection, sources, as_of, settings))
