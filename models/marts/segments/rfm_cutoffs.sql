{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='as_of_date',
    )
}}
{#- Where the score lines fall: the value range of every R, F and M score band. -#}
with

rfm_scores as (
    select * from {{ ref('int_rfm_scores') }}
),

bands as (
    select
        as_of_date,
        'recency_days' as measure,
        r_score as score,
        cast(min(recency_days) as double) as min_value,
        cast(max(recency_days) as double) as max_value,
        count(*) as customers
    from rfm_scores
    group by as_of_date, r_score
    union all
    select
        as_of_date,
        'frequency' as measure,
        f_score as score,
        cast(min(frequency) as double) as min_value,
        cast(max(frequency) as double) as max_value,
        count(*) as customers
    from rfm_scores
    group by as_of_date, f_score
    union all
    select
        as_of_date,
        'monetary' as measure,
        m_score as score,
        cast(min(monetary) as double) as min_value,
        cast(max(monetary) as double) as max_value,
        count(*) as customers
    from rfm_scores
    group by as_of_date, m_score
)

select * from bands
