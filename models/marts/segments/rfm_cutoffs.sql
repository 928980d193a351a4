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
    Where the score lines fall: for every as-of date, measure and score 1 to 5, the value
    range of the band and its customers. A band no customer falls in (a tied block can
    leave bands empty) still has its row, with 0 customers and null values.
-#}
-- depends_on: {{ ref('int_history_dataset_guard') }}
with

rfm_scores as (
    select * from {{ ref('int_rfm_scores') }}
),

as_of_dates as (
    select * from {{ ref('int_as_of_date') }}
),

measures as (
    select measure_names.measure
    from (values ('recency_days'), ('frequency'), ('monetary')) as measure_names (measure)
),

scores as (
    {#- One score per band: the cut-offs plus one. -#}
    select score_values.score
    from range(1, {{ rfm_score_cutoffs() | length + 2 }}) as score_values (score)
),

bands as (
    select
        as_of_dates.as_of_date,
        measures.measure,
        cast(scores.score as integer) as score
    from as_of_dates
    cross join measures
    cross join scores
),

customer_values as (
    select
        as_of_date,
        'recency_days' as measure,
        r_score as score,
        cast(recency_days as double) as measure_value
    from rfm_scores
    union all
    select
        as_of_date,
        'frequency' as measure,
        f_score as score,
        cast(frequency as double) as measure_value
    from rfm_scores
    union all
    select
        as_of_date,
        'monetary' as measure,
        m_score as score,
        cast(monetary as double) as measure_value
    from rfm_scores
),

band_values as (
    select
        as_of_date,
        measure,
        score,
        min(measure_value) as min_value,
        max(measure_value) as max_value,
        count(*) as customers
    from customer_values
    group by as_of_date, measure, score
),

rfm_cutoffs as (
    select
        bands.as_of_date,
        bands.measure,
        bands.score,
        band_values.min_value,
        band_values.max_value,
        coalesce(band_values.customers, 0) as customers
    from bands
    left join band_values
        on bands.as_of_date = band_values.as_of_date
            and bands.measure = band_values.measure
            and bands.score = band_values.score
)

select * from rfm_cutoffs
