{#-
    R, F and M scores (1 to 5, higher is better) for every customer with at least one
    qualifying order as of the as-of date, from percentile cut-offs computed with window
    functions. Recency: fewer days is better; frequency and monetary: more is better.
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

shares_strictly_worse as (
    select
        as_of_date,
        customer_key,
        recency_days,
        frequency,
        monetary,
        {{ share_strictly_worse('recency_days desc') }} as recency_share_worse,
        {{ share_strictly_worse('frequency') }} as frequency_share_worse,
        {{ share_strictly_worse('monetary') }} as monetary_share_worse
    from scored_population
),

scores as (
    select
        as_of_date,
        customer_key,
        recency_days,
        frequency,
        monetary,
        {{ score_from_share('recency_share_worse') }} as r_score,
        {{ score_from_share('frequency_share_worse') }} as f_score,
        {{ score_from_share('monetary_share_worse') }} as m_score
    from shares_strictly_worse
),

named_scores as (
    select
        scores.*,
        (scores.f_score + scores.m_score) / 2.0 as fm_score,
        segment_map.rfm_segment
    from scores
    inner join segment_map
        on scores.r_score = segment_map.r_score
            and (scores.f_score + scores.m_score) / 2.0
            between segment_map.fm_score_min and segment_map.fm_score_max
)

select * from named_scores
