{{
    config(
        materialized='incremental',
        incremental_strategy=history_strategy(),
        partition_by=history_partition_by(),
        unique_key='as_of_date',
        on_schema_change='fail',
    )
}}
{#-
    The fitted parameters and held-out metrics of the predictive models per as-of date (the
    long table of int_predictive__fits), with one status row per model (fitted or not_fitted,
    and why). History: each build replaces its as-of date.
-#}
-- depends_on: {{ ref('int_history_dataset_guard') }}
with

fits as (
    select * from {{ ref('int_predictive__fits') }}
),

model_metrics as (
    select
        cast(as_of_date as date) as as_of_date,
        cast(model_name as string) as model_name,
        cast(statistic_kind as string) as statistic_kind,
        cast(statistic_name as string) as statistic_name,
        cast(segment_name as string) as segment_name,
        cast(threshold as double) as threshold,
        cast(value as double) as value,  -- noqa: RF04
        cast(standard_error as double) as standard_error,
        cast(reason as string) as reason
    from fits
)

select * from model_metrics
