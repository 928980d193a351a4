{#-
    R, F and M scores (1 to 5, higher is better) for every customer with at least one
    qualifying order as of the as-of date, from percentile cut-offs computed with window
    functions. Recency: fewer days is better; frequency and monetary: more is better.
    A tied block is placed at its middle position (macros/segments/score_band.sql).
-#}
with

customer_rfm as (
    select * from {{ ref('customer_rfm') }}
),

segment_map as (
    select * from {{ ref('rfm_segment_map') }}
),

scored_population as (
    select * from customer_rfm
    where frequency > 0
),

positions as (
    select
        as_of_date,
        customer_key,
        recency_days,
        frequency,
        monetary,
        count(*) over (partition by as_of_date) as scored_customers,
        {{ customers_strictly_worse('recency_days', higher_is_better=false) }}
            as recency_customers_worse,
        {{ customers_tied('recency_days') }} as recency_customers_tied,
        {{ customers_strictly_worse('frequency') }} as frequency_customers_worse,
        {{ customers_tied('frequency') }} as frequency_customers_tied,
        {{ customers_strictly_worse('monetary') }} as monetary_customers_worse,
        {{ customers_tied('monetary') }} as monetary_customers_tied
    from scored_population
),

scores as (
    select
        as_of_date,
        customer_key,
        recency_days,
        frequency,
        monetary,
        {{ score_from_position(
            'recency_customers_worse', 'recency_customers_tied', 'scored_customers'
        ) }} as r_score,
        {{ score_from_position(
            'frequency_customers_worse', 'frequency_customers_tied', 'scored_customers'
        ) }} as f_score,
        {{ score_from_position(
            'monetary_customers_worse', 'monetary_customers_tied', 'scored_customers'
        ) }} as m_score
    from positions
),

named_scores as (
    select
        scores.*,
        cast(scores.f_score + scores.m_score as double) / 2 as fm_score,
        segment_map.rfm_segment
    from scores
    inner join segment_map
        on scores.r_score = segment_map.r_score
            and (scores.f_score + scores.m_score) / 2.0
            between segment_map.fm_score_min and segment_map.fm_score_max
)

select * from named_scores
