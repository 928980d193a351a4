{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='as_of_date',
        on_schema_change='fail',
    )
}}
{#-
    The fitted parameters and held-out metrics of the predictive models per as-of date (the
    long table of int_predictive__fits). History: each build replaces its as-of date.
-#}
-- depends_on: {{ ref('int_history_dataset_guard') }}
with

fits as (
    select * from {{ ref('int_predictive__fits') }}
),

model_metrics as (
    select
        cast(as_of_date as date) as as_of_date,
        model_name,
        statistic_kind,
        statistic_name,
        segment_name,
        threshold,
        value,
        standard_error
    from fits
)

select * from model_metrics
